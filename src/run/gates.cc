#include "run/gates.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "fetch/layout.h"
#include "pki/check.h"
#include "run/rbac.h"
#include "run/tls_probe.h"

namespace hardway {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kEtcdClientPort = 2379;
constexpr int kApiserverPort = 6443;
// Added to a check's own retry_in: waking a hair late costs nothing, waking
// early costs one more look.
constexpr std::chrono::milliseconds kRetryMargin{10};

// One thing to check for one host, through the transport of `via` (empty:
// local).
struct Probe {
  std::string via;
  std::string host;  // the row label
  std::string unit;  // whose diagnostics to fetch on failure
  std::function<GateVerdict(Transport*)> check;
  GateVerdict last;
  bool done = false;
  // Not looked at again before this: the last verdict said when it can pass
  // (retry_in), and a look before then could only say "not yet".
  Clock::time_point next_look{};
};

GateVerdict Pass(std::string host, std::string detail) {
  GateVerdict v;
  v.host = std::move(host);
  v.ok = true;
  v.detail = std::move(detail);
  return v;
}
GateVerdict Failv(std::string host, std::string detail, std::string unit = {}) {
  GateVerdict v;
  v.host = std::move(host);
  v.detail = std::move(detail);
  v.unit = std::move(unit);
  return v;
}

std::string Trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
    s.pop_back();
  s.erase(0, s.find_first_not_of(" \n\r\t"));
  return s;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Join(const std::vector<std::string>& items,
                 const char* sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Watches units across polls: each must be active (running) with the same
// restart count for at least `settle` and two polls, so a crash-looping unit
// cannot pass between two crashes.
class UnitWatch {
 public:
  // Crashes seen during one gate after which it stops waiting for the unit.
  static constexpr int kHopelessRestarts = 3;

  UnitWatch(std::vector<std::string> units, std::chrono::milliseconds settle,
            std::optional<UnitSnapshot> first_look = std::nullopt)
      : units_(std::move(units)),
        settle_(settle),
        first_look_(std::move(first_look)) {}

  GateVerdict Check(Transport& t, const std::string& host) {
    if (first_look_) {
      UnitSnapshot snapshot = std::move(*first_look_);
      first_look_.reset();
      return Judge(snapshot, host);
    }
    // The host's uptime comes in the same call, so systemd's own timestamps
    // tell how long each unit has been up: a unit that has run for longer
    // than the settle window passes on the first poll (a no-change re-run
    // waits for nothing), one that just (re)started is watched until it has.
    auto r = t.Exec(UnitStateCommand(units_));
    if (!r) return Failv(host, r.error().message);
    UnitSnapshot snapshot = ParseUnitSnapshot(r->out);
    if (r->exit_code != 0 || snapshot.units.size() != units_.size()) {
      return Failv(host, "systemctl show failed: " + Trim(r->err + r->out));
    }
    return Judge(snapshot, host);
  }

 private:
  GateVerdict Judge(const UnitSnapshot& snapshot, const std::string& host) {
    const auto& states = snapshot.units;
    auto now = Clock::now();
    std::vector<std::string> ok;
    for (size_t i = 0; i < units_.size(); ++i) {
      const std::string& unit = units_[i];
      const UnitState& s = states[i];
      Seen& seen = seen_[unit];
      if (s.load_state == "not-found") {
        seen = {};
        return Failv(host, unit + ": not installed (no unit file)", unit);
      }
      bool moved_now = seen.polls > 0 && s.n_restarts != seen.restarts;
      if (seen.polls == 0) seen.first_restarts = s.n_restarts;
      if (seen.polls == 0 || moved_now) seen.since = now;
      if (moved_now) seen.moved = true;
      ++seen.polls;
      seen.restarts = s.n_restarts;
      std::string restarts =
          s.n_restarts > 0
              ? ", restarted " + std::to_string(s.n_restarts) + " times"
              : "";
      if (s.active_state != "active" || s.sub_state == "auto-restart") {
        seen.since = now;
        bool looping = s.sub_state == "auto-restart" || seen.moved;
        GateVerdict v =
            Failv(host,
                  unit + ": " + s.active_state + " (" + s.sub_state + ")" +
                      restarts + (looping ? ": crash-looping" : ""),
                  unit);
        v.hopeless = s.n_restarts - seen.first_restarts >= kHopelessRestarts;
        return v;
      }
      if (moved_now) {
        GateVerdict v =
            Failv(host,
                  unit + ": active but its restart count rose to " +
                      std::to_string(s.n_restarts) + ": crash-looping",
                  unit);
        v.hopeless = s.n_restarts - seen.first_restarts >= kHopelessRestarts;
        return v;
      }
      const bool up_long_enough_by_systemd =
          snapshot.host_now_us > 0 && s.active_enter_us > 0 &&
          snapshot.host_now_us - s.active_enter_us >=
              std::chrono::duration_cast<std::chrono::microseconds>(settle_)
                  .count();
      if (!up_long_enough_by_systemd &&
          (seen.polls < 2 || now - seen.since < settle_)) {
        GateVerdict v =
            Failv(host, unit + ": active, waiting to see it stay up" + restarts,
                  unit);
        // By systemd's clock the unit will have been up long enough in
        // exactly this long: look again then, not a poll later.
        if (snapshot.host_now_us > 0 && s.active_enter_us > 0) {
          auto up = std::chrono::microseconds(snapshot.host_now_us -
                                              s.active_enter_us);
          v.retry_in = std::chrono::ceil<std::chrono::milliseconds>(
              std::max(settle_ - up, std::chrono::microseconds(0)));
        }
        return v;
      }
      ok.push_back(unit + " active (" + s.sub_state + ")");
    }
    return Pass(host, Join(ok));
  }

  struct Seen {
    int polls = 0;
    int restarts = -1;
    int first_restarts = 0;  // the count when this gate first looked
    Clock::time_point since{};
    bool moved = false;  // the restart count changed between two polls
  };
  std::vector<std::string> units_;
  std::chrono::milliseconds settle_;
  std::optional<UnitSnapshot> first_look_;
  std::map<std::string, Seen> seen_;
};

// The run's own look at `units` on `host` (GateContext::unit_states_by_run),
// in the units' order, when it has every one of them.
std::optional<UnitSnapshot> FirstLookFromRun(
    const GateContext& ctx, const std::string& host,
    const std::vector<std::string>& units) {
  auto h = ctx.unit_states_by_run.find(host);
  if (h == ctx.unit_states_by_run.end() || units.empty()) return std::nullopt;
  UnitSnapshot out;
  for (const std::string& u : units) {
    auto it = h->second.find(u);
    if (it == h->second.end() || it->second.units.size() != 1)
      return std::nullopt;
    const UnitSnapshot& one = it->second;
    // The earliest clock of the looks: no unit seems up longer than it was.
    if (out.units.empty() || one.host_now_us < out.host_now_us)
      out.host_now_us = one.host_now_us;
    out.units.push_back(one.units.front());
  }
  return out;
}

// Wraps a check so it first requires the gate's units (if any) on that host.
std::function<GateVerdict(Transport*)> WithUnits(
    const std::vector<std::string>& units, std::chrono::milliseconds settle,
    const std::string& host, std::function<GateVerdict(Transport*)> then,
    std::optional<UnitSnapshot> first_look = std::nullopt) {
  if (units.empty()) return then;
  auto watch =
      std::make_shared<UnitWatch>(units, settle, std::move(first_look));
  return [watch, host, then](Transport* t) {
    GateVerdict v = watch->Check(*t, host);
    if (!v.ok) return v;
    GateVerdict w = then(t);
    if (w.ok) w.detail = v.detail + "; " + w.detail;
    return w;
  };
}

std::string HttpDetail(const std::string& what, const Result<HttpResponse>& r) {
  if (!r) return what + ": " + r.error().message;
  std::string body = Trim(r->body.substr(0, 200));
  return what + ": HTTP " + std::to_string(r->status) +
         (body.empty() ? "" : " " + body);
}

std::vector<std::string> UnitsOnHost(const Phase& phase,
                                     const std::string& host) {
  // The gate names the phase's units; a host runs those of them that its steps
  // install.
  std::set<std::string> installed;
  for (const Step& s : phase.steps) {
    if (s.host == host && s.kind == StepKind::kSystemd)
      installed.insert(s.unit);
  }
  std::vector<std::string> out;
  for (const std::string& u : phase.gate.units) {
    if (installed.empty() || installed.contains(u)) out.push_back(u);
  }
  return out;
}

int HealthzPortFor(const std::string& unit) {
  if (unit == "kube-controller-manager") return 10257;
  if (unit == "kube-scheduler") return 10259;
  if (unit == "kubelet")
    return 10248;  // plain HTTP in real kubelets; only used when named
  return 0;
}

std::string Arch(std::string uname) {
  uname = Trim(uname);
  if (uname == "aarch64" || uname == "arm64") return "arm64";
  if (uname == "x86_64" || uname == "amd64") return "amd64";
  return uname;
}

// Which process may hold a port before or after bootstrap: ours.
std::map<int, std::vector<std::string>> OurPorts(const GateHost& h) {
  std::map<int, std::vector<std::string>> out;
  if (h.Has(Role::kEtcd)) out[2379] = out[2380] = {"etcd"};
  if (h.Has(Role::kControlplane)) out[6443] = {"kube-apiserver"};
  if (h.Has(Role::kWorker)) out[10250] = {"kubelet"};
  return out;
}

const std::vector<std::string>& PreflightCommands() {
  static const std::vector<std::string> commands = {
      "date +%s.%N", "uname -m",
      "test -d /run/systemd/system && systemctl --version", "ss -Htlnp"};
  return commands;
}
constexpr const char* kRoutesCommand = "ip route";

// The answers to `commands` from `look` (the run's own ask), when it has them
// all; else asked now, in one round trip.
Result<GateLook> AskOrTake(Transport& t,
                           const std::vector<std::string>& commands,
                           std::optional<GateLook> look) {
  if (look && std::ranges::all_of(commands, [&](const std::string& c) {
        return look->results.contains(c);
      })) {
    return std::move(*look);
  }
  GateLook asked;
  asked.asked_from = std::chrono::system_clock::now();
  // A single command goes alone (ExecMany would wrap it for nothing).
  std::vector<ExecResult> answers;
  if (commands.size() == 1) {
    auto r = t.Exec(commands.front());
    if (!r) return std::unexpected(r.error());
    answers.push_back(std::move(*r));
  } else {
    auto r = t.ExecMany(commands);
    if (!r) return std::unexpected(r.error());
    answers = std::move(*r);
  }
  asked.asked_to = std::chrono::system_clock::now();
  for (size_t i = 0; i < commands.size() && i < answers.size(); ++i)
    asked.results[commands[i]] = std::move(answers[i]);
  return asked;
}

GateVerdict PreflightCheck(Transport& t, const GateHost& h,
                           const std::string& expected_arch,
                           std::optional<GateLook> look) {
  // One round trip for all four facts: a command costs a channel and a shell
  // on the host (50-300 ms on a busy one), and preflight runs on every `up`.
  // The runner usually asked them already, in its survey of the host.
  const std::vector<std::string>& commands = PreflightCommands();
  auto asked = AskOrTake(t, commands, std::move(look));
  if (!asked) return Failv(h.name, asked.error().message);
  auto before = asked->asked_from;
  auto after = asked->asked_to;
  const ExecResult& date = asked->results[commands[0]];
  const ExecResult& uname = asked->results[commands[1]];
  const ExecResult& systemd = asked->results[commands[2]];
  const ExecResult& ss = asked->results[commands[3]];

  std::vector<std::string> facts;
  std::string arch = Arch(uname.out);
  if (!expected_arch.empty() && arch != Arch(expected_arch)) {
    return Failv(h.name, "CPU architecture is " + Trim(uname.out) +
                             " but the artifacts are " + expected_arch);
  }
  facts.push_back(Trim(uname.out));
  if (systemd.exit_code != 0) {
    return Failv(
        h.name, "systemd is not running on this host (no /run/systemd/system)");
  }
  facts.push_back(
      Trim(Lines(systemd.out).empty() ? "systemd" : Lines(systemd.out)[0]));

  // The host read its clock somewhere between `before` and `after`: the skew
  // is at least the distance from that window, and at most the window's
  // length more.
  double remote = std::strtod(Trim(date.out).c_str(), nullptr);
  auto seconds = [](std::chrono::system_clock::time_point tp) {
    return std::chrono::duration<double>(tp.time_since_epoch()).count();
  };
  if (date.exit_code != 0 || remote <= 0) {
    return Failv(h.name,
                 "cannot read the host's clock: " + Trim(date.err + date.out));
  }
  double skew = remote < seconds(before)  ? remote - seconds(before)
                : remote > seconds(after) ? remote - seconds(after)
                                          : 0.0;
  if (std::fabs(skew) >= 1.0) {
    char buf[96];
    std::snprintf(buf, sizeof buf,
                  "clock skew %.1f s (host %s); certificates need < 1 s",
                  std::fabs(skew), skew > 0 ? "ahead" : "behind");
    return Failv(h.name, buf);
  }
  char skew_text[64];
  std::snprintf(
      skew_text, sizeof skew_text, "clock skew < %.0f ms",
      (std::fabs(skew) + seconds(after) - seconds(before)) * 1000 + 1);
  facts.push_back(skew_text);

  if (ss.exit_code != 0) {
    return Failv(h.name, "`ss -Htlnp` failed (is iproute2 installed?): " +
                             Trim(ss.err + ss.out));
  }
  auto listening = ParseListeningPorts(ss.out);
  for (const auto& [port, owners] : OurPorts(h)) {
    auto it = listening.find(port);
    if (it == listening.end()) continue;
    if (std::ranges::find(owners, it->second) == owners.end()) {
      return Failv(h.name,
                   "port " + std::to_string(port) + " is held by " +
                       (it->second.empty() ? "another process" : it->second) +
                       ", not by " + owners[0]);
    }
  }
  facts.push_back("ports free or ours");
  return Pass(h.name, Join(facts));
}

GateVerdict FilesCheck(Transport& t, const Phase& phase,
                       const std::string& host) {
  std::vector<const Step*> files;
  for (const Step& s : phase.steps) {
    if (s.host == host &&
        (s.kind == StepKind::kUpload || s.kind == StepKind::kRender)) {
      files.push_back(&s);
    }
  }
  if (files.empty()) return Pass(host, "no files");
  std::vector<std::string> paths;
  std::string stat_cmd = "stat -c '%a %U:%G %n'";
  for (const Step* s : files) {
    paths.push_back(s->dest);
    stat_cmd += " " + s->dest;
  }
  auto shas = t.Sha256Of(paths);
  if (!shas) return Failv(host, shas.error().message);
  auto stat = t.Exec(stat_cmd + " 2>/dev/null");
  if (!stat) return Failv(host, stat.error().message);
  std::map<std::string, std::pair<std::string, std::string>>
      modes;  // path -> (mode, owner)
  for (const std::string& line : Lines(stat->out)) {
    std::istringstream in(line);
    std::string mode, owner, path;
    in >> mode >> owner;
    std::getline(in >> std::ws, path);
    modes[path] = {mode, owner};
  }
  std::vector<std::string> problems;
  for (const Step* s : files) {
    auto sha = shas->find(s->dest);
    if (sha == shas->end()) {
      problems.push_back("missing " + s->dest);
      continue;
    }
    if (!s->sha256.empty() && sha->second != s->sha256) {
      problems.push_back("content differs: " + s->dest);
      continue;
    }
    char want[16];
    std::snprintf(want, sizeof want, "%o", s->mode);
    auto m = modes.find(s->dest);
    if (m == modes.end()) {
      problems.push_back("cannot stat " + s->dest);
    } else if (m->second.first != want) {
      problems.push_back("mode " + m->second.first + ", want " + want + ": " +
                         s->dest);
    } else if (!s->owner.empty() && m->second.second != s->owner) {
      problems.push_back("owner " + m->second.second + ", want " + s->owner +
                         ": " + s->dest);
    }
  }
  if (!problems.empty()) return Failv(host, Join(problems, "; "));
  return Pass(host, std::to_string(files.size()) +
                        " files present with sha256 and mode");
}

// Node preparation: every check of the phase's run steps on this host passes
// again. A check prints what is missing ("kernel modules not loaded:
// br_netfilter"), so the verdict says exactly what to fix, with the host.
}  // namespace

Result<std::vector<StepCheckResult>> RunStepChecks(
    Transport& t, const std::vector<const Step*>& steps) {
  std::vector<std::string> commands;
  for (const Step* s : steps) commands.push_back(s->check);
  auto results = t.ExecMany(commands);
  if (!results) return std::unexpected(results.error());
  std::vector<StepCheckResult> out;
  for (const ExecResult& r : *results) out.push_back(CheckResultOf(r));
  return out;
}

StepCheckResult CheckResultOf(const ExecResult& r) {
  return {r.exit_code, Trim(r.err.empty() ? r.out : r.err)};
}

std::string UnitStateCommand(const std::vector<std::string>& units) {
  std::string cmd =
      "cat /proc/uptime; systemctl show -p "
      "LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,"
      "NRestarts,ActiveEnterTimestampMonotonic";
  for (const std::string& u : units) cmd += " " + u + ".service";
  return cmd;
}

namespace {

GateVerdict PreparedCheck(Transport& t, const Phase& phase,
                          const std::string& host) {
  std::vector<std::string> problems;
  std::vector<const Step*> checked;
  for (const Step& s : phase.steps) {
    if (s.host == host && s.kind == StepKind::kRun && !s.check.empty())
      checked.push_back(&s);
  }
  size_t checks = checked.size();
  auto results = RunStepChecks(t, checked);
  if (!results) return Failv(host, results.error().message);
  for (size_t i = 0; i < checked.size(); ++i) {
    const StepCheckResult& r = (*results)[i];
    if (r.exit_code == 0) continue;
    problems.push_back(r.said.empty()
                           ? checked[i]->description + ": check exited with " +
                                 std::to_string(r.exit_code)
                           : r.said);
  }
  if (!problems.empty()) return Failv(host, Join(problems, "; "));
  return Pass(host, checks == 0 ? "nothing to check"
                                : std::to_string(checks) + " checks pass");
}

GateVerdict TcpCheck(Transport& t, const GateHost& h, int port) {
  std::string last;
  for (const std::string& addr : {h.address, std::string("127.0.0.1")}) {
    auto tunnel = t.OpenTunnel(addr, port);
    if (tunnel)
      return Pass(h.name, addr + ":" + std::to_string(port) + " open");
    last = tunnel.error().message;
  }
  return Failv(h.name, "port " + std::to_string(port) + " not open: " + last);
}

GateVerdict EtcdCheck(Transport& t, const GateHost& h, const fs::path& state,
                      bool member_list, size_t want_members) {
  auto health =
      HttpsVia(t, h.address, kEtcdClientPort, EtcdClientTls(state, h.address),
               HttpRequest{"GET", "/health", {}, {}, {}});
  if (!health || health->status != 200)
    return Failv(h.name, HttpDetail("/health", health), "etcd");
  json body = json::parse(health->body, nullptr, false);
  if (body.is_discarded() || body.value("health", "") != "true") {
    return Failv(h.name, "/health: " + Trim(health->body), "etcd");
  }
  if (!member_list) return Pass(h.name, "/health true");
  HttpRequest list{
      "POST", "/v3/cluster/member/list", "{}", "application/json", {}};
  auto members = HttpsVia(t, h.address, kEtcdClientPort,
                          EtcdClientTls(state, h.address), list);
  if (!members || members->status != 200) {
    return Failv(h.name, HttpDetail("member list", members), "etcd");
  }
  json mj = json::parse(members->body, nullptr, false);
  if (mj.is_discarded() || !mj.contains("members") ||
      !mj["members"].is_array()) {
    return Failv(
        h.name,
        "member list: unexpected answer " + members->body.substr(0, 200),
        "etcd");
  }
  std::vector<std::string> started, unstarted;
  for (const json& m : mj["members"]) {
    // An added member that never started has no name yet (etcd's own rule in
    // member list).
    std::string name = m.value("name", "");
    if (name.empty()) {
      unstarted.push_back(m.contains("peerURLs") ? m["peerURLs"].dump() : "?");
    } else {
      started.push_back(name);
    }
  }
  if (started.size() != want_members) {
    return Failv(
        h.name,
        "member list: " + std::to_string(started.size()) + " of " +
            std::to_string(want_members) + " members started (" +
            Join(started) + ")" +
            (unstarted.empty() ? "" : "; unstarted: " + Join(unstarted)),
        "etcd");
  }
  return Pass(h.name,
              "/health true; member list: " + std::to_string(started.size()) +
                  "/" + std::to_string(want_members) + " started");
}

Result<std::vector<ApiObject>> RbacObjects(const GateContext& ctx) {
  std::string manifest = ctx.rbac_manifest;
  if (manifest.empty() && ctx.plan) manifest = RbacManifestOf(*ctx.plan);
  if (manifest.empty()) {
    return Fail(
        ErrorKind::kGate,
        "no RBAC manifest in the plan (render one into an rbac/ folder)");
  }
  return ParseManifest(manifest, "rbac manifest");
}

GateVerdict RbacCheck(Transport& t, const GateHost& api,
                      const GateContext& ctx) {
  std::vector<std::string> found, problems;
  auto objects = RbacObjects(ctx);
  if (!objects) return Failv(api.name, objects.error().message);
  for (const ApiObject& o : *objects) {
    auto r = HttpsVia(t, api.address, kApiserverPort,
                      AdminTls(ctx.state_dir, api.address),
                      HttpRequest{"GET", o.path(), {}, {}, {}});
    if (r && r->status == 200) {
      found.push_back(o.kind + " " + o.name);
    } else if (r && r->status == 404) {
      problems.push_back(o.kind + " " + o.name + " missing");
    } else {
      problems.push_back(HttpDetail(o.kind + " " + o.name, r));
    }
  }
  if (!problems.empty())
    return Failv(api.name, Join(problems, "; "), "kube-apiserver");
  return Pass(api.name, Join(found) + " exist");
}

// The leader-election Lease of each component (kube-system/<name>) exists and
// names a holder: the component reached the API server with its own
// credentials and is doing its work, not just answering /healthz.
GateVerdict LeasesCheck(Transport& t, const GateHost& api,
                        const GateContext& ctx,
                        const std::vector<std::string>& leases) {
  std::vector<std::string> held, problems;
  for (const std::string& name : leases) {
    std::string path =
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/" + name;
    auto r = HttpsVia(t, api.address, kApiserverPort,
                      AdminTls(ctx.state_dir, api.address),
                      HttpRequest{"GET", path, {}, {}, {}});
    if (r && r->status == 404) {
      problems.push_back(name + ": no leader lease yet (" + path + ")");
      continue;
    }
    if (!r || r->status != 200) {
      problems.push_back(HttpDetail("GET " + path, r));
      continue;
    }
    json j = json::parse(r->body, nullptr, false);
    std::string holder =
        j.is_discarded()
            ? ""
            : j.value("spec", json::object()).value("holderIdentity", "");
    if (holder.empty()) {
      problems.push_back(name + ": its leader lease has no holder");
      continue;
    }
    held.push_back(name + " lease held by " + holder);
  }
  if (!problems.empty()) return Failv("", Join(problems, "; "));
  return Pass("", Join(held));
}

GateVerdict NodesCheck(Transport& t, const GateHost& api,
                       const GateContext& ctx,
                       const std::vector<std::string>& workers) {
  auto r = HttpsVia(t, api.address, kApiserverPort,
                    AdminTls(ctx.state_dir, api.address),
                    HttpRequest{"GET", "/api/v1/nodes", {}, {}, {}});
  if (!r || r->status != 200)
    return Failv("", HttpDetail("GET /api/v1/nodes", r));
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("items")) {
    return Failv(
        "", "GET /api/v1/nodes: unexpected answer " + r->body.substr(0, 200));
  }
  std::map<std::string, std::string> ready;  // node -> Ready status
  for (const json& item : j["items"]) {
    std::string name = item.value("metadata", json::object()).value("name", "");
    std::string status = "Unknown (no Ready condition)";
    if (item.contains("status") && item["status"].contains("conditions")) {
      for (const json& c : item["status"]["conditions"]) {
        if (c.value("type", "") == "Ready") {
          status = c.value("status", "Unknown");
          if (status != "True" && c.contains("message")) {
            status += " (" + c.value("message", "") + ")";
          }
        }
      }
    }
    ready[name] = status;
  }
  std::vector<std::string> problems;
  for (const std::string& w : workers) {
    auto it = ready.find(w);
    if (it == ready.end())
      problems.push_back(w + " not registered");
    else if (it->second != "True")
      problems.push_back(w + " Ready=" + it->second);
  }
  if (!problems.empty())
    return Failv("", "nodes: " + Join(problems, "; "), "kubelet");
  return Pass("", std::to_string(workers.size()) + " node(s) Ready");
}

GateVerdict RoutesCheck(Transport& t, const GateHost& h, const Topology& topo,
                        std::optional<GateLook> look) {
  auto asked = AskOrTake(t, {kRoutesCommand}, std::move(look));
  if (!asked) return Failv(h.name, asked.error().message);
  const ExecResult& r = asked->results[kRoutesCommand];
  if (r.exit_code != 0)
    return Failv(h.name, "`ip route` failed: " + Trim(r.err + r.out));
  std::vector<std::string> routes = Lines(r.out);
  std::vector<std::string> missing;
  size_t want = 0;
  for (const GateHost& other : topo.hosts) {
    if (other.name == h.name || !other.pod_cidr) continue;
    ++want;
    std::string cidr = other.pod_cidr->ToString();
    bool found = std::ranges::any_of(routes, [&](const std::string& line) {
      return line.starts_with(cidr + " ");
    });
    if (!found) missing.push_back(cidr + " (" + other.name + ")");
  }
  if (!missing.empty()) return Failv(h.name, "no route to " + Join(missing));
  return Pass(h.name, std::to_string(want) + " pod route(s)");
}

// Local: every certificate in the state dir verifies against its CA and its key
// matches.
// The pki module owns the certificate table (which CA signs what, the SANs, the
// usages), so the gate asks it rather than guessing a certificate's CA from its
// file name.
GateVerdict PkiCheck(const Cluster& cluster, const fs::path& state) {
  auto checks = CheckPki(cluster, state, std::chrono::system_clock::now());
  if (CheckPassed(checks)) {
    return Pass("local", std::to_string(checks.size()) +
                             " files match the certificate table");
  }
  std::vector<std::string> problems;
  for (const CertCheck& c : checks) {
    if (c.status == CertStatus::kOk || c.status == CertStatus::kStale) continue;
    problems.push_back(c.file + ": " + std::string(CertStatusName(c.status)) +
                       (c.reason.empty() ? "" : " (" + c.reason + ")"));
  }
  std::string detail;
  for (const std::string& p : problems)
    detail += (detail.empty() ? "" : "; ") + p;
  return Failv("local",
               detail + " — run `hardway certs --check` for the full table");
}

const GateHost* ApiHost(const Phase& phase, const Topology& topo) {
  for (const std::string& name : phase.hosts) {
    const GateHost* h = topo.host(name);
    if (h && h->Has(Role::kControlplane)) return h;
  }
  auto controllers = topo.with(Role::kControlplane);
  return controllers.empty() ? nullptr : controllers.front();
}

// A check of the whole cluster, asked once through the API server on `api`'s
// SSH connection; its verdict is reported for "cluster", not for that host.
Probe ClusterProbe(const GateHost& api,
                   std::function<GateVerdict(Transport*)> check) {
  return Probe{api.name,
               "cluster",
               "",
               [check = std::move(check)](Transport* t) {
                 GateVerdict v = check(t);
                 v.host = "cluster";
                 return v;
               },
               {},
               false};
}

// Components that elect a leader: the healthz gate of a phase that starts them
// also wants their Lease, asked once through the API server (as the
// nodes_ready gate asks for Nodes).
void AddLeaseProbe(const Phase& phase, const GateContext& ctx,
                   std::vector<Probe>& probes) {
  std::vector<std::string> leases;
  for (const std::string& u : phase.gate.units) {
    if (u == "kube-controller-manager" || u == "kube-scheduler")
      leases.push_back(u);
  }
  const GateHost* api = ApiHost(phase, *ctx.topology);
  if (leases.empty() || !api) return;
  GateHost h = *api;
  const GateContext* c = &ctx;
  probes.push_back(ClusterProbe(h, [h, c, leases](Transport* t) {
    return LeasesCheck(*t, h, *c, leases);
  }));
}

// The run's own ask of a gate's commands on `host`, held for the probe's
// first check only (TakeOnce): a retry asks the host again.
std::shared_ptr<std::optional<GateLook>> FirstGateLook(
    const GateContext& ctx, const std::string& host) {
  auto it = ctx.gate_looks_by_run.find(host);
  return std::make_shared<std::optional<GateLook>>(
      it == ctx.gate_looks_by_run.end() ? std::nullopt
                                        : std::optional<GateLook>(it->second));
}

std::optional<GateLook> TakeOnce(
    const std::shared_ptr<std::optional<GateLook>>& look) {
  std::optional<GateLook> out = std::move(*look);
  look->reset();
  return out;
}

std::vector<Probe> BuildProbes(const Phase& phase, const GateContext& ctx) {
  const Gate& gate = phase.gate;
  const Topology& topo = *ctx.topology;
  std::vector<Probe> probes;
  auto each_host = [&](auto make) {
    for (const std::string& name : phase.hosts) {
      const GateHost* h = topo.host(name);
      GateHost fallback{name, name, {}, {}};
      const GateHost& host = h ? *h : fallback;
      auto units = UnitsOnHost(phase, name);
      probes.push_back(Probe{name,
                             name,
                             units.empty() ? "" : units.front(),
                             WithUnits(units, ctx.settle, name, make(host),
                                       FirstLookFromRun(ctx, name, units)),
                             {},
                             false});
    }
  };
  switch (gate.kind) {
    case GateKind::kNone:
      break;
    case GateKind::kPkiValid: {
      fs::path state = ctx.state_dir;
      const Cluster* cluster = ctx.cluster;
      probes.push_back(Probe{
          "",
          "local",
          "",
          [state, cluster](Transport*) {
            if (!cluster)
              return Failv("local", "no cluster to check the PKI against");
            return PkiCheck(*cluster, state);
          },
          {},
          false});
      break;
    }
    case GateKind::kPreflight:
      each_host([&](const GateHost& h) {
        std::string arch = ctx.expected_arch;
        // Hosts of two architectures get artifacts/<arch>/, checked against
        // hosts[].arch before `up`: each host is held to its own.
        if (ctx.cluster && PerArchLayout(*ctx.cluster)) {
          if (const Host* host = ctx.cluster->host(h.name)) arch = host->arch;
        }
        auto look = FirstGateLook(ctx, h.name);
        return [h, arch, look](Transport* t) {
          return PreflightCheck(*t, h, arch, TakeOnce(look));
        };
      });
      break;
    case GateKind::kPrepared:
      each_host([&](const GateHost& h) {
        const Phase* p = &phase;
        if (ctx.verified_by_run.contains(h.name)) {
          return std::function<GateVerdict(Transport*)>([h](Transport*) {
            return Pass(h.name,
                        "every check passed (this run's checks; nothing "
                        "changed)");
          });
        }
        return std::function<GateVerdict(Transport*)>(
            [p, h](Transport* t) { return PreparedCheck(*t, *p, h.name); });
      });
      break;
    case GateKind::kFilesPresent:
      each_host([&](const GateHost& h) {
        const Phase* p = &phase;
        if (ctx.verified_by_run.contains(h.name)) {
          size_t n = std::ranges::count_if(p->steps, [&](const Step& s) {
            return s.host == h.name &&
                   (s.kind == StepKind::kUpload || s.kind == StepKind::kRender);
          });
          return std::function<GateVerdict(Transport*)>([h, n](Transport*) {
            return Pass(h.name, std::to_string(n) +
                                    " files present with sha256 and mode "
                                    "(this run's listing; nothing changed)");
          });
        }
        return std::function<GateVerdict(Transport*)>(
            [p, h](Transport* t) { return FilesCheck(*t, *p, h.name); });
      });
      break;
    case GateKind::kUnitActive:
      each_host([](const GateHost& h) {
        return [h](Transport*) { return Pass(h.name, "ok"); };
      });
      break;
    case GateKind::kTcpPort:
      each_host([&](const GateHost& h) {
        int port = gate.port;
        return [h, port](Transport* t) { return TcpCheck(*t, h, port); };
      });
      break;
    case GateKind::kEtcdHealthy: {
      size_t want = topo.with(Role::kEtcd).size();
      if (want == 0) want = phase.hosts.size();
      bool first = true;
      each_host([&](const GateHost& h) {
        bool list = first;
        first = false;
        fs::path state = ctx.state_dir;
        return [h, state, list, want](Transport* t) {
          return EtcdCheck(*t, h, state, list, want);
        };
      });
      break;
    }
    case GateKind::kApiserverReady:
      each_host([&](const GateHost& h) {
        fs::path state = ctx.state_dir;
        return [h, state](Transport* t) {
          auto r = HttpsVia(*t, h.address, kApiserverPort,
                            AdminTls(state, h.address),
                            HttpRequest{"GET", "/readyz", {}, {}, {}});
          if (r && r->status == 200) return Pass(h.name, "/readyz 200");
          return Failv(h.name, HttpDetail("/readyz", r), "kube-apiserver");
        };
      });
      break;
    case GateKind::kHealthz:
      each_host([&](const GateHost& h) {
        std::vector<int> ports;
        if (gate.port > 0)
          ports.push_back(gate.port);
        else
          for (const std::string& u : UnitsOnHost(phase, h.name))
            if (int p = HealthzPortFor(u); p > 0 && u != "kubelet")
              ports.push_back(p);
        return [h, ports](Transport* t) {
          std::vector<std::string> ok;
          for (int port : ports) {
            // controller-manager and scheduler serve a self-signed certificate
            // they make in memory at start (no --tls-cert-file in the hard
            // way), so there is no CA to verify against; we still speak TLS,
            // which is all these ports accept.
            TlsOptions tls;
            tls.verify = false;
            auto r = HttpsVia(*t, "127.0.0.1", port, tls,
                              HttpRequest{"GET", "/healthz", {}, {}, {}});
            if (!r || r->status != 200) {
              return Failv(
                  h.name,
                  HttpDetail(":" + std::to_string(port) + "/healthz", r));
            }
            ok.push_back(":" + std::to_string(port) + "/healthz ok");
          }
          return Pass(h.name, ok.empty() ? "no health port" : Join(ok));
        };
      });
      AddLeaseProbe(phase, ctx, probes);
      break;
    case GateKind::kRbacPresent: {
      const GateHost* api = ApiHost(phase, topo);
      if (!api) break;
      GateHost h = *api;
      const GateContext* c = &ctx;
      probes.push_back(
          Probe{h.name,
                h.name,
                "kube-apiserver",
                [h, c](Transport* t) { return RbacCheck(*t, h, *c); },
                {},
                false});
      break;
    }
    case GateKind::kNodesReady: {
      each_host([](const GateHost& h) {
        return [h](Transport*) { return Pass(h.name, "ok"); };
      });
      std::erase_if(probes, [&](const Probe& p) {
        return UnitsOnHost(phase, p.host).empty();
      });
      const GateHost* api = ApiHost(phase, topo);
      if (!api) break;
      GateHost h = *api;
      const GateContext* c = &ctx;
      std::vector<std::string> workers;
      for (const std::string& name : phase.hosts) {
        const GateHost* w = topo.host(name);
        if (!w || w->Has(Role::kWorker)) workers.push_back(name);
      }
      probes.push_back(ClusterProbe(h, [h, c, workers](Transport* t) {
        return NodesCheck(*t, h, *c, workers);
      }));
      break;
    }
    case GateKind::kPodRoutes:
      each_host([&](const GateHost& h) {
        const Topology* tp = &topo;
        auto look = FirstGateLook(ctx, h.name);
        return [h, tp, look](Transport* t) {
          return RoutesCheck(*t, h, *tp, TakeOnce(look));
        };
      });
      break;
  }
  return probes;
}

bool Interrupted(const GateContext& ctx) {
  return ctx.interrupted && ctx.interrupted->load();
}

}  // namespace

std::vector<std::string> GateCommands(const Phase& phase) {
  switch (phase.gate.kind) {
    case GateKind::kPreflight:
      return PreflightCommands();
    case GateKind::kPodRoutes:
      return {kRoutesCommand};
    default:
      return {};
  }
}

bool GateHost::Has(Role role) const {
  return std::ranges::find(roles, role) != roles.end();
}

const GateHost* Topology::host(std::string_view name) const {
  for (const GateHost& h : hosts) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::vector<const GateHost*> Topology::with(Role role) const {
  std::vector<const GateHost*> out;
  for (const GateHost& h : hosts) {
    if (h.Has(role)) out.push_back(&h);
  }
  return out;
}

TlsOptions EtcdClientTls(const fs::path& state_dir,
                         const std::string& address) {
  TlsOptions t;
  t.ca_file = state_dir / "pki/etcd/ca.crt";
  t.expected_name = address;
  t.cert_file = state_dir / "pki/etcd/healthcheck-client.crt";
  t.key_file = state_dir / "pki/etcd/healthcheck-client.key";
  return t;
}

TlsOptions AdminTls(const fs::path& state_dir, const std::string& address) {
  TlsOptions t;
  t.ca_file = state_dir / "pki/ca.crt";
  t.expected_name = address;
  t.cert_file = state_dir / "pki/admin.crt";
  t.key_file = state_dir / "pki/admin.key";
  return t;
}

std::vector<UnitState> ParseSystemctlShow(const std::string& out) {
  std::vector<UnitState> states;
  bool open = false;
  for (const std::string& raw : Lines(out + "\n")) {
    std::string line = Trim(raw);
    if (line.empty()) {
      open = false;
      continue;
    }
    if (!open) {
      states.emplace_back();
      open = true;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    UnitState& s = states.back();
    if (key == "ActiveState")
      s.active_state = value;
    else if (key == "SubState")
      s.sub_state = value;
    else if (key == "LoadState")
      s.load_state = value;
    else if (key == "UnitFileState")
      s.unit_file_state = value;
    else if (key == "NeedDaemonReload")
      s.need_daemon_reload = value == "yes";
    else if (key == "NRestarts")
      s.n_restarts = value.empty() ? -1 : std::atoi(value.c_str());
    else if (key == "ActiveEnterTimestampMonotonic")
      s.active_enter_us = std::strtoll(value.c_str(), nullptr, 10);
  }
  return states;
}

UnitSnapshot ParseUnitSnapshot(const std::string& out) {
  UnitSnapshot snapshot;
  size_t eol = out.find('\n');
  std::string first = out.substr(0, eol);
  std::string rest = out;
  if (!first.empty() && first.find('=') == std::string::npos) {
    // "12345.67 23456.78": seconds since boot, then idle time.
    char* end = nullptr;
    double seconds = std::strtod(first.c_str(), &end);
    if (end != first.c_str() && seconds > 0)
      snapshot.host_now_us = static_cast<int64_t>(seconds * 1e6);
    rest = eol == std::string::npos ? "" : out.substr(eol + 1);
  }
  snapshot.units = ParseSystemctlShow(rest);
  return snapshot;
}

std::map<int, std::string> ParseListeningPorts(const std::string& ss_out) {
  std::map<int, std::string> out;
  for (const std::string& line : Lines(ss_out)) {
    std::istringstream in(line);
    std::string state, recvq, sendq, local, peer;
    if (!(in >> state >> recvq >> sendq >> local >> peer)) continue;
    size_t colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    int port = std::atoi(local.c_str() + colon + 1);
    std::string rest;
    std::getline(in, rest);
    std::string owner;
    size_t q = rest.find("((\"");
    if (q != std::string::npos) {
      size_t end = rest.find('"', q + 3);
      owner = rest.substr(q + 3, end - q - 3);
    }
    if (!out.contains(port) || out[port].empty()) out[port] = owner;
  }
  return out;
}

std::string UnitDiagnostics(Transport& t, const std::string& unit) {
  std::string out;
  for (const std::string& cmd :
       {"systemctl status " + unit + ".service --no-pager",
        "journalctl -u " + unit + ".service -n 50 --no-pager"}) {
    out += "$ " + cmd + "\n";
    auto r = t.Exec(cmd);
    if (!r) {
      out += "(failed: " + r.error().message + ")\n";
      continue;
    }
    out += r->out + r->err;
    if (!out.ends_with('\n')) out += "\n";
  }
  return out;
}

GateReport RunGate(const Phase& phase, const GateContext& ctx,
                   std::optional<std::chrono::milliseconds> timeout) {
  GateReport report;
  report.phase = phase.name;
  report.kind = phase.gate.kind;
  report.description = phase.gate.description.empty()
                           ? std::string(GateKindName(phase.gate.kind))
                           : phase.gate.description;
  if (phase.gate.kind == GateKind::kNone) return report;
  Topology empty;
  GateContext c = ctx;
  if (!c.topology) c.topology = &empty;
  std::vector<Probe> probes = BuildProbes(phase, c);
  auto start = Clock::now();
  auto deadline = start + timeout.value_or(phase.gate.timeout);

  // One thread per transport, so a host's connection is only ever used by one
  // thread.
  std::map<std::string, std::vector<Probe*>> groups;
  for (Probe& p : probes) groups[p.via].push_back(&p);
  std::vector<std::vector<Probe*>*> work;
  for (auto& [via, g] : groups) work.push_back(&g);
  std::atomic<size_t> next{0};
  std::atomic<int> max_attempts{0};

  auto run_group = [&](std::vector<Probe*>& group) {
    std::mt19937 rng(std::random_device{}());
    int attempts = 0;
    const std::string via = group.front()->via;
    Transport* t = nullptr;
    while (true) {
      ++attempts;
      t = nullptr;
      if (!via.empty()) {
        if (!c.transports) {
          for (Probe* p : group) p->last = Failv(p->host, "no transport");
          break;
        }
        auto got = c.transports->Get(via);
        if (!got) {
          const Error& e = got.error();
          for (Probe* p : group) {
            if (p->done) continue;
            p->last = Failv(
                p->host, (e.where.empty() ? "" : e.where + ": ") + e.message +
                             (e.hint.empty() ? "" : " (hint: " + e.hint + ")"));
            p->last.unreachable = e.kind == ErrorKind::kConnection;
          }
          if (e.kind == ErrorKind::kConnection)
            break;  // ConnectHost already retried
        } else {
          t = *got;
        }
      }
      bool all = true;
      bool hopeless = false;
      for (Probe* p : group) {
        if (p->done) continue;
        if ((via.empty() || t) && Clock::now() >= p->next_look) {
          p->last = p->check(t);
          p->done = p->last.ok;
          hopeless = hopeless || p->last.hopeless;
          p->next_look = p->last.retry_in > std::chrono::milliseconds(0)
                             ? Clock::now() + p->last.retry_in + kRetryMargin
                             : Clock::time_point{};
        }
        all = all && p->done;
      }
      if (all || hopeless || Clock::now() >= deadline || Interrupted(c)) break;
      auto poll = std::max<long>(c.poll.count(), 2);
      std::uniform_int_distribution<long> jitter(poll / 2, poll);
      // A check that knows when it can pass (retry_in) is looked at then and
      // not before: the settle window ends on systemd's clock, not on our
      // poll's, and every look is a remote call. A unit that dies meanwhile is
      // seen at that look, at most one settle window later.
      auto wake = Clock::time_point::max();
      for (Probe* p : group) {
        if (p->done) continue;
        wake = std::min(
            wake, p->next_look != Clock::time_point{}
                      ? p->next_look
                      : Clock::now() + std::chrono::milliseconds(jitter(rng)));
      }
      wake = std::min(wake, deadline);
      while (Clock::now() < wake && !Interrupted(c)) {
        std::this_thread::sleep_for(std::min<Clock::duration>(
            wake - Clock::now(), std::chrono::milliseconds(50)));
      }
    }
    int prev = max_attempts.load();
    while (prev < attempts &&
           !max_attempts.compare_exchange_weak(prev, attempts)) {
    }
    // Diagnostics from the failing host, while we hold its transport.
    if (c.diagnostics && t) {
      for (Probe* p : group) {
        if (p->done || (p->last.unit.empty() && p->unit.empty())) continue;
        std::string unit = p->last.unit.empty() ? p->unit : p->last.unit;
        p->last.unit = unit;
        p->last.diagnostics = UnitDiagnostics(*t, unit);
      }
    }
  };
  size_t threads = std::min<size_t>(
      work.size(), static_cast<size_t>(std::max(1, c.parallel)));
  std::vector<std::thread> pool;
  for (size_t i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < work.size();)
        run_group(*work[k]);
    });
  }
  for (std::thread& th : pool) th.join();

  report.attempts = max_attempts.load();
  report.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      Clock::now() - start);
  report.interrupted = Interrupted(c);
  for (Probe& p : probes) {
    if (p.last.host.empty()) p.last.host = p.host;
    report.ok = report.ok && p.done;
    report.verdicts.push_back(p.last);
  }
  if (probes.empty()) {
    report.ok = false;
    report.verdicts.push_back(Failv("", "no host to check this gate on"));
  }
  return report;
}

}  // namespace hardway
