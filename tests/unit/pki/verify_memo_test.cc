// EnsurePki's memo of verified leaves: a later run takes recorded leaves as
// good without parsing them, and any change to what a full check judged (file
// bytes, even rewritten in place with a forged mtime; the CA; the spec; the
// memo itself; time reaching renew_before) brings the full check back.
#include "pki/verify_memo.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "pki/cert_table.h"
#include "pki/check.h"
#include "pki/pki.h"
#include "pki_test_util.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using testing::FreshDir;
using ::testing::HasSubstr;
using testing::InventoryYaml;
using testing::MakeCluster;
using testing::Mode;
using testing::Snapshot;
using testing::TestOptions;

size_t LeafCount(const Cluster& cluster) {
  size_t n = 0;
  for (const CertSpec& s : CertificateTable(cluster)) {
    if (s.kind == CertKind::kLeaf) ++n;
  }
  return n;
}

struct stat Stat(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

// Overwrites `path` in place (same inode), then puts its old atime and mtime
// back, as `touch -d` would: only ctime tells that it changed.
void RewriteInPlaceKeepingMtime(const fs::path& path,
                                const std::string& bytes) {
  struct stat before = Stat(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
  ASSERT_EQ(::close(fd), 0);
  timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  struct stat after = Stat(path);
  ASSERT_EQ(after.st_ino, before.st_ino);
  ASSERT_EQ(after.st_size, before.st_size);
  ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

class PkiMemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = FreshDir("memo");
    // The first run issues; the second checks every leaf in full and records
    // them.
    auto issued = EnsurePki(cluster_, state_, TestOptions());
    ASSERT_TRUE(issued) << issued.error().ToString();
    EXPECT_EQ(issued->leaves_checked + issued->leaves_vouched, 0u);
    auto checked = EnsurePki(cluster_, state_, TestOptions());
    ASSERT_TRUE(checked) << checked.error().ToString();
    EXPECT_EQ(checked->leaves_checked, leaves_);
    EXPECT_EQ(checked->leaves_vouched, 0u);
  }
  Result<PkiReport> Run(const Cluster& cluster, TimePoint now) {
    PkiOptions options = TestOptions();
    options.now = now;
    return EnsurePki(cluster, state_, options);
  }
  Result<PkiReport> Run() {
    return Run(cluster_, std::chrono::system_clock::now());
  }
  // A certificate for `leaf` with its own key and CA, valid for `hours` more,
  // whose PEM has exactly `size` bytes (signature and serial lengths vary, so
  // it tries a few times).
  std::string SameSizeCertificate(const CertSpec& leaf, long hours,
                                  size_t size) {
    auto ca_cert = LoadCertificate(state_ / "pki" / (leaf.ca + ".crt"));
    auto ca_key = LoadPrivateKey(state_ / "pki" / (leaf.ca + ".key"));
    auto key = LoadPrivateKey(KeyPath(state_, leaf));
    EXPECT_TRUE(ca_cert && ca_key && key);
    if (!ca_cert || !ca_key || !key) return {};
    IssueRequest req;
    req.cn = leaf.cn;
    req.orgs = leaf.orgs;
    req.client_auth = leaf.client_auth;
    req.server_auth = leaf.server_auth;
    req.dns_sans = leaf.dns_sans;
    req.ip_sans = leaf.ip_sans;
    req.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
    req.not_after =
        std::chrono::system_clock::now() + std::chrono::hours(hours);
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto cert =
          IssueCertificate(req, key->get(), ca_cert->get(), ca_key->get());
      EXPECT_TRUE(cert);
      if (!cert) return {};
      std::string pem = CertificateToPem(cert->get());
      if (pem.size() == size) return pem;
    }
    ADD_FAILURE() << "no certificate of " << size << " bytes";
    return {};
  }
  std::string MemoText() { return *ReadFile(state_ / kPkiMemoFile); }

  Cluster cluster_ = MakeCluster(InventoryYaml());
  std::vector<CertSpec> table_ = CertificateTable(cluster_);
  size_t leaves_ = LeafCount(cluster_);
  fs::path state_;
};

TEST_F(PkiMemoTest, LaterRunsVouchForEveryLeafWithoutParsingAndChangeNothing) {
  auto before = Snapshot(state_);
  std::string memo = MemoText();
  auto report = Run();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_checked, 0u);
  EXPECT_EQ(report->leaves_vouched, leaves_);
  EXPECT_EQ(report->Count(PkiAction::kKept), report->files.size());
  EXPECT_THAT(testing::ChangedFiles(before, Snapshot(state_)),
              ::testing::IsEmpty());
  EXPECT_EQ(MemoText(), memo);
  // What it vouched for, the full check (`certs --check`) passes.
  EXPECT_TRUE(CheckPassed(
      CheckPki(cluster_, state_, std::chrono::system_clock::now())));
}

TEST_F(PkiMemoTest, MemoIsPrivateAndHoldsNoKeyMaterial) {
  EXPECT_EQ(Mode(state_ / kPkiMemoFile), 0600u);
  std::string memo = MemoText();
  EXPECT_THAT(memo, HasSubstr("\"kubelet-node-0\""));
  EXPECT_THAT(memo, ::testing::Not(HasSubstr("BEGIN")));
  for (const CertSpec& s : table_) {
    std::string key = *ReadFile(KeyPath(state_, s));
    // The first line of the key's base64 body.
    size_t start = key.find('\n') + 1;
    std::string line = key.substr(start, key.find('\n', start) - start);
    ASSERT_GE(line.size(), 32u);
    EXPECT_THAT(memo, ::testing::Not(HasSubstr(line))) << s.name;
  }
}

TEST_F(PkiMemoTest, CertificateRewrittenInPlaceWithSameSizeAndMtimeIsChecked) {
  const CertSpec& leaf = *FindSpec(table_, "kubelet-node-0");
  fs::path crt = CertPath(state_, leaf);
  // Valid, same CA, same key and spec, same size; but 10 days from expiry, so
  // only a full check tells it apart from the recorded one.
  std::string replacement =
      SameSizeCertificate(leaf, 24 * 10, fs::file_size(crt));
  ASSERT_FALSE(replacement.empty());
  RewriteInPlaceKeepingMtime(crt, replacement);

  auto report = Run();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_checked, 1u);
  EXPECT_EQ(report->leaves_vouched, leaves_ - 1);
  const PkiFileResult* r = report->Find("pki/kubelet-node-0.crt");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->action, PkiAction::kReissued);
  EXPECT_THAT(r->reason, HasSubstr("inside renew_before"));
}

TEST_F(PkiMemoTest, KeyRewrittenInPlaceIsChecked) {
  // Another leaf's key, same algorithm: the same size, a different key.
  fs::path key = KeyPath(state_, *FindSpec(table_, "kube-proxy"));
  std::string other = *ReadFile(KeyPath(state_, *FindSpec(table_, "admin")));
  ASSERT_EQ(other.size(), fs::file_size(key));
  RewriteInPlaceKeepingMtime(key, other);
  auto report = Run();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_checked, 1u);
  const PkiFileResult* r = report->Find("pki/kube-proxy.crt");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->action, PkiAction::kReissued);
  EXPECT_THAT(r->reason, HasSubstr("does not match the certificate"));
}

TEST_F(PkiMemoTest, ReplacedCaChecksItsLeavesAgain) {
  // front-proxy-ca signs one leaf, front-proxy-client. First the same CA key
  // with a new certificate: the leaf still verifies, but is checked again.
  const CertSpec& ca_spec = *FindSpec(table_, "front-proxy-ca");
  auto ca_key = LoadPrivateKey(KeyPath(state_, ca_spec));
  ASSERT_TRUE(ca_key);
  IssueRequest req;
  req.cn = ca_spec.cn;
  req.is_ca = true;
  req.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  req.not_after = std::chrono::system_clock::now() + std::chrono::hours(87000);
  auto resigned = IssueCertificate(req, ca_key->get(), nullptr, nullptr);
  ASSERT_TRUE(resigned);
  ASSERT_TRUE(WriteFileAtomic(CertPath(state_, ca_spec),
                              CertificateToPem(resigned->get()),
                              fs::perms(0644)));
  auto report = Run();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_checked, 1u);
  EXPECT_EQ(report->leaves_vouched, leaves_ - 1);
  EXPECT_EQ(report->Find("pki/front-proxy-client.crt")->action,
            PkiAction::kKept);

  // Then a new CA (another key, same name): the leaf no longer verifies.
  auto new_key = GenerateKey(cluster_.inventory().pki.key_algorithm);
  ASSERT_TRUE(new_key);
  auto new_ca = IssueCertificate(req, new_key->get(), nullptr, nullptr);
  ASSERT_TRUE(new_ca);
  ASSERT_TRUE(WriteFileAtomic(KeyPath(state_, ca_spec),
                              PrivateKeyToPem(new_key->get()),
                              fs::perms(0600)));
  ASSERT_TRUE(WriteFileAtomic(CertPath(state_, ca_spec),
                              CertificateToPem(new_ca->get()),
                              fs::perms(0644)));
  report = Run();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_checked, 1u);
  EXPECT_EQ(report->Find("pki/front-proxy-client.crt")->action,
            PkiAction::kReissued);
}

TEST_F(PkiMemoTest, SpecChangeChecksThatLeafAgain) {
  Cluster moved = MakeCluster(InventoryYaml("ecdsa-p256", "10.240.0.99"));
  auto report = Run(moved, std::chrono::system_clock::now());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_checked, 1u);
  EXPECT_EQ(report->leaves_vouched, leaves_ - 1);
  const PkiFileResult* r = report->Find("pki/kubelet-node-1.crt");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->action, PkiAction::kReissued);
  EXPECT_THAT(r->reason, HasSubstr("lacks SAN 10.240.0.99"));
}

TEST_F(PkiMemoTest, KeyAlgorithmChangeChecksEveryLeafAgain) {
  Cluster p384 = MakeCluster(InventoryYaml("ecdsa-p384"));
  auto report = Run(p384, std::chrono::system_clock::now());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_checked, leaves_);
  EXPECT_EQ(report->leaves_vouched, 0u);
  size_t reissued = 0;
  for (const PkiFileResult& f : report->files) {
    if (f.action == PkiAction::kReissued && f.file.ends_with(".crt"))
      ++reissued;
  }
  EXPECT_EQ(reissued, leaves_);
}

TEST_F(PkiMemoTest, CorruptOrMissingMemoMeansFullChecks) {
  const std::vector<std::string> corrupt = {
      "{\"version\": 1, \"leaves\": {\"admin\": ",  // cut short
      "[1, 2, 3]\n", "{\"version\": \"1\", \"leaves\": {}}\n",
      "{\"version\": 99, \"leaves\": {}}\n", std::string("\0\xff\x01", 3)};
  for (const std::string& bad : corrupt) {
    SCOPED_TRACE(bad);
    ASSERT_TRUE(WriteFileAtomic(state_ / kPkiMemoFile, bad, fs::perms(0600)));
    auto report = Run();
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_EQ(report->leaves_checked, leaves_);
    EXPECT_EQ(report->Count(PkiAction::kKept), report->files.size());
    // Rewritten whole: the next run is back to vouching.
    report = Run();
    ASSERT_TRUE(report);
    EXPECT_EQ(report->leaves_vouched, leaves_);
  }
  // Entries of the wrong shape are skipped, the others still count.
  auto doc = nlohmann::json::parse(MemoText());
  doc["leaves"]["admin"]["digest"] = 42;
  doc["leaves"]["kube-proxy"]["not_after"] = "never";
  doc["leaves"]["kube-scheduler"]["digest"] = std::string(64, '0');
  ASSERT_TRUE(
      WriteFileAtomic(state_ / kPkiMemoFile, doc.dump(), fs::perms(0600)));
  auto report = Run();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->leaves_checked, 3u);
  EXPECT_EQ(report->leaves_vouched, leaves_ - 3);

  fs::remove(state_ / kPkiMemoFile);
  report = Run();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->leaves_checked, leaves_);
  EXPECT_TRUE(fs::exists(state_ / kPkiMemoFile));
}

TEST_F(PkiMemoTest, RecordedExpiryIsHeldAgainstNowOnEveryRun) {
  const PkiSettings& pki = cluster_.inventory().pki;
  auto now = std::chrono::system_clock::now();
  // A day before renew_before starts: still vouched for.
  auto report = Run(cluster_, now + pki.cert_validity - pki.renew_before -
                                  std::chrono::hours(24));
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_vouched, leaves_);
  // A day into it: every leaf is checked and reissued, as without a memo.
  report = Run(cluster_, now + pki.cert_validity - pki.renew_before +
                             std::chrono::hours(24));
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->leaves_vouched, 0u);
  EXPECT_EQ(report->leaves_checked, leaves_);
  EXPECT_EQ(report->Count(PkiAction::kReissued),
            leaves_ + KubeconfigTable(cluster_).size())
      << "the leaves and the kubeconfigs embedding them";
  EXPECT_THAT(report->Find("pki/admin.crt")->reason,
              HasSubstr("inside renew_before"));
}

TEST_F(PkiMemoTest, RemovedHostsDropOutOfTheMemo) {
  ASSERT_THAT(MemoText(), HasSubstr("\"kubelet-node-1\""));
  Cluster smaller =
      MakeCluster(InventoryYaml("ecdsa-p256", "10.240.0.21", "10.240.0.11",
                                "aescbc", /*with_node1=*/false));
  auto report = Run(smaller, std::chrono::system_clock::now());
  ASSERT_TRUE(report);
  EXPECT_EQ(report->leaves_vouched, LeafCount(smaller));
  EXPECT_THAT(MemoText(), ::testing::Not(HasSubstr("\"kubelet-node-1\"")));
}

TEST_F(PkiMemoTest, CertsCheckIgnoresTheMemo) {
  // Put a wrong certificate in place and a memo entry vouching for exactly its
  // bytes (as a buggy or hand-edited memo might): EnsurePki trusts its memo,
  // the explicit audit does not.
  const CertSpec& leaf = *FindSpec(table_, "kubelet-node-0");
  CertSpec wrong = leaf;
  wrong.ip_sans = {"10.9.9.9"};
  auto ca = LoadCertificate(state_ / "pki/ca.crt");
  auto ca_key = LoadPrivateKey(state_ / "pki/ca.key");
  auto key = LoadPrivateKey(KeyPath(state_, leaf));
  ASSERT_TRUE(ca && ca_key && key);
  IssueRequest req;
  req.cn = wrong.cn;
  req.orgs = wrong.orgs;
  req.client_auth = req.server_auth = true;
  req.dns_sans = wrong.dns_sans;
  req.ip_sans = wrong.ip_sans;
  req.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  req.not_after = std::chrono::system_clock::now() + std::chrono::hours(8000);
  auto cert = IssueCertificate(req, key->get(), ca->get(), ca_key->get());
  ASSERT_TRUE(cert);
  std::string pem = CertificateToPem(cert->get());
  ASSERT_TRUE(WriteFileAtomic(CertPath(state_, leaf), pem, fs::perms(0644)));
  auto doc = nlohmann::json::parse(MemoText());
  doc["leaves"]["kubelet-node-0"]["digest"] = LeafDigest(
      leaf, cluster_.inventory().pki.key_algorithm, pem,
      *ReadFile(KeyPath(state_, leaf)), *ReadFile(state_ / "pki/ca.crt"));
  ASSERT_TRUE(
      WriteFileAtomic(state_ / kPkiMemoFile, doc.dump(), fs::perms(0600)));

  auto checks = CheckPki(cluster_, state_, std::chrono::system_clock::now());
  EXPECT_FALSE(CheckPassed(checks));
  bool found = false;
  for (const CertCheck& c : checks) {
    if (c.file != "pki/kubelet-node-0.crt") continue;
    found = true;
    EXPECT_EQ(c.status, CertStatus::kMismatch);
    EXPECT_THAT(c.reason, HasSubstr("has extra SAN 10.9.9.9"));
  }
  EXPECT_TRUE(found);
  // The forged entry is well-formed, with the digest EnsurePki computes (it
  // does vouch for it), so the mismatch above is CheckPki's own finding.
  auto report = Run();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->leaves_vouched, leaves_);
}

TEST(LeafDigest, EveryInputCounts) {
  CertSpec spec;
  spec.name = "kubelet-n0";
  spec.ca = "ca";
  spec.cn = "system:node:n0";
  spec.orgs = {"system:nodes"};
  spec.client_auth = spec.server_auth = true;
  spec.dns_sans = {"n0"};
  spec.ip_sans = {"10.0.0.1"};
  const auto alg = KeyAlgorithm::kEcdsaP256;
  const std::string base = LeafDigest(spec, alg, "crt", "key", "ca");
  EXPECT_EQ(base, LeafDigest(spec, alg, "crt", "key", "ca"));
  EXPECT_EQ(base.size(), 64u);
  std::vector<std::string> variants = {
      LeafDigest(spec, KeyAlgorithm::kEcdsaP384, "crt", "key", "ca"),
      LeafDigest(spec, alg, "crt ", "key", "ca"),
      LeafDigest(spec, alg, "crt", "key ", "ca"),
      LeafDigest(spec, alg, "crt", "key", "ca "),
      // Bytes moved from one file to the next.
      LeafDigest(spec, alg, "crtk", "ey", "ca"),
  };
  auto with = [&](auto change) {
    CertSpec s = spec;
    change(s);
    variants.push_back(LeafDigest(s, alg, "crt", "key", "ca"));
  };
  with([](CertSpec& s) { s.name = "kubelet-n1"; });
  with([](CertSpec& s) { s.ca = "etcd/ca"; });
  with([](CertSpec& s) { s.cn = "system:node:n1"; });
  with([](CertSpec& s) { s.orgs = {}; });
  with([](CertSpec& s) { s.client_auth = false; });
  with([](CertSpec& s) { s.server_auth = false; });
  with([](CertSpec& s) { s.dns_sans.push_back("n0.example.com"); });
  with([](CertSpec& s) { s.ip_sans = {"10.0.0.2"}; });
  // A SAN moved from one list to the other.
  with([](CertSpec& s) {
    s.dns_sans = {"n0", "10.0.0.1"};
    s.ip_sans = {};
  });
  std::set<std::string> distinct(variants.begin(), variants.end());
  distinct.insert(base);
  EXPECT_EQ(distinct.size(), variants.size() + 1);
}

}  // namespace
}  // namespace hardway
