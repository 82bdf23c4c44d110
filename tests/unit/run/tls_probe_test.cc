// TlsOptions::timeout: a server that accepts the connection and then says
// nothing (before or after the handshake) ends the request with words instead
// of hanging the gate or doctor that asked.
#include "run/tls_probe.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <vector>

#include "../testing/tls_server.h"
#include "pki/x509.h"
#include "remote/tcp_tunnel.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

// Accepts connections on 127.0.0.1 and, when `ctx` is set, completes the TLS
// handshake; then reads and never answers until the test ends.
class SilentServer {
 public:
  explicit SilentServer(SSL_CTX* ctx) : ctx_(ctx) {
    listener_.Start([this](int c) { Hold(c); });
  }
  ~SilentServer() {
    listener_.Stop();
    for (SSL* s : sessions_) SSL_free(s);
    for (int c : open_) close(c);
  }
  int port() const { return listener_.port(); }

 private:
  // On the listener's thread; the connection stays open until the end.
  void Hold(int c) {
    open_.push_back(c);
    if (!ctx_) return;
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      char buf[4096];
      // Read the request, answer nothing.
      pollfd q{c, POLLIN, 0};
      if (poll(&q, 1, 2000) > 0) (void)SSL_read(ssl, buf, sizeof buf);
    }
    ERR_clear_error();
    sessions_.push_back(ssl);
  }

  SSL_CTX* ctx_;
  std::vector<int> open_;
  std::vector<SSL*> sessions_;
  testing::LoopbackListener listener_;
};

struct Pair {
  X509Ptr cert;
  KeyPtr key;
};

Pair Issue(const std::string& cn, const Pair* ca) {
  auto key = GenerateKey(KeyAlgorithm::kEcdsaP256);
  EXPECT_TRUE(key);
  IssueRequest req;
  req.cn = cn;
  req.is_ca = ca == nullptr;
  req.server_auth = ca != nullptr;
  req.ip_sans =
      ca ? std::vector<std::string>{"127.0.0.1"} : std::vector<std::string>{};
  auto now = std::chrono::system_clock::now();
  req.not_before = now - hours(1);
  req.not_after = now + hours(24);
  auto cert = IssueCertificate(req, key->get(), ca ? ca->cert.get() : nullptr,
                               ca ? ca->key.get() : nullptr);
  EXPECT_TRUE(cert);
  return Pair{std::move(*cert), std::move(*key)};
}

class TlsTimeoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hardway-tls-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    ca_ = Issue("test-ca", nullptr);
    server_ = Issue("server", &ca_);
    std::ofstream(dir_ / "ca.crt") << CertificateToPem(ca_.cert.get());
  }
  void TearDown() override { fs::remove_all(dir_); }

  TlsOptions Options(std::chrono::milliseconds timeout) const {
    TlsOptions tls;
    tls.ca_file = dir_ / "ca.crt";
    tls.expected_name = "127.0.0.1";
    tls.timeout = timeout;
    return tls;
  }

  fs::path dir_;
  Pair ca_, server_;
};

TEST_F(TlsTimeoutTest, SilentBeforeTheHandshakeEndsWithTheTimeoutInWords) {
  SilentServer srv(nullptr);
  auto tunnel = ConnectLoopbackTunnel(srv.port());
  ASSERT_TRUE(tunnel);
  auto r = HttpsRequest(**tunnel, Options(std::chrono::milliseconds(300)),
                        HttpRequest{"GET", "/health", {}, {}, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "no answer within 300ms during the TLS handshake (the server "
            "accepted the connection but did not respond)");
}

TEST_F(TlsTimeoutTest, SilentAfterTheHandshakeEndsWithTheTimeoutInWords) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, server_.cert.get());
  SSL_CTX_use_PrivateKey(ctx, server_.key.get());
  {
    SilentServer srv(ctx);
    auto tunnel = ConnectLoopbackTunnel(srv.port());
    ASSERT_TRUE(tunnel);
    auto r = HttpsRequest(**tunnel, Options(std::chrono::milliseconds(400)),
                          HttpRequest{"GET", "/health", {}, {}, {}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "no answer within 400ms during the response (the server "
              "accepted the connection but did not respond)");
  }
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace hardway
