#include "testpki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "etcd.h"

namespace standin::testing {
namespace {

X509Ptr NewCert(const std::string& cn, const std::vector<std::string>& orgs,
                EVP_PKEY* pub) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24L * 3600);
  X509_set_pubkey(x.get(), pub);
  X509_NAME* name = X509_get_subject_name(x.get());
  for (const auto& o : orgs)
    X509_NAME_add_entry_by_txt(
        name, "O", MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  return x;
}

void AddExt(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("bad extension " + value);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

Ca MakeCa(const std::string& cn) {
  Ca ca;
  ca.key.reset(EVP_EC_gen("P-256"));
  ca.cert = NewCert(cn, {}, ca.key.get());
  X509_set_issuer_name(ca.cert.get(), X509_get_subject_name(ca.cert.get()));
  AddExt(ca.cert.get(), ca.cert.get(), NID_basic_constraints,
         "critical,CA:TRUE");
  AddExt(ca.cert.get(), ca.cert.get(), NID_key_usage,
         "critical,keyCertSign,cRLSign,digitalSignature");
  AddExt(ca.cert.get(), ca.cert.get(), NID_subject_key_identifier, "hash");
  X509_sign(ca.cert.get(), ca.key.get(), EVP_sha256());
  ca.cert_pem = ToPem(ca.cert.get());
  ca.key_pem = ToPem(ca.key.get());
  return ca;
}

Leaf MakeLeaf(const Ca& ca, const std::string& cn,
              const std::vector<std::string>& orgs,
              const std::vector<std::string>& sans, const std::string& usage) {
  PKeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr x = NewCert(cn, orgs, key.get());
  X509_set_issuer_name(x.get(), X509_get_subject_name(ca.cert.get()));
  AddExt(x.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExt(x.get(), ca.cert.get(), NID_key_usage,
         "critical,digitalSignature,keyEncipherment");
  std::string eku;
  if (usage.find("client") != std::string::npos) eku = "clientAuth";
  if (usage.find("server") != std::string::npos)
    eku += std::string(eku.empty() ? "" : ",") + "serverAuth";
  AddExt(x.get(), ca.cert.get(), NID_ext_key_usage, eku);
  std::string san;
  for (const auto& h : sans) {
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1;
    san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + h;
  }
  if (!san.empty()) AddExt(x.get(), ca.cert.get(), NID_subject_alt_name, san);
  X509_sign(x.get(), ca.key.get(), EVP_sha256());
  return {ToPem(x.get()), ToPem(key.get())};
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/standin-test-XXXXXX";
  path_ = mkdtemp(tmpl);
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}
std::string TempDir::Write(const std::string& name,
                           const std::string& content) const {
  auto p = path_ / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p.string();
}

std::string KubeconfigYaml(const std::string& server, const std::string& ca_pem,
                           const Leaf& client) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n  "
         "  server: " +
         server + "\n    certificate-authority-data: " + Base64Encode(ca_pem) +
         "\nusers:\n- name: me\n  user:\n    client-certificate-data: " +
         Base64Encode(client.cert_pem) +
         "\n    client-key-data: " + Base64Encode(client.key_pem) +
         "\ncontexts:\n- name: default\n  context:\n    cluster: test\n    "
         "user: me\ncurrent-context: default\n";
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

Child::Child(const std::string& component, const std::vector<std::string>& args,
             const std::filesystem::path& log, const std::string& binary)
    : log_(log) {
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(component.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
}

Child::~Child() {
  if (Running()) {
    kill(pid_,
         SIGTERM);  // etcd shuts down cleanly on TERM; the stand-ins just stop
    if (Wait(2) == -1) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
    }
  }
}

bool Child::Running() {
  if (status_ != -1) return false;
  int st;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

int Child::Wait(double timeout_s) {
  auto end = std::chrono::steady_clock::now() +
             std::chrono::duration<double>(timeout_s);
  while (Running()) {
    if (std::chrono::steady_clock::now() > end) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

std::string Child::Log() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

FakeEtcd::FakeEtcd(const Leaf& server, const std::string& client_ca_pem) {
  ServerConfig sc{"fake etcd",    "127.0.0.1",   0,   true, server.cert_pem,
                  server.key_pem, client_ca_pem, true};
  auto s =
      server_.Start(sc, [this](const HttpRequest& r) { return Handle(r); });
  if (!s) throw std::runtime_error(s.error());
}

std::optional<std::string> FakeEtcd::Value(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second.value;
}

std::vector<std::string> FakeEtcd::Keys(const std::string& prefix) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : data_)
    if (k.starts_with(prefix)) out.push_back(k);
  return out;
}

Json FakeEtcd::KvJson(const std::string& key, const Entry& e) {
  return {{"key", Base64Encode(key)},
          {"value", Base64Encode(e.value)},
          {"create_revision", std::to_string(e.create)},
          {"mod_revision", std::to_string(e.mod)},
          {"version", "1"}};
}

HttpResponse FakeEtcd::Handle(const HttpRequest& req) {
  if (req.path == "/health")
    return {200, "application/json", R"({"health":"true"})", {}};
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded())
    return {400, "application/json", R"({"error":"bad json","code":3})", {}};
  std::lock_guard lock(mu_);
  auto header = [&] { return Json{{"revision", std::to_string(revision_)}}; };
  auto range = [&](const Json& r) {
    std::string key = *Base64Decode(r.value("key", ""));
    Json kvs = Json::array();
    if (r.contains("range_end")) {
      std::string end = *Base64Decode(r["range_end"].get<std::string>());
      for (const auto& [k, e] : data_)
        if (k >= key && k < end) kvs.push_back(KvJson(k, e));
    } else if (auto it = data_.find(key); it != data_.end()) {
      kvs.push_back(KvJson(key, it->second));
    }
    Json out = {{"header", header()}, {"count", std::to_string(kvs.size())}};
    if (!kvs.empty()) out["kvs"] = kvs;  // proto3 JSON omits empty fields
    return out;
  };
  auto put = [&](const Json& r) {
    std::string key = *Base64Decode(r.value("key", ""));
    Entry& e = data_[key];
    ++revision_;
    if (e.create == 0) e.create = revision_;
    e.mod = revision_;
    e.value = *Base64Decode(r.value("value", ""));
    return Json{{"header", header()}};
  };
  if (req.path == "/v3/kv/range")
    return {200, "application/json", range(body).dump(), {}};
  if (req.path == "/v3/kv/put")
    return {200, "application/json", put(body).dump(), {}};
  if (req.path == "/v3/kv/deleterange") {
    std::string key = *Base64Decode(body.value("key", ""));
    bool had = data_.erase(key) > 0;
    if (had) ++revision_;
    Json out = {{"header", header()}};
    if (had) out["deleted"] = "1";
    return {200, "application/json", out.dump(), {}};
  }
  if (req.path == "/v3/kv/txn") {
    bool ok = true;
    for (const auto& c : body.value("compare", Json::array())) {
      std::string key = *Base64Decode(c.value("key", ""));
      auto it = data_.find(key);
      long long create = it == data_.end() ? 0 : it->second.create;
      long long mod = it == data_.end() ? 0 : it->second.mod;
      std::string target = c.value("target", "VERSION");
      long long have = target == "CREATE" ? create : mod;
      std::string field =
          target == "CREATE" ? "create_revision" : "mod_revision";
      long long want = std::atoll(c.value(field, "0").c_str());
      std::string result = c.value("result", "EQUAL");
      if (result == "EQUAL")
        ok = ok && have == want;
      else if (result == "GREATER")
        ok = ok && have > want;
      else if (result == "LESS")
        ok = ok && have < want;
      else
        ok = ok && have != want;
    }
    Json responses = Json::array();
    for (const auto& op :
         body.value(ok ? "success" : "failure", Json::array())) {
      if (op.contains("request_put"))
        responses.push_back({{"response_put", put(op["request_put"])}});
      if (op.contains("request_range"))
        responses.push_back({{"response_range", range(op["request_range"])}});
    }
    Json out = {{"header", header()}, {"responses", responses}};
    if (ok) out["succeeded"] = true;
    return {200, "application/json", out.dump(), {}};
  }
  return {404, "text/plain", "404 page not found", {}};
}

}  // namespace standin::testing
