// Loopback servers shared by the unit tests that speak TLS (run's gates and
// tls_probe, doctor's live checks): a listener on 127.0.0.1 that hands each
// connection to a callback on its own thread, and an HTTPS server on top of it
// that answers one request per connection. Tests reach them through tunnels
// mapped to port(), the same code path as an SSH direct-tcpip channel.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <utility>

namespace hardway::testing {

// Listens on 127.0.0.1 at a port the kernel picks. Start() runs `on_accept`
// for every accepted connection on one thread (the callback owns the socket)
// until Stop() or destruction.
class LoopbackListener {
 public:
  LoopbackListener() {
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
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  ~LoopbackListener() {
    Stop();
    close(fd_);
  }

  void Start(std::function<void(int)> on_accept) {
    on_accept_ = std::move(on_accept);
    thread_ = std::thread([this] { Serve(); });
  }
  // Joins the thread, so that what the callback uses can be freed after.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      // Polling with a short timeout lets Stop() end the loop promptly.
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      on_accept_(c);
    }
  }

  int fd_;
  int port_ = 0;
  std::function<void(int)> on_accept_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Serves TLS with `cert`/`key`, one HTTP request per connection answered by
// `handler`. With `client_ca`, client certificates are checked against it:
// by default a missing or bad one ends the handshake (as etcd and the kubelet
// do); with `client_cert_optional` the handshake completes and the handler
// sees whether the certificate verified (as kube-apiserver, which answers 401).
class HttpsServer {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::string body;
    bool client_verified = false;
  };
  // Returns the status code and the (JSON) body of the response.
  using Handler = std::function<std::pair<int, std::string>(const Request&)>;

  HttpsServer(X509* cert, EVP_PKEY* key, X509* client_ca, Handler handler,
              bool client_cert_optional = false)
      : handler_(std::move(handler)) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, cert);
    SSL_CTX_use_PrivateKey(ctx_, key);
    if (client_ca) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), client_ca);
      if (client_cert_optional) {
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER,
                           [](int, X509_STORE_CTX*) { return 1; });
      } else {
        SSL_CTX_set_verify(
            ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      }
    }
    listener_.Start([this](int c) { Answer(c); });
  }
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;
  ~HttpsServer() {
    listener_.Stop();
    SSL_CTX_free(ctx_);
  }
  int port() const { return listener_.port(); }
  // Requests read after a completed handshake, answered or not.
  int requests() const { return requests_; }

 private:
  void Answer(int c) {
    timeval tv{5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string raw = ReadRequest(ssl);
      ++requests_;
      size_t sp1 = raw.find(' '), sp2 = raw.find(' ', sp1 + 1);
      size_t head = raw.find("\r\n\r\n");
      if (sp2 != std::string::npos && head != std::string::npos) {
        Request req{raw.substr(0, sp1), raw.substr(sp1 + 1, sp2 - sp1 - 1),
                    raw.substr(head + 4),
                    SSL_get_verify_result(ssl) == X509_V_OK &&
                        SSL_get0_peer_certificate(ssl) != nullptr};
        auto [status, body] = handler_(req);
        // The client reads only the code; the reason phrase is a placeholder.
        std::string resp =
            "HTTP/1.1 " + std::to_string(status) +
            " X\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
            body;
        SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
        SSL_shutdown(ssl);
      }
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(c);
  }

  // The head and as many body bytes as its Content-Length says.
  static std::string ReadRequest(SSL* ssl) {
    std::string raw;
    char buf[4096];
    while (true) {
      size_t head = raw.find("\r\n\r\n");
      if (head != std::string::npos) {
        size_t cl = raw.find("Content-Length: ");
        size_t want =
            cl == std::string::npos ? 0 : std::stoul(raw.substr(cl + 16));
        if (raw.size() >= head + 4 + want) break;
      }
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
    }
    return raw;
  }

  SSL_CTX* ctx_;
  Handler handler_;
  std::atomic<int> requests_{0};
  LoopbackListener listener_;
};

}  // namespace hardway::testing
