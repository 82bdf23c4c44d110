#include "run/tls_probe.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "util/duration.h"
#include "util/net.h"

namespace hardway {
namespace {

constexpr size_t kMaxResponse = 64u << 20;

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};

// What the custom BIO knows about its tunnel.
struct BioState {
  Tunnel* tunnel = nullptr;
  std::string error;  // the tunnel's own failure, if any
  bool eof = false;
  // Set when the tunnel failed because TlsOptions::timeout ran out.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  bool timed_out = false;
};

// Tunnels word their deadline errors "timed out: ..." (transport.h).
void NoteTimeout(BioState* st) {
  if (st->deadline && (st->error.starts_with("timed out") ||
                       std::chrono::steady_clock::now() >= *st->deadline))
    st->timed_out = true;
}

int BioWrite(BIO* bio, const char* data, int len) {
  auto* st = static_cast<BioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  auto n =
      st->tunnel->Write(std::span<const char>(data, static_cast<size_t>(len)));
  if (!n) {
    st->error = n.error().message;
    NoteTimeout(st);
    return -1;
  }
  return static_cast<int>(*n);
}

int BioRead(BIO* bio, char* data, int len) {
  auto* st = static_cast<BioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  auto n = st->tunnel->Read(std::span<char>(data, static_cast<size_t>(len)));
  if (!n) {
    st->error = n.error().message;
    NoteTimeout(st);
    return -1;
  }
  if (*n == 0) st->eof = true;
  return static_cast<int>(*n);
}

long BioCtrl(BIO*, int cmd, long, void*) {
  // OpenSSL flushes after each record; the tunnel writes through, so flushing
  // is a no-op.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* TunnelBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "hardway-tunnel");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    return m;
  }();
  return method;
}

// The first verification problem OpenSSL met, with the certificate it concerns.
struct VerifyInfo {
  int error = 0;
  X509* cert = nullptr;  // owned (up-ref'd)
  ~VerifyInfo() { X509_free(cert); }
};

int VerifyInfoIndex() {
  static int index =
      SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok) return 1;
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* info =
      ssl ? static_cast<VerifyInfo*>(SSL_get_ex_data(ssl, VerifyInfoIndex()))
          : nullptr;
  if (info && info->error == 0) {
    info->error = X509_STORE_CTX_get_error(store);
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    if (!cert) cert = X509_STORE_CTX_get0_cert(store);
    if (cert && X509_up_ref(cert) == 1) info->cert = cert;
  }
  return 0;
}

std::string NameLine(const X509_NAME* name) {
  if (!name) return "?";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  X509_NAME_print_ex(bio.get(), name, 0,
                     XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<size_t>(len));
  // XN_FLAG_ONELINE writes "CN = x, O = y"; the compact form reads better in
  // one line.
  std::string compact;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out.compare(i, 3, " = ") == 0) {
      compact += '=';
      i += 2;
    } else {
      compact += out[i];
    }
  }
  return compact;
}

std::string AsnTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string SanList(X509* cert) {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return "none";
  std::string out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    std::string item;
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      item =
          "DNS:" +
          std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      const unsigned char* b = ASN1_STRING_get0_data(s);
      if (ASN1_STRING_length(s) == 4) {
        item = "IP:" + std::to_string(b[0]) + "." + std::to_string(b[1]) + "." +
               std::to_string(b[2]) + "." + std::to_string(b[3]);
      } else {
        item = "IP:(ipv6)";
      }
    } else {
      continue;
    }
    out += (out.empty() ? "" : ", ") + item;
  }
  GENERAL_NAMES_free(names);
  return out.empty() ? "none" : out;
}

std::string CaSubjects(const std::filesystem::path& ca_file) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_file(ca_file.c_str(), "r"), BIO_free);
  if (!bio) return "nothing (cannot read " + ca_file.string() + ")";
  std::string out;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out += (out.empty() ? "" : " and ") + NameLine(X509_get_subject_name(ca));
    X509_free(ca);
  }
  ERR_clear_error();
  return (out.empty() ? "no certificate" : out) + " from " + ca_file.string();
}

std::string OpensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    const char* reason = ERR_reason_error_string(e);
    out += (out.empty() ? "" : "; ") + std::string(reason ? reason : buf);
  }
  return out;
}

bool Contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

// Words for a failed handshake or read, from what the verify callback, the
// tunnel and the OpenSSL error queue saw.
std::string DescribeFailure(const VerifyInfo& info, const BioState& bio,
                            const TlsOptions& tls, const char* stage) {
  if (info.error != 0) return DescribeVerifyError(info.error, info.cert, tls);
  std::string errors = OpensslErrors();
  if (bio.timed_out) {
    return "no answer within " + FormatDuration(tls.timeout) + " during " +
           stage + " (the server accepted the connection but did not respond)";
  }
  if (Contains(errors, "alert certificate required") ||
      Contains(errors, "alert bad certificate") ||
      Contains(errors, "alert unknown ca") ||
      Contains(errors, "alert certificate unknown") ||
      Contains(errors, "alert handshake failure")) {
    if (tls.cert_file.empty()) {
      return "the server requires a client certificate and none was presented "
             "(" +
             errors + ")";
    }
    return "the server rejected our client certificate " +
           tls.cert_file.string() + " (" + errors + ")";
  }
  if (Contains(errors, "alert certificate expired")) {
    return "the server says our client certificate " + tls.cert_file.string() +
           " has expired (" + errors + ")";
  }
  if (!bio.error.empty())
    return std::string("tunnel failed during ") + stage + ": " + bio.error;
  if (Contains(errors, "wrong version number") ||
      Contains(errors, "packet length too long") ||
      Contains(errors, "http request")) {
    return "the server does not speak TLS on this port (" + errors + ")";
  }
  if (bio.eof) {
    return std::string("the server closed the connection during ") + stage +
           (errors.empty() ? "" : " (" + errors + ")");
  }
  return std::string("TLS ") + stage +
         " failed: " + (errors.empty() ? "unknown error" : errors);
}

}  // namespace

std::string DescribeVerifyError(int code, X509* cert, const TlsOptions& tls) {
  std::string openssl =
      std::string(" [openssl: ") + X509_verify_cert_error_string(code) + "]";
  std::string subject = cert ? NameLine(X509_get_subject_name(cert)) : "?";
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate expired on " +
             AsnTime(cert ? X509_get0_notAfter(cert) : nullptr) + " (" +
             subject + ")" + openssl;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate not valid before " +
             AsnTime(cert ? X509_get0_notBefore(cert) : nullptr) + " (" +
             subject + "; compare the clocks of this machine and the host)" +
             openssl;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "unknown CA (signed by " +
             (cert ? NameLine(X509_get_issuer_name(cert)) : std::string("?")) +
             ", we trust " + CaSubjects(tls.ca_file) + ")" + openssl;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      // Same issuer name, different key: typically a CA that was generated
      // again.
      return "unknown CA (signed by " +
             (cert ? NameLine(X509_get_issuer_name(cert)) : std::string("?")) +
             " but not with the key of the CA we trust, " +
             CaSubjects(tls.ca_file) + "; was the CA regenerated?)" + openssl;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "name mismatch: certificate has SANs " +
             (cert ? SanList(cert) : "?") + "; dialed " + tls.expected_name +
             openssl;
    default:
      return std::string("certificate verification failed: ") +
             X509_verify_cert_error_string(code) + " (" + subject + ")";
  }
}

std::optional<HttpResponse> ParseHttpResponse(const std::string& raw,
                                              bool eof) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return std::nullopt;
  HttpResponse r;
  size_t line_end = raw.find("\r\n");
  std::string status_line = raw.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12)
    return std::nullopt;
  r.status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end + 2;
  while (pos < head_end) {
    size_t end = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::ranges::transform(name, name.begin(),
                           [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    r.headers[name] = value;
  }
  std::string body = raw.substr(head_end + 4);
  if (r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200))
    return r;
  auto te = r.headers.find("transfer-encoding");
  if (te != r.headers.end() &&
      te->second.find("chunked") != std::string::npos) {
    size_t p = 0;
    while (true) {
      size_t nl = body.find("\r\n", p);
      if (nl == std::string::npos) return eof ? std::optional(r) : std::nullopt;
      size_t size = std::strtoul(body.substr(p, nl - p).c_str(), nullptr, 16);
      if (size == 0) return r;
      if (nl + 2 + size + 2 > body.size())
        return eof ? std::optional(r) : std::nullopt;
      r.body += body.substr(nl + 2, size);
      p = nl + 2 + size + 2;
    }
  }
  auto cl = r.headers.find("content-length");
  if (cl != r.headers.end()) {
    size_t want = std::strtoul(cl->second.c_str(), nullptr, 10);
    if (body.size() < want) return eof ? std::optional(r) : std::nullopt;
    r.body = body.substr(0, want);
    return r;
  }
  if (!eof) return std::nullopt;
  r.body = body;
  return r;
}

Result<HttpResponse> HttpsRequest(Tunnel& tunnel, const TlsOptions& tls,
                                  const HttpRequest& request) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx)
    return Fail(ErrorKind::kGate,
                "cannot create a TLS context: " + OpensslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Go servers close without close_notify after "Connection: close"; that is
  // the end.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (tls.verify) {
    if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(),
                                      nullptr) != 1) {
      return Fail(ErrorKind::kGate, "cannot load CA file: " + OpensslErrors(),
                  tls.ca_file.string(),
                  "run `hardway certs` to create the PKI");
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, VerifyCallback);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) !=
        1) {
      return Fail(ErrorKind::kGate,
                  "cannot load client certificate: " + OpensslErrors(),
                  tls.cert_file.string());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Fail(
          ErrorKind::kGate,
          "cannot load the client key or it does not match the certificate: " +
              OpensslErrors(),
          tls.key_file.string());
    }
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  VerifyInfo info;
  SSL_set_ex_data(ssl.get(), VerifyInfoIndex(), &info);
  if (tls.verify && !tls.expected_name.empty()) {
    if (Ipv4::Parse(tls.expected_name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()),
                                    tls.expected_name.c_str());
    } else {
      SSL_set1_host(ssl.get(), tls.expected_name.c_str());
    }
  }
  if (!tls.expected_name.empty() && !Ipv4::Parse(tls.expected_name)) {
    SSL_set_tlsext_host_name(ssl.get(), tls.expected_name.c_str());
  }
  BioState bio_state{&tunnel, {}, false, std::nullopt, false};
  if (tls.timeout.count() > 0) {
    bio_state.deadline = std::chrono::steady_clock::now() + tls.timeout;
    tunnel.SetDeadline(*bio_state.deadline);
  }
  BIO* bio = BIO_new(TunnelBioMethod());
  BIO_set_data(bio, &bio_state);
  SSL_set_bio(ssl.get(), bio, bio);

  if (SSL_connect(ssl.get()) != 1) {
    return Fail(ErrorKind::kGate,
                DescribeFailure(info, bio_state, tls, "the TLS handshake"));
  }

  std::string req = request.method + " " + request.path +
                    " HTTP/1.1\r\nHost: " + request.host_header +
                    "\r\nUser-Agent: hardway\r\nAccept: application/json" +
                    "\r\nConnection: close\r\n";
  if (!request.body.empty() || request.method == "POST" ||
      request.method == "PUT") {
    req += "Content-Type: " + request.content_type +
           "\r\nContent-Length: " + std::to_string(request.body.size()) +
           "\r\n";
  }
  req += "\r\n" + request.body;
  size_t sent = 0;
  while (sent < req.size()) {
    int n = SSL_write(ssl.get(), req.data() + sent,
                      static_cast<int>(req.size() - sent));
    if (n <= 0) {
      return Fail(ErrorKind::kGate,
                  DescribeFailure(info, bio_state, tls, "the request"));
    }
    sent += static_cast<size_t>(n);
  }

  std::string raw;
  char buf[16384];
  while (true) {
    int n = SSL_read(ssl.get(), buf, sizeof buf);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      if (raw.size() > kMaxResponse)
        return Fail(ErrorKind::kGate, "response too large");
      if (auto r = ParseHttpResponse(raw, false)) return *r;
      continue;
    }
    int err = SSL_get_error(ssl.get(), n);
    if (err == SSL_ERROR_ZERO_RETURN ||
        (err == SSL_ERROR_SYSCALL && bio_state.eof)) {
      if (auto r = ParseHttpResponse(raw, true)) return *r;
      if (raw.empty()) {
        return Fail(
            ErrorKind::kGate,
            DescribeFailure(info, bio_state, tls, "the response (no answer)"));
      }
      return Fail(ErrorKind::kGate,
                  "malformed HTTP response: " + raw.substr(0, 200));
    }
    return Fail(ErrorKind::kGate,
                DescribeFailure(info, bio_state, tls, "the response"));
  }
}

Result<HttpResponse> HttpsVia(Transport& transport, const std::string& host,
                              int port, const TlsOptions& tls,
                              HttpRequest request) {
  std::string target = host + ":" + std::to_string(port);
  auto tunnel = transport.OpenTunnel(host, port);
  if (!tunnel) {
    return Fail(ErrorKind::kGate, "cannot reach " + target + " from " +
                                      transport.host() + ": " +
                                      tunnel.error().message);
  }
  if (request.host_header.empty()) request.host_header = target;
  return HttpsRequest(**tunnel, tls, request);
}

}  // namespace hardway
