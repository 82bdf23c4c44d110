// etcd v3 through its JSON gateway (etcd 3.4: POST
// /v3/kv/range|put|txn|deleterange, base64 keys and values; GET /health), over
// mutual TLS, failing over across --etcd-servers.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include "http.h"
#include "yaml_json.h"

namespace standin {

struct EtcdKv {
  std::string key;
  std::string value;
  long long create_revision = 0;
  long long mod_revision = 0;
};

struct EtcdError {
  // kRefused: the TLS layer failed (etcd rejected our client certificate, or
  // its server certificate did not verify) — configuration, not timing, so
  // retrying will not help.
  enum Kind { kUnavailable, kRefused, kProtocol } kind = kUnavailable;
  std::string message;
};

template <typename T>
using EtcdResult = std::expected<T, EtcdError>;

struct EtcdWrite {
  bool succeeded = false;  // the txn's compare held
  long long revision =
      0;  // store revision after the write (mod_revision of the key)
  std::optional<EtcdKv>
      current;  // on failure: the key as it is now (if it exists)
};

class Etcd {
 public:
  Etcd(std::vector<std::string> endpoints, ClientTls tls);
  // GET /health on one endpoint after another until one says {"health":"true"}.
  EtcdResult<std::string> Health();
  EtcdResult<std::optional<EtcdKv>> Get(const std::string& key);
  // Every key with the prefix, sorted; also the store revision.
  EtcdResult<std::vector<EtcdKv>> List(const std::string& prefix,
                                       long long* revision);
  // Put only if the key does not exist.
  EtcdResult<EtcdWrite> Create(const std::string& key,
                               const std::string& value);
  // Put only if the key exists with mod_revision == expected (expected 0:
  // exists at all).
  EtcdResult<EtcdWrite> Update(const std::string& key, const std::string& value,
                               long long expected);
  EtcdResult<bool> Delete(const std::string& key);

  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  EtcdResult<nlohmann::json> Call(const std::string& path,
                                  const nlohmann::json& body);
  EtcdResult<EtcdWrite> Txn(const std::string& key, const std::string& value,
                            const nlohmann::json& compare);
  std::vector<std::string> endpoints_;
  ClientTls tls_;
  std::mutex mu_;
  size_t preferred_ = 0;
};

std::string Base64Encode(const std::string& in);
Result<std::string> Base64Decode(const std::string& in);

}  // namespace standin
