// kubelet stand-in: checks its KubeletConfiguration and kubeconfig, registers
// its own Node through the apiserver, keeps it Ready and renews its node Lease;
// serves the kubelet API on 10250 (client certificates from
// authentication.x509.clientCAFile, Webhook authorization through
// SubjectAccessReview as the real one does) and plain /healthz on
// 127.0.0.1:10248.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>

#include "components.h"
#include "x509util.h"
#include "yaml_json.h"

namespace standin {
namespace {

std::string FirstNonLoopbackIpv4() {
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return {};
  std::string out;
  for (ifaddrs* i = ifs; i && out.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    out = buf;
  }
  freeifaddrs(ifs);
  return out;
}

struct KubeletSettings {
  std::string node_name, node_ip;
  std::string client_ca_file, tls_cert_file, tls_key_file;
  bool anonymous = false;
  bool webhook_authz = true;
  std::string address = "0.0.0.0";
  int port = 10250;
  std::string healthz_bind = "127.0.0.1";
  int healthz_port = 10248;
  std::string pod_cidr;
  bool register_node = true;
  Json config;
};

Status CheckFileField(const std::string& field, const std::string& path,
                      const std::string& what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return Fail(what + ": " + field + " " + path + " does not exist");
  if (!S_ISREG(st.st_mode))
    return Fail(what + ": " + field + " " + path + " is not a regular file");
  return {};
}

Result<KubeletSettings> CheckKubelet(const ParsedFlags& f,
                                     const Kubeconfig& kc) {
  KubeletSettings k;
  std::string what = "--config " + f.Get("config");
  auto doc = LoadYamlFile(f.Get("config"), "--config");
  if (!doc) return Fail(doc.error());
  k.config = *doc;
  if (auto s = CheckKind(*doc, "KubeletConfiguration",
                         {"kubelet.config.k8s.io/v1beta1"}, what);
      !s)
    return Fail(s.error());
  auto str = [&](const std::string& path, const std::string& fallback = {}) {
    return GetString(*doc, path, what, fallback);
  };
  auto ca = str("authentication.x509.clientCAFile");
  auto cert = str("tlsCertFile");
  auto key = str("tlsPrivateKeyFile");
  auto anon = GetBool(*doc, "authentication.anonymous.enabled", what, false);
  auto mode = str("authorization.mode", "Webhook");
  auto webhook = GetBool(*doc, "authentication.webhook.enabled", what, true);
  auto port = GetInt(*doc, "port", what, 10250);
  auto hport = GetInt(*doc, "healthzPort", what, 10248);
  auto reg = GetBool(*doc, "registerNode", what, true);
  for (const auto* r : {&ca, &cert, &key, &mode})
    if (!*r) return Fail(r->error());
  if (!anon) return Fail(anon.error());
  if (!webhook) return Fail(webhook.error());
  if (!port) return Fail(port.error());
  if (!hport) return Fail(hport.error());
  if (!reg) return Fail(reg.error());
  k.client_ca_file = *ca;
  k.tls_cert_file = *cert;
  k.tls_key_file = *key;
  k.anonymous = *anon;
  k.port = static_cast<int>(*port);
  k.healthz_port = static_cast<int>(*hport);
  k.register_node = *reg;
  k.address = str("address", "0.0.0.0").value_or("0.0.0.0");
  k.healthz_bind = str("healthzBindAddress", "127.0.0.1").value_or("127.0.0.1");
  if (*mode == "Webhook")
    k.webhook_authz = true;
  else if (*mode == "AlwaysAllow")
    k.webhook_authz = false;
  else
    return Fail(what + ": authorization.mode \"" + *mode +
                "\" must be Webhook or AlwaysAllow");
  if (k.webhook_authz && !*webhook)
    Log('W', what +
                 ": authorization.mode is Webhook but "
                 "authentication.webhook.enabled is false");

  auto driver = str("cgroupDriver", "cgroupfs");
  if (!driver) return Fail(driver.error());
  if (*driver != "systemd" && *driver != "cgroupfs")
    return Fail(what + ": cgroupDriver \"" + *driver +
                "\" must be systemd or cgroupfs");
  auto pod_cidr = str("podCIDR");
  if (!pod_cidr) return Fail(pod_cidr.error());
  k.pod_cidr = *pod_cidr;
  if (doc->contains("clusterDNS")) {
    if (!(*doc)["clusterDNS"].is_array())
      return Fail(what + ": clusterDNS must be a list of IP addresses");
    for (const auto& ip : (*doc)["clusterDNS"]) {
      unsigned char buf[16];
      std::string s = ip.is_string() ? ip.get<std::string>() : ip.dump();
      if (inet_pton(AF_INET, s.c_str(), buf) != 1 &&
          inet_pton(AF_INET6, s.c_str(), buf) != 1)
        return Fail(what + ": clusterDNS entry \"" + s +
                    "\" is not an IP address");
    }
  }
  auto runtime =
      str("containerRuntimeEndpoint", f.Get("container-runtime-endpoint"));
  if (runtime && !runtime->empty()) {
    std::string sock =
        runtime->starts_with("unix://") ? runtime->substr(7) : *runtime;
    struct stat st {};
    if (stat(sock.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
      Log('W', "container runtime socket " + sock +
                   " is not there (yet); the stand-in runs no pods, so it "
                   "carries on");
  }
  if (auto resolv = str("resolvConf");
      resolv && !resolv->empty() && access(resolv->c_str(), R_OK) != 0)
    Log('W', what + ": resolvConf " + *resolv +
                 " does not exist; pods would get no DNS configuration");

  // Serving certificate and client CA named in the config.
  if (k.tls_cert_file.empty() != k.tls_key_file.empty())
    return Fail(what + ": tlsCertFile and tlsPrivateKeyFile go together");
  if (!k.tls_cert_file.empty()) {
    if (auto s = CheckFileField("tlsCertFile", k.tls_cert_file, what); !s)
      return Fail(s.error());
    if (auto s = CheckFileField("tlsPrivateKeyFile", k.tls_key_file, what); !s)
      return Fail(s.error());
    auto chain =
        LoadCerts(k.tls_cert_file, what + ": tlsCertFile " + k.tls_cert_file);
    if (!chain) return Fail(chain.error());
    auto pkey =
        LoadKey(k.tls_key_file, what + ": tlsPrivateKeyFile " + k.tls_key_file);
    if (!pkey) return Fail(pkey.error());
    if (auto s = CheckKeyMatches(
            (*chain)[0].get(), pkey->get(), "tlsCertFile " + k.tls_cert_file,
            what + ": tlsPrivateKeyFile " + k.tls_key_file);
        !s)
      return Fail(s.error());
    // The apiserver verifies the kubelet against the cluster CA (the
    // kubeconfig's CA).
    auto cluster_ca =
        ParseCerts(kc.tls.ca_pem, "certificate-authority of " + kc.path);
    if (!cluster_ca) return Fail(cluster_ca.error());
    if (auto s =
            VerifyChain(*chain, *cluster_ca, Purpose::kServer,
                        what + ": tlsCertFile " + k.tls_cert_file,
                        "the certificate-authority of --kubeconfig " + kc.path);
        !s)
      return Fail(s.error());
  }
  if (!k.client_ca_file.empty()) {
    if (auto s = CheckFileField("authentication.x509.clientCAFile",
                                k.client_ca_file, what);
        !s)
      return Fail(s.error());
    auto cas = LoadCerts(
        k.client_ca_file,
        what + ": authentication.x509.clientCAFile " + k.client_ca_file);
    if (!cas) return Fail(cas.error());
    if (auto s = CheckIsCa(*cas, what + ": authentication.x509.clientCAFile " +
                                     k.client_ca_file);
        !s)
      return Fail(s.error());
  } else if (!k.anonymous) {
    Log('W', what +
                 ": no authentication.x509.clientCAFile and anonymous auth "
                 "off: nothing can call the kubelet API");
  }

  k.node_name = f.Get("hostname-override", Hostname());
  k.node_ip = f.Get("node-ip", FirstNonLoopbackIpv4());
  if (kc.user != "system:node:" + k.node_name ||
      std::ranges::find(kc.groups, "system:nodes") == kc.groups.end())
    Log('W', "--kubeconfig " + kc.path + " authenticates as " + kc.user +
                 ", not system:node:" + k.node_name +
                 " in group system:nodes; the apiserver's Node "
                 "authorizer will not let it manage node \"" +
                 k.node_name + "\"");
  if (!k.tls_cert_file.empty()) {
    auto chain = LoadCerts(k.tls_cert_file, "tlsCertFile");
    if (chain && !CertCoversHost((*chain)[0].get(), k.node_name) &&
        (k.node_ip.empty() || !CertCoversHost((*chain)[0].get(), k.node_ip)))
      Log('W', "tlsCertFile " + k.tls_cert_file + " covers neither " +
                   k.node_name + " nor " + k.node_ip +
                   "; the apiserver cannot verify this kubelet");
  }
  return k;
}

Json NodeStatus(const KubeletSettings& k, const std::string& now) {
  Json conditions = Json::array();
  auto cond = [&](const char* type, const char* status, const char* reason,
                  const char* message) {
    conditions.push_back({{"type", type},
                          {"status", status},
                          {"lastHeartbeatTime", now},
                          {"lastTransitionTime", now},
                          {"reason", reason},
                          {"message", message}});
  };
  cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
       "kubelet has sufficient memory available");
  cond("DiskPressure", "False", "KubeletHasNoDiskPressure",
       "kubelet has no disk pressure");
  cond("PIDPressure", "False", "KubeletHasSufficientPID",
       "kubelet has sufficient PID available");
  cond("Ready", "True", "KubeletReady",
       "kubelet is posting ready status (stand-in)");
  Json addresses = Json::array();
  if (!k.node_ip.empty())
    addresses.push_back({{"type", "InternalIP"}, {"address", k.node_ip}});
  addresses.push_back({{"type", "Hostname"}, {"address", k.node_name}});
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  long long mem_ki = static_cast<long long>(sysconf(_SC_PHYS_PAGES)) *
                     sysconf(_SC_PAGESIZE) / 1024;
  Json capacity = {{"cpu", std::to_string(cpus)},
                   {"memory", std::to_string(mem_ki) + "Ki"},
                   {"pods", "110"}};
  return {{"conditions", conditions},
          {"addresses", addresses},
          {"capacity", capacity},
          {"allocatable", capacity},
          {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", k.port}}}}},
          {"nodeInfo",
           {{"kubeletVersion", kVersion},
            {"kubeProxyVersion", kVersion},
            {"operatingSystem", "linux"},
            {"architecture", "amd64"},
            {"containerRuntimeVersion", "standin://0"},
            {"osImage", "Debian GNU/Linux 12 (bookworm)"},
            {"kernelVersion", ""},
            {"machineID", ""},
            {"systemUUID", ""},
            {"bootID", ""}}}};
}

// One round: make sure the Node exists, refresh its status, renew the node
// lease.
Status SyncNode(ApiClient& api, const KubeletSettings& k, bool* registered) {
  std::string now = Rfc3339Now();
  if (!*registered) {
    Json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata",
                  {{"name", k.node_name},
                   {"labels",
                    {{"kubernetes.io/hostname", k.node_name},
                     {"kubernetes.io/os", "linux"},
                     {"kubernetes.io/arch", "amd64"},
                     {"beta.kubernetes.io/os", "linux"},
                     {"beta.kubernetes.io/arch", "amd64"}}}}},
                 {"spec", Json::object()},
                 {"status", NodeStatus(k, now)}};
    if (!k.pod_cidr.empty())
      node["spec"] = {{"podCIDR", k.pod_cidr}, {"podCIDRs", {k.pod_cidr}}};
    auto r = api.Do("POST", "/api/v1/nodes", node.dump());
    if (!r)
      return Fail("registering node " + k.node_name + ": " + r.error().message);
    if (r->status != 201 && r->status != 409)
      return Fail("registering node " + k.node_name + ": " +
                  DescribeResponse(*r));
    Log('I', r->status == 201
                 ? "Successfully registered node " + k.node_name
                 : "node " + k.node_name + " was already registered");
    *registered = true;
  }
  auto got = api.Do("GET", "/api/v1/nodes/" + k.node_name);
  if (!got)
    return Fail("reading node " + k.node_name + ": " + got.error().message);
  if (got->status == 404) {
    *registered = false;  // deleted behind our back: register again next round
    return Fail("node " + k.node_name + " disappeared; registering again");
  }
  if (got->status != 200)
    return Fail("reading node " + k.node_name + ": " + DescribeResponse(*got));
  Json node = Json::parse(got->body, nullptr, false);
  if (!node.is_object())
    return Fail("reading node " + k.node_name + ": not JSON");
  Json status = NodeStatus(k, now);
  // Keep the transition times of conditions whose status did not change.
  for (auto& c : status["conditions"])
    for (const auto& old : node["status"].value("conditions", Json::array()))
      if (old.value("type", "") == c["type"] &&
          old.value("status", "") == c["status"] &&
          old.contains("lastTransitionTime"))
        c["lastTransitionTime"] = old["lastTransitionTime"];
  node["status"] = status;
  auto put =
      api.Do("PUT", "/api/v1/nodes/" + k.node_name + "/status", node.dump());
  if (!put) return Fail("updating node status: " + put.error().message);
  if (put->status != 200 && put->status != 409)
    return Fail("updating node status: " + DescribeResponse(*put));
  bool holding = false;
  if (auto s = AcquireOrRenewLease(api, "kube-node-lease", k.node_name,
                                   k.node_name, 40, &holding);
      !s)
    return s;
  return {};
}

}  // namespace

int RunKubelet(const ParsedFlags& f) {
  auto fail = [](const std::string& msg) {
    Log('E', msg);
    return 1;
  };
  if (!f.Has("config"))
    return fail(
        "--config is required (hardway puts the kubelet's settings in a "
        "KubeletConfiguration)");
  if (!f.Has("kubeconfig"))
    return fail(
        "--kubeconfig is required (hardway gives every kubelet its own)");
  auto kc = LoadKubeconfig(f.Get("kubeconfig"), "--kubeconfig");
  if (!kc) return fail(kc.error());
  auto settings = CheckKubelet(f, *kc);
  if (!settings) return fail(settings.error());
  const KubeletSettings k = std::move(*settings);

  std::string cert_pem, key_pem, ca_pem;
  if (!k.tls_cert_file.empty()) {
    cert_pem = ReadWholeFile(k.tls_cert_file, "tlsCertFile").value_or("");
    key_pem = ReadWholeFile(k.tls_key_file, "tlsPrivateKeyFile").value_or("");
  } else {
    Log('W',
        "no tlsCertFile: serving with a self-signed certificate, as the real "
        "kubelet does");
    auto self =
        MakeSelfSigned(k.node_name + "@" + std::to_string(time(nullptr)),
                       {k.node_name, k.node_ip});
    if (!self) return fail(self.error());
    cert_pem = self->cert_pem;
    key_pem = self->key_pem;
  }
  if (!k.client_ca_file.empty())
    ca_pem = ReadWholeFile(k.client_ca_file, "clientCAFile").value_or("");

  auto api = std::make_shared<ApiClient>(*kc);
  // Webhook authorization decisions, cached briefly like the real kubelet (5
  // min allowed).
  auto cache_mu = std::make_shared<std::mutex>();
  auto cache =
      std::make_shared<std::map<std::string, std::pair<double, bool>>>();

  HttpServer kubelet_api;
  ServerConfig sc{"kubelet server", k.address, k.port, true,
                  cert_pem,         key_pem,   ca_pem, false};
  auto handler = [&k, api, cache_mu,
                  cache](const HttpRequest& req) -> HttpResponse {
    std::string user;
    std::vector<std::string> groups;
    if (req.client_cert_presented && req.client_cert_verified) {
      user = req.user;
      groups = req.groups;
      groups.push_back("system:authenticated");
    } else if (k.anonymous && !req.client_cert_presented) {
      user = "system:anonymous";
      groups = {"system:unauthenticated"};
    } else {
      if (req.client_cert_presented)
        Log('W', "rejected client certificate CN=" + req.user + ": " +
                     req.client_cert_error);
      return {401, "text/plain; charset=utf-8", "Unauthorized", {}};
    }
    std::string sub = "proxy";
    if (req.path.starts_with("/stats"))
      sub = "stats";
    else if (req.path.starts_with("/metrics"))
      sub = "metrics";
    else if (req.path.starts_with("/logs"))
      sub = "log";
    else if (req.path.starts_with("/spec"))
      sub = "spec";
    else if (req.path.starts_with("/configz"))
      sub = "configz";
    else if (req.path.starts_with("/healthz"))
      sub = "healthz";
    std::string verb = req.method == "GET" || req.method == "HEAD" ? "get"
                       : req.method == "POST"                      ? "create"
                       : req.method == "PUT"                       ? "update"
                       : req.method == "PATCH"                     ? "patch"
                                                                   : "delete";
    if (k.webhook_authz) {
      std::string cache_key = user + "|" + verb + "|" + sub;
      bool allowed = false, cached = false;
      {
        std::lock_guard lock(*cache_mu);
        auto it = cache->find(cache_key);
        if (it != cache->end() && NowSeconds() - it->second.first < 30) {
          allowed = it->second.second;
          cached = true;
        }
      }
      if (!cached) {
        Json sar = {{"apiVersion", "authorization.k8s.io/v1"},
                    {"kind", "SubjectAccessReview"},
                    {"spec",
                     {{"user", user},
                      {"groups", groups},
                      {"resourceAttributes",
                       {{"verb", verb},
                        {"resource", "nodes"},
                        {"subresource", sub},
                        {"name", k.node_name}}}}}};
        auto r = api->Do("POST",
                         "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                         sar.dump());
        if (!r || r->status != 201) {
          Log('W', "SubjectAccessReview failed: " +
                       (r ? DescribeResponse(*r) : r.error().message));
          return {500,
                  "text/plain; charset=utf-8",
                  "Authorization error (user=" + user + ", verb=" + verb +
                      ", resource=nodes, subresource=" + sub + ")",
                  {}};
        }
        Json doc = Json::parse(r->body, nullptr, false);
        allowed = doc.is_object() && doc.contains("status") &&
                  doc["status"].value("allowed", false);
        std::lock_guard lock(*cache_mu);
        (*cache)[cache_key] = {NowSeconds(), allowed};
      }
      if (!allowed)
        return {403,
                "text/plain; charset=utf-8",
                "Forbidden (user=" + user + ", verb=" + verb +
                    ", resource=nodes, subresource=" + sub + ")",
                {}};
    }
    if (req.path == "/healthz")
      return {200, "text/plain; charset=utf-8", "ok", {}};
    if (req.path == "/pods" || req.path == "/pods/" ||
        req.path == "/runningpods/")
      return {
          200,
          "application/json",
          R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]})",
          {}};
    if (req.path == "/configz")
      return {200,
              "application/json",
              Json{{"kubeletconfig", k.config}}.dump(),
              {}};
    if (req.path == "/metrics")
      return {200,
              "text/plain; version=0.0.4",
              "# stand-in kubelet\nkubelet_running_pods 0\n",
              {}};
    return {404, "text/plain; charset=utf-8", "404 page not found\n", {}};
  };
  if (auto s = kubelet_api.Start(sc, handler); !s) return fail(s.error());
  Log('I', "kubelet API serving on " + k.address + ":" +
               std::to_string(kubelet_api.port()));

  std::atomic<double> last_sync{NowSeconds()};
  HttpServer healthz;
  if (k.healthz_port != 0) {
    ServerConfig hc{"kubelet healthz",
                    k.healthz_bind,
                    k.healthz_port,
                    false,
                    "",
                    "",
                    "",
                    false};
    auto s =
        healthz.Start(hc, [&last_sync](const HttpRequest& req) -> HttpResponse {
          if (req.path != "/healthz")
            return {
                404, "text/plain; charset=utf-8", "404 page not found\n", {}};
          bool ok = NowSeconds() - last_sync.load() < 60;
          return {ok ? 200 : 500,
                  "text/plain; charset=utf-8",
                  ok ? "ok" : "node status has not synced for 60s",
                  {}};
        });
    if (!s) return fail(s.error());
  }

  if (!k.register_node)
    Log('W',
        "registerNode is false: the stand-in will only renew status of an "
        "existing node");
  bool registered = !k.register_node;
  FailureClock clock(30);
  while (true) {
    auto s = SyncNode(*api, k, &registered);
    if (s) {
      clock.Ok();
      last_sync = NowSeconds();
    } else {
      Log('W', s.error());
      if (clock.Failed(s.error())) {
        Log('E',
            "giving up: the apiserver " + kc->server +
                " has refused or been unreachable for over 30s: " + s.error());
        return 1;
      }
    }
    SleepSeconds(5);
  }
}

}  // namespace standin
