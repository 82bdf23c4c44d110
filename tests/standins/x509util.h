// Loading and cross-checking certificates, keys and kubeconfigs (OpenSSL 3).
// Every error names the flag or field and the file, because it is all the
// operator will see.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace standin {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PKeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PKeyPtr = std::unique_ptr<EVP_PKEY, PKeyFree>;
using CertList = std::vector<X509Ptr>;

// `what` describes the source for errors, e.g. "--etcd-cafile
// /etc/etcd/ca.crt".
Result<std::string> ReadWholeFile(const std::string& path,
                                  const std::string& what);
Result<CertList> ParseCerts(const std::string& pem, const std::string& what);
Result<CertList> LoadCerts(const std::string& path, const std::string& what);
Result<PKeyPtr> ParseKey(const std::string& pem, const std::string& what);
Result<PKeyPtr> LoadKey(const std::string& path, const std::string& what);
// Public keys (PUBLIC KEY / RSA PUBLIC KEY), private keys or certificates, as
// --service-account-key-file accepts.
Result<std::vector<PKeyPtr>> LoadPublicKeys(const std::string& path,
                                            const std::string& what);

Status CheckKeyMatches(X509* cert, EVP_PKEY* key, const std::string& cert_what,
                       const std::string& key_what);
bool SameKey(EVP_PKEY* a, EVP_PKEY* b);

enum class Purpose { kAny, kClient, kServer };
// Verifies chain[0] (with chain[1..] as intermediates) against `cas` at the
// current time, for the given TLS purpose.
Status VerifyChain(const CertList& chain, const CertList& cas, Purpose purpose,
                   const std::string& what, const std::string& ca_what);
// Each cert in `cas` must be a CA certificate (basicConstraints CA:TRUE) and
// not expired.
Status CheckIsCa(const CertList& cas, const std::string& what);

std::string SubjectOf(X509* cert);  // "CN=admin,O=system:masters"
std::string IssuerOf(X509* cert);
std::string CommonName(X509* cert);
std::vector<std::string> Organizations(X509* cert);
// Whether the certificate's SANs cover a DNS name or IP address (exact match or
// wildcard).
bool CertCoversHost(X509* cert, const std::string& host);

std::string ToPem(X509* cert);
std::string ToPem(EVP_PKEY* key);  // private key, PKCS#8

struct SelfSigned {
  std::string cert_pem;
  std::string key_pem;
};
// A throwaway serving certificate, as the real controller-manager and scheduler
// make in memory when given no --tls-cert-file.
Result<SelfSigned> MakeSelfSigned(const std::string& cn,
                                  const std::vector<std::string>& hosts);

// The OpenSSL error queue, drained, as one line.
std::string OpenSslErrors();

}  // namespace standin
