#include <gtest/gtest.h>

#include "kubeconfig.h"
#include "testpki.h"
#include "x509util.h"

namespace standin {
namespace {

using testing::MakeCa;
using testing::MakeLeaf;

TEST(X509, KeyMatchesItsCertificateOnly) {
  auto ca = MakeCa("kubernetes");
  auto a = MakeLeaf(ca, "a", {}, {}, "client");
  auto b = MakeLeaf(ca, "b", {}, {}, "client");
  auto cert = ParseCerts(a.cert_pem, "a");
  auto key_a = ParseKey(a.key_pem, "a key");
  auto key_b = ParseKey(b.key_pem, "b key");
  ASSERT_TRUE(cert && key_a && key_b);
  EXPECT_TRUE(CheckKeyMatches((*cert)[0].get(), key_a->get(),
                              "--etcd-certfile a.crt", "--etcd-keyfile a.key"));
  auto bad = CheckKeyMatches((*cert)[0].get(), key_b->get(),
                             "--etcd-certfile a.crt", "--etcd-keyfile b.key");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(),
            "--etcd-keyfile b.key does not match the public key of "
            "--etcd-certfile a.crt (CN=a)");
  // The key's bytes never appear in errors.
  EXPECT_EQ(bad.error().find("PRIVATE"), std::string::npos);
}

TEST(X509, ChainMustVerifyAgainstTheGivenCa) {
  auto etcd_ca = MakeCa("etcd-ca");
  auto k8s_ca = MakeCa("kubernetes");
  auto client =
      MakeLeaf(k8s_ca, "kube-apiserver-etcd-client", {}, {}, "client");
  auto chain = ParseCerts(client.cert_pem, "client");
  auto etcd_cas = ParseCerts(etcd_ca.cert_pem, "etcd ca");
  auto k8s_cas = ParseCerts(k8s_ca.cert_pem, "k8s ca");
  EXPECT_TRUE(VerifyChain(*chain, *k8s_cas, Purpose::kClient, "cert", "ca"));
  auto s = VerifyChain(*chain, *etcd_cas, Purpose::kClient,
                       "--etcd-certfile c.crt", "--etcd-cafile etcd-ca.crt");
  ASSERT_FALSE(s);
  EXPECT_NE(
      s.error().find(
          "--etcd-certfile c.crt (CN=kube-apiserver-etcd-client, issued by "
          "CN=kubernetes) "
          "does not verify against --etcd-cafile etcd-ca.crt (CN=etcd-ca)"),
      std::string::npos)
      << s.error();
}

TEST(X509, PurposeIsChecked) {
  auto ca = MakeCa("kubernetes");
  auto server_only =
      MakeLeaf(ca, "kube-apiserver", {}, {"127.0.0.1"}, "server");
  auto chain = ParseCerts(server_only.cert_pem, "s");
  auto cas = ParseCerts(ca.cert_pem, "ca");
  EXPECT_TRUE(VerifyChain(*chain, *cas, Purpose::kServer, "cert", "ca"));
  EXPECT_FALSE(VerifyChain(*chain, *cas, Purpose::kClient, "cert", "ca"));
}

TEST(X509, LeafIsNotACa) {
  auto ca = MakeCa("kubernetes");
  auto leaf = MakeLeaf(ca, "admin", {"system:masters"}, {}, "client");
  auto certs = ParseCerts(leaf.cert_pem, "leaf");
  auto s = CheckIsCa(*certs, "--client-ca-file admin.crt");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("is not a CA certificate"), std::string::npos);
}

TEST(Kubeconfig, LoadsAndCrossChecks) {
  testing::TempDir dir;
  auto ca = MakeCa("kubernetes");
  auto other = MakeCa("someone-else");
  auto admin = MakeLeaf(ca, "admin", {"system:masters"}, {}, "client");
  auto ok = LoadKubeconfig(
      dir.Write("ok", testing::KubeconfigYaml("https://127.0.0.1:6443",
                                              ca.cert_pem, admin)),
      "--kubeconfig");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->user, "admin");
  EXPECT_EQ(ok->groups, std::vector<std::string>{"system:masters"});
  EXPECT_EQ(ok->server, "https://127.0.0.1:6443");

  auto http = LoadKubeconfig(
      dir.Write("http", testing::KubeconfigYaml("http://127.0.0.1:8080",
                                                ca.cert_pem, admin)),
      "--kubeconfig");
  ASSERT_FALSE(http);
  EXPECT_NE(http.error().find("is not https"), std::string::npos);

  // Client certificate from a CA other than the kubeconfig's.
  auto stranger = MakeLeaf(other, "admin", {"system:masters"}, {}, "client");
  auto chain = LoadKubeconfig(
      dir.Write("chain", testing::KubeconfigYaml("https://127.0.0.1:6443",
                                                 ca.cert_pem, stranger)),
      "--kubeconfig");
  ASSERT_FALSE(chain);
  EXPECT_NE(chain.error().find("does not verify against"), std::string::npos)
      << chain.error();

  // Key of another certificate.
  testing::Leaf mixed{admin.cert_pem, stranger.key_pem};
  auto mismatch = LoadKubeconfig(
      dir.Write("mixed", testing::KubeconfigYaml("https://127.0.0.1:6443",
                                                 ca.cert_pem, mixed)),
      "--kubeconfig");
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().find("client-key does not match"),
            std::string::npos)
      << mismatch.error();
}

}  // namespace
}  // namespace standin
