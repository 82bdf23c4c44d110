#include "pki/x509.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

#include "util/duration.h"
#include "util/files.h"

namespace hardway {
namespace {

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The most recent OpenSSL error as text, and an empty queue afterwards.
std::string OpenSslError() {
  unsigned long code = ERR_peek_last_error();
  std::string text;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text.empty() ? "unknown OpenSSL error" : text;
}

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string DrainBio(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string Asn1ToUtf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int len = ASN1_STRING_to_UTF8(&out, s);
  if (len < 0) return {};
  std::string text(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  return text;
}

std::vector<std::string> NameEntries(const X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    out.push_back(
        Asn1ToUtf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))));
  }
  return out;
}

std::string FirstCn(const X509_NAME* name) {
  auto cns = NameEntries(name, NID_commonName);
  return cns.empty() ? std::string() : cns.front();
}

std::string NameOneLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return DrainBio(bio.get());
}

TimePoint Asn1TimeToTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return TimePoint{};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr) {
    return Fail(ErrorKind::kPki, std::string("cannot build extension ") +
                                     OBJ_nid2sn(nid) + ": " + OpenSslError());
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1)
    return Fail(ErrorKind::kPki, "cannot add extension: " + OpenSslError());
  return {};
}

Status AddSubjectAltNames(X509* cert, const IssueRequest& req) {
  if (req.dns_sans.empty() && req.ip_sans.empty()) return {};
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  auto cleanup = [&] { GENERAL_NAMES_free(names); };
  for (const std::string& dns : req.dns_sans) {
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    ASN1_STRING_set(value, dns.data(), static_cast<int>(dns.size()));
    GENERAL_NAME* name = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(name, GEN_DNS, value);
    sk_GENERAL_NAME_push(names, name);
  }
  for (const std::string& ip : req.ip_sans) {
    ASN1_OCTET_STRING* value = a2i_IPADDRESS(ip.c_str());
    if (value == nullptr) {
      cleanup();
      ERR_clear_error();
      return Fail(ErrorKind::kPki, "not an IP address for a SAN: " + ip);
    }
    GENERAL_NAME* name = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(name, GEN_IPADD, value);
    sk_GENERAL_NAME_push(names, name);
  }
  int ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0,
                             X509V3_ADD_DEFAULT);
  cleanup();
  if (ok != 1)
    return Fail(ErrorKind::kPki,
                "cannot add subjectAltName: " + OpenSslError());
  return {};
}

std::string Plural(long n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

}  // namespace

Result<X509Ptr> ParseCertificatePem(std::string_view pem,
                                    const std::string& where) {
  BioPtr bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return Fail(ErrorKind::kPki, "not a PEM certificate: " + OpenSslError(),
                where);
  }
  return cert;
}

Result<KeyPtr> ParsePrivateKeyPem(std::string_view pem,
                                  const std::string& where) {
  BioPtr bio = MemBio(pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    // Never echo the key's bytes: only OpenSSL's reason.
    return Fail(ErrorKind::kPki, "not a PEM private key: " + OpenSslError(),
                where);
  }
  return key;
}

Result<KeyPtr> ParsePublicKeyPem(std::string_view pem,
                                 const std::string& where) {
  BioPtr bio = MemBio(pem);
  KeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key)
    return Fail(ErrorKind::kPki, "not a PEM public key: " + OpenSslError(),
                where);
  return key;
}

Result<X509Ptr> LoadCertificate(const std::filesystem::path& path) {
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  return ParseCertificatePem(*text, path.string());
}

Result<KeyPtr> LoadPrivateKey(const std::filesystem::path& path) {
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  return ParsePrivateKeyPem(*text, path.string());
}

std::string CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return DrainBio(bio.get());
}

std::string PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                           nullptr);
  return DrainBio(bio.get());
}

std::string PublicKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  return DrainBio(bio.get());
}

Result<KeyPtr> GenerateKey(KeyAlgorithm algorithm) {
  EVP_PKEY* key = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::kEcdsaP256:
      key = EVP_EC_gen("P-256");
      break;
    case KeyAlgorithm::kEcdsaP384:
      key = EVP_EC_gen("P-384");
      break;
    case KeyAlgorithm::kRsa2048:
      key = EVP_RSA_gen(2048);
      break;
    case KeyAlgorithm::kRsa3072:
      key = EVP_RSA_gen(3072);
      break;
    case KeyAlgorithm::kRsa4096:
      key = EVP_RSA_gen(4096);
      break;
  }
  if (key == nullptr) {
    return Fail(ErrorKind::kPki, std::string("cannot generate ") +
                                     std::string(KeyAlgorithmName(algorithm)) +
                                     " key: " + OpenSslError());
  }
  return KeyPtr(key);
}

std::optional<KeyAlgorithm> KeyAlgorithmOf(EVP_PKEY* key) {
  if (key == nullptr) return std::nullopt;
  int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048:
        return KeyAlgorithm::kRsa2048;
      case 3072:
        return KeyAlgorithm::kRsa3072;
      case 4096:
        return KeyAlgorithm::kRsa4096;
      default:
        return std::nullopt;
    }
  }
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1)
      return std::nullopt;
    std::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256" || g == "secp256r1")
      return KeyAlgorithm::kEcdsaP256;
    if (g == "secp384r1" || g == "P-384") return KeyAlgorithm::kEcdsaP384;
  }
  return std::nullopt;
}

std::string DescribeKey(EVP_PKEY* key) {
  if (key == nullptr) return "no key";
  if (auto algorithm = KeyAlgorithmOf(key))
    return std::string(KeyAlgorithmName(*algorithm));
  int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA)
    return "rsa-" + std::to_string(EVP_PKEY_get_bits(key));
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    EVP_PKEY_get_group_name(key, group, sizeof(group), &len);
    return "ec-" + std::string(group, len);
  }
  const char* name = OBJ_nid2sn(id);
  return name != nullptr ? name : "unknown key type";
}

bool KeysMatch(EVP_PKEY* a, EVP_PKEY* b) {
  if (a == nullptr || b == nullptr) return false;
  bool same = EVP_PKEY_eq(a, b) == 1;
  ERR_clear_error();
  return same;
}

bool KeyMatchesCertificate(X509* cert, EVP_PKEY* key) {
  return cert != nullptr && KeysMatch(X509_get0_pubkey(cert), key);
}

Result<X509Ptr> IssueCertificate(const IssueRequest& req, EVP_PKEY* subject_key,
                                 X509* ca_cert, EVP_PKEY* ca_key) {
  if (subject_key == nullptr || (ca_cert == nullptr) != (ca_key == nullptr)) {
    return Fail(ErrorKind::kInternal, "IssueCertificate: missing key or CA",
                req.cn);
  }
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);

  // 128 random bits, positive: unpredictable serials (CA/B Forum asks for >= 64
  // bits).
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return Fail(ErrorKind::kPki, "random serial: " + OpenSslError(), req.cn);
  }
  serial[0] &= 0x7f;
  serial[0] |= 0x40;  // keep it 16 bytes long: no leading zero to strip
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);

  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const std::string& org : req.orgs) {
    X509_NAME_add_entry_by_txt(
        name, "O", MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  if (X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(req.cn.c_str()), -1, -1,
          0) != 1) {
    return Fail(ErrorKind::kPki, "bad common name: " + OpenSslError(), req.cn);
  }
  X509_set_issuer_name(cert.get(),
                       ca_cert ? X509_get_subject_name(ca_cert) : name);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                std::chrono::system_clock::to_time_t(req.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                std::chrono::system_clock::to_time_t(req.not_after));
  X509_set_pubkey(cert.get(), subject_key);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca_cert ? ca_cert : cert.get(), cert.get(), nullptr,
                 nullptr, 0);
  auto add = [&](int nid, const char* value) {
    return AddExtension(cert.get(), &ctx, nid, value);
  };
  Status st;
  if (req.is_ca) {
    if (st = add(NID_basic_constraints, "critical,CA:TRUE"); !st)
      return std::unexpected(st.error());
    if (st =
            add(NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign");
        !st) {
      return std::unexpected(st.error());
    }
    if (st = add(NID_subject_key_identifier, "hash"); !st)
      return std::unexpected(st.error());
  } else {
    if (st = add(NID_basic_constraints, "critical,CA:FALSE"); !st) {
      return std::unexpected(st.error());
    }
    // keyEncipherment only means something for RSA key transport.
    bool rsa = EVP_PKEY_get_base_id(subject_key) == EVP_PKEY_RSA;
    if (st =
            add(NID_key_usage, rsa ? "critical,digitalSignature,keyEncipherment"
                                   : "critical,digitalSignature");
        !st) {
      return std::unexpected(st.error());
    }
    std::string eku;
    if (req.server_auth) eku = "serverAuth";
    if (req.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
    if (!eku.empty()) {
      if (st = add(NID_ext_key_usage, eku.c_str()); !st)
        return std::unexpected(st.error());
    }
    if (st = add(NID_subject_key_identifier, "hash"); !st)
      return std::unexpected(st.error());
    if (ca_cert != nullptr) {
      // A CA from elsewhere may lack an SKI; then name it by issuer and serial
      // instead.
      const char* aki =
          X509_get0_subject_key_id(ca_cert) ? "keyid:always" : "issuer:always";
      if (st = add(NID_authority_key_identifier, aki); !st)
        return std::unexpected(st.error());
    }
    if (st = AddSubjectAltNames(cert.get(), req); !st)
      return std::unexpected(st.error());
  }

  if (X509_sign(cert.get(), ca_key ? ca_key : subject_key, EVP_sha256()) <= 0) {
    return Fail(ErrorKind::kPki, "cannot sign: " + OpenSslError(), req.cn);
  }
  return cert;
}

CertInfo InspectCertificate(X509* cert) {
  CertInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert);
  const X509_NAME* issuer = X509_get_issuer_name(cert);
  info.subject = NameOneLine(subject);
  info.issuer = NameOneLine(issuer);
  info.cn = FirstCn(subject);
  info.orgs = NameEntries(subject, NID_organizationName);
  info.issuer_cn = FirstCn(issuer);
  info.not_before = Asn1TimeToTimePoint(X509_get0_notBefore(cert));
  info.not_after = Asn1TimeToTimePoint(X509_get0_notAfter(cert));

  if (auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        info.dns_sans.push_back(Asn1ToUtf8(n->d.dNSName));
      } else if (n->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* ip = n->d.iPAddress;
        char text[INET6_ADDRSTRLEN] = {};
        int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
        if (ASN1_STRING_length(ip) == 4 || ASN1_STRING_length(ip) == 16) {
          inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text));
          info.ip_sans.push_back(text);
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (auto* bc = static_cast<BASIC_CONSTRAINTS*>(
          X509_get_ext_d2i(cert, NID_basic_constraints, nullptr, nullptr))) {
    info.is_ca = bc->ca != 0;
    BASIC_CONSTRAINTS_free(bc);
  }
  if (X509_get_ext_by_NID(cert, NID_key_usage, -1) >= 0) {
    uint32_t ku = X509_get_key_usage(cert);
    info.ku_digital_signature = ku & KU_DIGITAL_SIGNATURE;
    info.ku_key_encipherment = ku & KU_KEY_ENCIPHERMENT;
    info.ku_cert_sign = ku & KU_KEY_CERT_SIGN;
    info.ku_crl_sign = ku & KU_CRL_SIGN;
  }
  if (X509_get_ext_by_NID(cert, NID_ext_key_usage, -1) >= 0) {
    uint32_t xku = X509_get_extended_key_usage(cert);
    info.server_auth = xku & XKU_SSL_SERVER;
    info.client_auth = xku & XKU_SSL_CLIENT;
  }
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    char* hex = BN_bn2hex(bn);
    info.serial = hex;
    OPENSSL_free(hex);
    BN_free(bn);
  }
  info.key = DescribeKey(X509_get0_pubkey(cert));
  ERR_clear_error();
  return info;
}

std::string FormatDate(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

std::string DescribeExpiry(TimePoint not_after, TimePoint now) {
  using std::chrono::duration_cast;
  using std::chrono::hours;
  using std::chrono::milliseconds;
  auto left = duration_cast<milliseconds>(not_after - now);
  auto magnitude = left < milliseconds(0) ? -left : left;
  long days = static_cast<long>(duration_cast<hours>(magnitude).count() / 24);
  std::string span =
      days >= 1 ? Plural(days, "day") : FormatDuration(magnitude);
  if (left < milliseconds(0))
    return "expired " + FormatDate(not_after) + " (" + span + " ago)";
  return "expires " + FormatDate(not_after) + " (in " + span + ")";
}

std::optional<std::string> VerifyIssuedBy(X509* cert, X509* ca, TimePoint now) {
  CertInfo info = InspectCertificate(cert);
  std::string ca_cn = FirstCn(X509_get_subject_name(ca));
  if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca)) !=
      0) {
    return "signed by " +
           (info.issuer_cn.empty() ? info.issuer : info.issuer_cn) +
           ", not by " + ca_cn;
  }
  int sig = X509_verify(cert, X509_get0_pubkey(ca));
  ERR_clear_error();
  if (sig != 1) {
    return "signature does not verify with " + ca_cn +
           "'s key (a different CA with the same name)";
  }
  if (now < info.not_before)
    return "not valid before " + FormatDate(info.not_before);
  if (now > info.not_after) return DescribeExpiry(info.not_after, now);

  // OpenSSL's own chain check catches the rest (CA flags, key usage of the CA,
  // ...).
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_STORE_CTX_set_time(ctx, 0, std::chrono::system_clock::to_time_t(now));
  int ok = X509_verify_cert(ctx);
  std::string error =
      ok == 1 ? ""
              : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  if (ok != 1) return "does not verify against " + ca_cn + ": " + error;
  return std::nullopt;
}

std::optional<std::string> VerifySelfSignedCa(X509* ca, TimePoint now) {
  CertInfo info = InspectCertificate(ca);
  if (!info.is_ca)
    return "is not a CA certificate (basicConstraints CA:FALSE or missing)";
  if (X509_get_ext_by_NID(ca, NID_key_usage, -1) >= 0 && !info.ku_cert_sign) {
    return "its key usage does not allow signing certificates";
  }
  if (X509_NAME_cmp(X509_get_issuer_name(ca), X509_get_subject_name(ca)) != 0) {
    return "is not self-signed (issued by " + info.issuer + ")";
  }
  int sig = X509_verify(ca, X509_get0_pubkey(ca));
  ERR_clear_error();
  if (sig != 1) return "its self-signature does not verify";
  if (now < info.not_before)
    return "not valid before " + FormatDate(info.not_before);
  if (now > info.not_after) return DescribeExpiry(info.not_after, now);
  return std::nullopt;
}

}  // namespace hardway
