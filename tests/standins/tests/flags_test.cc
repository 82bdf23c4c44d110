#include "flags.h"

#include <gtest/gtest.h>

#include "testpki.h"

namespace standin {
namespace {

std::expected<ParsedFlags, FlagError> Parse(const char* component,
                                            std::vector<std::string> args) {
  return ParseArgs(*FlagsOf(component), args);
}

TEST(Flags, EveryComponentTableIsEmbedded) {
  for (const char* c : {"kube-apiserver", "kube-controller-manager",
                        "kube-scheduler", "kubelet", "kube-proxy"}) {
    const FlagTable* t = FlagsOf(c);
    ASSERT_NE(t, nullptr) << c;
    EXPECT_GT(t->flags.size(), 50u) << c;
  }
  EXPECT_EQ(FlagsOf("etcd"), nullptr);
  EXPECT_NE(FlagsOf("kube-apiserver")->Find("etcd-servers"), nullptr);
}

TEST(Flags, UnknownFlagIsRejectedWithTheComponentName) {
  auto r = Parse("kube-apiserver", {"--secure-port=6443", "--foo=bar"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit_code, 2);
  EXPECT_EQ(r.error().message,
            "kube-apiserver: unknown flag --foo (not a flag of kube-apiserver "
            "v1.32)");
  // A flag of another component is just as unknown.
  auto k = Parse("kube-scheduler", {"--etcd-servers=https://127.0.0.1:2379"});
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message.find("unknown flag --etcd-servers"),
            std::string::npos);
}

TEST(Flags, ValueSpellingsAndBooleans) {
  auto r = Parse(
      "kube-apiserver",
      {"--secure-port", "6443", "--allow-privileged", "--anonymous-auth=false",
       "--etcd-servers=https://a:2379,https://b:2379", "-v=2"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->Get("secure-port"), "6443");
  EXPECT_TRUE(r->GetBool("allow-privileged", false));
  EXPECT_FALSE(r->GetBool("anonymous-auth", true));
  EXPECT_EQ(r->Get("etcd-servers"), "https://a:2379,https://b:2379");
  EXPECT_EQ(r->Get("v"), "2");
  // A boolean never swallows the next argument.
  auto b = Parse("kube-apiserver", {"--allow-privileged", "--secure-port=1"});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->Get("secure-port"), "1");
}

TEST(Flags, MalformedValuesAndArgumentsAreRejected) {
  EXPECT_FALSE(Parse("kube-apiserver", {"--secure-port=64 43"}));
  EXPECT_FALSE(Parse("kube-apiserver", {"--allow-privileged=yes"}));
  EXPECT_FALSE(Parse("kube-apiserver", {"--event-ttl=1hour"}));
  EXPECT_TRUE(Parse("kube-apiserver", {"--event-ttl=1h30m"}));
  EXPECT_FALSE(Parse("kube-apiserver", {"--secure-port"}));  // needs a value
  auto pos = Parse("kubelet", {"stray"});
  ASSERT_FALSE(pos);
  EXPECT_NE(pos.error().message.find("takes no arguments"), std::string::npos);
  EXPECT_FALSE(Parse("kubelet", {"-x"}));
}

TEST(Flags, DeprecatedFlagsAreAcceptedWithAWarning) {
  auto r = Parse(
      "kubelet",
      {"--container-runtime-endpoint=unix:///run/containerd/containerd.sock"});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(
      r->warnings[0].find("--container-runtime-endpoint has been deprecated"),
      std::string::npos);
}

TEST(Flags, GoDurations) {
  EXPECT_EQ(ParseGoDuration("0"), 0.0);
  EXPECT_EQ(ParseGoDuration("1h30m"), 5400.0);
  EXPECT_EQ(ParseGoDuration("250ms"), 0.25);
  EXPECT_FALSE(ParseGoDuration("15"));
  EXPECT_FALSE(ParseGoDuration("s"));
}

TEST(Flags, InputFileClassification) {
  auto is_file = [](const char* comp, const char* flag) {
    return IsInputFileFlag(*FlagsOf(comp)->Find(flag));
  };
  for (const char* f :
       {"etcd-cafile", "etcd-certfile", "etcd-keyfile", "client-ca-file",
        "tls-cert-file", "kubelet-client-certificate", "kubelet-client-key",
        "kubelet-certificate-authority", "encryption-provider-config",
        "service-account-key-file", "proxy-client-cert-file",
        "requestheader-client-ca-file", "audit-policy-file"})
    EXPECT_TRUE(is_file("kube-apiserver", f)) << f;
  for (const char* f : {"audit-log-path", "cert-dir", "tls-sni-cert-key",
                        "etcd-servers", "advertise-address"})
    EXPECT_FALSE(is_file("kube-apiserver", f)) << f;
  EXPECT_TRUE(is_file("kubelet", "kubeconfig"));
  EXPECT_TRUE(is_file("kubelet", "config"));
  EXPECT_FALSE(is_file("kubelet", "lock-file"));
  EXPECT_FALSE(is_file("kubelet", "root-dir"));
  EXPECT_TRUE(is_file("kube-controller-manager", "cluster-signing-key-file"));
  EXPECT_TRUE(is_file("kube-controller-manager", "root-ca-file"));
  EXPECT_FALSE(is_file("kube-proxy", "write-config-to"));
  EXPECT_TRUE(IsFileListFlag(
      *FlagsOf("kube-apiserver")->Find("service-account-key-file")));
}

TEST(Flags, MissingInputFileNamesFlagAndPath) {
  testing::TempDir dir;
  std::string present = dir.Write("ca.crt", "x");
  auto r = Parse("kube-apiserver", {"--client-ca-file=" + present,
                                    "--etcd-cafile=/nonexistent/etcd/ca.crt",
                                    "--audit-log-path=/nonexistent/audit.log"});
  ASSERT_TRUE(r);
  auto s = CheckInputFiles(*FlagsOf("kube-apiserver"), *r);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(),
            "--etcd-cafile: /nonexistent/etcd/ca.crt does not exist");
  // Comma lists: each file must exist.
  auto l = Parse("kube-apiserver", {"--service-account-key-file=" + present +
                                    ",/nonexistent/sa.pub"});
  ASSERT_TRUE(l);
  auto ls = CheckInputFiles(*FlagsOf("kube-apiserver"), *l);
  ASSERT_FALSE(ls);
  EXPECT_NE(ls.error().find("/nonexistent/sa.pub"), std::string::npos);
}

TEST(Flags, BinaryExitsTwoOnUnknownFlagAndOneOnMissingFile) {
  testing::TempDir dir;
  {
    testing::Child c("kube-apiserver", {"--foo"}, dir.path() / "a.log");
    EXPECT_EQ(c.Wait(10), 2);
    EXPECT_NE(c.Log().find("kube-apiserver: unknown flag --foo (not a flag of "
                           "kube-apiserver v1.32)"),
              std::string::npos)
        << c.Log();
  }
  {
    testing::Child c("kubelet", {"--config=/nonexistent/kubelet-config.yaml"},
                     dir.path() / "b.log");
    EXPECT_EQ(c.Wait(10), 1);
    EXPECT_NE(c.Log().find(
                  "--config: /nonexistent/kubelet-config.yaml does not exist"),
              std::string::npos)
        << c.Log();
  }
}

}  // namespace
}  // namespace standin
