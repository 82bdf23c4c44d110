// kube-apiserver stand-in: checks its flags and files like the real one would
// fail on them, keeps its objects in the real etcd over mutual TLS, serves
// HTTPS with client-certificate authentication and Node/RBAC authorization for
// the API paths hardway and the other stand-ins use.
#include <arpa/inet.h>
#include <openssl/rand.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "authz.h"
#include "components.h"
#include "etcd.h"
#include "x509util.h"
#include "yaml_json.h"

namespace standin {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string Lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// --- start-up checks
// -------------------------------------------------------------------

Status CheckEncryptionConfig(const std::string& path) {
  std::string what = "--encryption-provider-config " + path;
  auto doc = LoadYamlFile(path, "--encryption-provider-config");
  if (!doc) return Fail(doc.error());
  if (auto s = CheckKind(
          *doc, "EncryptionConfiguration",
          {"apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1"},
          what);
      !s)
    return s;
  const Json resources = doc->value("resources", Json::array());
  if (!resources.is_array() || resources.empty())
    return Fail(what + ": resources is empty");
  for (size_t i = 0; i < resources.size(); ++i) {
    std::string at = what + ": resources[" + std::to_string(i) + "]";
    const Json& r = resources[i];
    if (!r.contains("resources") || !r["resources"].is_array() ||
        r["resources"].empty())
      return Fail(at + ".resources is empty");
    const Json providers = r.value("providers", Json::array());
    if (!providers.is_array() || providers.empty())
      return Fail(at + ".providers is empty");
    for (size_t j = 0; j < providers.size(); ++j) {
      std::string pat = at + ".providers[" + std::to_string(j) + "]";
      const Json& p = providers[j];
      if (!p.is_object() || p.size() != 1)
        return Fail(pat +
                    " must name exactly one provider (aescbc, secretbox, "
                    "aesgcm, kms or identity)");
      std::string kind = p.begin().key();
      if (kind == "identity") continue;
      if (kind == "kms") continue;
      if (kind != "aescbc" && kind != "secretbox" && kind != "aesgcm")
        return Fail(pat + ": unknown provider \"" + kind + "\"");
      const Json keys = p.begin().value().value("keys", Json::array());
      if (!keys.is_array() || keys.empty())
        return Fail(pat + "." + kind + ".keys is empty");
      for (size_t k = 0; k < keys.size(); ++k) {
        std::string kat = pat + "." + kind + ".keys[" + std::to_string(k) + "]";
        if (keys[k].value("name", "").empty())
          return Fail(kat + ".name is empty");
        auto secret = Base64Decode(keys[k].value("secret", ""));
        // Never echo the secret itself, only what is wrong with it.
        if (!secret) return Fail(kat + ".secret is not valid base64");
        size_t n = secret->size();
        bool ok =
            kind == "secretbox" ? n == 32 : (n == 16 || n == 24 || n == 32);
        if (!ok)
          return Fail(kat + ".secret decodes to " + std::to_string(n) +
                      " bytes; " + kind +
                      (kind == "secretbox"
                           ? " needs 32"
                           : " needs 16, 24 or 32 (hardway uses 32)"));
      }
    }
  }
  return {};
}

// First address of an IPv4 CIDR ("10.32.0.0/24" -> "10.32.0.1"): the kubernetes
// Service IP.
Result<std::string> FirstServiceIp(const std::string& cidrs) {
  for (const auto& cidr : Split(cidrs, ',')) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos)
      return Fail("\"" + cidr + "\" is not a CIDR (no /prefix)");
    std::string addr = cidr.substr(0, slash);
    int bits = std::atoi(cidr.c_str() + slash + 1);
    in_addr a{};
    if (inet_pton(AF_INET, addr.c_str(), &a) != 1) {
      in6_addr a6{};
      if (inet_pton(AF_INET6, addr.c_str(), &a6) != 1)
        return Fail("\"" + cidr + "\" is not a CIDR (bad address)");
      continue;
    }
    if (bits < 8 || bits > 30)
      return Fail("\"" + cidr + "\": prefix length must be 8..30");
    uint32_t host = ntohl(a.s_addr);
    uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
    if ((host & ~mask) != 0) return Fail("\"" + cidr + "\" has host bits set");
    in_addr first{htonl((host & mask) + 1)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &first, buf, sizeof buf);
    return std::string(buf);
  }
  return std::string();
}

struct ApiserverConfig {
  std::vector<std::string> etcd_servers;
  ClientTls etcd_tls;
  std::string etcd_prefix;
  std::string bind_address;
  int secure_port = 6443;
  std::string advertise_address;
  std::string serving_cert_pem, serving_key_pem, client_ca_pem;
  bool anonymous = true;
  std::vector<std::string> authz_modes;
  bool node_restriction = false;
  std::string service_ip;
};

Result<std::string> Slurp(const ParsedFlags& f, const std::string& flag) {
  return ReadWholeFile(f.Get(flag), "--" + flag);
}

Result<ApiserverConfig> CheckApiserver(const ParsedFlags& f) {
  ApiserverConfig c;
  // What hardway always sets and the stand-in cannot do without. The real
  // apiserver also refuses to start without the service-account trio.
  for (const char* flag :
       {"etcd-servers", "client-ca-file", "tls-cert-file",
        "tls-private-key-file", "service-account-issuer",
        "service-account-key-file", "service-account-signing-key-file"}) {
    if (!f.Has(flag) || f.Get(flag).empty())
      return Fail(std::string("--") + flag +
                  " is required (hardway always sets it)");
  }
  c.etcd_servers = Split(f.Get("etcd-servers"), ',');
  for (const auto& s : c.etcd_servers) {
    auto u = ParseUrl(s);
    if (!u) return Fail("--etcd-servers: " + u.error());
    if (u->scheme != "https")
      return Fail("--etcd-servers: " + s +
                  " is not https; hardway runs etcd with mutual TLS only");
  }
  for (const char* flag : {"etcd-cafile", "etcd-certfile", "etcd-keyfile"})
    if (!f.Has(flag))
      return Fail(std::string("--") + flag +
                  " is required for https etcd servers");
  if (auto s = CheckCaFlag(f, "etcd-cafile"); !s) return Fail(s.error());
  if (auto s =
          CheckFlagPair(f, {"etcd-certfile", "etcd-keyfile", "etcd-cafile"},
                        static_cast<int>(Purpose::kClient));
      !s)
    return Fail(s.error());
  if (auto s = CheckCaFlag(f, "client-ca-file"); !s) return Fail(s.error());
  if (auto s =
          CheckFlagPair(f, {"tls-cert-file", "tls-private-key-file", ""}, 0);
      !s)
    return Fail(s.error());
  if (auto s = CheckFlagPair(f,
                             {"kubelet-client-certificate",
                              "kubelet-client-key", "client-ca-file"},
                             static_cast<int>(Purpose::kClient));
      !s)
    return Fail(s.error());
  if (auto s = CheckCaFlag(f, "kubelet-certificate-authority"); !s)
    return Fail(s.error());
  if (auto s = CheckCaFlag(f, "requestheader-client-ca-file"); !s)
    return Fail(s.error());
  if (auto s = CheckFlagPair(f,
                             {"proxy-client-cert-file", "proxy-client-key-file",
                              "requestheader-client-ca-file"},
                             static_cast<int>(Purpose::kClient));
      !s)
    return Fail(s.error());
  if (f.Has("proxy-client-cert-file") && !f.Has("requestheader-client-ca-file"))
    return Fail(
        "--proxy-client-cert-file is set but --requestheader-client-ca-file is "
        "not");
  // Extension apiservers accept the front proxy only under an allowed name.
  if (f.Has("proxy-client-cert-file") && f.Has("requestheader-allowed-names") &&
      !f.Get("requestheader-allowed-names").empty()) {
    auto proxy =
        LoadCerts(f.Get("proxy-client-cert-file"), "--proxy-client-cert-file");
    if (!proxy) return Fail(proxy.error());
    std::string cn = CommonName((*proxy)[0].get());
    auto names = Split(f.Get("requestheader-allowed-names"), ',');
    if (std::find(names.begin(), names.end(), cn) == names.end())
      return Fail("--proxy-client-cert-file " +
                  f.Get("proxy-client-cert-file") + " has CN \"" + cn +
                  "\", which is not in --requestheader-allowed-names=" +
                  f.Get("requestheader-allowed-names"));
  }

  // Service-account keys: the signing key must be one the verifier knows, else
  // every token the apiserver issues would be rejected by itself.
  auto signing = LoadKey(f.Get("service-account-signing-key-file"),
                         "--service-account-signing-key-file " +
                             f.Get("service-account-signing-key-file"));
  if (!signing) return Fail(signing.error());
  bool known = false;
  for (const auto& path : Split(f.Get("service-account-key-file"), ',')) {
    auto keys = LoadPublicKeys(path, "--service-account-key-file " + path);
    if (!keys) return Fail(keys.error());
    for (const auto& k : *keys)
      known = known || SameKey(k.get(), signing->get());
  }
  if (!known)
    return Fail(
        "--service-account-key-file " + f.Get("service-account-key-file") +
        " has no public key matching --service-account-signing-key-file " +
        f.Get("service-account-signing-key-file"));

  if (f.Has("encryption-provider-config"))
    if (auto s = CheckEncryptionConfig(f.Get("encryption-provider-config")); !s)
      return Fail(s.error());
  if (f.Has("audit-policy-file")) {
    auto doc = LoadYamlFile(f.Get("audit-policy-file"), "--audit-policy-file");
    if (!doc) return Fail(doc.error());
    if (auto s = CheckKind(*doc, "Policy", {"audit.k8s.io/v1"},
                           "--audit-policy-file " + f.Get("audit-policy-file"));
        !s)
      return Fail(s.error());
  }

  auto cert_pem = Slurp(f, "tls-cert-file");
  auto key_pem = Slurp(f, "tls-private-key-file");
  auto ca_pem = Slurp(f, "client-ca-file");
  if (!cert_pem || !key_pem || !ca_pem)
    return Fail("cannot read the serving certificate files");
  c.serving_cert_pem = *cert_pem;
  c.serving_key_pem = *key_pem;
  c.client_ca_pem = *ca_pem;
  auto serving = ParseCerts(c.serving_cert_pem, "--tls-cert-file");
  if (!serving) return Fail(serving.error());
  X509* leaf = (*serving)[0].get();

  c.service_ip = "10.0.0.1";  // the real default range is 10.0.0.0/24
  if (f.Has("service-cluster-ip-range")) {
    auto ip = FirstServiceIp(f.Get("service-cluster-ip-range"));
    if (!ip) return Fail("--service-cluster-ip-range: " + ip.error());
    c.service_ip = *ip;
  }
  // In-cluster clients reach the apiserver at the kubernetes Service IP and
  // verify the cert against it (the hard way's defect #877): refuse to start
  // with a cert that lacks it.
  if (!c.service_ip.empty() && !CertCoversHost(leaf, c.service_ip))
    return Fail("--tls-cert-file " + f.Get("tls-cert-file") + " (" +
                SubjectOf(leaf) + ") has no IP SAN " + c.service_ip +
                ", the first address of --service-cluster-ip-range (the "
                "kubernetes Service)");
  c.advertise_address = f.Get("advertise-address");
  if (!c.advertise_address.empty()) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, c.advertise_address.c_str(), buf) != 1 &&
        inet_pton(AF_INET6, c.advertise_address.c_str(), buf) != 1)
      return Fail("--advertise-address \"" + c.advertise_address +
                  "\" is not an IP address");
    if (!CertCoversHost(leaf, c.advertise_address))
      return Fail("--tls-cert-file " + f.Get("tls-cert-file") + " (" +
                  SubjectOf(leaf) + ") does not cover --advertise-address " +
                  c.advertise_address);
  }
  c.bind_address = f.Get("bind-address", "0.0.0.0");
  c.secure_port = std::atoi(f.Get("secure-port", "6443").c_str());
  if (c.secure_port <= 0 || c.secure_port > 65535)
    return Fail("--secure-port " + f.Get("secure-port") +
                " is not a usable port");
  c.anonymous = f.GetBool("anonymous-auth", true);
  c.authz_modes = Split(f.Get("authorization-mode", "AlwaysAllow"), ',');
  for (const auto& m : c.authz_modes) {
    if (m == "Node" || m == "RBAC" || m == "AlwaysAllow" || m == "AlwaysDeny")
      continue;
    if (m == "Webhook" || m == "ABAC")
      return Fail("--authorization-mode " + m +
                  " is not supported by the stand-in");
    return Fail("--authorization-mode: unknown authorization mode \"" + m +
                "\"");
  }
  if (f.Has("authorization-config"))
    return Fail(
        "--authorization-config is not supported by the stand-in; use "
        "--authorization-mode");
  for (const auto& p : Split(f.Get("enable-admission-plugins"), ','))
    if (p == "NodeRestriction") c.node_restriction = true;
  for (const auto& p : Split(f.Get("disable-admission-plugins"), ','))
    if (p == "NodeRestriction") c.node_restriction = false;

  c.etcd_prefix = f.Get("etcd-prefix", "/registry");
  while (c.etcd_prefix.ends_with('/')) c.etcd_prefix.pop_back();
  auto etcd_ca = Slurp(f, "etcd-cafile");
  auto etcd_cert = Slurp(f, "etcd-certfile");
  auto etcd_key = Slurp(f, "etcd-keyfile");
  if (!etcd_ca || !etcd_cert || !etcd_key)
    return Fail("cannot read the etcd client files");
  c.etcd_tls = {*etcd_ca, *etcd_cert, *etcd_key};
  return c;
}

// --- the API
// --------------------------------------------------------------------------

struct ResourceInfo {
  const char* group;
  const char* version;
  const char* resource;
  const char* singular;
  const char* kind;
  bool namespaced;
  const char* etcd_dir;
  bool has_status;
  bool create_on_update;
};

constexpr ResourceInfo kResources[] = {
    {"", "v1", "nodes", "node", "Node", false, "minions", true, false},
    {"", "v1", "namespaces", "namespace", "Namespace", false, "namespaces",
     true, false},
    {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, "leases",
     false, true},
    {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole",
     "ClusterRole", false, "clusterroles", false, true},
    {"rbac.authorization.k8s.io", "v1", "clusterrolebindings",
     "clusterrolebinding", "ClusterRoleBinding", false, "clusterrolebindings",
     false, true},
};

std::string GroupVersion(const ResourceInfo& r) {
  return std::string(r.group).empty() ? r.version
                                      : std::string(r.group) + "/" + r.version;
}

HttpResponse JsonResponse(int status, const Json& body) {
  return {status, "application/json", body.dump(), {}};
}

HttpResponse StatusResponse(int code, const std::string& reason,
                            const std::string& message,
                            Json details = nullptr) {
  Json s = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", reason},
      {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return JsonResponse(code, s);
}

std::string QualifiedResource(const ResourceInfo& r) {
  return std::string(r.group).empty() ? r.resource
                                      : std::string(r.resource) + "." + r.group;
}

std::string NewUid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(
      out, sizeof out,
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
      b[12], b[13], b[14], b[15]);
  return out;
}

// Strategic merge patch, reduced: maps merge recursively, null deletes, and
// lists of maps that carry a "type" or "name" key (conditions, addresses,
// subjects) merge by that key.
void StrategicMerge(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const Json& v = it.value();
    if (v.is_null()) {
      target.erase(it.key());
    } else if (v.is_object()) {
      StrategicMerge(target[it.key()], v);
    } else if (v.is_array() && target.contains(it.key()) &&
               target[it.key()].is_array()) {
      const char* merge_key = nullptr;
      for (const char* k : {"type", "name"}) {
        bool all = !v.empty();
        for (const auto& e : v) all = all && e.is_object() && e.contains(k);
        for (const auto& e : target[it.key()])
          all = all && e.is_object() && e.contains(k);
        if (all) {
          merge_key = k;
          break;
        }
      }
      if (!merge_key) {
        target[it.key()] = v;
        continue;
      }
      Json& list = target[it.key()];
      for (const auto& e : v) {
        bool merged = false;
        for (auto& t : list)
          if (t[merge_key] == e[merge_key]) {
            StrategicMerge(t, e);
            merged = true;
          }
        if (!merged) list.push_back(e);
      }
    } else {
      target[it.key()] = v;
    }
  }
}

class Apiserver {
 public:
  explicit Apiserver(ApiserverConfig c)
      : config_(std::move(c)), etcd_(config_.etcd_servers, config_.etcd_tls) {}

  ApiserverConfig& config() { return config_; }
  Etcd& etcd() { return etcd_; }
  void SetEtcdHealthy(bool ok, std::string why) {
    std::lock_guard lock(mu_);
    etcd_ok_ = ok;
    etcd_why_ = std::move(why);
  }
  void SetBootstrapped() { bootstrapped_ = true; }

  // Creates the namespaces and the kubernetes Service record the real apiserver
  // makes, which also proves that writes reach etcd.
  EtcdResult<bool> Bootstrap() {
    for (const char* ns :
         {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      Json obj = {{"apiVersion", "v1"},
                  {"kind", "Namespace"},
                  {"metadata",
                   {{"name", ns},
                    {"uid", NewUid()},
                    {"creationTimestamp", Rfc3339Now()}}},
                  {"spec", {{"finalizers", {"kubernetes"}}}},
                  {"status", {{"phase", "Active"}}}};
      auto w =
          etcd_.Create(config_.etcd_prefix + "/namespaces/" + ns, obj.dump());
      if (!w) return std::unexpected(w.error());
    }
    Json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata",
                 {{"name", "kubernetes"},
                  {"namespace", "default"},
                  {"uid", NewUid()},
                  {"labels",
                   {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                {"spec",
                 {{"type", "ClusterIP"},
                  {"clusterIP", config_.service_ip},
                  {"ports",
                   {{{"name", "https"},
                     {"port", 443},
                     {"protocol", "TCP"},
                     {"targetPort", config_.secure_port}}}}}}};
    auto w = etcd_.Create(
        config_.etcd_prefix + "/services/specs/default/kubernetes", svc.dump());
    if (!w) return std::unexpected(w.error());
    return true;
  }

  HttpResponse Handle(const HttpRequest& req);

 private:
  struct Caller {
    std::string user;
    std::vector<std::string> groups;
  };
  HttpResponse Health(const std::string& which, const HttpRequest& req);
  HttpResponse Discovery(const std::string& path);
  Decision Authorize(const Attributes& a);
  HttpResponse HandleResource(const HttpRequest& req, const Caller& caller);
  HttpResponse HandleSar(const HttpRequest& req, const Caller& caller);
  std::string Key(const ResourceInfo& r, const std::string& ns,
                  const std::string& name) const {
    std::string k = config_.etcd_prefix + "/" + r.etcd_dir + "/";
    if (r.namespaced) k += ns + "/";
    return k + name;
  }
  static Json WithVersion(const std::string& stored, long long rev) {
    Json obj = Json::parse(stored, nullptr, false);
    if (!obj.is_object()) obj = Json::object();
    obj["metadata"]["resourceVersion"] = std::to_string(rev);
    return obj;
  }
  HttpResponse EtcdFailure(const EtcdError& e) {
    Log('E', "etcd: " + e.message);
    return StatusResponse(500, "InternalError",
                          "etcd request failed: " + e.message);
  }
  void LoadStoredRbac(std::vector<Json>* roles, std::vector<Json>* bindings);

  ApiserverConfig config_;
  Etcd etcd_;
  std::mutex mu_;
  bool etcd_ok_ = false;
  std::string etcd_why_ = "etcd not reached yet";
  std::atomic<bool> bootstrapped_{false};
  // Stored RBAC objects, cached briefly: one authorization must not cost two
  // etcd reads.
  std::mutex rbac_mu_;
  double rbac_loaded_at_ = -100;
  std::vector<Json> rbac_roles_, rbac_bindings_;
};

HttpResponse Apiserver::Health(const std::string& which,
                               const HttpRequest& req) {
  bool ok;
  std::string why;
  {
    std::lock_guard lock(mu_);
    ok = etcd_ok_;
    why = etcd_why_;
  }
  bool ready_extra = which != "readyz" || bootstrapped_;
  bool all = ok && ready_extra;
  bool verbose = req.query.find("verbose") != std::string::npos;
  std::string body;
  if (verbose || !all) {
    body += "[+]ping ok\n[+]log ok\n";
    body += ok ? "[+]etcd ok\n" : "[-]etcd failed: reason withheld\n";
    if (which == "readyz")
      body +=
          bootstrapped_
              ? "[+]poststarthook/bootstrap-controller ok\n"
              : "[-]poststarthook/bootstrap-controller failed: not finished\n";
    body += which + (all ? " check passed\n" : " check failed\n");
  } else {
    body = "ok";
  }
  if (!ok) Log('W', which + " failed: " + why);
  return {all ? 200 : 500,
          "text/plain; charset=utf-8",
          body,
          {{"X-Content-Type-Options", "nosniff"}}};
}

HttpResponse Apiserver::Discovery(const std::string& path) {
  if (path == "/version" || path == "/version/")
    return JsonResponse(
        200, {{"major", "1"},
              {"minor", "32"},
              {"gitVersion", kVersion},
              {"gitCommit", "0000000000000000000000000000000000000000"},
              {"gitTreeState", "clean"},
              {"buildDate", "2025-03-11T00:00:00Z"},
              {"goVersion", "go1.23.6"},
              {"compiler", "gc"},
              {"platform", "linux/amd64"}});
  if (path == "/api")
    return JsonResponse(
        200,
        {{"kind", "APIVersions"},
         {"versions", {"v1"}},
         {"serverAddressByClientCIDRs",
          {{{"clientCIDR", "0.0.0.0/0"},
            {"serverAddress", config_.advertise_address + ":" +
                                  std::to_string(config_.secure_port)}}}}});
  if (path == "/apis") {
    Json groups = Json::array();
    std::set<std::string> seen;
    for (const auto& r : kResources) {
      if (std::string(r.group).empty() || !seen.insert(r.group).second)
        continue;
      Json gv = {{"groupVersion", GroupVersion(r)}, {"version", r.version}};
      groups.push_back(
          {{"name", r.group}, {"versions", {gv}}, {"preferredVersion", gv}});
    }
    Json gv = {{"groupVersion", "authorization.k8s.io/v1"}, {"version", "v1"}};
    groups.push_back({{"name", "authorization.k8s.io"},
                      {"versions", {gv}},
                      {"preferredVersion", gv}});
    return JsonResponse(
        200,
        {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
  }
  std::string gv =
      path == "/api/v1" ? "v1" : path.substr(std::string("/apis/").size());
  Json list = Json::array();
  for (const auto& r : kResources) {
    if (GroupVersion(r) != gv) continue;
    list.push_back(
        {{"name", r.resource},
         {"singularName", r.singular},
         {"namespaced", r.namespaced},
         {"kind", r.kind},
         {"verbs", {"create", "delete", "get", "list", "patch", "update"}}});
    if (r.has_status)
      list.push_back({{"name", std::string(r.resource) + "/status"},
                      {"singularName", ""},
                      {"namespaced", r.namespaced},
                      {"kind", r.kind},
                      {"verbs", {"get", "patch", "update"}}});
  }
  if (gv == "authorization.k8s.io/v1")
    list.push_back({{"name", "subjectaccessreviews"},
                    {"singularName", "subjectaccessreview"},
                    {"namespaced", false},
                    {"kind", "SubjectAccessReview"},
                    {"verbs", {"create"}}});
  if (list.empty())
    return StatusResponse(404, "NotFound",
                          "the server could not find the requested resource");
  return JsonResponse(200, {{"kind", "APIResourceList"},
                            {"apiVersion", "v1"},
                            {"groupVersion", gv},
                            {"resources", list}});
}

void Apiserver::LoadStoredRbac(std::vector<Json>* roles,
                               std::vector<Json>* bindings) {
  std::lock_guard lock(rbac_mu_);
  if (NowSeconds() - rbac_loaded_at_ > 1.0) {
    auto r = etcd_.List(config_.etcd_prefix + "/clusterroles/", nullptr);
    auto b = etcd_.List(config_.etcd_prefix + "/clusterrolebindings/", nullptr);
    if (r && b) {
      rbac_roles_.clear();
      rbac_bindings_.clear();
      for (const auto& kv : *r)
        rbac_roles_.push_back(Json::parse(kv.value, nullptr, false));
      for (const auto& kv : *b)
        rbac_bindings_.push_back(Json::parse(kv.value, nullptr, false));
      rbac_loaded_at_ = NowSeconds();
    }
  }
  *roles = rbac_roles_;
  *bindings = rbac_bindings_;
}

Decision Apiserver::Authorize(const Attributes& a) {
  std::vector<std::string> reasons;
  for (const auto& mode : config_.authz_modes) {
    Decision d;
    if (mode == "AlwaysAllow")
      d = {Verdict::kAllow, ""};
    else if (mode == "AlwaysDeny")
      d = {Verdict::kDeny, "AlwaysDeny"};
    else if (mode == "Node")
      d = NodeAuthorize(a);
    else if (mode == "RBAC") {
      std::vector<Json> roles, bindings;
      LoadStoredRbac(&roles, &bindings);
      roles.insert(roles.end(), BootstrapClusterRoles().begin(),
                   BootstrapClusterRoles().end());
      bindings.insert(bindings.end(), BootstrapClusterRoleBindings().begin(),
                      BootstrapClusterRoleBindings().end());
      d = RbacAuthorize(a, roles, bindings);
    }
    if (d.verdict != Verdict::kNoOpinion) return d;
    if (!d.reason.empty()) reasons.push_back(d.reason);
  }
  std::string why;
  for (const auto& r : reasons) why += (why.empty() ? "" : ", ") + r;
  return {Verdict::kDeny, why};
}

HttpResponse Apiserver::Handle(const HttpRequest& req) {
  // Authentication: a verified client certificate, else anonymous (if allowed),
  // else 401.
  Caller caller;
  if (req.client_cert_presented) {
    if (!req.client_cert_verified) {
      Log('W', "rejected client certificate from " + req.remote +
                   " (CN=" + req.user + "): " + req.client_cert_error);
      return StatusResponse(401, "Unauthorized", "Unauthorized");
    }
    caller.user = req.user;
    caller.groups = req.groups;
    caller.groups.push_back("system:authenticated");
  } else if (config_.anonymous) {
    caller.user = "system:anonymous";
    caller.groups = {"system:unauthenticated"};
  } else {
    return StatusResponse(401, "Unauthorized", "Unauthorized");
  }

  const std::string& p = req.path;
  bool resource_path =
      (p.starts_with("/api/v1/") || p.starts_with("/apis/")) &&
      std::count(p.begin(), p.end(), '/') >= (p.starts_with("/api/") ? 3 : 4);
  if (!resource_path) {
    Attributes a{caller.user,
                 caller.groups,
                 Lower(req.method),
                 false,
                 "",
                 "",
                 "",
                 "",
                 "",
                 p};
    Decision d = Authorize(a);
    if (d.verdict != Verdict::kAllow)
      return StatusResponse(403, "Forbidden", ForbiddenMessage(a),
                            Json::object());
    if (req.method != "GET" && req.method != "HEAD")
      return StatusResponse(
          405, "MethodNotAllowed",
          "the server does not allow this method on the requested resource");
    for (std::string h : {"healthz", "livez", "readyz"})
      if (p == "/" + h || p == "/" + h + "/") return Health(h, req);
    if (p == "/version" || p == "/version/" || p == "/api" || p == "/apis" ||
        p == "/api/v1" ||
        (p.starts_with("/apis/") && std::count(p.begin(), p.end(), '/') == 3))
      return Discovery(p);
    return StatusResponse(404, "NotFound",
                          "the server could not find the requested resource");
  }
  if (p == "/apis/authorization.k8s.io/v1/subjectaccessreviews")
    return HandleSar(req, caller);
  HttpResponse resp = HandleResource(req, caller);
  if (req.method != "GET" &&
      p.starts_with("/apis/rbac.authorization.k8s.io/")) {
    // This server's own RBAC writes take effect at once (others within the
    // cache second).
    std::lock_guard lock(rbac_mu_);
    rbac_loaded_at_ = -100;
  }
  return resp;
}

HttpResponse Apiserver::HandleSar(const HttpRequest& req,
                                  const Caller& caller) {
  Attributes self{caller.user,
                  caller.groups,
                  "create",
                  true,
                  "authorization.k8s.io",
                  "subjectaccessreviews",
                  "",
                  "",
                  "",
                  ""};
  if (req.method != "POST")
    return StatusResponse(405, "MethodNotAllowed",
                          "subjectaccessreviews only support create");
  if (Authorize(self).verdict != Verdict::kAllow)
    return StatusResponse(403, "Forbidden", ForbiddenMessage(self),
                          Json::object());
  Json sar = Json::parse(req.body, nullptr, false);
  if (!sar.is_object() || !sar.contains("spec"))
    return StatusResponse(400, "BadRequest",
                          "expected a SubjectAccessReview with a spec");
  const Json& spec = sar["spec"];
  Attributes a;
  a.user = spec.value("user", "");
  for (const auto& g : spec.value("groups", Json::array()))
    if (g.is_string()) a.groups.push_back(g);
  if (spec.contains("resourceAttributes")) {
    const Json& r = spec["resourceAttributes"];
    a.resource_request = true;
    a.verb = r.value("verb", "");
    a.api_group = r.value("group", "");
    a.resource = r.value("resource", "");
    a.subresource = r.value("subresource", "");
    a.ns = r.value("namespace", "");
    a.name = r.value("name", "");
  } else if (spec.contains("nonResourceAttributes")) {
    a.verb = spec["nonResourceAttributes"].value("verb", "");
    a.path = spec["nonResourceAttributes"].value("path", "");
  } else {
    return StatusResponse(
        422, "Invalid",
        "spec needs resourceAttributes or nonResourceAttributes");
  }
  Decision d = Authorize(a);
  sar["status"] = {{"allowed", d.verdict == Verdict::kAllow}};
  if (!d.reason.empty()) sar["status"]["reason"] = d.reason;
  sar["apiVersion"] = "authorization.k8s.io/v1";
  sar["kind"] = "SubjectAccessReview";
  return JsonResponse(201, sar);
}

HttpResponse Apiserver::HandleResource(const HttpRequest& req,
                                       const Caller& caller) {
  // /api/v1/<rest> or /apis/<group>/<version>/<rest>
  std::vector<std::string> segs = Split(req.path, '/');
  std::string group, version;
  size_t i;
  if (segs[0] == "api") {
    version = segs[1];
    i = 2;
  } else {
    group = segs[1];
    version = segs[2];
    i = 3;
  }
  std::string ns, resource, name, sub;
  std::vector<std::string> rest(segs.begin() + i, segs.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    ns = rest[1];
    resource = rest[2];
    if (rest.size() > 3) name = rest[3];
    if (rest.size() > 4) sub = rest[4];
    if (rest.size() > 5)
      return StatusResponse(404, "NotFound",
                            "the server could not find the requested resource");
  } else {
    resource = rest[0];
    if (rest.size() > 1) name = rest[1];
    if (rest.size() > 2) sub = rest[2];
    if (rest.size() > 3)
      return StatusResponse(404, "NotFound",
                            "the server could not find the requested resource");
  }
  const ResourceInfo* info = nullptr;
  for (const auto& r : kResources)
    if (r.group == group && r.version == version && r.resource == resource)
      info = &r;
  if (!info || (!sub.empty() && !(sub == "status" && info->has_status)) ||
      (!ns.empty() && !info->namespaced))
    return StatusResponse(404, "NotFound",
                          "the server could not find the requested resource");

  bool watch = req.query.find("watch=true") != std::string::npos ||
               req.query.find("watch=1") != std::string::npos;
  std::string verb;
  if (req.method == "GET")
    verb = name.empty() ? (watch ? "watch" : "list") : "get";
  else if (req.method == "POST")
    verb = "create";
  else if (req.method == "PUT")
    verb = "update";
  else if (req.method == "PATCH")
    verb = "patch";
  else if (req.method == "DELETE")
    verb = "delete";
  else
    return StatusResponse(
        405, "MethodNotAllowed",
        "the server does not allow this method on the requested resource");
  if ((verb == "create" && !name.empty()) ||
      ((verb == "update" || verb == "patch" || verb == "delete") &&
       name.empty()))
    return StatusResponse(
        405, "MethodNotAllowed",
        "the server does not allow this method on the requested resource");
  if (info->namespaced && ns.empty() && verb != "list" && verb != "watch")
    return StatusResponse(404, "NotFound",
                          "the server could not find the requested resource");

  // The request body, for create/update/patch: JSON, or YAML as the real server
  // accepts.
  Json body;
  if (verb == "create" || verb == "update" || verb == "patch") {
    std::string ct = Lower(req.Header("content-type"));
    if (ct.find("yaml") != std::string::npos) {
      auto doc = YamlToJson(req.body, "request body");
      if (!doc) return StatusResponse(400, "BadRequest", doc.error());
      body = *doc;
    } else {
      body = Json::parse(req.body, nullptr, false);
      if (body.is_discarded())
        return StatusResponse(400, "BadRequest",
                              "the request body is not valid JSON");
    }
    if (!body.is_object())
      return StatusResponse(400, "BadRequest",
                            "the request body must be an object");
  }
  std::string object_name = name;
  if (verb == "create")
    object_name =
        body.contains("metadata") ? body["metadata"].value("name", "") : "";

  Attributes a{caller.user,
               caller.groups,
               verb,
               true,
               group,
               resource,
               sub,
               ns,
               verb == "create" ? "" : name,
               ""};
  Decision d = Authorize(a);
  if (d.verdict != Verdict::kAllow) {
    std::string msg = ForbiddenMessage(a);
    if (!d.reason.empty()) msg += ": " + d.reason;
    Log('W', "forbidden: " + msg);
    return StatusResponse(
        403, "Forbidden", msg,
        {{"name", a.name}, {"group", group}, {"kind", resource}});
  }
  if (config_.node_restriction) {
    if (std::string why = NodeRestriction(a, object_name); !why.empty()) {
      std::string msg = QualifiedResource(*info) + " \"" + object_name +
                        "\" is forbidden: " + why;
      Log('W', "NodeRestriction: " + msg);
      return StatusResponse(
          403, "Forbidden", msg,
          {{"name", object_name}, {"group", group}, {"kind", resource}});
    }
  }
  if (watch)
    return StatusResponse(405, "MethodNotAllowed",
                          "watch is not supported by the stand-in");

  std::string qualified = QualifiedResource(*info);
  Json details = {{"name", object_name}, {"group", group}, {"kind", resource}};
  auto not_found = [&] {
    return StatusResponse(404, "NotFound",
                          qualified + " \"" + name + "\" not found", details);
  };

  if (verb == "list") {
    long long rev = 0;
    std::string prefix = config_.etcd_prefix + "/" + info->etcd_dir + "/" +
                         (ns.empty() ? "" : ns + "/");
    auto kvs = etcd_.List(prefix, &rev);
    if (!kvs) return EtcdFailure(kvs.error());
    Json items = Json::array();
    for (const auto& kv : *kvs)
      items.push_back(WithVersion(kv.value, kv.mod_revision));
    return JsonResponse(
        200, {{"kind", std::string(info->kind) + "List"},
              {"apiVersion", GroupVersion(*info)},
              {"metadata", {{"resourceVersion", std::to_string(rev)}}},
              {"items", items}});
  }
  std::string key = Key(*info, ns, verb == "create" ? object_name : name);
  if (verb == "get") {
    auto kv = etcd_.Get(key);
    if (!kv) return EtcdFailure(kv.error());
    if (!*kv) return not_found();
    return JsonResponse(200, WithVersion((*kv)->value, (*kv)->mod_revision));
  }
  if (verb == "delete") {
    auto kv = etcd_.Get(key);
    if (!kv) return EtcdFailure(kv.error());
    if (!*kv) return not_found();
    auto del = etcd_.Delete(key);
    if (!del) return EtcdFailure(del.error());
    return JsonResponse(200, {{"kind", "Status"},
                              {"apiVersion", "v1"},
                              {"metadata", Json::object()},
                              {"status", "Success"},
                              {"details", details}});
  }

  // Writes: validate the object against the URL, then create or
  // compare-and-swap in etcd.
  auto prepare_new = [&](Json obj) -> std::expected<Json, HttpResponse> {
    std::string want_kind = info->kind;
    if (obj.contains("kind") && obj["kind"] != want_kind)
      return std::unexpected(
          StatusResponse(400, "BadRequest",
                         "the kind \"" + obj.value("kind", "") +
                             "\" does not match the URL (" + want_kind + ")"));
    if (obj.contains("apiVersion") && obj["apiVersion"] != GroupVersion(*info))
      return std::unexpected(StatusResponse(
          400, "BadRequest",
          "the apiVersion \"" + obj.value("apiVersion", "") +
              "\" does not match the URL (" + GroupVersion(*info) + ")"));
    obj["kind"] = want_kind;
    obj["apiVersion"] = GroupVersion(*info);
    if (!obj.contains("metadata") || !obj["metadata"].is_object())
      obj["metadata"] = Json::object();
    Json& md = obj["metadata"];
    if (info->namespaced) {
      if (md.contains("namespace") && md["namespace"] != ns)
        return std::unexpected(
            StatusResponse(400, "BadRequest",
                           "the namespace of the provided object does not "
                           "match the namespace sent on the request"));
      md["namespace"] = ns;
    }
    return obj;
  };

  if (verb == "create") {
    auto obj = prepare_new(body);
    if (!obj) return obj.error();
    Json& md = (*obj)["metadata"];
    if (object_name.empty())
      return StatusResponse(422, "Invalid",
                            qualified +
                                " \"\" is invalid: metadata.name: Required "
                                "value: name is required");
    if (md.contains("resourceVersion") &&
        !md["resourceVersion"].get<std::string>().empty())
      return StatusResponse(
          500, "InternalError",
          "resourceVersion should not be set on objects to be created");
    md.erase("resourceVersion");
    md["uid"] = NewUid();
    md["creationTimestamp"] = Rfc3339Now();
    auto w = etcd_.Create(key, obj->dump());
    if (!w) return EtcdFailure(w.error());
    if (!w->succeeded)
      return StatusResponse(
          409, "AlreadyExists",
          qualified + " \"" + object_name + "\" already exists", details);
    return JsonResponse(201, WithVersion(obj->dump(), w->revision));
  }

  // update and patch: read-modify-write with the stored mod_revision; a patch
  // retries on a concurrent write, an update with a resourceVersion reports the
  // conflict.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto kv = etcd_.Get(key);
    if (!kv) return EtcdFailure(kv.error());
    const bool exists = kv->has_value();
    Json current = exists ? Json::parse((*kv)->value, nullptr, false) : Json();
    std::string ct = Lower(req.Header("content-type"));
    Json next;
    long long expect = exists ? (*kv)->mod_revision : 0;
    if (verb == "patch") {
      bool apply = ct.find("apply-patch") != std::string::npos;
      if (ct.find("json-patch+json") != std::string::npos)
        return StatusResponse(415, "UnsupportedMediaType",
                              "the stand-in supports merge, strategic-merge "
                              "and apply patches only");
      if (!exists && !apply) return not_found();
      next = exists ? current : Json::object();
      if (sub == "status") {
        // A status patch may change only the status.
        if (body.contains("status"))
          StrategicMerge(next["status"], body["status"]);
      } else if (ct.find("merge-patch+json") != std::string::npos &&
                 ct.find("strategic") == std::string::npos) {
        next.merge_patch(body);
      } else {
        StrategicMerge(next, body);
      }
    } else {  // update
      next = body;
      std::string rv = body.contains("metadata")
                           ? body["metadata"].value("resourceVersion", "")
                           : "";
      std::string body_name =
          body.contains("metadata") ? body["metadata"].value("name", "") : "";
      if (body_name != name)
        return StatusResponse(400, "BadRequest",
                              "the name of the object (" + body_name +
                                  ") does not match the name on the URL (" +
                                  name + ")");
      if (!rv.empty()) {
        if (!exists || std::to_string((*kv)->mod_revision) != rv)
          return StatusResponse(
              409, "Conflict",
              "Operation cannot be fulfilled on " + qualified + " \"" + name +
                  "\": the object has been modified; please apply your changes "
                  "to the latest version and try again",
              details);
      }
      if (!exists && !info->create_on_update) return not_found();
      if (exists && info->has_status) {
        // The main resource ignores status changes; /status changes only the
        // status.
        if (sub == "status") {
          Json merged = current;
          merged["status"] = body.value("status", Json::object());
          next = merged;
        } else if (current.contains("status")) {
          next["status"] = current["status"];
        }
      }
    }
    auto obj = prepare_new(next);
    if (!obj) return obj.error();
    Json& md = (*obj)["metadata"];
    md["name"] = name;
    md.erase("resourceVersion");
    if (exists) {
      md["uid"] = current["metadata"].value("uid", NewUid());
      md["creationTimestamp"] =
          current["metadata"].value("creationTimestamp", Rfc3339Now());
    } else {
      md["uid"] = NewUid();
      md["creationTimestamp"] = Rfc3339Now();
    }
    auto w = exists ? etcd_.Update(key, obj->dump(), expect)
                    : etcd_.Create(key, obj->dump());
    if (!w) return EtcdFailure(w.error());
    if (w->succeeded)
      return JsonResponse(exists ? 200 : 201,
                          WithVersion(obj->dump(), w->revision));
  }
  return StatusResponse(409, "Conflict",
                        "Operation cannot be fulfilled on " + qualified +
                            " \"" + name + "\": too many concurrent writes",
                        details);
}

}  // namespace

int RunKubeApiserver(const ParsedFlags& flags) {
  auto config = CheckApiserver(flags);
  if (!config) {
    Log('E', config.error());
    return 1;
  }
  auto server_state = std::make_shared<Apiserver>(std::move(*config));
  Apiserver& api = *server_state;
  HttpServer server;
  ServerConfig sc{"kube-apiserver secure port",  api.config().bind_address,
                  api.config().secure_port,      true,
                  api.config().serving_cert_pem, api.config().serving_key_pem,
                  api.config().client_ca_pem,    false};
  if (auto s = server.Start(sc,
                            [server_state](const HttpRequest& r) {
                              return server_state->Handle(r);
                            });
      !s) {
    Log('E', s.error());
    return 1;
  }
  Log('I', std::string("Serving securely on ") + api.config().bind_address +
               ":" + std::to_string(server.port()) + " (" + kVersion + ")");

  // Storage: reach etcd and write the bootstrap objects. A refused client
  // certificate (or an etcd server certificate that does not verify) is a
  // configuration error: exit at once. etcd not answering yet is retried for a
  // while, as the real apiserver does.
  const double deadline = NowSeconds() + 60;
  while (true) {
    auto h = api.etcd().Health();
    if (h) {
      auto b = api.Bootstrap();
      if (b) break;
      h = std::unexpected(b.error());
    }
    const EtcdError& e = h.error();
    api.SetEtcdHealthy(false, e.message);
    if (e.kind == EtcdError::kRefused || e.kind == EtcdError::kProtocol) {
      Log('E', "etcd refused the connection (--etcd-certfile " +
                   flags.Get("etcd-certfile") + ", --etcd-cafile " +
                   flags.Get("etcd-cafile") + "): " + e.message);
      return 1;
    }
    if (NowSeconds() > deadline) {
      Log('E', "etcd did not become reachable within 60s: " + e.message);
      return 1;
    }
    Log('W', "waiting for etcd: " + e.message);
    SleepSeconds(1);
  }
  api.SetEtcdHealthy(true, "");
  api.SetBootstrapped();
  Log('I', "connected to etcd " + flags.Get("etcd-servers") + "; ready");

  // Keep /livez and /readyz honest about etcd from here on.
  while (true) {
    SleepSeconds(3);
    auto h = api.etcd().Health();
    if (h) {
      api.SetEtcdHealthy(true, "");
    } else {
      api.SetEtcdHealthy(false, h.error().message);
      Log('W', "etcd health check failed: " + h.error().message);
    }
  }
}

}  // namespace standin
