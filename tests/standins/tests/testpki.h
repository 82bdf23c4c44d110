// Test fixtures for the stand-in tests: a small CA/leaf issuer (OpenSSL),
// kubeconfig and file writers, a temp folder, a child-process runner, and an
// in-process fake of etcd's v3 JSON gateway over mutual TLS.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "http.h"
#include "x509util.h"
#include "yaml_json.h"

namespace standin::testing {

struct Ca {
  X509Ptr cert;
  PKeyPtr key;
  std::string cert_pem, key_pem;
};
struct Leaf {
  std::string cert_pem, key_pem;
};

Ca MakeCa(const std::string& cn);
// usage: "client", "server" or "client,server".
Leaf MakeLeaf(const Ca& ca, const std::string& cn,
              const std::vector<std::string>& orgs,
              const std::vector<std::string>& sans, const std::string& usage);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

std::string KubeconfigYaml(const std::string& server, const std::string& ca_pem,
                           const Leaf& client);

int FreePort();

// A child process running the stand-in binary as `component`; stderr goes to a
// file.
class Child {
 public:
  // `binary` defaults to the stand-in; argv[0] is `component` either way.
  Child(const std::string& component, const std::vector<std::string>& args,
        const std::filesystem::path& log,
        const std::string& binary = STANDIN_BINARY);
  ~Child();
  // Waits up to `timeout_s` for the child to exit; returns the exit code or -1
  // if still running.
  int Wait(double timeout_s);
  bool Running();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::filesystem::path log_;
};

// In-memory etcd v3 JSON gateway: /health, /v3/kv/range, put, txn, deleterange.
class FakeEtcd {
 public:
  // Serves with `server` (signed by the etcd CA) and requires client
  // certificates that verify against `client_ca_pem`, failing the handshake
  // otherwise, like etcd does.
  FakeEtcd(const Leaf& server, const std::string& client_ca_pem);
  int port() const { return server_.port(); }
  std::optional<std::string> Value(const std::string& key);
  std::vector<std::string> Keys(const std::string& prefix);

 private:
  HttpResponse Handle(const HttpRequest& req);
  struct Entry {
    std::string value;
    long long create = 0, mod = 0;
  };
  Json KvJson(const std::string& key, const Entry& e);
  std::mutex mu_;
  std::map<std::string, Entry> data_;
  long long revision_ = 1;
  HttpServer server_;
};

}  // namespace standin::testing
