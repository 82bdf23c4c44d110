#include "pki/x509.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hardway {
namespace {

using std::chrono::hours;
using ::testing::HasSubstr;

TimePoint Day(int y, unsigned m, unsigned d) {
  return std::chrono::sys_days(std::chrono::year(y) / m / d);
}

struct TestCa {
  KeyPtr key;
  X509Ptr cert;
};

TestCa MakeCa(const std::string& cn, TimePoint now) {
  TestCa ca;
  ca.key = std::move(*GenerateKey(KeyAlgorithm::kEcdsaP256));
  IssueRequest req;
  req.cn = cn;
  req.is_ca = true;
  req.not_before = now - hours(1);
  req.not_after = now + hours(24 * 365);
  ca.cert = std::move(*IssueCertificate(req, ca.key.get(), nullptr, nullptr));
  return ca;
}

X509Ptr MakeLeaf(const TestCa& ca, EVP_PKEY* key, TimePoint nb, TimePoint na) {
  IssueRequest req;
  req.cn = "leaf";
  req.client_auth = true;
  req.dns_sans = {"a.example"};
  req.ip_sans = {"10.1.2.3"};
  req.not_before = nb;
  req.not_after = na;
  return std::move(*IssueCertificate(req, key, ca.cert.get(), ca.key.get()));
}

TEST(X509, DescribeExpiry) {
  TimePoint now = Day(2026, 11, 24) + hours(12);
  EXPECT_EQ(DescribeExpiry(Day(2026, 11, 21), now),
            "expired 2026-11-21 (3 days ago)");
  EXPECT_EQ(DescribeExpiry(Day(2026, 12, 6) + hours(13), now),
            "expires 2026-12-06 (in 12 days)");
  EXPECT_EQ(DescribeExpiry(Day(2026, 11, 25) + hours(13), now),
            "expires 2026-11-25 (in 1 day)");
  EXPECT_EQ(DescribeExpiry(now + hours(5), now),
            "expires 2026-11-24 (in 5h 0m)");
}

TEST(X509, IssuedLeafInspectsAndVerifies) {
  TimePoint now = std::chrono::system_clock::now();
  TestCa ca = MakeCa("test-ca", now);
  KeyPtr key = std::move(*GenerateKey(KeyAlgorithm::kEcdsaP384));
  X509Ptr leaf = MakeLeaf(ca, key.get(), now - hours(1), now + hours(100));
  CertInfo info = InspectCertificate(leaf.get());
  EXPECT_EQ(info.cn, "leaf");
  EXPECT_EQ(info.issuer_cn, "test-ca");
  EXPECT_EQ(info.key, "ecdsa-p384");
  EXPECT_THAT(info.dns_sans, ::testing::ElementsAre("a.example"));
  EXPECT_THAT(info.ip_sans, ::testing::ElementsAre("10.1.2.3"));
  EXPECT_TRUE(info.client_auth);
  EXPECT_FALSE(info.server_auth);
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.serial.size(), 32u);
  EXPECT_EQ(VerifyIssuedBy(leaf.get(), ca.cert.get(), now), std::nullopt);
  EXPECT_EQ(VerifySelfSignedCa(ca.cert.get(), now), std::nullopt);
  EXPECT_TRUE(KeyMatchesCertificate(leaf.get(), key.get()));
  EXPECT_FALSE(KeyMatchesCertificate(leaf.get(), ca.key.get()));
  EXPECT_EQ(VerifySelfSignedCa(leaf.get(), now),
            "is not a CA certificate (basicConstraints CA:FALSE or missing)");
}

TEST(X509, PreciseReasons) {
  TimePoint now = std::chrono::system_clock::now();
  TestCa ca = MakeCa("ca-one", now);
  TestCa other = MakeCa("ca-two", now);
  TestCa same_name = MakeCa("ca-one", now);
  KeyPtr key = std::move(*GenerateKey(KeyAlgorithm::kEcdsaP256));
  X509Ptr leaf = MakeLeaf(ca, key.get(), now - hours(1), now + hours(100));
  EXPECT_EQ(VerifyIssuedBy(leaf.get(), other.cert.get(), now),
            "signed by ca-one, not by ca-two");
  EXPECT_THAT(*VerifyIssuedBy(leaf.get(), same_name.cert.get(), now),
              HasSubstr("signature does not verify with ca-one's key"));
  X509Ptr old =
      MakeLeaf(ca, key.get(), now - hours(100), now - hours(24 * 3 + 2));
  EXPECT_THAT(*VerifyIssuedBy(old.get(), ca.cert.get(), now),
              HasSubstr("(3 days ago)"));
  X509Ptr future = MakeLeaf(ca, key.get(), now + hours(30), now + hours(100));
  EXPECT_THAT(*VerifyIssuedBy(future.get(), ca.cert.get(), now),
              HasSubstr("not valid before"));
}

TEST(X509, PemRoundTripAndBadInput) {
  for (KeyAlgorithm a : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEcdsaP384,
                         KeyAlgorithm::kRsa2048}) {
    KeyPtr key = std::move(*GenerateKey(a));
    EXPECT_EQ(KeyAlgorithmOf(key.get()), a);
    auto back = ParsePrivateKeyPem(PrivateKeyToPem(key.get()), "mem");
    ASSERT_TRUE(back);
    EXPECT_TRUE(KeysMatch(key.get(), back->get()));
    auto pub = ParsePublicKeyPem(PublicKeyToPem(key.get()), "mem");
    ASSERT_TRUE(pub);
    EXPECT_TRUE(KeysMatch(key.get(), pub->get()));
  }
  auto bad = ParseCertificatePem(
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      "pki/x.crt");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kPki);
  EXPECT_EQ(bad.error().where, "pki/x.crt");
  auto missing = LoadPrivateKey("/nonexistent/k.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kIo);
}

TEST(X509, RejectsBadIpSan) {
  KeyPtr key = std::move(*GenerateKey(KeyAlgorithm::kEcdsaP256));
  IssueRequest req;
  req.cn = "x";
  req.ip_sans = {"not-an-ip"};
  req.not_before = std::chrono::system_clock::now();
  req.not_after = req.not_before + hours(1);
  auto cert = IssueCertificate(req, key.get(), nullptr, nullptr);
  ASSERT_FALSE(cert);
  EXPECT_THAT(cert.error().message, HasSubstr("not-an-ip"));
}

}  // namespace
}  // namespace hardway
