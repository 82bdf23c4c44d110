// kube-proxy stand-in: checks its KubeProxyConfiguration and kubeconfig, lists
// nodes from the apiserver (as the real one must to program rules), and serves
// /healthz on 10256 and /metrics on 127.0.0.1:10249 over plain HTTP like the
// real one.
#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>

#include "components.h"
#include "yaml_json.h"

namespace standin {
namespace {

// "0.0.0.0:10256", "[::]:10256" or a bare address (then `default_port`).
Result<std::pair<std::string, int>> SplitHostPort(const std::string& value,
                                                  int default_port,
                                                  const std::string& what) {
  std::string host = value;
  int port = default_port;
  if (value.starts_with('[')) {
    auto close = value.find(']');
    if (close == std::string::npos)
      return Fail(what + " \"" + value + "\": bad IPv6 address");
    host = value.substr(1, close - 1);
    if (close + 1 < value.size()) port = std::atoi(value.c_str() + close + 2);
  } else if (auto colon = value.rfind(':');
             colon != std::string::npos && value.find(':') == colon) {
    host = value.substr(0, colon);
    port = std::atoi(value.c_str() + colon + 1);
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) != 1 &&
      inet_pton(AF_INET6, host.c_str(), buf) != 1)
    return Fail(what + " \"" + value + "\": \"" + host +
                "\" is not an IP address");
  if (port < 0 || port > 65535)
    return Fail(what + " \"" + value + "\": bad port");
  return std::make_pair(host, port);
}

}  // namespace

int RunKubeProxy(const ParsedFlags& f) {
  auto fail = [](const std::string& msg) {
    Log('E', msg);
    return 1;
  };
  std::string kubeconfig = f.Get("kubeconfig"),
              kubeconfig_what = "--kubeconfig";
  std::string healthz = f.Get("healthz-bind-address", "0.0.0.0:10256");
  std::string metrics = f.Get("metrics-bind-address", "127.0.0.1:10249");
  if (f.Has("config")) {
    std::string what = "--config " + f.Get("config");
    auto doc = LoadYamlFile(f.Get("config"), "--config");
    if (!doc) return fail(doc.error());
    if (auto s = CheckKind(*doc, "KubeProxyConfiguration",
                           {"kubeproxy.config.k8s.io/v1alpha1"}, what);
        !s)
      return fail(s.error());
    auto path = GetString(*doc, "clientConnection.kubeconfig", what);
    auto mode = GetString(*doc, "mode", what);
    auto cidr = GetString(*doc, "clusterCIDR", what);
    auto hz = GetString(*doc, "healthzBindAddress", what, healthz);
    auto mt = GetString(*doc, "metricsBindAddress", what, metrics);
    for (const auto* r : {&path, &mode, &cidr, &hz, &mt})
      if (!*r) return fail(r->error());
    if (!mode->empty() && *mode != "iptables" && *mode != "ipvs" &&
        *mode != "nftables")
      return fail(what + ": mode \"" + *mode +
                  "\" must be iptables, ipvs or nftables");
    if (!cidr->empty()) {
      for (size_t start = 0; start <= cidr->size();) {
        size_t comma = cidr->find(',', start);
        std::string one =
            cidr->substr(start, comma == std::string::npos ? std::string::npos
                                                           : comma - start);
        auto slash = one.find('/');
        unsigned char buf[16];
        std::string addr = one.substr(0, slash);
        if (slash == std::string::npos ||
            (inet_pton(AF_INET, addr.c_str(), buf) != 1 &&
             inet_pton(AF_INET6, addr.c_str(), buf) != 1))
          return fail(what + ": clusterCIDR \"" + one + "\" is not a CIDR");
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    healthz = *hz;
    metrics = *mt;
    if (!path->empty()) {
      kubeconfig = *path;
      kubeconfig_what = "clientConnection.kubeconfig in " + what;
      if (access(kubeconfig.c_str(), F_OK) != 0)
        return fail(kubeconfig_what + ": " + kubeconfig + " does not exist");
    }
  }
  if (kubeconfig.empty())
    return fail(
        "no kubeconfig: set clientConnection.kubeconfig in --config or "
        "--kubeconfig");
  auto kc = LoadKubeconfig(kubeconfig, kubeconfig_what);
  if (!kc) return fail(kc.error());
  auto hz = SplitHostPort(healthz, 10256, "healthzBindAddress");
  if (!hz) return fail(hz.error());
  auto mt = SplitHostPort(metrics, 10249, "metricsBindAddress");
  if (!mt) return fail(mt.error());

  std::atomic<double> last_sync{-1};
  std::atomic<long long> syncs{0};
  std::atomic<time_t> last_sync_wall{0};
  HttpServer health_server, metrics_server;
  auto health = [&](const HttpRequest& req) -> HttpResponse {
    if (req.path != "/healthz" && req.path != "/livez")
      return {404, "text/plain; charset=utf-8", "404 page not found\n", {}};
    double last = last_sync.load();
    bool ok = last >= 0 && NowSeconds() - last < 60;
    char when[64] = "";
    time_t w = last_sync_wall.load();
    tm t{};
    gmtime_r(&w, &t);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &t);
    Json body = {{"lastUpdated", when},
                 {"currentTime", Rfc3339Now()},
                 {"nodeEligible", true}};
    return {ok ? 200 : 503, "application/json", body.dump(), {}};
  };
  if (hz->second != 0) {
    if (auto s = health_server.Start({"kube-proxy healthz", hz->first,
                                      hz->second, false, "", "", "", false},
                                     health);
        !s)
      return fail(s.error());
  }
  if (mt->second != 0) {
    auto s = metrics_server.Start(
        {"kube-proxy metrics", mt->first, mt->second, false, "", "", "", false},
        [&](const HttpRequest& req) -> HttpResponse {
          if (req.path == "/healthz" || req.path == "/livez")
            return health(req);
          if (req.path != "/metrics")
            return {
                404, "text/plain; charset=utf-8", "404 page not found\n", {}};
          std::string body =
              "# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds "
              "stand-in\n"
              "# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge\n"
              "kubeproxy_sync_proxy_rules_last_timestamp_seconds " +
              std::to_string(last_sync_wall.load()) +
              "\nkubeproxy_standin_node_list_total " +
              std::to_string(syncs.load()) + "\n";
          return {200, "text/plain; version=0.0.4; charset=utf-8", body, {}};
        });
    if (!s) return fail(s.error());
  }
  Log('I', "using apiserver " + kc->server + " as " + kc->user);

  ApiClient api(*kc);
  FailureClock clock(30);
  while (true) {
    auto r = api.Do("GET", "/api/v1/nodes");
    std::string problem;
    if (!r)
      problem = r.error().message;
    else if (r->status != 200)
      problem = "listing nodes: " + DescribeResponse(*r);
    if (problem.empty()) {
      if (syncs.fetch_add(1) == 0)
        Log('I', "synced: listed nodes from the apiserver");
      clock.Ok();
      last_sync = NowSeconds();
      last_sync_wall = time(nullptr);
    } else {
      Log('W', problem);
      if (clock.Failed(problem)) {
        Log('E',
            "giving up: the apiserver " + kc->server +
                " has refused or been unreachable for over 30s: " + problem);
        return 1;
      }
    }
    SleepSeconds(problem.empty() ? 10 : 2);
  }
}

}  // namespace standin
