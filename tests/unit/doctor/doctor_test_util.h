// Shared by doctor's tests: certificates made here, and a tiny HTTPS server
// on 127.0.0.1 (one request per connection) that FakeHost tunnels lead to, so
// a live link test runs the same code path as over SSH.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "pki/x509.h"

namespace hardway::testing {

struct Identity {
  X509Ptr cert;
  KeyPtr key;
};

inline Identity Issue(const std::string& cn, const Identity* ca,
                      std::vector<std::string> ips, bool server, bool client,
                      std::chrono::hours valid_from = std::chrono::hours(-1),
                      std::chrono::hours valid_to = std::chrono::hours(24 *
                                                                       365),
                      EVP_PKEY* reuse_key = nullptr) {
  KeyPtr key;
  if (reuse_key) {
    EVP_PKEY_up_ref(reuse_key);
    key.reset(reuse_key);
  } else {
    auto generated = GenerateKey(KeyAlgorithm::kEcdsaP256);
    EXPECT_TRUE(generated);
    key = std::move(*generated);
  }
  IssueRequest req;
  req.cn = cn;
  req.is_ca = ca == nullptr;
  req.server_auth = server;
  req.client_auth = client;
  req.ip_sans = std::move(ips);
  auto now = std::chrono::system_clock::now();
  req.not_before = now + valid_from;
  req.not_after = now + valid_to;
  auto cert = IssueCertificate(req, key.get(), ca ? ca->cert.get() : nullptr,
                               ca ? ca->key.get() : nullptr);
  EXPECT_TRUE(cert) << (cert ? "" : cert.error().ToString());
  return Identity{std::move(*cert), std::move(key)};
}

// Serves TLS with `cert`/`key` and checks client certificates against
// `client_ca`. Like etcd and the kubelet, a bad client certificate ends the
// handshake with an alert; like kube-apiserver (`http_401`), the handshake
// completes and the request gets 401. Good requests get 200 and a small JSON
// body.
class TlsServer {
 public:
  TlsServer(X509* cert, EVP_PKEY* key, X509* client_ca, bool http_401 = false)
      : http_401_(http_401) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, cert);
    SSL_CTX_use_PrivateKey(ctx_, key);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), client_ca);
    if (http_401) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER,
                         [](int, X509_STORE_CTX*) { return 1; });
    } else {
      SSL_CTX_set_verify(
          ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      timeval tv{5, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) {
        std::string raw;
        char buf[4096];
        while (raw.find("\r\n\r\n") == std::string::npos) {
          int n = SSL_read(ssl, buf, sizeof buf);
          if (n <= 0) break;
          raw.append(buf, static_cast<size_t>(n));
        }
        ++requests_;
        bool verified = SSL_get_verify_result(ssl) == X509_V_OK &&
                        SSL_get0_peer_certificate(ssl) != nullptr;
        std::string body = R"({"health":"true"})";
        std::string status = "200 OK";
        if (http_401_ && !verified) {
          body = R"({"kind":"Status","code":401})";
          status = "401 Unauthorized";
        }
        std::string resp = "HTTP/1.1 " + status +
                           "\r\nContent-Type: application/json\r\n"
                           "Content-Length: " +
                           std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body;
        SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
        SSL_shutdown(ssl);
      }
      ERR_clear_error();
      SSL_free(ssl);
      close(c);
    }
  }
  bool http_401_;
  SSL_CTX* ctx_;
  int fd_;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hardway::testing
