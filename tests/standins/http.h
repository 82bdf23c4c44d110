// Minimal HTTP/1.1 over TLS (OpenSSL) or plain TCP: a threaded server that
// reports the caller's verified client certificate, and a
// one-request-per-connection client with mutual TLS and server name
// verification. Enough for the API paths the stand-ins use.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace standin {

struct HttpRequest {
  std::string method;
  std::string path;                            // without the query
  std::string query;                           // after '?', undecoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // Client certificate, as Kubernetes' x509 authenticator sees it: present,
  // verified against the server's client CA (for client use), CN = user, O =
  // groups.
  bool client_cert_presented = false;
  bool client_cert_verified = false;
  std::string client_cert_error;
  std::string user;
  std::vector<std::string> groups;
  std::string remote;  // peer address
  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string>
      headers;  // extra headers (client: all, lower-cased)
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct ServerConfig {
  std::string name;  // for error messages, e.g. "kube-apiserver secure port"
  std::string bind_address;  // "0.0.0.0", "127.0.0.1", "::"
  int port = 0;              // 0 = any free port (tests)
  bool tls = false;
  std::string cert_pem;  // serving chain (leaf first)
  std::string key_pem;
  std::string client_ca_pem;  // empty: client certificates are not requested
  // Fail the handshake unless the client presents a certificate that verifies
  // against client_ca_pem (what etcd does with --client-cert-auth), instead of
  // reporting it.
  bool require_client_cert = false;
};

class HttpServer {
 public:
  HttpServer() = default;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();
  // Binds and listens before returning (so a port in use is reported at once),
  // then serves each connection on its own thread.
  Status Start(const ServerConfig& config, HttpHandler handler);
  int port() const { return port_; }
  void Stop();
  struct State;  // opaque; public so the connection threads can share it

 private:
  std::shared_ptr<State> state_;
  std::thread accept_thread_;
  int port_ = 0;
};

struct ClientTls {
  std::string
      ca_pem;  // trusted CAs for the server certificate (required for https)
  std::string cert_pem;  // client certificate; empty for none
  std::string key_pem;
};

struct ClientError {
  enum Kind { kConnect, kTls, kProtocol } kind = kConnect;
  std::string message;
};

// One request on a fresh connection. `url` is http(s)://host:port/path?query;
// for https the server certificate must verify against tls.ca_pem and cover
// `host`.
std::expected<HttpResponse, ClientError> HttpDo(
    const std::string& method, const std::string& url, const ClientTls* tls,
    const std::string& body = {}, const std::string& content_type = {},
    int timeout_ms = 5000);

struct UrlParts {
  std::string scheme, host, path;
  int port = 0;
};
Result<UrlParts> ParseUrl(const std::string& url);

std::string ReasonPhrase(int status);

}  // namespace standin
