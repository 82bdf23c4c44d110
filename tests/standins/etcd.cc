#include "etcd.h"

#include <openssl/evp.h>

namespace standin {

std::string Base64Encode(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(n);
  return out;
}

Result<std::string> Base64Decode(const std::string& in) {
  if (in.size() % 4 != 0) return Fail("bad base64 length");
  std::string out(in.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return Fail("bad base64");
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(n - pad);
  return out;
}

namespace {

// The gateway renders int64 as JSON strings ("revision": "12"); accept numbers
// too.
long long Int64(const Json& obj, const char* field) {
  if (!obj.is_object() || !obj.contains(field)) return 0;
  const Json& v = obj[field];
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_string()) return std::atoll(v.get<std::string>().c_str());
  return 0;
}

std::optional<EtcdKv> KvFrom(const Json& kv) {
  EtcdKv out;
  auto key = Base64Decode(kv.value("key", ""));
  auto value = Base64Decode(kv.value("value", ""));
  if (!key || !value) return std::nullopt;
  out.key = *key;
  out.value = *value;
  out.create_revision = Int64(kv, "create_revision");
  out.mod_revision = Int64(kv, "mod_revision");
  return out;
}

// The end of the key range covering every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = prefix.back();
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

}  // namespace

Etcd::Etcd(std::vector<std::string> endpoints, ClientTls tls)
    : endpoints_(std::move(endpoints)), tls_(std::move(tls)) {}

EtcdResult<Json> Etcd::Call(const std::string& path, const Json& body) {
  size_t start;
  {
    std::lock_guard lock(mu_);
    start = preferred_;
  }
  EtcdError last{EtcdError::kUnavailable, "no etcd endpoints"};
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    size_t idx = (start + i) % endpoints_.size();
    std::string base = endpoints_[idx];
    while (base.ends_with('/')) base.pop_back();
    auto resp = HttpDo(path == "/health" ? "GET" : "POST", base + path, &tls_,
                       path == "/health" ? std::string() : body.dump(),
                       "application/json", 5000);
    if (!resp) {
      last = {resp.error().kind == ClientError::kTls ? EtcdError::kRefused
                                                     : EtcdError::kUnavailable,
              resp.error().message};
      continue;
    }
    Json doc = Json::parse(resp->body, nullptr, false);
    if (resp->status != 200 || doc.is_discarded()) {
      std::string msg =
          doc.is_object() ? doc.value("message", doc.value("error", "")) : "";
      last = {
          resp->status >= 500 ? EtcdError::kUnavailable : EtcdError::kProtocol,
          base + path + ": HTTP " + std::to_string(resp->status) +
              (msg.empty() ? ": " + resp->body.substr(0, 200) : ": " + msg)};
      continue;
    }
    std::lock_guard lock(mu_);
    preferred_ = idx;
    return doc;
  }
  return std::unexpected(last);
}

EtcdResult<std::string> Etcd::Health() {
  auto doc = Call("/health", {});
  if (!doc) return std::unexpected(doc.error());
  // etcd 3.4 answers {"health":"true"}; later ones add "reason".
  Json h = (*doc).value("health", Json());
  if (h == "true" || h == true) return std::string("true");
  return std::unexpected(EtcdError{EtcdError::kUnavailable,
                                   "etcd reports unhealthy: " + doc->dump()});
}

EtcdResult<std::optional<EtcdKv>> Etcd::Get(const std::string& key) {
  auto doc = Call("/v3/kv/range", {{"key", Base64Encode(key)}});
  if (!doc) return std::unexpected(doc.error());
  if (!doc->contains("kvs") || (*doc)["kvs"].empty())
    return std::optional<EtcdKv>();
  return KvFrom((*doc)["kvs"][0]);
}

EtcdResult<std::vector<EtcdKv>> Etcd::List(const std::string& prefix,
                                           long long* revision) {
  auto doc =
      Call("/v3/kv/range", {{"key", Base64Encode(prefix)},
                            {"range_end", Base64Encode(PrefixEnd(prefix))},
                            {"sort_order", "ASCEND"},
                            {"sort_target", "KEY"}});
  if (!doc) return std::unexpected(doc.error());
  if (revision)
    *revision = Int64((*doc).value("header", Json::object()), "revision");
  std::vector<EtcdKv> out;
  for (const auto& kv : (*doc).value("kvs", Json::array()))
    if (auto v = KvFrom(kv)) out.push_back(std::move(*v));
  return out;
}

EtcdResult<EtcdWrite> Etcd::Txn(const std::string& key,
                                const std::string& value, const Json& compare) {
  Json body = {
      {"compare", Json::array({compare})},
      {"success", Json::array({{{"request_put",
                                 {{"key", Base64Encode(key)},
                                  {"value", Base64Encode(value)}}}}})},
      {"failure",
       Json::array({{{"request_range", {{"key", Base64Encode(key)}}}}})}};
  auto doc = Call("/v3/kv/txn", body);
  if (!doc) return std::unexpected(doc.error());
  EtcdWrite w;
  w.succeeded = doc->value("succeeded", false);
  w.revision = Int64((*doc).value("header", Json::object()), "revision");
  if (!w.succeeded) {
    for (const auto& r : (*doc).value("responses", Json::array())) {
      if (r.contains("response_range") && r["response_range"].contains("kvs") &&
          !r["response_range"]["kvs"].empty())
        w.current = KvFrom(r["response_range"]["kvs"][0]);
    }
  }
  return w;
}

EtcdResult<EtcdWrite> Etcd::Create(const std::string& key,
                                   const std::string& value) {
  return Txn(key, value,
             {{"key", Base64Encode(key)},
              {"target", "CREATE"},
              {"result", "EQUAL"},
              {"create_revision", "0"}});
}

EtcdResult<EtcdWrite> Etcd::Update(const std::string& key,
                                   const std::string& value,
                                   long long expected) {
  if (expected == 0)
    return Txn(key, value,
               {{"key", Base64Encode(key)},
                {"target", "CREATE"},
                {"result", "GREATER"},
                {"create_revision", "0"}});
  return Txn(key, value,
             {{"key", Base64Encode(key)},
              {"target", "MOD"},
              {"result", "EQUAL"},
              {"mod_revision", std::to_string(expected)}});
}

EtcdResult<bool> Etcd::Delete(const std::string& key) {
  auto doc = Call("/v3/kv/deleterange", {{"key", Base64Encode(key)}});
  if (!doc) return std::unexpected(doc.error());
  return Int64(*doc, "deleted") > 0;
}

}  // namespace standin
