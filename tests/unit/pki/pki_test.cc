// EnsurePki end to end on a temp state dir: every certificate verified with
// OpenSSL directly (not through pki/x509.h), idempotence, targeted reissues, CA
// errors, modes.
#include "pki/pki.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/cert_table.h"
#include "pki/x509.h"
#include "pki_test_util.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using testing::ChangedFiles;
using testing::FreshDir;
using ::testing::HasSubstr;
using testing::InventoryYaml;
using testing::MakeCluster;
using testing::Mode;
using testing::Snapshot;
using testing::TestOptions;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

X509* RawCert(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return cert;
}

EVP_PKEY* RawKey(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return key;
}

std::vector<std::string> NameValues(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
  }
  return out;
}

time_t AsTimeT(const ASN1_TIME* t) {
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return timegm(&tm);
}

void ExpectKeyType(EVP_PKEY* key, KeyAlgorithm algorithm,
                   const std::string& what) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsaP256:
    case KeyAlgorithm::kEcdsaP384: {
      ASSERT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC) << what;
      char group[64] = {};
      size_t len = 0;
      EVP_PKEY_get_group_name(key, group, sizeof(group), &len);
      EXPECT_STREQ(group, algorithm == KeyAlgorithm::kEcdsaP256 ? "prime256v1"
                                                                : "secp384r1")
          << what;
      break;
    }
    case KeyAlgorithm::kRsa2048:
    case KeyAlgorithm::kRsa3072:
    case KeyAlgorithm::kRsa4096: {
      ASSERT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA) << what;
      int bits = algorithm == KeyAlgorithm::kRsa2048   ? 2048
                 : algorithm == KeyAlgorithm::kRsa3072 ? 3072
                                                       : 4096;
      EXPECT_EQ(EVP_PKEY_get_bits(key), bits) << what;
      break;
    }
  }
}

// Checks every file of the table with plain OpenSSL calls.
void VerifyEveryCertificate(const Cluster& cluster, const fs::path& state) {
  const PkiSettings& pki = cluster.inventory().pki;
  auto table = CertificateTable(cluster);
  for (const CertSpec& spec : table) {
    SCOPED_TRACE(spec.name);
    fs::path crt = CertPath(state, spec), key_path = KeyPath(state, spec);
    ASSERT_TRUE(fs::exists(key_path));
    EXPECT_EQ(Mode(key_path), 0600u);
    EVP_PKEY* key = RawKey(key_path);
    ASSERT_NE(key, nullptr);
    ExpectKeyType(key, pki.key_algorithm, spec.name);
    if (spec.kind == CertKind::kKeyPair) {
      FILE* f = std::fopen(crt.c_str(), "r");
      ASSERT_NE(f, nullptr);
      EVP_PKEY* pub = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
      std::fclose(f);
      ASSERT_NE(pub, nullptr);
      EXPECT_EQ(EVP_PKEY_eq(pub, key), 1);
      EVP_PKEY_free(pub);
      EVP_PKEY_free(key);
      continue;
    }
    EXPECT_EQ(Mode(crt), 0644u);
    X509* cert = RawCert(crt);
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(X509_check_private_key(cert, key), 1);
    EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
    EXPECT_EQ(X509_get_signature_nid(cert),
              EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA
                  ? NID_sha256WithRSAEncryption
                  : NID_ecdsa_with_SHA256);
    // 128-bit serial.
    BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    EXPECT_EQ(BN_num_bytes(serial), 16);
    BN_free(serial);
    EXPECT_EQ(NameValues(X509_get_subject_name(cert), NID_commonName),
              std::vector<std::string>{spec.cn});
    EXPECT_EQ(NameValues(X509_get_subject_name(cert), NID_organizationName),
              spec.orgs);
    time_t nb = AsTimeT(X509_get0_notBefore(cert)),
           na = AsTimeT(X509_get0_notAfter(cert));
    auto validity =
        spec.kind == CertKind::kCa ? pki.ca_validity : pki.cert_validity;
    EXPECT_NEAR(static_cast<double>(na - nb),
                std::chrono::duration<double>(validity).count() + 60, 5.0);
    EXPECT_LE(nb, std::time(nullptr));
    EXPECT_NE(X509_get0_subject_key_id(cert), nullptr);
    uint32_t ku = X509_get_key_usage(cert);
    int crit = -1;
    void* ku_ext = X509_get_ext_d2i(cert, NID_key_usage, &crit, nullptr);
    ASN1_BIT_STRING_free(static_cast<ASN1_BIT_STRING*>(ku_ext));
    EXPECT_EQ(crit, 1) << "keyUsage critical";

    if (spec.kind == CertKind::kCa) {
      EXPECT_EQ(X509_check_ca(cert), 1);
      auto* bc = static_cast<BASIC_CONSTRAINTS*>(
          X509_get_ext_d2i(cert, NID_basic_constraints, &crit, nullptr));
      ASSERT_NE(bc, nullptr);
      EXPECT_TRUE(bc->ca);
      EXPECT_EQ(crit, 1);
      BASIC_CONSTRAINTS_free(bc);
      EXPECT_EQ(ku, static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN |
                                          KU_DIGITAL_SIGNATURE));
      EXPECT_EQ(X509_verify(cert, key), 1);  // self-signed
      EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert),
                              X509_get_issuer_name(cert)),
                0);
      X509_free(cert);
      EVP_PKEY_free(key);
      continue;
    }

    // Leaf: chain to its CA with a store that trusts only that CA.
    X509* ca = RawCert(state / "pki" / (spec.ca + ".crt"));
    ASSERT_NE(ca, nullptr);
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, cert, nullptr);
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
    EXPECT_EQ(X509_verify_cert(ctx), 1)
        << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    // ...and not to the other CAs.
    for (const char* other : {"ca", "etcd/ca", "front-proxy-ca"}) {
      if (spec.ca == other) continue;
      X509* wrong = RawCert(state / "pki" / (std::string(other) + ".crt"));
      EXPECT_NE(X509_verify(cert, X509_get0_pubkey(wrong)), 1) << other;
      X509_free(wrong);
    }
    ERR_clear_error();

    EXPECT_EQ(X509_check_ca(cert), 0);
    bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    EXPECT_EQ(ku, static_cast<uint32_t>(KU_DIGITAL_SIGNATURE |
                                        (rsa ? KU_KEY_ENCIPHERMENT : 0)));
    uint32_t xku = X509_get_extended_key_usage(cert);
    EXPECT_EQ((xku & XKU_SSL_SERVER) != 0, spec.server_auth);
    EXPECT_EQ((xku & XKU_SSL_CLIENT) != 0, spec.client_auth);
    EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) == 1,
              spec.client_auth);
    EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) == 1,
              spec.server_auth);
    for (const auto& dns : spec.dns_sans) {
      EXPECT_EQ(X509_check_host(cert, dns.c_str(), dns.size(), 0, nullptr), 1)
          << dns;
    }
    for (const auto& ip : spec.ip_sans) {
      EXPECT_EQ(X509_check_ip_asc(cert, ip.c_str(), 0), 1) << ip;
    }
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    size_t n = names ? static_cast<size_t>(sk_GENERAL_NAME_num(names)) : 0;
    EXPECT_EQ(n, spec.dns_sans.size() + spec.ip_sans.size()) << "no extra SANs";
    GENERAL_NAMES_free(names);
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
}

class EveryAlgorithm : public ::testing::TestWithParam<std::string> {};

// One controller and one worker: every kind of certificate, fewer keys to
// generate.
std::string SmallInventory(const std::string& algorithm) {
  return R"(cluster: {name: small}
pki: {key_algorithm: )" +
         algorithm + R"(}
hosts:
  - {name: c0, address: 10.0.0.10, fqdn: c0.example.com, roles: [etcd, controlplane]}
  - {name: w0, address: 10.0.0.20, fqdn: w0.example.com, roles: [worker]}
)";
}

TEST_P(EveryAlgorithm, EveryCertificateVerifiesAgainstItsCa) {
  bool ecdsa = GetParam().starts_with("ecdsa");
  Cluster cluster = MakeCluster(ecdsa ? InventoryYaml(GetParam())
                                      : SmallInventory(GetParam()));
  fs::path state = FreshDir(GetParam());
  auto report = EnsurePki(cluster, state, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->Count(PkiAction::kReissued), 0u);
  EXPECT_EQ(report->Count(PkiAction::kKept), 0u);
  // Table entries + kubeconfigs + encryption config.
  EXPECT_EQ(
      report->Count(PkiAction::kIssued),
      CertificateTable(cluster).size() + KubeconfigTable(cluster).size() + 1);
  VerifyEveryCertificate(cluster, state);
}

// rsa-4096 once, below, on a small cluster: its keys take seconds each.
INSTANTIATE_TEST_SUITE_P(Pki, EveryAlgorithm,
                         ::testing::Values("ecdsa-p256", "ecdsa-p384",
                                           "rsa-2048", "rsa-3072"));

TEST(EnsurePki, Rsa4096SmallCluster) {
  Cluster cluster = MakeCluster(SmallInventory("rsa-4096"));
  fs::path state = FreshDir("rsa4096");
  auto report = EnsurePki(cluster, state, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  VerifyEveryCertificate(cluster, state);
}

class EnsurePkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = FreshDir("ensure");
    auto report = EnsurePki(cluster_, state_, TestOptions());
    ASSERT_TRUE(report) << report.error().ToString();
    first_ = Snapshot(state_);
  }
  std::vector<std::string> ActionFiles(const PkiReport& r, PkiAction action) {
    std::vector<std::string> out;
    for (const auto& f : r.files) {
      if (f.action == action) out.push_back(f.file);
    }
    return out;
  }
  Cluster cluster_ = MakeCluster(InventoryYaml());
  fs::path state_;
  std::map<std::string, testing::FileState> first_;
};

TEST_F(EnsurePkiTest, SecondRunRewritesNothing) {
  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->Count(PkiAction::kKept), report->files.size());
  EXPECT_THAT(ChangedFiles(first_, Snapshot(state_)), ::testing::IsEmpty());
  // 21 certs/keys (sa has .key and .pub: 2 files each) + 6 kubeconfigs +
  // encryption config.
  EXPECT_EQ(first_.size(), 21u * 2 + 6 + 1);
}

TEST_F(EnsurePkiTest, ModesOfKeysDirsAndSecrets) {
  EXPECT_EQ(Mode(state_), 0700u);
  EXPECT_EQ(Mode(state_ / "pki"), 0700u);
  EXPECT_EQ(Mode(state_ / "pki" / "etcd"), 0700u);
  EXPECT_EQ(Mode(state_ / "kubeconfigs"), 0700u);
  for (const auto& [file, unused] : first_) {
    unsigned want =
        file.ends_with(".crt") || file.ends_with(".pub") ? 0644u : 0600u;
    EXPECT_EQ(Mode(state_ / file), want) << file;
  }
}

TEST_F(EnsurePkiTest, WorkerAddressChangeReissuesOnlyItsCertAndKubeconfig) {
  Cluster moved = MakeCluster(InventoryYaml("ecdsa-p256", "10.240.0.99"));
  auto report = EnsurePki(moved, state_, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_THAT(ActionFiles(*report, PkiAction::kReissued),
              UnorderedElementsAre("pki/kubelet-node-1.crt",
                                   "kubeconfigs/kubelet-node-1.kubeconfig"));
  const PkiFileResult* kubelet = report->Find("pki/kubelet-node-1.crt");
  ASSERT_NE(kubelet, nullptr);
  EXPECT_THAT(kubelet->reason, HasSubstr("lacks SAN 10.240.0.99"));
  EXPECT_THAT(kubelet->reason, HasSubstr("has extra SAN 10.240.0.21"));
  // The key stays: only the certificate (and the kubeconfig embedding it)
  // changed.
  EXPECT_THAT(ChangedFiles(first_, Snapshot(state_)),
              UnorderedElementsAre("pki/kubelet-node-1.crt",
                                   "kubeconfigs/kubelet-node-1.kubeconfig"));
  VerifyEveryCertificate(moved, state_);
}

TEST_F(EnsurePkiTest, ControllerAddressChangeReissuesApiserverAndItsEtcdCerts) {
  Cluster moved =
      MakeCluster(InventoryYaml("ecdsa-p256", "10.240.0.21", "10.240.0.51"));
  auto report = EnsurePki(moved, state_, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  std::vector<std::string> expected = {"pki/apiserver.crt",
                                       "pki/etcd/server-controller-1.crt",
                                       "pki/etcd/peer-controller-1.crt"};
  EXPECT_THAT(ActionFiles(*report, PkiAction::kReissued),
              UnorderedElementsAreArray(expected));
  EXPECT_THAT(ChangedFiles(first_, Snapshot(state_)),
              UnorderedElementsAreArray(expected));
}

TEST_F(EnsurePkiTest, ExpiringLeafIsReissuedWithItsKey) {
  // Replace admin.crt with one valid for 2 more days: inside renew_before (30
  // days).
  auto ca_cert = LoadCertificate(state_ / "pki/ca.crt");
  auto ca_key = LoadPrivateKey(state_ / "pki/ca.key");
  auto key = LoadPrivateKey(state_ / "pki/admin.key");
  ASSERT_TRUE(ca_cert && ca_key && key);
  IssueRequest req;
  req.cn = "admin";
  req.orgs = {"system:masters"};
  req.client_auth = true;
  req.not_before = std::chrono::system_clock::now() - std::chrono::hours(24);
  req.not_after = std::chrono::system_clock::now() + std::chrono::hours(60);
  auto short_lived =
      IssueCertificate(req, key->get(), ca_cert->get(), ca_key->get());
  ASSERT_TRUE(short_lived) << short_lived.error().ToString();
  ASSERT_TRUE(WriteFileAtomic(state_ / "pki/admin.crt",
                              CertificateToPem(short_lived->get()),
                              fs::perms(0644)));
  auto before = Snapshot(state_);

  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  const PkiFileResult* admin = report->Find("pki/admin.crt");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->action, PkiAction::kReissued);
  EXPECT_THAT(admin->reason, HasSubstr("inside renew_before"));
  EXPECT_THAT(admin->reason, HasSubstr("in 2 days"));
  // The key stays; the kubeconfig embedding the certificate follows it.
  EXPECT_THAT(
      ChangedFiles(before, Snapshot(state_)),
      UnorderedElementsAre("pki/admin.crt", "kubeconfigs/admin.kubeconfig"));
  EXPECT_EQ(report->Find("kubeconfigs/admin.kubeconfig")->action,
            PkiAction::kReissued);
  auto renewed = LoadCertificate(state_ / "pki/admin.crt");
  ASSERT_TRUE(renewed);
  EXPECT_GT(InspectCertificate(renewed->get()).not_after,
            std::chrono::system_clock::now() + std::chrono::hours(24 * 300));
  EXPECT_TRUE(KeyMatchesCertificate(renewed->get(), key->get()));
}

TEST_F(EnsurePkiTest, KeyAlgorithmChangeReissuesLeavesButNeverTheCas) {
  Cluster p384 = MakeCluster(InventoryYaml("ecdsa-p384"));
  auto report = EnsurePki(p384, state_, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->Find("pki/ca.crt")->action, PkiAction::kKept);
  EXPECT_EQ(report->Find("pki/sa.key")->action, PkiAction::kKept);
  const PkiFileResult* admin = report->Find("pki/admin.crt");
  EXPECT_EQ(admin->action, PkiAction::kReissued);
  EXPECT_THAT(admin->reason, HasSubstr("key is ecdsa-p256, want ecdsa-p384"));
  EXPECT_THAT(admin->reason, HasSubstr("new key"));
  auto key = LoadPrivateKey(state_ / "pki/admin.key");
  ASSERT_TRUE(key);
  EXPECT_EQ(KeyAlgorithmOf(key->get()), KeyAlgorithm::kEcdsaP384);
  auto ca = LoadCertificate(state_ / "pki/ca.crt");
  auto leaf = LoadCertificate(state_ / "pki/admin.crt");
  EXPECT_EQ(
      VerifyIssuedBy(leaf->get(), ca->get(), std::chrono::system_clock::now()),
      std::nullopt);
}

TEST_F(EnsurePkiTest, MissingCaKeyIsAnErrorThatSaysWhatToDo) {
  fs::remove(state_ / "pki/ca.key");
  auto before = Snapshot(state_);
  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kPki);
  EXPECT_THAT(report.error().where, HasSubstr("pki/ca.key"));
  EXPECT_THAT(report.error().message, HasSubstr("CA key missing"));
  EXPECT_THAT(report.error().hint, HasSubstr("backup"));
  EXPECT_THAT(report.error().hint, HasSubstr("start over"));
  EXPECT_THAT(ChangedFiles(before, Snapshot(state_)), ::testing::IsEmpty());
}

TEST_F(EnsurePkiTest, CaKeyThatDoesNotMatchIsAnError) {
  fs::copy_file(state_ / "pki/etcd/ca.key", state_ / "pki/ca.key",
                fs::copy_options::overwrite_existing);
  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kPki);
  EXPECT_THAT(report.error().message, HasSubstr("does not match"));
}

TEST_F(EnsurePkiTest, MissingCaWithLeavesIsNotSilentlyReRooted) {
  fs::remove(state_ / "pki/etcd/ca.crt");
  fs::remove(state_ / "pki/etcd/ca.key");
  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kPki);
  EXPECT_THAT(report.error().message,
              HasSubstr("certificates it signed exist"));
  EXPECT_THAT(report.error().where, HasSubstr("pki/etcd/ca.crt"));
}

TEST_F(EnsurePkiTest, RemovingPkiStartsOverAndReissuesEverything) {
  fs::remove_all(state_ / "pki");
  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->Find("pki/ca.crt")->action, PkiAction::kIssued);
  EXPECT_EQ(report->Find("kubeconfigs/admin.kubeconfig")->action,
            PkiAction::kReissued);
  EXPECT_EQ(report->Find("encryption-config.yaml")->action, PkiAction::kKept);
  VerifyEveryCertificate(cluster_, state_);
}

TEST_F(EnsurePkiTest, LeafSignedByAnotherCaIsReissued) {
  // Sign kube-proxy with the etcd CA: same key, wrong issuer.
  auto etcd_ca = LoadCertificate(state_ / "pki/etcd/ca.crt");
  auto etcd_key = LoadPrivateKey(state_ / "pki/etcd/ca.key");
  auto key = LoadPrivateKey(state_ / "pki/kube-proxy.key");
  IssueRequest req;
  req.cn = "system:kube-proxy";
  req.orgs = {"system:node-proxier"};
  req.client_auth = true;
  req.not_before = std::chrono::system_clock::now();
  req.not_after = req.not_before + std::chrono::hours(8000);
  auto wrong =
      IssueCertificate(req, key->get(), etcd_ca->get(), etcd_key->get());
  ASSERT_TRUE(wrong);
  ASSERT_TRUE(WriteFileAtomic(state_ / "pki/kube-proxy.crt",
                              CertificateToPem(wrong->get()), fs::perms(0644)));
  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_TRUE(report);
  EXPECT_EQ(report->Find("pki/kube-proxy.crt")->action, PkiAction::kReissued);
  EXPECT_EQ(report->Find("pki/kube-proxy.crt")->reason,
            "signed by etcd-ca, not by kubernetes-ca");
}

TEST_F(EnsurePkiTest, MissingLeafKeyGetsANewKeyAndCertificate) {
  fs::remove(state_ / "pki/front-proxy-client.key");
  auto report = EnsurePki(cluster_, state_, TestOptions());
  ASSERT_TRUE(report);
  const PkiFileResult* r = report->Find("pki/front-proxy-client.crt");
  EXPECT_EQ(r->action, PkiAction::kReissued);
  EXPECT_THAT(r->reason, HasSubstr("key pki/front-proxy-client.key missing"));
  VerifyEveryCertificate(cluster_, state_);
}

TEST_F(EnsurePkiTest, RemovedHostIsReportedStaleAndKept) {
  Cluster smaller =
      MakeCluster(InventoryYaml("ecdsa-p256", "10.240.0.21", "10.240.0.11",
                                "aescbc", /*with_node1=*/false));
  auto report = EnsurePki(smaller, state_, TestOptions());
  ASSERT_TRUE(report);
  EXPECT_THAT(ActionFiles(*report, PkiAction::kStale),
              UnorderedElementsAre("pki/kubelet-node-1.crt",
                                   "kubeconfigs/kubelet-node-1.kubeconfig"));
  EXPECT_TRUE(fs::exists(state_ / "pki/kubelet-node-1.crt"));
  EXPECT_THAT(ChangedFiles(first_, Snapshot(state_)), ::testing::IsEmpty());
}

TEST_F(EnsurePkiTest, LooseKeyModeIsTightened) {
  fs::permissions(state_ / "pki/admin.key", fs::perms(0644));
  ASSERT_TRUE(EnsurePki(cluster_, state_, TestOptions()));
  EXPECT_EQ(Mode(state_ / "pki/admin.key"), 0600u);
}

TEST(EnsurePkiSettings, RenewBeforeLongerThanValidityIsRejected) {
  Inventory inv = *ParseInventory(InventoryYaml(), "/tmp/x/inv.yaml");
  inv.pki.cert_validity = std::chrono::hours(24);
  inv.pki.renew_before = std::chrono::hours(48);
  auto report =
      EnsurePki(Cluster::Resolve(inv), FreshDir("settings"), TestOptions());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kValidation);
  EXPECT_THAT(report.error().message, HasSubstr("renew_before"));
}

}  // namespace
}  // namespace hardway
