#include "x509util.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>

namespace standin {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemBio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string NameToString(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0,
                     XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len);
}

}  // namespace

std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<std::string> ReadWholeFile(const std::string& path,
                                  const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(what + ": cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<CertList> ParseCerts(const std::string& pem, const std::string& what) {
  ERR_clear_error();
  CertList out;
  BioPtr bio = MemBio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(x);
  ERR_clear_error();  // the loop ends on "no start line"
  if (out.empty()) return Fail(what + ": no PEM certificate found");
  return out;
}

Result<CertList> LoadCerts(const std::string& path, const std::string& what) {
  auto pem = ReadWholeFile(path, what);
  if (!pem) return Fail(pem.error());
  return ParseCerts(*pem, what);
}

Result<PKeyPtr> ParseKey(const std::string& pem, const std::string& what) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) {
    ERR_clear_error();  // the reason may quote the key's bytes; never print
                        // them
    return Fail(what +
                ": no PEM private key found (or it is encrypted or malformed)");
  }
  return PKeyPtr(key);
}

Result<PKeyPtr> LoadKey(const std::string& path, const std::string& what) {
  auto pem = ReadWholeFile(path, what);
  if (!pem) return Fail(pem.error());
  return ParseKey(*pem, what);
}

Result<std::vector<PKeyPtr>> LoadPublicKeys(const std::string& path,
                                            const std::string& what) {
  auto pem = ReadWholeFile(path, what);
  if (!pem) return Fail(pem.error());
  std::vector<PKeyPtr> keys;
  // Walk the PEM blocks one by one and accept the kinds the apiserver accepts.
  BioPtr bio = MemBio(*pem);
  while (true) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (!PEM_read_bio(bio.get(), &name, &header, &data, &len)) break;
    std::string type(name);
    const unsigned char* p = data;
    EVP_PKEY* key = nullptr;
    if (type == "PUBLIC KEY") {
      key = d2i_PUBKEY(nullptr, &p, len);
    } else if (type == "RSA PUBLIC KEY") {
      key = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
    } else if (type == "CERTIFICATE") {
      if (X509* x = d2i_X509(nullptr, &p, len)) {
        key = X509_get_pubkey(x);
        X509_free(x);
      }
    } else if (type.find("PRIVATE KEY") != std::string::npos) {
      if (type == "PRIVATE KEY")
        key = d2i_AutoPrivateKey(nullptr, &p, len);
      else if (type == "RSA PRIVATE KEY")
        key = d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, len);
      else if (type == "EC PRIVATE KEY")
        key = d2i_PrivateKey(EVP_PKEY_EC, nullptr, &p, len);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (!key) {
      ERR_clear_error();
      return Fail(what + ": PEM block \"" + type +
                  "\" is not a usable public key");
    }
    keys.emplace_back(key);
  }
  ERR_clear_error();
  if (keys.empty()) return Fail(what + ": no PEM public key found");
  return keys;
}

bool SameKey(EVP_PKEY* a, EVP_PKEY* b) { return EVP_PKEY_eq(a, b) == 1; }

Status CheckKeyMatches(X509* cert, EVP_PKEY* key, const std::string& cert_what,
                       const std::string& key_what) {
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (!pub || EVP_PKEY_eq(pub, key) != 1) {
    ERR_clear_error();
    return Fail(key_what + " does not match the public key of " + cert_what +
                " (" + SubjectOf(cert) + ")");
  }
  return {};
}

Status CheckIsCa(const CertList& cas, const std::string& what) {
  for (const auto& c : cas) {
    if (X509_check_ca(c.get()) == 0)
      return Fail(what + ": " + SubjectOf(c.get()) +
                  " is not a CA certificate (no CA:TRUE)");
    if (X509_cmp_current_time(X509_get0_notAfter(c.get())) < 0)
      return Fail(what + ": CA " + SubjectOf(c.get()) + " has expired");
  }
  return {};
}

Status VerifyChain(const CertList& chain, const CertList& cas, Purpose purpose,
                   const std::string& what, const std::string& ca_what) {
  if (chain.empty()) return Fail(what + ": no certificate");
  X509_STORE* store = X509_STORE_new();
  for (const auto& ca : cas) X509_STORE_add_cert(store, ca.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i)
    sk_X509_push(untrusted, chain[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, chain[0].get(), untrusted);
  if (purpose == Purpose::kClient)
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  if (purpose == Purpose::kServer)
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  int ok = X509_verify_cert(ctx);
  int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  ERR_clear_error();
  if (ok == 1) return {};
  std::string ca_names;
  for (const auto& ca : cas)
    ca_names += (ca_names.empty() ? "" : ", ") + SubjectOf(ca.get());
  return Fail(what + " (" + SubjectOf(chain[0].get()) + ", issued by " +
              IssuerOf(chain[0].get()) + ") does not verify against " +
              ca_what + " (" + ca_names +
              "): " + X509_verify_cert_error_string(err));
}

std::string SubjectOf(X509* cert) {
  return NameToString(X509_get_subject_name(cert));
}
std::string IssuerOf(X509* cert) {
  return NameToString(X509_get_issuer_name(cert));
}

namespace {
std::vector<std::string> NameEntries(X509* cert, int nid) {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) {
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len >= 0) {
      out.emplace_back(reinterpret_cast<char*>(utf8), len);
      OPENSSL_free(utf8);
    }
  }
  return out;
}
}  // namespace

std::string CommonName(X509* cert) {
  auto v = NameEntries(cert, NID_commonName);
  return v.empty() ? std::string() : v.front();
}

std::vector<std::string> Organizations(X509* cert) {
  return NameEntries(cert, NID_organizationName);
}

bool CertCoversHost(X509* cert, const std::string& host) {
  bool ok;
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 ||
      inet_pton(AF_INET6, host.c_str(), buf) == 1)
    ok = X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  else
    ok = X509_check_host(cert, host.c_str(), host.size(), 0, nullptr) == 1;
  ERR_clear_error();
  return ok;
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioString(bio.get());
}

std::string ToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                           nullptr);
  return BioString(bio.get());
}

Result<SelfSigned> MakeSelfSigned(const std::string& cn,
                                  const std::vector<std::string>& hosts) {
  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Fail("cannot generate a key: " + OpenSslErrors());
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  std::string san;
  for (const auto& h : hosts) {
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 ||
              inet_pton(AF_INET6, h.c_str(), buf) == 1;
    san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + h;
  }
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (ext) {
      X509_add_ext(x.get(), ext, -1);
      X509_EXTENSION_free(ext);
    }
  };
  add(NID_basic_constraints, "critical,CA:FALSE");
  add(NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add(NID_ext_key_usage, "serverAuth");
  if (!san.empty()) add(NID_subject_alt_name, san);
  if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0)
    return Fail("cannot self-sign: " + OpenSslErrors());
  return SelfSigned{ToPem(x.get()), ToPem(key.get())};
}

}  // namespace standin
