// kube-controller-manager and kube-scheduler stand-ins: check their files, hold
// their leader Lease in kube-system through the apiserver named in their
// kubeconfig, and serve /healthz over HTTPS on 10257 / 10259 (with a
// self-signed certificate unless given one, as the real ones do).
#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <sstream>

#include "components.h"
#include "x509util.h"
#include "yaml_json.h"

namespace standin {
namespace {

Status CheckCidrList(const std::string& flag, const std::string& value) {
  std::stringstream ss(value);
  std::string cidr;
  while (std::getline(ss, cidr, ',')) {
    auto slash = cidr.find('/');
    std::string addr = cidr.substr(0, slash);
    unsigned char buf[16];
    bool v4 = inet_pton(AF_INET, addr.c_str(), buf) == 1;
    bool v6 = !v4 && inet_pton(AF_INET6, addr.c_str(), buf) == 1;
    int bits =
        slash == std::string::npos ? -1 : std::atoi(cidr.c_str() + slash + 1);
    if ((!v4 && !v6) || bits < 0 || bits > (v4 ? 32 : 128))
      return Fail("--" + flag + ": \"" + cidr + "\" is not a valid CIDR");
  }
  return {};
}

struct LeaderOptions {
  std::string component;
  Kubeconfig kc;
  bool leader_elect = true;
  std::string lease_ns = "kube-system";
  std::string lease_name;
  int lease_duration_s = 15;
  double retry_s = 2;
  std::string bind = "0.0.0.0";
  int port = 0;
  std::string cert_pem, key_pem;
  std::string root_ca_file;  // kube-controller-manager: must verify the
                             // apiserver's cert
};

int DurationSecondsFlag(const ParsedFlags& f, const std::string& name,
                        int fallback) {
  if (!f.Has(name)) return fallback;
  auto d = ParseGoDuration(f.Get(name));
  return d ? static_cast<int>(*d) : fallback;
}

int RunLeaderLoop(LeaderOptions o) {
  // Serving certificate: given, or made in memory like the real components do.
  if (o.cert_pem.empty()) {
    auto self = MakeSelfSigned("localhost@" + std::to_string(time(nullptr)),
                               {"localhost", "127.0.0.1"});
    if (!self) {
      Log('E', self.error());
      return 1;
    }
    o.cert_pem = self->cert_pem;
    o.key_pem = self->key_pem;
  }
  std::atomic<double> last_ok{NowSeconds()};
  std::atomic<bool> leading{false};
  HttpServer server;
  if (o.port != 0) {
    ServerConfig sc{o.component + " secure port",
                    o.bind,
                    o.port,
                    true,
                    o.cert_pem,
                    o.key_pem,
                    "",
                    false};
    auto s = server.Start(sc, [&](const HttpRequest& req) -> HttpResponse {
      if (req.path == "/healthz" || req.path == "/livez" ||
          req.path == "/readyz") {
        // Healthy while the apiserver answers; a component that lost its lease
        // for longer than its duration reports it, as the real leader-election
        // health check does.
        bool ok = NowSeconds() - last_ok.load() < o.lease_duration_s + 5;
        return {ok ? 200 : 500,
                "text/plain; charset=utf-8",
                ok ? "ok"
                   : "[-]leaderElection failed: lost contact with the "
                     "apiserver\nhealthz check failed\n",
                {}};
      }
      return {
          403,
          "application/json",
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: only /healthz, /livez and /readyz are served by the stand-in","reason":"Forbidden","code":403})",
          {}};
    });
    if (!s) {
      Log('E', s.error());
      return 1;
    }
    Log('I',
        "Serving securely on " + o.bind + ":" + std::to_string(server.port()));
  }

  ApiClient api(o.kc);
  Log('I', "using apiserver " + o.kc.server + " as " + o.kc.user);
  if (!o.root_ca_file.empty()) {
    // Pods get --root-ca-file to trust the apiserver; it must verify the
    // apiserver's cert.
    auto ca = ReadWholeFile(o.root_ca_file, "--root-ca-file");
    if (ca) {
      ClientTls tls{*ca, "", ""};
      auto r = HttpDo("GET", o.kc.server + "/healthz", &tls, "", "", 5000);
      if (!r && r.error().kind == ClientError::kTls &&
          r.error().message.find("server certificate rejected") !=
              std::string::npos) {
        Log('E', "--root-ca-file " + o.root_ca_file +
                     " does not verify the apiserver's serving certificate: " +
                     r.error().message);
        return 1;
      }
    }
  }
  FailureClock clock(30);
  double next_list = 0;
  const std::string identity = Hostname() + "_" + std::to_string(getpid());
  while (true) {
    std::string problem;
    if (o.leader_elect) {
      bool holding = false;
      auto s = AcquireOrRenewLease(api, o.lease_ns, o.lease_name, identity,
                                   o.lease_duration_s, &holding);
      if (!s)
        problem = s.error();
      else if (holding != leading.load()) {
        leading = holding;
        Log('I', holding ? "successfully acquired lease " + o.lease_ns + "/" +
                               o.lease_name
                         : "lease " + o.lease_ns + "/" + o.lease_name +
                               " is held by another instance");
      }
    }
    if (problem.empty() && NowSeconds() >= next_list) {
      // What the controllers and the scheduler watch most: the nodes.
      auto r = api.Do("GET", "/api/v1/nodes");
      if (!r)
        problem = r.error().message;
      else if (r->status != 200)
        problem = "listing nodes: " + DescribeResponse(*r);
      else
        next_list = NowSeconds() + 10;
    }
    if (problem.empty()) {
      clock.Ok();
      last_ok = NowSeconds();
    } else {
      Log('W', problem);
      if (clock.Failed(problem)) {
        Log('E',
            "giving up: the apiserver " + o.kc.server +
                " has refused or been unreachable for over 30s: " + problem);
        return 1;
      }
    }
    SleepSeconds(o.retry_s);
  }
}

}  // namespace

int RunKubeControllerManager(const ParsedFlags& f) {
  auto fail = [](const std::string& msg) {
    Log('E', msg);
    return 1;
  };
  if (!f.Has("kubeconfig"))
    return fail("--kubeconfig is required (hardway always sets it)");
  auto kc = LoadKubeconfig(f.Get("kubeconfig"), "--kubeconfig");
  if (!kc) return fail(kc.error());
  for (const char* flag :
       {"authentication-kubeconfig", "authorization-kubeconfig"})
    if (f.Has(flag))
      if (auto other = LoadKubeconfig(f.Get(flag), std::string("--") + flag);
          !other)
        return fail(other.error());
  for (const char* flag :
       {"root-ca-file", "client-ca-file", "requestheader-client-ca-file"})
    if (auto s = CheckCaFlag(f, flag); !s) return fail(s.error());
  // The cluster signing pair must be a CA that can sign.
  if (auto s = CheckFlagPair(f,
                             {"cluster-signing-cert-file",
                              "cluster-signing-key-file", "root-ca-file"},
                             static_cast<int>(Purpose::kAny));
      !s)
    return fail(s.error());
  if (f.Has("cluster-signing-cert-file"))
    if (auto s = CheckCaFlag(f, "cluster-signing-cert-file"); !s)
      return fail(s.error());
  if (auto s =
          CheckFlagPair(f, {"tls-cert-file", "tls-private-key-file", ""}, 0);
      !s)
    return fail(s.error());
  if (f.Has("service-account-private-key-file"))
    if (auto k = LoadKey(f.Get("service-account-private-key-file"),
                         "--service-account-private-key-file " +
                             f.Get("service-account-private-key-file"));
        !k)
      return fail(k.error());
  for (const char* flag : {"cluster-cidr", "service-cluster-ip-range"})
    if (f.Has(flag))
      if (auto s = CheckCidrList(flag, f.Get(flag)); !s) return fail(s.error());
  if (f.GetBool("allocate-node-cidrs", false) && !f.Has("cluster-cidr"))
    return fail("--allocate-node-cidrs is true but --cluster-cidr is not set");

  LeaderOptions o;
  o.component = "kube-controller-manager";
  o.kc = std::move(*kc);
  o.leader_elect = f.GetBool("leader-elect", true);
  o.lease_ns = f.Get("leader-elect-resource-namespace", "kube-system");
  o.lease_name = f.Get("leader-elect-resource-name", "kube-controller-manager");
  o.lease_duration_s =
      DurationSecondsFlag(f, "leader-elect-lease-duration", 15);
  o.retry_s = DurationSecondsFlag(f, "leader-elect-retry-period", 2);
  o.bind = f.Get("bind-address", "0.0.0.0");
  o.port = std::atoi(f.Get("secure-port", "10257").c_str());
  o.root_ca_file = f.Get("root-ca-file");
  if (f.Has("tls-cert-file")) {
    o.cert_pem =
        ReadWholeFile(f.Get("tls-cert-file"), "--tls-cert-file").value_or("");
    o.key_pem =
        ReadWholeFile(f.Get("tls-private-key-file"), "--tls-private-key-file")
            .value_or("");
  }
  return RunLeaderLoop(std::move(o));
}

int RunKubeScheduler(const ParsedFlags& f) {
  auto fail = [](const std::string& msg) {
    Log('E', msg);
    return 1;
  };
  LeaderOptions o;
  o.component = "kube-scheduler";
  o.lease_name = "kube-scheduler";
  std::string kubeconfig_path, kubeconfig_what;
  if (f.Has("config")) {
    std::string what = "--config " + f.Get("config");
    auto doc = LoadYamlFile(f.Get("config"), "--config");
    if (!doc) return fail(doc.error());
    if (auto s = CheckKind(*doc, "KubeSchedulerConfiguration",
                           {"kubescheduler.config.k8s.io/v1"}, what);
        !s)
      return fail(s.error());
    auto path = GetString(*doc, "clientConnection.kubeconfig", what);
    if (!path) return fail(path.error());
    auto elect = GetBool(*doc, "leaderElection.leaderElect", what, true);
    if (!elect) return fail(elect.error());
    o.leader_elect = *elect;
    o.lease_name =
        GetString(*doc, "leaderElection.resourceName", what, "kube-scheduler")
            .value_or("kube-scheduler");
    o.lease_ns =
        GetString(*doc, "leaderElection.resourceNamespace", what, "kube-system")
            .value_or("kube-system");
    if (path->empty()) {
      if (!f.Has("kubeconfig"))
        return fail(what + ": clientConnection.kubeconfig is not set");
    } else {
      if (f.Has("kubeconfig"))
        Log('W',
            "--kubeconfig is ignored because --config sets "
            "clientConnection.kubeconfig");
      kubeconfig_path = *path;
      kubeconfig_what = "clientConnection.kubeconfig in " + what;
      if (access(path->c_str(), F_OK) != 0)
        return fail(kubeconfig_what + ": " + *path + " does not exist");
    }
  }
  if (kubeconfig_path.empty()) {
    if (!f.Has("kubeconfig"))
      return fail("neither --config nor --kubeconfig is set");
    kubeconfig_path = f.Get("kubeconfig");
    kubeconfig_what = "--kubeconfig";
  }
  auto kc = LoadKubeconfig(kubeconfig_path, kubeconfig_what);
  if (!kc) return fail(kc.error());
  for (const char* flag :
       {"authentication-kubeconfig", "authorization-kubeconfig"})
    if (f.Has(flag))
      if (auto other = LoadKubeconfig(f.Get(flag), std::string("--") + flag);
          !other)
        return fail(other.error());
  for (const char* flag : {"client-ca-file", "requestheader-client-ca-file"})
    if (auto s = CheckCaFlag(f, flag); !s) return fail(s.error());
  if (auto s =
          CheckFlagPair(f, {"tls-cert-file", "tls-private-key-file", ""}, 0);
      !s)
    return fail(s.error());
  if (f.Has("leader-elect")) o.leader_elect = f.GetBool("leader-elect", true);
  o.kc = std::move(*kc);
  o.bind = f.Get("bind-address", "0.0.0.0");
  o.port = std::atoi(f.Get("secure-port", "10259").c_str());
  if (f.Has("tls-cert-file")) {
    o.cert_pem =
        ReadWholeFile(f.Get("tls-cert-file"), "--tls-cert-file").value_or("");
    o.key_pem =
        ReadWholeFile(f.Get("tls-private-key-file"), "--tls-private-key-file")
            .value_or("");
  }
  return RunLeaderLoop(std::move(o));
}

}  // namespace standin
