// Shared by doctor's tests: certificates made here, and a tiny HTTPS server
// on 127.0.0.1 (one request per connection) that FakeHost tunnels lead to, so
// a live link test runs the same code path as over SSH.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "../testing/tls_server.h"
#include "pki/x509.h"

namespace hardway::testing {

struct Identity {
  X509Ptr cert;
  KeyPtr key;
};

// The instant every test certificate's validity is measured from, fixed once
// per process and whole seconds (X.509 times have no fractions), so a test
// that judges certificates at IssueClock() sees exactly "3 days ago" for one
// issued with valid_to = -72h, even when issuing crosses a second boundary.
inline std::chrono::system_clock::time_point IssueClock() {
  static const auto at = std::chrono::floor<std::chrono::seconds>(
      std::chrono::system_clock::now());
  return at;
}

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
  auto now = IssueClock();
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
class TlsServer : public HttpsServer {
 public:
  TlsServer(X509* cert, EVP_PKEY* key, X509* client_ca, bool http_401 = false)
      : HttpsServer(
            cert, key, client_ca,
            [http_401](const Request& req) {
              if (http_401 && !req.client_verified)
                return std::pair{
                    401, std::string(R"({"kind":"Status","code":401})")};
              return std::pair{200, std::string(R"({"health":"true"})")};
            },
            http_401) {}
};

}  // namespace hardway::testing
