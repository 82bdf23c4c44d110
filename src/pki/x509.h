// Small OpenSSL 3 (EVP) helpers shared by the PKI module, the gates and the
// stand-ins: load and write PEM, generate keys, issue certificates, inspect
// them, and say precisely why a certificate does not verify ("expired
// 2026-11-21 (3 days ago)", "lacks SAN node-0").
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inventory/inventory.h"
#include "util/error.h"

namespace hardway {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using TimePoint = std::chrono::system_clock::time_point;

// PEM in and out. `where` names the source in errors (a path or
// "admin.kubeconfig").
Result<X509Ptr> ParseCertificatePem(std::string_view pem,
                                    const std::string& where);
Result<KeyPtr> ParsePrivateKeyPem(std::string_view pem,
                                  const std::string& where);
Result<KeyPtr> ParsePublicKeyPem(std::string_view pem,
                                 const std::string& where);
Result<X509Ptr> LoadCertificate(const std::filesystem::path& path);
Result<KeyPtr> LoadPrivateKey(const std::filesystem::path& path);
std::string CertificateToPem(X509* cert);
std::string PrivateKeyToPem(EVP_PKEY* key);  // PKCS#8, unencrypted
std::string PublicKeyToPem(EVP_PKEY* key);   // SubjectPublicKeyInfo

Result<KeyPtr> GenerateKey(KeyAlgorithm algorithm);
// The algorithm of a key, or nullopt for anything hardway does not issue
// (ed25519, rsa-1024).
std::optional<KeyAlgorithm> KeyAlgorithmOf(EVP_PKEY* key);
// "ecdsa-p256", "rsa-4096", "ed25519", "ec-secp256k1": for messages.
std::string DescribeKey(EVP_PKEY* key);
bool KeyMatchesCertificate(X509* cert, EVP_PKEY* key);
bool KeysMatch(EVP_PKEY* a, EVP_PKEY* b);  // same public key

struct IssueRequest {
  std::string cn;
  std::vector<std::string> orgs;
  bool is_ca = false;
  bool client_auth = false;
  bool server_auth = false;
  std::vector<std::string> dns_sans;
  std::vector<std::string> ip_sans;
  TimePoint
      not_before;  // EnsurePki backdates by a minute for small clock skews
  TimePoint not_after;
};

// Signs with SHA-256. ca_cert/ca_key null: self-signed (subject_key signs). CA:
// basicConstraints CA:TRUE critical, keyUsage
// keyCertSign+cRLSign+digitalSignature critical, SKI. Leaf: CA:FALSE, keyUsage
// digitalSignature (+keyEncipherment for RSA) critical, EKU, SANs, SKI, AKI.
// Serial: 128 random bits.
Result<X509Ptr> IssueCertificate(const IssueRequest& request,
                                 EVP_PKEY* subject_key, X509* ca_cert,
                                 EVP_PKEY* ca_key);

struct CertInfo {
  std::string subject;  // one line, "CN=admin, O=system:masters"
  std::string issuer;
  std::string cn;
  std::vector<std::string> orgs;
  std::string issuer_cn;
  std::vector<std::string> dns_sans;
  std::vector<std::string> ip_sans;
  TimePoint not_before;
  TimePoint not_after;
  bool is_ca = false;
  bool client_auth = false;
  bool server_auth = false;
  bool ku_digital_signature = false;
  bool ku_key_encipherment = false;
  bool ku_cert_sign = false;
  bool ku_crl_sign = false;
  std::string serial;  // hex
  std::string key;     // DescribeKey of the public key
};
CertInfo InspectCertificate(X509* cert);

// "2026-11-21"
std::string FormatDate(TimePoint t);
// "expired 2026-11-21 (3 days ago)", "expires 2026-11-21 (in 12 days)", "not
// valid before ...".
std::string DescribeExpiry(TimePoint not_after, TimePoint now);

// Checks that `cert` was issued by `ca` and is valid at `now`: names match
// ("signed by X, not by Y"), the signature verifies with the CA's key,
// OpenSSL's chain check passes, the validity window holds ("expired 2026-11-21
// (3 days ago)"). nullopt when all is well.
std::optional<std::string> VerifyIssuedBy(X509* cert, X509* ca, TimePoint now);

// Same for a self-signed CA: it signs itself, is a CA, may sign certificates,
// and is valid.
std::optional<std::string> VerifySelfSignedCa(X509* ca, TimePoint now);

}  // namespace hardway
