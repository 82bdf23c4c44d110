// HTTPS over a Tunnel (an SSH direct-tcpip channel in real runs): OpenSSL runs
// on top of the tunnel through a custom BIO, so health checks reach services
// exactly as the hosts see them, with no port exposed to the machine running
// hardway. When TLS fails, the error says why in words: "certificate expired on
// 2024-01-02 03:04:05 UTC", "unknown CA (signed by CN=x, we trust CN=y)", "name
// mismatch: certificate has SANs DNS:a, IP:b; dialed 10.0.0.1".
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "remote/transport.h"
#include "util/error.h"

namespace hardway {

struct TlsOptions {
  // Verify the server against this CA and expected_name (DNS name or IPv4
  // address). When verify is false the connection is still TLS but the server
  // certificate is not checked.
  bool verify = true;
  std::filesystem::path ca_file;
  std::string expected_name;
  // Client identity presented to the server (mutual TLS); empty: none.
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  // The whole exchange (handshake, request, response) must finish within this
  // long once the tunnel is open, so a server that accepts the connection and
  // then stalls cannot hang a gate or doctor. Zero: no limit.
  std::chrono::milliseconds timeout{10'000};
};

struct HttpRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string body;
  std::string content_type = "application/json";
  std::string host_header;  // "10.0.0.1:2379"
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One request on a fresh TLS connection over `tunnel` (Connection: close).
// Failures are ErrorKind::kGate with the reason in words in message.
Result<HttpResponse> HttpsRequest(Tunnel& tunnel, const TlsOptions& tls,
                                  const HttpRequest& request);

// Opens a tunnel from `transport`'s host to host:port and sends the request
// there.
Result<HttpResponse> HttpsVia(Transport& transport, const std::string& host,
                              int port, const TlsOptions& tls,
                              HttpRequest request);

// The words for an X509_V_ERR_* code, given the certificate it concerns (may be
// null).
std::string DescribeVerifyError(int code, X509* cert, const TlsOptions& tls);

// Parses a complete HTTP/1.1 response (Content-Length, chunked, or up to end of
// stream). nullopt while incomplete (when `eof` is false).
std::optional<HttpResponse> ParseHttpResponse(const std::string& raw, bool eof);

}  // namespace hardway
