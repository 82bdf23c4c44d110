#include "run/commands.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "pki/pki.h"
#include "plan/artifact_check.h"
#include "plan/plan_builder.h"
#include "plan/plan_printer.h"
#include "remote/connect.h"
#include "remote/recording_transport.h"
#include "remote/sha256_memo.h"
#include "run/reset.h"
#include "run/runner.h"
#include "util/files.h"

namespace hardway {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSigint(int) {
  // First Ctrl-C: finish the current steps, then stop. A second one kills as
  // usual.
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);
}

int TerminalWidth() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 100;
}

int Report(const Error& e) {
  std::cerr << "hardway: " << e.ToString() << "\n";
  return ExitCodeFor(e.kind);
}

// `memo_state_dir`: when set, each host's listings hash only files changed
// since hardway last hashed them (Sha256Memo in <memo_state_dir>/memo/).
// `check` passes none: it verifies what the hosts hold, so it reads every
// byte, as `doctor` does.
TransportFactory SshFactory(const Cluster& cluster,
                            std::filesystem::path memo_state_dir = {}) {
  return [&cluster, memo_state_dir](
             const std::string& name) -> Result<std::unique_ptr<Transport>> {
    const Host* host = cluster.host(name);
    if (!host)
      return Fail(ErrorKind::kInternal, "host not in the inventory", name);
    ConnectOptions options;
    options.base_dir = cluster.base_dir();
    options.allow_prompt = isatty(STDIN_FILENO) != 0;
    if (!memo_state_dir.empty())
      options.sha256_memo = Sha256MemoFile(memo_state_dir, host->name);
    return ConnectHost(*host, options);
  };
}

struct Prepared {
  PkiReport pki;  // what making the state dir complete did
  Plan plan;
};

Result<Prepared> EnsureAndBuild(const Cluster& cluster,
                                const std::filesystem::path& state_dir) {
  // The plan carries sizes and hashes of the state dir's files, so the PKI is
  // made complete first (as `hardway plan` does); the pki phase's own EnsurePki
  // then finds nothing to do.
  auto pki = EnsurePki(cluster, state_dir);
  if (!pki) return std::unexpected(pki.error());
  PlanOptions plan_options;
  plan_options.state_dir = state_dir;
  auto plan = BuildPlan(cluster, plan_options);
  if (!plan) return std::unexpected(plan.error());
  return Prepared{std::move(*pki), std::move(*plan)};
}

}  // namespace

int UpCommand(const Cluster& cluster, const UpOptions& options) {
  if (options.step && isatty(STDIN_FILENO) == 0) {
    return Report(
        Error{ErrorKind::kUsage,
              "--step asks before each phase and needs a terminal",
              {},
              "stdin is not a TTY; run without --step (or use --only PHASE)"});
  }
  auto prepared = EnsureAndBuild(cluster, options.state_dir);
  if (!prepared) return Report(prepared.error());
  const Plan* plan = &prepared->plan;
  // A corrupt or missing binary is refused here, before any host is touched.
  if (!options.dry_run) {
    auto verified = VerifyArtifacts(*plan, cluster.artifacts_dir(), &cluster);
    if (!verified) return Report(verified.error());
    // No manifest to check against: said, not silently accepted.
    if (!verified->warning.empty())
      std::cerr << "hardway: warning: " << verified->warning << "\n";
  }

  std::unique_ptr<Reporter> reporter;
  if (options.output == "json") {
    reporter = std::make_unique<JsonReporter>(std::cout);
  } else {
    reporter = std::make_unique<ConsoleReporter>(
        std::cout, isatty(STDOUT_FILENO) != 0, TerminalWidth());
  }
  Topology topology = TopologyOf(cluster);
  RunOptions run;
  run.parallel = options.parallel;
  run.only = options.only;
  run.from = options.from;
  run.interactive = options.step;
  run.input = &std::cin;
  run.prompt = &std::cerr;
  run.dry_run = options.dry_run;
  run.gate.topology = &topology;
  run.gate.cluster = &cluster;
  run.gate.state_dir = options.state_dir;
  // EnsureAndBuild already made the state dir complete; the pki phase reports
  // that work.
  run.local_phase = [&](const Phase&) -> Result<bool> {
    auto r = EnsurePki(cluster, options.state_dir);
    if (!r) return std::unexpected(r.error());
    auto changes = [](const PkiReport& report) {
      return report.Count(PkiAction::kIssued) +
             report.Count(PkiAction::kReissued);
    };
    return changes(*r) + changes(prepared->pki) > 0;
  };
  run.interrupted = &g_interrupted;

  TransportFactory factory;
  std::shared_ptr<CallLog> log;
  if (options.dry_run) {
    // The same plan, executed against hosts that record instead of act.
    if (options.output != "json") {
      auto text = FormatPlanText(*plan, options.only);
      if (!text) return Report(text.error());
      std::cout << *text << "\n";
    }
    log = std::make_shared<CallLog>();
    factory =
        [log](const std::string& host) -> Result<std::unique_ptr<Transport>> {
      return std::unique_ptr<Transport>(
          std::make_unique<RecordingTransport>(host, nullptr, log));
    };
  } else {
    factory = SshFactory(cluster, options.state_dir);
  }
  // The survey (runner.cc) pays off when hosts are already as the plan wants
  // them, and is wasted work on a first run or after a failure, where the
  // first phase changes things: ask for it only after a complete `up`.
  const std::filesystem::path last_up = options.state_dir / kLastUpFile;
  std::error_code ec;
  run.survey = std::filesystem::exists(last_up, ec);
  g_interrupted = false;
  std::signal(SIGINT, OnSigint);
  Runner runner(factory, *reporter, run);
  RunSummary summary = runner.Run(*plan);
  std::signal(SIGINT, SIG_DFL);
  if (!options.dry_run) {
    if (summary.ok && options.only.empty() && options.from.empty()) {
      nlohmann::json j{{"cluster", cluster.name()},
                       {"duration_ms", summary.duration.count()},
                       {"steps_changed", summary.steps_changed}};
      (void)WriteFileAtomic(last_up, j.dump(1) + "\n",
                            std::filesystem::perms(0644));
    } else if (!summary.ok) {
      std::filesystem::remove(last_up, ec);
    }
  }
  if (summary.ok) return 0;
  return summary.error ? ExitCodeFor(summary.error->kind)
                       : ExitCodeFor(ErrorKind::kStep);
}

int CheckCommand(const Cluster& cluster, const CheckOptions& options) {
  auto prepared = EnsureAndBuild(cluster, options.state_dir);
  if (!prepared) return Report(prepared.error());
  const Plan* plan = &prepared->plan;
  Topology topology = TopologyOf(cluster);
  TransportPool pool(SshFactory(cluster));
  GateContext ctx;
  ctx.topology = &topology;
  ctx.cluster = &cluster;
  ctx.state_dir = options.state_dir;
  ctx.transports = &pool;
  ctx.plan = plan;
  ctx.parallel = options.parallel;
  ctx.expected_arch = ArtifactArch(*plan);
  ctx.interrupted = &g_interrupted;
  g_interrupted = false;
  std::signal(SIGINT, OnSigint);

  std::vector<GateReport> reports;
  for (const Phase& phase : plan->phases) {
    if (phase.gate.kind == GateKind::kNone) continue;
    Phase checked = phase;
    // On a live cluster a unit gate need not watch for long; the timeout caps
    // every gate.
    ctx.settle = std::chrono::milliseconds(500);
    reports.push_back(
        RunGate(checked, ctx, std::min(options.timeout, phase.gate.timeout)));
    if (g_interrupted) break;
  }
  std::signal(SIGINT, SIG_DFL);

  bool ok = true;
  if (options.output == "json") {
    for (const GateReport& r : reports) {
      for (const GateVerdict& v : r.verdicts) {
        nlohmann::json j{{"event", "check"},
                         {"phase", r.phase},
                         {"gate", GateKindName(r.kind)},
                         {"host", v.host},
                         {"ok", v.ok},
                         {"detail", v.detail}};
        if (!v.diagnostics.empty()) j["diagnostics"] = v.diagnostics;
        std::cout << j.dump() << "\n";
      }
      ok = ok && r.ok;
    }
  } else {
    size_t w_gate = 5, w_host = 4;
    for (const GateReport& r : reports) {
      w_gate =
          std::max(w_gate, r.phase.size() + GateKindName(r.kind).size() + 3);
      for (const GateVerdict& v : r.verdicts)
        w_host = std::max(w_host, v.host.size());
    }
    std::cout << std::left << std::setw(static_cast<int>(w_gate) + 2) << "GATE"
              << std::setw(static_cast<int>(w_host) + 2) << "HOST"
              << std::setw(6) << "OK"
              << "DETAIL\n";
    for (const GateReport& r : reports) {
      std::string gate =
          r.phase + " (" + std::string(GateKindName(r.kind)) + ")";
      for (const GateVerdict& v : r.verdicts) {
        std::cout << std::left << std::setw(static_cast<int>(w_gate) + 2)
                  << gate << std::setw(static_cast<int>(w_host) + 2)
                  << (v.host.empty() ? "-" : v.host) << std::setw(6)
                  << (v.ok ? "ok" : "FAIL") << v.detail << "\n";
      }
      ok = ok && r.ok;
    }
    for (const GateReport& r : reports) {
      if (!r.ok) std::cout << "\n" << FormatGateFailure(r);
    }
  }
  if (g_interrupted) return ExitCodeFor(ErrorKind::kInterrupted);
  return ok ? 0 : ExitCodeFor(ErrorKind::kGate);
}

int ResetCommand(const Cluster& cluster, const ResetOptions& options) {
  // The plan is built without touching the state dir's PKI: reset needs only
  // destinations, units and commands, and must work even when the state dir is
  // gone.
  PlanOptions plan_options;
  plan_options.state_dir = options.state_dir;
  auto plan = BuildPlan(cluster, plan_options);
  if (!plan) return Report(plan.error());
  std::vector<ResetTarget> targets = BuildReset(*plan);
  if (!options.yes) {
    if (isatty(STDIN_FILENO) == 0) {
      return Report(Error{ErrorKind::kUsage,
                          "reset deletes the cluster and needs confirmation",
                          {},
                          "pass --yes (stdin is not a terminal to ask on)"});
    }
    std::cerr << "This stops the cluster's units and removes everything "
                 "hardway installed on:\n";
    for (const ResetTarget& t : targets) {
      std::cerr << "  " << t.host << ": " << t.units.size() << " unit(s), "
                << t.files.size() << " file(s), " << t.dirs.size()
                << " data folder(s)\n";
    }
    std::cerr << "Type the cluster name (" << cluster.name()
              << ") to continue: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != cluster.name()) {
      std::cerr << "hardway: not confirmed; nothing changed\n";
      return ExitCodeFor(ErrorKind::kInterrupted);
    }
  }
  // Reset asks which files exist before removing them: the memo spares it
  // hashing them. Not when the state dir is gone: reset must not create it.
  std::error_code ec;
  TransportPool pool(
      SshFactory(cluster, std::filesystem::is_directory(options.state_dir, ec)
                              ? options.state_dir
                              : std::filesystem::path()));
  std::vector<ResetResult> results = RunReset(targets, pool, options.parallel);
  // The next `up` starts from nothing: no survey (see UpCommand).
  std::filesystem::remove(options.state_dir / kLastUpFile, ec);
  std::optional<Error> first;
  for (const ResetResult& r : results) {
    std::cout << r.host << ":";
    if (r.stopped.empty() && r.removed.empty() && !r.error)
      std::cout << " nothing to remove";
    std::cout << "\n";
    for (const std::string& u : r.stopped)
      std::cout << "  stopped and disabled " << u << "\n";
    for (const std::string& p : r.removed)
      std::cout << "  removed " << p << "\n";
    if (r.error) {
      std::cout << "  FAILED: " << r.error->ToString() << "\n";
      if (!first) first = r.error;
    }
  }
  return first ? ExitCodeFor(first->kind) : 0;
}

}  // namespace hardway
