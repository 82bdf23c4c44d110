#include "http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "x509util.h"

namespace standin {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

std::string Lower(std::string s) {
  std::ranges::transform(s, s.begin(),
                         [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A socket, optionally wrapped in TLS, with a read buffer.
class Conn {
 public:
  Conn(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Conn() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (fd_ >= 0) close(fd_);
  }
  SSL* ssl() const { return ssl_; }

  bool WriteAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      int n;
      if (ssl_) {
        n = SSL_write(ssl_, data.data() + off,
                      static_cast<int>(data.size() - off));
      } else {
        n = static_cast<int>(
            send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL));
      }
      if (n <= 0) {
        if (!ssl_ && n < 0 && errno == EINTR) continue;
        return false;
      }
      off += n;
    }
    return true;
  }

  // Appends what is available to buf_; false on EOF or error (last_error_ says
  // which).
  bool Fill() {
    char tmp[16384];
    int n;
    if (ssl_) {
      n = SSL_read(ssl_, tmp, sizeof tmp);
      if (n <= 0) {
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_ZERO_RETURN)
          last_error_ = "connection closed";
        else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
          last_error_ = errno ? std::strerror(errno) : "connection closed";
        else
          last_error_ = OpenSslErrors();
        return false;
      }
    } else {
      do n = static_cast<int>(recv(fd_, tmp, sizeof tmp, 0));
      while (n < 0 && errno == EINTR);
      if (n <= 0) {
        last_error_ = n == 0 ? "connection closed" : std::strerror(errno);
        return false;
      }
    }
    buf_.append(tmp, n);
    return true;
  }

  // Reads one CRLF-terminated line (without CRLF).
  bool ReadLine(std::string* line, size_t limit = 65536) {
    while (true) {
      auto pos = buf_.find("\r\n");
      if (pos != std::string::npos) {
        *line = buf_.substr(0, pos);
        buf_.erase(0, pos + 2);
        return true;
      }
      if (buf_.size() > limit) {
        last_error_ = "line too long";
        return false;
      }
      if (!Fill()) return false;
    }
  }

  bool ReadExact(size_t n, std::string* out) {
    while (buf_.size() < n)
      if (!Fill()) return false;
    *out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }

  bool ReadToEof(std::string* out) {
    while (Fill()) {
    }
    *out = std::move(buf_);
    buf_.clear();
    return true;
  }

  const std::string& last_error() const { return last_error_; }

 private:
  int fd_;
  SSL* ssl_;
  std::string buf_;
  std::string last_error_;
};

bool ReadHeaders(Conn& c, std::map<std::string, std::string>* headers) {
  std::string line;
  while (true) {
    if (!c.ReadLine(&line)) return false;
    if (line.empty()) return true;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
      value.pop_back();
    (*headers)[Lower(line.substr(0, colon))] = value;
  }
}

// Body per RFC 9112: chunked, Content-Length, or (responses only) until close.
bool ReadBody(Conn& c, const std::map<std::string, std::string>& headers,
              bool until_close, std::string* body) {
  auto te = headers.find("transfer-encoding");
  if (te != headers.end() &&
      Lower(te->second).find("chunked") != std::string::npos) {
    std::string line;
    while (true) {
      if (!c.ReadLine(&line)) return false;
      size_t size = std::strtoul(line.c_str(), nullptr, 16);
      if (size == 0) {
        while (c.ReadLine(&line) && !line.empty()) {
        }
        return true;
      }
      std::string chunk;
      if (!c.ReadExact(size, &chunk)) return false;
      body->append(chunk);
      if (!c.ReadLine(&line)) return false;
    }
  }
  auto cl = headers.find("content-length");
  if (cl != headers.end()) {
    size_t n = std::strtoul(cl->second.c_str(), nullptr, 10);
    if (n > (64u << 20)) return false;
    return c.ReadExact(n, body);
  }
  if (until_close) return c.ReadToEof(body);
  return true;
}

void SetTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

Status LoadChainAndKey(SSL_CTX* ctx, const std::string& cert_pem,
                       const std::string& key_pem, const std::string& what) {
  auto certs = ParseCerts(cert_pem, what + " certificate");
  if (!certs) return Fail(certs.error());
  auto key = ParseKey(key_pem, what + " key");
  if (!key) return Fail(key.error());
  if (SSL_CTX_use_certificate(ctx, (*certs)[0].get()) != 1)
    return Fail(what + ": cannot use certificate: " + OpenSslErrors());
  for (size_t i = 1; i < certs->size(); ++i) {
    X509_up_ref((*certs)[i].get());
    SSL_CTX_add_extra_chain_cert(ctx, (*certs)[i].get());
  }
  if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Fail(what + ": the private key does not match the certificate");
  }
  return {};
}

Status AddCas(SSL_CTX* ctx, const std::string& ca_pem,
              const std::string& what) {
  auto cas = ParseCerts(ca_pem, what);
  if (!cas) return Fail(cas.error());
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (auto& ca : *cas) X509_STORE_add_cert(store, ca.get());
  return {};
}

std::string PeerAddress(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, host,
              sizeof host);
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr,
              host, sizeof host);
  return host;
}

// Kubernetes requests client certificates but does not fail the handshake on a
// bad one: the x509 authenticator rejects it afterwards with 401. So accept
// here and look at the result.
int AcceptAnyClientCert(int, X509_STORE_CTX*) { return 1; }

}  // namespace

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

struct HttpServer::State {
  ServerConfig config;
  HttpHandler handler;
  CtxPtr ctx;
  int listen_fd = -1;
  std::atomic<bool> stopping{false};
};

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!state_) return;
  state_->stopping = true;
  shutdown(state_->listen_fd, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  close(state_->listen_fd);
  state_.reset();
}

static void ServeConnection(std::shared_ptr<HttpServer::State> st, int fd,
                            std::string remote);

Status HttpServer::Start(const ServerConfig& config, HttpHandler handler) {
  signal(SIGPIPE, SIG_IGN);
  auto st = std::make_shared<State>();
  st->config = config;
  st->handler = std::move(handler);
  if (config.tls) {
    st->ctx.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_min_proto_version(st->ctx.get(), TLS1_2_VERSION);
    if (auto s = LoadChainAndKey(st->ctx.get(), config.cert_pem, config.key_pem,
                                 config.name);
        !s)
      return s;
    if (!config.client_ca_pem.empty()) {
      if (auto s = AddCas(st->ctx.get(), config.client_ca_pem,
                          config.name + " client CA");
          !s)
        return s;
      SSL_CTX_set_purpose(st->ctx.get(), X509_PURPOSE_SSL_CLIENT);
      if (config.require_client_cert)
        SSL_CTX_set_verify(st->ctx.get(),
                           SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           nullptr);
      else
        SSL_CTX_set_verify(st->ctx.get(), SSL_VERIFY_PEER, AcceptAnyClientCert);
      // Tell clients which CAs we accept, as Go's ClientCAs does.
      auto cas = ParseCerts(config.client_ca_pem, config.name);
      STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
      for (auto& ca : *cas)
        sk_X509_NAME_push(names,
                          X509_NAME_dup(X509_get_subject_name(ca.get())));
      SSL_CTX_set_client_CA_list(st->ctx.get(), names);
    }
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  std::string port = std::to_string(config.port);
  std::string bind =
      config.bind_address.empty() ? "0.0.0.0" : config.bind_address;
  if (int rc = getaddrinfo(bind.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Fail(config.name + ": bad bind address \"" + bind +
                "\": " + gai_strerror(rc));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind.find(':') != std::string::npos) {
    int zero = 0;  // "::" serves IPv4 too, as Go does
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0) {
    std::string err = std::strerror(errno);
    freeaddrinfo(res);
    close(fd);
    return Fail(config.name + ": cannot listen on " + bind + ":" + port + ": " +
                err);
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(ss.ss_family == AF_INET6
                    ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                    : reinterpret_cast<sockaddr_in&>(ss).sin_port);
  st->listen_fd = fd;
  state_ = st;
  accept_thread_ = std::thread([st] {
    while (!st->stopping) {
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      int cfd = accept4(st->listen_fd, reinterpret_cast<sockaddr*>(&peer),
                        &plen, SOCK_CLOEXEC);
      if (cfd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (st->stopping) break;
        usleep(100000);  // EMFILE and friends: back off rather than spin
        continue;
      }
      std::thread(ServeConnection, st, cfd, PeerAddress(peer)).detach();
    }
  });
  return {};
}

static void ServeConnection(std::shared_ptr<HttpServer::State> st, int fd,
                            std::string remote) {
  SetTimeouts(fd, 60000);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = nullptr;
  HttpRequest identity;
  if (st->ctx) {
    ssl = SSL_new(st->ctx.get());
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      ERR_clear_error();
      SSL_free(ssl);
      close(fd);
      return;
    }
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      identity.client_cert_presented = true;
      long vr = SSL_get_verify_result(ssl);
      identity.client_cert_verified = vr == X509_V_OK;
      if (vr != X509_V_OK)
        identity.client_cert_error = X509_verify_cert_error_string(vr);
      identity.user = CommonName(peer);
      identity.groups = Organizations(peer);
      X509_free(peer);
    }
  }
  Conn conn(fd, ssl);
  while (!st->stopping) {
    HttpRequest req = identity;
    req.remote = remote;
    std::string line;
    if (!conn.ReadLine(&line)) return;
    if (line.empty()) continue;
    auto sp1 = line.find(' ');
    auto sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) return;
    req.method = line.substr(0, sp1);
    std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    bool http10 = line.substr(sp2 + 1) == "HTTP/1.0";
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    if (!ReadHeaders(conn, &req.headers)) return;
    if (!ReadBody(conn, req.headers, false, &req.body)) return;
    HttpResponse resp;
    try {
      resp = st->handler(req);
    } catch (const std::exception& e) {
      resp = {500,
              "text/plain; charset=utf-8",
              std::string("internal error: ") + e.what(),
              {}};
    }
    bool close_after = http10 || Lower(req.Header("connection")) == "close";
    std::string out =
        "HTTP/1.1 " + std::to_string(resp.status) + " " +
        ReasonPhrase(resp.status) + "\r\nContent-Type: " + resp.content_type +
        "\r\nContent-Length: " + std::to_string(resp.body.size()) +
        "\r\nCache-Control: no-cache, private\r\n";
    for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
    if (close_after) out += "Connection: close\r\n";
    out += "\r\n";
    if (req.method != "HEAD") out += resp.body;
    if (!conn.WriteAll(out) || close_after) return;
  }
}

Result<UrlParts> ParseUrl(const std::string& url) {
  UrlParts u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return Fail("\"" + url + "\" is not a URL (no scheme)");
  u.scheme = url.substr(0, scheme_end);
  if (u.scheme != "http" && u.scheme != "https")
    return Fail("\"" + url + "\": scheme must be http or https");
  std::string rest = url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  u.port = u.scheme == "https" ? 443 : 80;
  if (hostport.starts_with('[')) {
    auto close = hostport.find(']');
    if (close == std::string::npos)
      return Fail("\"" + url + "\": bad IPv6 address");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      u.port = std::atoi(hostport.c_str() + close + 2);
  } else {
    auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) {
      std::string p = hostport.substr(colon + 1);
      if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos)
        return Fail("\"" + url + "\": bad port \"" + p + "\"");
      u.port = std::atoi(p.c_str());
    }
  }
  if (u.host.empty()) return Fail("\"" + url + "\": no host");
  if (u.port <= 0 || u.port > 65535)
    return Fail("\"" + url + "\": port out of range");
  return u;
}

std::expected<HttpResponse, ClientError> HttpDo(
    const std::string& method, const std::string& url, const ClientTls* tls,
    const std::string& body, const std::string& content_type, int timeout_ms) {
  auto fail = [&](ClientError::Kind kind, std::string msg) {
    return std::unexpected(ClientError{kind, method + " " + url + ": " + msg});
  };
  auto u = ParseUrl(url);
  if (!u) return fail(ClientError::kProtocol, u.error());
  if (u->scheme == "https" && !tls)
    return fail(ClientError::kProtocol, "https needs TLS settings");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(u->host.c_str(), std::to_string(u->port).c_str(),
                           &hints, &res);
      rc != 0)
    return fail(ClientError::kConnect,
                std::string("cannot resolve host: ") + gai_strerror(rc));
  int fd = -1;
  std::string connect_error;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, timeout_ms);
      if (rc == 0) {
        errno = ETIMEDOUT;
        rc = -1;
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        rc = err == 0 ? 0 : -1;
      }
    }
    if (rc == 0) break;
    connect_error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return fail(ClientError::kConnect, "cannot connect: " + connect_error);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  SetTimeouts(fd, timeout_ms);

  SSL* ssl = nullptr;
  CtxPtr ctx;
  if (u->scheme == "https") {
    ERR_clear_error();
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    if (tls->ca_pem.empty()) {
      close(fd);
      return fail(ClientError::kProtocol, "no CA to verify the server with");
    }
    if (auto s = AddCas(ctx.get(), tls->ca_pem, "CA"); !s) {
      close(fd);
      return fail(ClientError::kProtocol, s.error());
    }
    if (!tls->cert_pem.empty()) {
      if (auto s =
              LoadChainAndKey(ctx.get(), tls->cert_pem, tls->key_pem, "client");
          !s) {
        close(fd);
        return fail(ClientError::kProtocol, s.error());
      }
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    ssl = SSL_new(ctx.get());
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, u->host.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    unsigned char buf[16];
    if (inet_pton(AF_INET, u->host.c_str(), buf) == 1 ||
        inet_pton(AF_INET6, u->host.c_str(), buf) == 1)
      X509_VERIFY_PARAM_set1_ip_asc(param, u->host.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, u->host.c_str(), 0);
    if (SSL_connect(ssl) != 1) {
      long vr = SSL_get_verify_result(ssl);
      std::string why = vr != X509_V_OK
                            ? std::string("server certificate rejected: ") +
                                  X509_verify_cert_error_string(vr)
                            : "TLS handshake failed: " + OpenSslErrors();
      SSL_free(ssl);
      close(fd);
      return fail(ClientError::kTls, why);
    }
  }
  Conn conn(fd, ssl);
  std::string path_query = u->path;
  std::string host_header =
      u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host;
  std::string req =
      method + " " + path_query + " HTTP/1.1\r\nHost: " + host_header + ":" +
      std::to_string(u->port) + "\r\nUser-Agent: standin/" + kVersion +
      "\r\nAccept: application/json, */*\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" ||
      method == "PATCH") {
    req += "Content-Type: " +
           (content_type.empty() ? std::string("application/json")
                                 : content_type) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  // With TLS 1.3 the server judges our client certificate after the handshake,
  // so a refusal shows up as an alert on the first write or read: report it as
  // a TLS error.
  if (!conn.WriteAll(req)) {
    return fail(ssl ? ClientError::kTls : ClientError::kConnect,
                "connection dropped while sending: " + OpenSslErrors());
  }
  std::string status_line;
  if (!conn.ReadLine(&status_line)) {
    bool tls_alert =
        ssl && conn.last_error().find("alert") != std::string::npos;
    return fail(tls_alert ? ClientError::kTls : ClientError::kProtocol,
                (tls_alert ? "refused by the server: " : "no response: ") +
                    conn.last_error());
  }
  HttpResponse resp;
  resp.headers.clear();
  auto sp = status_line.find(' ');
  if (!status_line.starts_with("HTTP/1.") || sp == std::string::npos)
    return fail(ClientError::kProtocol,
                "not an HTTP response: " + status_line.substr(0, 80));
  resp.status = std::atoi(status_line.c_str() + sp + 1);
  if (!ReadHeaders(conn, &resp.headers))
    return fail(ClientError::kProtocol,
                "truncated response headers: " + conn.last_error());
  if (!ReadBody(conn, resp.headers, true, &resp.body))
    return fail(ClientError::kProtocol,
                "truncated response body: " + conn.last_error());
  resp.content_type = resp.headers["content-type"];
  return resp;
}

}  // namespace standin
