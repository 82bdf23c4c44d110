#include "pki/check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pki/x509.h"
#include "pki_test_util.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using testing::FreshDir;
using ::testing::HasSubstr;
using testing::InventoryYaml;
using testing::MakeCluster;
using testing::TestOptions;

const CertCheck* Find(const std::vector<CertCheck>& checks,
                      std::string_view file) {
  for (const auto& c : checks) {
    if (c.file == file) return &c;
  }
  return nullptr;
}

class CheckPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = FreshDir("check");
    ASSERT_TRUE(EnsurePki(cluster_, state_, TestOptions()));
  }
  // Writes `file` as a certificate for `cn` signed by `ca`, with the file's own
  // key.
  void Replace(const std::string& file, const std::string& ca,
               IssueRequest req) {
    auto ca_cert = LoadCertificate(state_ / "pki" / (ca + ".crt"));
    auto ca_key = LoadPrivateKey(state_ / "pki" / (ca + ".key"));
    auto key = LoadPrivateKey(state_ / "pki" / (file + ".key"));
    ASSERT_TRUE(ca_cert && ca_key && key);
    auto cert =
        IssueCertificate(req, key->get(), ca_cert->get(), ca_key->get());
    ASSERT_TRUE(cert) << cert.error().ToString();
    ASSERT_TRUE(WriteFileAtomic(state_ / "pki" / (file + ".crt"),
                                CertificateToPem(cert->get()),
                                fs::perms(0644)));
  }
  Cluster cluster_ = MakeCluster(InventoryYaml());
  fs::path state_;
  TimePoint now_ = std::chrono::system_clock::now();
};

TEST_F(CheckPkiTest, FreshPkiPasses) {
  auto checks = CheckPki(cluster_, state_, now_);
  EXPECT_TRUE(CheckPassed(checks));
  // 21 table entries, 6 kubeconfigs, the encryption config.
  EXPECT_EQ(checks.size(), 28u);
  for (const auto& c : checks)
    EXPECT_EQ(c.status, CertStatus::kOk) << c.file << ": " << c.reason;
  const CertCheck* api = Find(checks, "pki/apiserver.crt");
  ASSERT_NE(api, nullptr);
  ASSERT_TRUE(api->info);
  EXPECT_EQ(api->info->issuer, "CN=kubernetes-ca");
  EXPECT_EQ(api->info->subject, "CN=kube-apiserver");
  EXPECT_GE(api->days_left, 364);
  EXPECT_LE(api->days_left, 365);
  const CertCheck* admin = Find(checks, "pki/admin.crt");
  EXPECT_EQ(admin->info->subject, "CN=admin,O=system:masters");
}

TEST_F(CheckPkiTest, WrongSanIsAMismatchNamingTheSan) {
  IssueRequest req;
  req.cn = "system:node:node-0";
  req.orgs = {"system:nodes"};
  req.client_auth = req.server_auth = true;
  req.dns_sans = {"node-0"};
  req.ip_sans = {"10.240.0.20"};
  req.not_before = now_;
  req.not_after = now_ + std::chrono::hours(8000);
  Replace("kubelet-node-0", "ca", req);
  auto checks = CheckPki(cluster_, state_, now_);
  EXPECT_FALSE(CheckPassed(checks));
  const CertCheck* c = Find(checks, "pki/kubelet-node-0.crt");
  EXPECT_EQ(c->status, CertStatus::kMismatch);
  EXPECT_EQ(c->reason, "lacks SAN node-0.example.com");
  // The kubeconfig still embeds the old certificate.
  EXPECT_EQ(Find(checks, "kubeconfigs/kubelet-node-0.kubeconfig")->status,
            CertStatus::kMismatch);
}

TEST_F(CheckPkiTest, ExpiredAndRenewSoon) {
  IssueRequest req;
  req.cn = "system:kube-proxy";
  req.orgs = {"system:node-proxier"};
  req.client_auth = true;
  req.not_before = now_ - std::chrono::hours(24 * 10);
  req.not_after = now_ - std::chrono::hours(24 * 3 + 1);
  Replace("kube-proxy", "ca", req);
  req.cn = "system:kube-scheduler";
  req.orgs = {};
  req.not_after = now_ + std::chrono::hours(24 * 5 + 1);
  Replace("kube-scheduler", "ca", req);
  auto checks = CheckPki(cluster_, state_, now_);
  const CertCheck* proxy = Find(checks, "pki/kube-proxy.crt");
  EXPECT_EQ(proxy->status, CertStatus::kExpired);
  EXPECT_EQ(proxy->reason,
            "expired " +
                FormatDate(req.not_before + std::chrono::hours(24 * 7 - 1)) +
                " (3 days ago)");
  EXPECT_EQ(proxy->days_left, -4);
  const CertCheck* sched = Find(checks, "pki/kube-scheduler.crt");
  EXPECT_EQ(sched->status, CertStatus::kRenewSoon);
  EXPECT_THAT(sched->reason,
              HasSubstr("(in 5 days), inside renew_before (30d 0h)"));
  EXPECT_EQ(sched->days_left, 5);
  EXPECT_FALSE(CheckPassed(checks));
}

TEST_F(CheckPkiTest, WrongOrgAndUsage) {
  IssueRequest req;
  req.cn = "system:kube-scheduler";
  req.orgs = {"system:system:kube-scheduler"};  // the hard way's typo
  req.client_auth = req.server_auth = true;
  req.not_before = now_;
  req.not_after = now_ + std::chrono::hours(8000);
  Replace("kube-scheduler", "ca", req);
  auto checks = CheckPki(cluster_, state_, now_);
  EXPECT_EQ(Find(checks, "pki/kube-scheduler.crt")->reason,
            "O is system:system:kube-scheduler, want none; has extended key "
            "usage serverAuth");
}

TEST_F(CheckPkiTest, MissingFilesAndMissingCa) {
  fs::remove(state_ / "pki/etcd/ca.crt");
  fs::remove(state_ / "pki/admin.crt");
  fs::remove(state_ / "encryption-config.yaml");
  auto checks = CheckPki(cluster_, state_, now_);
  EXPECT_EQ(Find(checks, "pki/etcd/ca.crt")->status, CertStatus::kMissing);
  EXPECT_EQ(Find(checks, "pki/etcd/ca.crt")->reason,
            "certificate missing (its key is present)");
  EXPECT_EQ(Find(checks, "pki/admin.crt")->status, CertStatus::kMissing);
  EXPECT_EQ(Find(checks, "encryption-config.yaml")->status,
            CertStatus::kMissing);
  const CertCheck* peer = Find(checks, "pki/etcd/peer-controller-0.crt");
  EXPECT_EQ(peer->status, CertStatus::kMismatch);
  EXPECT_THAT(peer->reason,
              HasSubstr("CA pki/etcd/ca.crt is missing or invalid"));
}

TEST_F(CheckPkiTest, StaleFilesAreListedButDoNotFail) {
  Cluster smaller =
      MakeCluster(InventoryYaml("ecdsa-p256", "10.240.0.21", "10.240.0.11",
                                "aescbc", /*with_node1=*/false));
  auto checks = CheckPki(smaller, state_, now_);
  EXPECT_TRUE(CheckPassed(checks));
  const CertCheck* stale = Find(checks, "pki/kubelet-node-1.crt");
  ASSERT_NE(stale, nullptr);
  EXPECT_EQ(stale->status, CertStatus::kStale);
  ASSERT_TRUE(stale->info);
  EXPECT_EQ(stale->info->cn, "system:node:node-1");
  EXPECT_EQ(Find(checks, "kubeconfigs/kubelet-node-1.kubeconfig")->status,
            CertStatus::kStale);
}

TEST_F(CheckPkiTest, ProviderChangeShowsUntilCertsRuns) {
  Cluster secretbox = MakeCluster(
      InventoryYaml("ecdsa-p256", "10.240.0.21", "10.240.0.11", "secretbox"));
  auto checks = CheckPki(secretbox, state_, now_);
  EXPECT_EQ(Find(checks, "encryption-config.yaml")->reason,
            "provider is aescbc, want secretbox");
  ASSERT_TRUE(EnsurePki(secretbox, state_, TestOptions()));
  EXPECT_TRUE(CheckPassed(CheckPki(secretbox, state_, now_)));
}

TEST(SpecMismatches, KeyAlgorithmAndCn) {
  CertSpec spec;
  spec.cn = "admin";
  spec.client_auth = true;
  CertInfo info;
  info.cn = "root";
  info.client_auth = true;
  info.ku_digital_signature = true;
  info.key = "rsa-2048";
  info.dns_sans = {"x"};
  EXPECT_EQ(JoinReasons(SpecMismatches(info, spec, KeyAlgorithm::kEcdsaP256)),
            "CN is root, want admin; has extra SAN x; key is rsa-2048, want "
            "ecdsa-p256");
}

}  // namespace
}  // namespace hardway
