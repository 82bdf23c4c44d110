// `hardway explain` on a 3 + 2 cluster whose plan is built without any PKI:
// the text for a kubelet and an etcd certificate, a CA, a name that is both a
// component and a phase, and the did-you-mean of an unknown name.
#include "trust/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../plan/plan_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using testing::MakeCluster;
using ::testing::Not;
namespace fs = std::filesystem;

[[maybe_unused]] auto* const kCleaner =
    ::testing::AddGlobalTestEnvironment(new testing::TempRootCleaner);

struct Fixture {
  Cluster cluster = MakeCluster(R"(cluster: {name: explain}
hosts:
  - {name: cp-0, address: 10.0.0.10, roles: [etcd, controlplane]}
  - {name: cp-1, address: 10.0.0.11, roles: [etcd, controlplane]}
  - {name: cp-2, address: 10.0.0.12, roles: [etcd, controlplane]}
  - {name: w-0, address: 10.0.0.20, fqdn: w-0.example.com, roles: [worker]}
  - {name: w-1, address: 10.0.0.21, roles: [worker]}
)",
                                "explain");
  fs::path state = testing::TempRoot() / "explain" / "no-state";
  Plan plan = [this] {
    PlanOptions options;
    options.state_dir = state;
    auto p = BuildPlan(cluster, options);
    EXPECT_TRUE(p.has_value()) << p.error().ToString();
    return p.value_or(Plan{});
  }();
};

const Fixture& F() {
  static const Fixture f;
  return f;
}

std::string MustExplain(std::string_view name) {
  auto text = Explain(F().cluster, F().plan, name);
  EXPECT_TRUE(text.has_value()) << name << ": " << text.error().ToString();
  return text.value_or("");
}

TEST(ExplainTest, KubeletCertificate) {
  const std::string text = MustExplain("kubelet-w-0");
  const std::string want =
      "certificate kubelet-w-0: kubelet w-0: API client (Node authorizer) and "
      "serving\n"
      "  subject:      CN=system:node:w-0, O=system:nodes; client and server "
      "authentication\n"
      "  SANs:         w-0, w-0.example.com, 10.0.0.20\n"
      "  signed by:    ca (pki/ca.crt)\n"
      "  state dir:    pki/kubelet-w-0.crt and pki/kubelet-w-0.key; goes to "
      "that worker\n"
      "  presented by:\n"
      "    - kubelet on w-0 dialing kube-apiserver at 10.0.0.10:6443 — the "
      "kubelet registers its Node and reports pod status; kube-apiserver "
      "verifies it with ca: --client-ca-file=/etc/kubernetes/pki/ca.crt in "
      "/etc/systemd/system/kube-apiserver.service\n"
      "    - kubelet on w-0 serving :10250 to kube-apiserver on cp-0, cp-1, "
      "cp-2 — the API server fetches logs, exec and port-forward from the "
      "kubelet; kube-apiserver verifies it with ca: "
      "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt in "
      "/etc/systemd/system/kube-apiserver.service\n"
      "  on the hosts:\n"
      "    - /var/lib/kubelet/pki/kubelet.crt (0644), "
      "/var/lib/kubelet/pki/kubelet.key (0600) on w-0; phase distribute; a "
      "change restarts kubelet\n"
      "    - inside kubeconfig kubelet-w-0 (user system:node:w-0, server "
      "https://10.0.0.10:6443): /etc/kubernetes/kubelet.conf (0600) on w-0; "
      "phase distribute; a change restarts kubelet\n"
      "  referenced by:\n"
      "    - tlsCertFile: \"/var/lib/kubelet/pki/kubelet.crt\" in "
      "/var/lib/kubelet/kubelet-config.yaml on w-0\n"
      "    - tlsPrivateKeyFile: \"/var/lib/kubelet/pki/kubelet.key\" in "
      "/var/lib/kubelet/kubelet-config.yaml on w-0\n"
      "    - --kubeconfig=/etc/kubernetes/kubelet.conf in "
      "/etc/systemd/system/kubelet.service on w-0\n"
      "  installed in: phase distribute; its gate files_present (within 1m "
      "0s) checks: every uploaded file present with the expected sha256 and "
      "mode\n"
      "  checked by:\n"
      "    - gate pki_valid of phase pki (within 10s): every certificate "
      "exists, verifies against its CA and matches its spec\n"
      "    - gate nodes_ready of phase workers (within 3m 0s): every worker's "
      "Node exists and is Ready\n";
  EXPECT_EQ(text, want);
  // The plan was built without a PKI, and explaining made none.
  EXPECT_FALSE(fs::exists(F().state));
  // By CN and by kubeconfig name: the same certificate.
  EXPECT_EQ(MustExplain("system:node:w-0"), text);
  EXPECT_EQ(MustExplain("kubelet-w-0.kubeconfig"), text);
}

TEST(ExplainTest, EtcdServerCertificateInBothSpellings) {
  const std::string text = MustExplain("etcd/server-cp-1");
  EXPECT_EQ(MustExplain("etcd-server-cp-1"), text);  // as pki.md spells it
  EXPECT_THAT(text, ::testing::StartsWith(
                        "certificate etcd/server-cp-1: etcd cp-1 client-facing "
                        "serving\n"
                        "  subject:      CN=cp-1; client and server "
                        "authentication\n"
                        "  SANs:         cp-1, localhost, 10.0.0.11, "
                        "127.0.0.1\n"
                        "  signed by:    etcd-ca (pki/etcd/ca.crt)\n"));
  EXPECT_THAT(text,
              HasSubstr("    - etcd on cp-1 serving :2379 to kube-apiserver on "
                        "cp-0, cp-1, cp-2 — the API server keeps all cluster "
                        "state in etcd; kube-apiserver verifies it with "
                        "etcd-ca: --etcd-cafile=/etc/kubernetes/pki/etcd/"
                        "ca.crt in /etc/systemd/system/kube-apiserver.service\n"
                        "    - etcd on cp-1 serving :2379 to hardway on this "
                        "machine — hardway's etcd gate checks /health and the "
                        "member list; hardway verifies it with etcd-ca from "
                        "the state dir (pki/etcd/ca.crt)\n"));
  EXPECT_THAT(text, HasSubstr("    - /etc/kubernetes/pki/etcd/server.crt "
                              "(0644), /etc/kubernetes/pki/etcd/server.key "
                              "(0600) on cp-1; phase distribute; a change "
                              "restarts etcd\n"));
  EXPECT_THAT(text, HasSubstr("    - --cert-file=/etc/kubernetes/pki/etcd/"
                              "server.crt in /etc/systemd/system/etcd.service "
                              "on cp-1\n"));
  EXPECT_THAT(text, HasSubstr("    - gate etcd_healthy of phase etcd (within "
                              "2m 0s): /health true over mTLS"));
  // Only cp-1's files: its neighbours' copies are other certificates.
  EXPECT_THAT(text, Not(HasSubstr("server.crt in /etc/systemd/system/etcd."
                                  "service on cp-0")));
}

TEST(ExplainTest, CertificateAuthority) {
  const std::string text = MustExplain("etcd-ca");
  EXPECT_EQ(MustExplain("etcd/ca"), text);
  EXPECT_THAT(text, ::testing::StartsWith(
                        "certificate authority etcd/ca (etcd-ca): etcd CA: a "
                        "kubelet's certificate must never open etcd\n"
                        "  subject:      CN=etcd-ca\n"
                        "  key:          pki/etcd/ca.key never leaves the "
                        "state dir; pki/etcd/ca.crt goes to etcd members, "
                        "controllers (certificate only)\n"
                        "  signs:        etcd/server-<host> (cp-0, cp-1, "
                        "cp-2), etcd/peer-<host> (cp-0, cp-1, cp-2), "
                        "apiserver-etcd-client, etcd/healthcheck-client\n"
                        "  trusted by:\n"
                        "    - etcd on cp-0, cp-1, cp-2 checks its clients "
                        "kube-apiserver, hardway on :2379 with etcd-ca: "
                        "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt in "
                        "/etc/systemd/system/etcd.service\n"
                        "    - kube-apiserver on cp-0, cp-1, cp-2 checks the "
                        "server etcd on :2379 with etcd-ca: --etcd-cafile="
                        "/etc/kubernetes/pki/etcd/ca.crt in "
                        "/etc/systemd/system/kube-apiserver.service\n"
                        "    - etcd on cp-0, cp-1, cp-2 checks its peers etcd "
                        "on :2380 with etcd-ca: --peer-trusted-ca-file="
                        "/etc/kubernetes/pki/etcd/ca.crt in "
                        "/etc/systemd/system/etcd.service\n"
                        "    - hardway on this machine checks the server etcd "
                        "on :2379 with etcd-ca from the state dir "
                        "(pki/etcd/ca.crt)\n"));
  // The kubernetes CA's file is a different path; it must not be matched as
  // a part of etcd's.
  EXPECT_THAT(MustExplain("ca"), Not(HasSubstr("etcd/ca.crt in")));
  // front-proxy-ca is in no mTLS link but the apiserver names it.
  EXPECT_THAT(MustExplain("front-proxy-ca"),
              HasSubstr("    - --requestheader-client-ca-file=/etc/kubernetes/"
                        "pki/front-proxy-ca.crt in /etc/systemd/system/"
                        "kube-apiserver.service on cp-0, cp-1, cp-2\n"));
}

TEST(ExplainTest, EtcdIsAComponentAndAPhase) {
  const std::string text = MustExplain("etcd");
  EXPECT_THAT(text, ::testing::StartsWith(
                        "etcd names a component and a phase.\n\n"
                        "component etcd: systemd unit etcd.service on cp-0, "
                        "cp-1, cp-2\n"
                        "  serves:\n"
                        "    - to kube-apiserver, hardway on :2379 with "
                        "etcd/server-<host>; checks clients with etcd-ca: "
                        "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt in "
                        "/etc/systemd/system/etcd.service\n"));
  EXPECT_THAT(text, HasSubstr("  started by:   phase etcd (systemd: enable "
                              "and start; restart when one of its 7 watched "
                              "files changed)\n"
                              "  checked by:   gate etcd_healthy of phase etcd "
                              "(within 2m 0s): "));
  EXPECT_THAT(text, HasSubstr("\n\nphase etcd: etcd members, all at once (they "
                              "need each other for quorum)\n"
                              "  runs on:      cp-0, cp-1, cp-2 (roles etcd)\n"
                              "  after:        distribute\n"
                              "  before:       kube-apiserver\n"));
  EXPECT_THAT(text, HasSubstr("\n  starts:       etcd\n  gate:         "
                              "etcd_healthy within 2m 0s: "));
  // kube-apiserver is also pki.md's name of the serving certificate.
  EXPECT_THAT(MustExplain("kube-apiserver"),
              ::testing::StartsWith("kube-apiserver names a component, a phase "
                                    "and a certificate (apiserver).\n"));
}

TEST(ExplainTest, PhaseListsWhatItInstalls) {
  const std::string text = MustExplain("distribute");
  EXPECT_THAT(text, HasSubstr("  certificates: etcd/ca, etcd/server-<host>, "
                              "etcd/peer-<host>, ca, apiserver, "));
  EXPECT_THAT(text, HasSubstr("kubelet-<host>"));
  EXPECT_THAT(text, HasSubstr("  gate:         files_present within 1m 0s"));
}

TEST(ExplainTest, UnknownNameSaysWhatItMightBe) {
  auto text = Explain(F().cluster, F().plan, "kublet");
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().kind, ErrorKind::kUsage);
  EXPECT_EQ(text.error().message, "nothing named 'kublet' in cluster explain");
  EXPECT_THAT(text.error().hint,
              ::testing::StartsWith("did you mean 'kubelet'? explain takes"));
  auto node = Explain(F().cluster, F().plan, "w-1");
  ASSERT_FALSE(node.has_value());
  EXPECT_THAT(node.error().hint,
              ::testing::StartsWith("did you mean 'kubelet-w-1', "));
}

TEST(ExplainTest, EveryNameExplains) {
  const auto names = ExplainableNames(F().cluster, F().plan);
  EXPECT_GT(names.size(), 40u);
  for (const std::string& name : names) {
    auto text = Explain(F().cluster, F().plan, name);
    ASSERT_TRUE(text.has_value()) << name;
    EXPECT_FALSE(text->empty()) << name;
    // Private keys and kubeconfigs are named, never shown.
    EXPECT_THAT(*text, Not(HasSubstr("PRIVATE KEY"))) << name;
  }
}

}  // namespace
}  // namespace hardway
