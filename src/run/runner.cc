// Pending restarts. A unit must restart when a file it watches changed, but
// "changed" is only visible while uploading: if a run uploads a new
// etcd.service and then fails (or is interrupted) before the etcd phase, the
// next run finds the sha256 already matching and would never restart etcd. So
// before uploading a changed file the runner touches a marker
// /var/lib/hardway/pending-restart/<unit> on the host for every unit watching
// it (one Exec per host and phase), and the systemd step restarts a unit whose
// marker exists, then removes the marker in the same command. The marker is
// read in the same Sha256Of call as the upload destinations, so it costs no
// extra round trip. Markers are written before the upload, so an interruption
// between the two can only cause one extra restart, never a missed one.
// (Comparing the unit's start time with file mtimes was the alternative; it
// breaks with clock skew and with files whose mtime the upload preserves, and
// needs a stat per file.)
//
// The survey. Before a phase changes anything on a host it asks what is there
// (a Look: its files' sha256, its checks, its units' state and markers). A
// no-change re-run asks that of every host in every phase, and each ask costs
// a round trip, a shell and a process per command on the host: ~0.2-0.4 s per
// phase on a busy host. So the host's first phase asks for every later phase
// too, in its one call, as long as no step has changed anything on any host in
// this run. A later phase takes those answers only if that still holds when
// it starts; once anything changed, each phase asks for itself again, exactly
// as without the survey. The answers are then as old as the run's first
// phase (a second or two): unit states seen then are checked again by the
// gates' health checks, and systemd's own timestamps still decide whether a
// unit has been up long enough.
#include "run/runner.h"

#include <algorithm>
#include <fstream>
#include <istream>
#include <ostream>
#include <set>
#include <thread>

#include "run/rbac.h"

namespace hardway {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                               t);
}

std::string MarkerPath(const std::string& unit) {
  return std::string(kPendingRestartDir) + "/" + unit;
}

std::string LastLines(const std::string& text, size_t n) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (nl > pos) lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size();
       ++i) {
    out += (out.empty() ? "" : "\n  ") + lines[i];
  }
  return out;
}

bool IsFileStep(const Step& s) {
  return s.kind == StepKind::kUpload || s.kind == StepKind::kRender;
}

std::vector<std::string> HostsOf(const Phase& phase) {
  std::vector<std::string> hosts = phase.hosts;
  for (const Step& s : phase.steps) {
    if (!s.host.empty() && std::ranges::find(hosts, s.host) == hosts.end()) {
      hosts.push_back(s.host);
    }
  }
  return hosts;
}

// The upload of a file step: its rendered bytes or its local source.
UploadRequest UploadRequestOf(const Step& step) {
  UploadRequest req;
  if (step.kind == StepKind::kRender)
    req.source = step.content;
  else
    req.source = std::filesystem::path(step.source);
  req.dest = step.dest;
  req.mode = step.mode;
  req.owner = step.owner;
  req.sha256 = step.sha256;
  req.size = step.size;
  return req;
}

// What a run step's command and, for a checked step, its check run after it
// said: the step's outcome in `o`, or its error. `missing`: what the check said
// before the command ran.
Status JudgeRun(const std::string& host, const Step& step,
                const ExecResult& command, const ExecResult* check,
                const std::string& missing, StepOutcome& o) {
  // What a failing command or check printed: its last lines, stderr first.
  auto said = [](const ExecResult& r) {
    const std::string& text = r.err.empty() ? r.out : r.err;
    return text.empty() ? std::string() : ":\n  " + LastLines(text, 10);
  };
  // A checked step's command is a small script; its description says more
  // than its text (which `hardway plan` shows).
  const std::string what = step.check.empty() ? "`" + step.command + "`"
                                              : "\"" + step.description + "\"";
  if (command.exit_code != 0) {
    return Fail(ErrorKind::kStep,
                what + " exited with " + std::to_string(command.exit_code) +
                    said(command),
                host);
  }
  if (step.check.empty()) {
    o.note = "ran";
    return {};
  }
  if (check == nullptr || check->exit_code != 0) {
    return Fail(ErrorKind::kStep,
                what + " ran, but its check still fails" +
                    (check ? said(*check) : std::string()),
                host,
                "the host may not allow it (a container cannot load kernel "
                "modules or turn swap off): do it on the host by hand, then "
                "run `hardway up` again");
  }
  o.changed = true;
  o.note = missing.empty() ? "done" : "done (was: " + missing + ")";
  return {};
}

// A run step. Without a check a command cannot say whether it changed
// anything: it ran, and is idempotent. With one, the check decides: passing,
// the step is skipped; failing, the command runs (a change) and the check must
// pass afterwards, so a command that "succeeds" without effect is caught here,
// with the check's own words for what is still missing.
// `checked_before`: the step's check already ran moments ago with nothing
// changed since (its result stands in for running it again).
Status RunCommand(Transport& t, const Step& step, StepOutcome& o,
                  const StepCheckResult* checked_before = nullptr) {
  const std::string& host = t.host();
  std::string missing;  // what the check said before the command ran
  if (!step.check.empty()) {
    StepCheckResult before;
    if (checked_before) {
      before = *checked_before;
    } else {
      auto r = t.Exec(step.check);
      if (!r) return std::unexpected(r.error());
      before = {r->exit_code, r->err.empty() ? r->out : r->err};
    }
    if (before.exit_code == 0) {
      o.skipped = true;
      o.note = "already in place";
      return {};
    }
    missing = LastLines(before.said, 1);
  }
  // The command and, for a checked step, its check again in one round trip
  // (the check's answer is read only when the command succeeded).
  std::vector<ExecResult> answers;
  if (step.check.empty()) {
    auto r = t.Exec(step.command);
    if (!r) return std::unexpected(r.error());
    answers.push_back(std::move(*r));
  } else {
    auto r = t.ExecMany({step.command, step.check});
    if (!r) return std::unexpected(r.error());
    answers = std::move(*r);
  }
  return JudgeRun(host, step, answers.front(),
                  step.check.empty() ? nullptr : &answers.back(), missing, o);
}

// Consecutive run steps that must all run (each one's check said "missing",
// or it has none): every command and check in one round trip that stops at the
// first failure, since each step's command counts on the ones before it. Each
// step's outcome (or error) in `out`; the steps after a failed one did not run
// and get none.
void RunCommands(
    Transport& t, const std::vector<const Step*>& group,
    const std::vector<std::string>& missing,
    std::map<const Step*, std::pair<StepOutcome, std::optional<Error>>>& out) {
  std::vector<std::string> commands;
  for (const Step* s : group) {
    commands.push_back(s->command);
    if (!s->check.empty()) commands.push_back(s->check);
  }
  auto answers = t.ExecUntilFailure(commands);
  if (!answers) {
    out[group.front()] = {StepOutcome{}, answers.error()};
    return;
  }
  size_t next = 0;
  for (size_t k = 0; k < group.size() && next < answers->size(); ++k) {
    const Step& step = *group[k];
    const ExecResult& command = (*answers)[next++];
    const ExecResult* check = nullptr;
    if (!step.check.empty() && next < answers->size())
      check = &(*answers)[next++];
    StepOutcome o;
    auto judged = JudgeRun(t.host(), step, command, check, missing[k], o);
    out[&step] = {o,
                  judged ? std::nullopt : std::optional<Error>(judged.error())};
    if (!judged) return;
  }
}

// What a phase asks a host before it changes anything there. One call
// (Transport::Inspect) carries it all: the sha256, mode and owner of the
// phase's files together with its units' pending-restart markers (a phase
// without files asks `test -e` for the markers instead, so it lists nothing),
// every run step's check, and each unit's state.
// And the commands of the phase's gate that can be asked ahead (GateCommands:
// preflight's facts, `ip route`), for the gate's first check of the host.
struct Look {
  std::vector<std::string> paths;
  std::vector<const Step*> checked;
  std::vector<std::string> marker_tests;  // units
  std::vector<std::string> units;
  std::vector<std::string> gate_commands;
  bool empty() const {
    return paths.empty() && checked.empty() && marker_tests.empty() &&
           units.empty() && gate_commands.empty();
  }
};

struct LookMode {
  bool dry_run = false;
  bool gate_commands = false;  // the gates will run
};

Look LookOf(const Phase& phase, const std::string& host, LookMode mode) {
  const bool dry_run = mode.dry_run;
  Look look;
  if (mode.gate_commands &&
      std::ranges::find(phase.hosts, host) != phase.hosts.end())
    look.gate_commands = GateCommands(phase);
  std::vector<std::string> units;
  for (const Step& s : phase.steps) {
    if (s.host != host) continue;
    if (IsFileStep(s)) look.paths.push_back(s.dest);
    // A dry run only lists files: its checks run as steps, on the recording.
    if (s.kind == StepKind::kRun && !s.check.empty() && !dry_run)
      look.checked.push_back(&s);
    if (s.kind == StepKind::kSystemd &&
        std::ranges::find(units, s.unit) == units.end())
      units.push_back(s.unit);
  }
  const bool marker_tests = look.paths.empty() && !dry_run;
  for (const std::string& unit : units) {
    if (marker_tests)
      look.marker_tests.push_back(unit);
    else
      look.paths.push_back(MarkerPath(unit));
  }
  if (!dry_run) look.units = std::move(units);
  return look;
}

}  // namespace

struct HostFindings {
  // Path -> sha256 of every listed file that exists; a marker found by
  // `test -e` maps to "".
  std::map<std::string, std::string> remote;
  std::map<const Step*, StepCheckResult> checks;
  // Each unit's state, alone in its snapshot; absent when it could not be
  // read (the systemd step then asks again).
  std::map<std::string, UnitSnapshot> units;
  GateLook gate;  // the answers to Look::gate_commands
};

namespace {

// Asks every look of `looks` in one call: the paths of all in one listing, the
// checks and marker tests one after another, and one unit-state command for
// the units of all. One HostFindings per look, in order.
Result<std::vector<HostFindings>> Ask(Transport& t,
                                      const std::vector<Look>& looks) {
  std::vector<std::string> paths;
  std::set<std::string> listed;
  std::vector<std::string> commands;
  std::vector<std::string> units;
  for (const Look& look : looks) {
    for (const std::string& p : look.paths)
      if (listed.insert(p).second) paths.push_back(p);
    for (const Step* s : look.checked) commands.push_back(s->check);
    for (const std::string& u : look.marker_tests)
      commands.push_back("test -e " + MarkerPath(u));
    for (const std::string& u : look.units)
      if (std::ranges::find(units, u) == units.end()) units.push_back(u);
    for (const std::string& c : look.gate_commands) commands.push_back(c);
  }
  if (!units.empty()) commands.push_back(UnitStateCommand(units));
  std::vector<HostFindings> out(looks.size());
  if (paths.empty() && commands.empty()) return out;
  auto asked_from = std::chrono::system_clock::now();
  auto r = t.Inspect(paths, commands);
  auto asked_to = std::chrono::system_clock::now();
  if (!r) return std::unexpected(r.error());
  if (r->results.size() != commands.size()) {
    return Fail(ErrorKind::kInternal,
                "asked " + std::to_string(commands.size()) + " commands, got " +
                    std::to_string(r->results.size()) + " answers",
                t.host());
  }
  std::map<std::string, UnitSnapshot> states;
  if (!units.empty()) {
    UnitSnapshot all = ParseUnitSnapshot(r->results.back().out);
    if (all.units.size() == units.size()) {
      for (size_t i = 0; i < units.size(); ++i)
        states[units[i]] = UnitSnapshot{all.host_now_us, {all.units[i]}};
    }
  }
  size_t k = 0;
  for (size_t i = 0; i < looks.size(); ++i) {
    const Look& look = looks[i];
    HostFindings& found = out[i];
    for (const std::string& p : look.paths) {
      if (auto it = r->sha256.find(p); it != r->sha256.end())
        found.remote[p] = it->second;
    }
    for (const Step* s : look.checked)
      found.checks[s] = CheckResultOf(r->results[k++]);
    for (const std::string& u : look.marker_tests) {
      if (r->results[k++].exit_code == 0) found.remote[MarkerPath(u)] = "";
    }
    for (const std::string& u : look.units) {
      if (auto it = states.find(u); it != states.end())
        found.units[u] = it->second;
    }
    for (const std::string& c : look.gate_commands)
      found.gate.results[c] = r->results[k++];
    found.gate.asked_from = asked_from;
    found.gate.asked_to = asked_to;
  }
  return out;
}

}  // namespace

Result<Transport*> TransportPool::Get(const std::string& host) {
  Slot* slot;
  {
    std::lock_guard lock(mu_);
    auto& s = slots_[host];
    if (!s) s = std::make_unique<Slot>();
    slot = s.get();
  }
  // Per-host lock: hosts connect in parallel, a host connects once.
  std::lock_guard lock(slot->mu);
  // A host that could not be reached is not tried again in this run: the
  // factory (ConnectHost) already retried until its timeout.
  if (slot->error) return std::unexpected(*slot->error);
  if (!slot->transport) {
    auto t = factory_(host);
    if (!t) {
      slot->error = t.error();
      return std::unexpected(t.error());
    }
    slot->transport = std::move(*t);
  }
  return slot->transport.get();
}

Result<std::vector<const Phase*>> SelectPhases(const Plan& plan,
                                               const std::string& only,
                                               const std::string& from) {
  auto unknown = [&](const std::string& name) {
    std::string names;
    for (const Phase& p : plan.phases)
      names += (names.empty() ? "" : ", ") + p.name;
    return Fail(ErrorKind::kUsage, "unknown phase \"" + name + "\"", {},
                "phases of this plan: " + names);
  };
  if (!only.empty() && !from.empty()) {
    return Fail(ErrorKind::kUsage, "--only and --from cannot be combined");
  }
  std::vector<const Phase*> out;
  if (!only.empty()) {
    const Phase* p = plan.phase(only);
    if (!p) return unknown(only);
    out.push_back(p);
    return out;
  }
  bool on = from.empty();
  for (const Phase& p : plan.phases) {
    if (p.name == from) on = true;
    if (on) out.push_back(&p);
  }
  if (!on) return unknown(from);
  return out;
}

std::map<std::string, std::vector<std::string>> WatchersOf(
    const Plan& plan, const std::string& host) {
  std::map<std::string, std::vector<std::string>> out;  // dest -> units
  auto add = [&](const std::string& dest, const std::string& unit) {
    auto& units = out[dest];
    if (std::ranges::find(units, unit) == units.end()) units.push_back(unit);
  };
  for (const Phase& phase : plan.phases) {
    for (const Step& s : phase.steps) {
      if (s.host != host || s.kind != StepKind::kSystemd) continue;
      for (const std::string& w : s.watch) add(w, s.unit);
      // A changed unit file always needs a restart, watched or not.
      for (const char* dir : {"/etc/systemd/system/", "/lib/systemd/system/"}) {
        add(std::string(dir) + s.unit + ".service", s.unit);
      }
    }
  }
  return out;
}

std::string ArtifactArch(const Plan& plan) {
  for (const Phase& phase : plan.phases) {
    for (const Step& s : phase.steps) {
      if (s.kind != StepKind::kUpload || s.missing || (s.mode & 0111) == 0)
        continue;
      std::ifstream in(s.source, std::ios::binary);
      unsigned char h[20] = {};
      if (!in.read(reinterpret_cast<char*>(h), sizeof h)) continue;
      if (h[0] != 0x7f || h[1] != 'E' || h[2] != 'L' || h[3] != 'F') continue;
      unsigned machine =
          h[5] == 1 ? (h[18] | (h[19] << 8)) : ((h[18] << 8) | h[19]);
      switch (machine) {
        case 62:
          return "x86_64";
        case 183:
          return "aarch64";
        case 40:
          return "armv7l";
        case 243:
          return "riscv64";
        default:
          continue;
      }
    }
  }
  return {};
}

struct Runner::PhaseRun {
  std::mutex mu;
  PhaseOutcome outcome;
  RunSummary* summary = nullptr;
  std::optional<Error> first_error;
  // Hosts where the phase found, at its start, everything its gate checks in
  // place (every file listed with sha256, mode and owner; every run step's
  // check passing), and hosts where a step changed something.
  std::set<std::string> hosts_verified;
  std::set<std::string> hosts_changed;
  // Each unit's state as the phase's look saw it, on hosts where the phase
  // then changed nothing: the unit gate's first look.
  std::map<std::string, std::map<std::string, UnitSnapshot>> unit_states;
  // No step had changed anything on any host when this phase started: what
  // the survey found for it still stands.
  bool survey_fresh = false;
  std::atomic<bool>* host_changed = nullptr;
  // Per host, the gate's own commands as the look asked them.
  std::map<std::string, GateLook> gate_looks;

  void Record(const Step& step, const StepOutcome& o,
              const std::optional<Error>& err) {
    std::lock_guard lock(mu);
    ++outcome.steps;
    ++summary->steps_run;
    outcome.bytes += o.bytes;
    summary->bytes_uploaded += o.bytes;
    if (!o.ok) {
      ++outcome.failed;
      ++summary->steps_failed;
      outcome.ok = false;
      std::string host = step.host.empty() ? "local" : step.host;
      if (std::ranges::find(outcome.failed_hosts, host) ==
          outcome.failed_hosts.end()) {
        outcome.failed_hosts.push_back(host);
      }
      if (!first_error && err) first_error = err;
      return;
    }
    if (o.changed) {
      hosts_changed.insert(step.host);
      if (!step.host.empty()) *host_changed = true;
      ++outcome.changed;
      ++summary->steps_changed;
    } else {
      ++summary->steps_unchanged;
    }
    if (o.started) ++summary->units_started;
    if (o.restarted) ++summary->units_restarted;
  }
};

Runner::Runner(TransportFactory factory, Reporter& reporter, RunOptions options)
    : pool_(std::move(factory)),
      reporter_(reporter),
      options_(std::move(options)) {}

RunSummary Runner::Run(const Plan& plan) {
  auto start = Clock::now();
  RunSummary summary;
  auto finish = [&](RunSummary& s) -> RunSummary {
    s.duration = Since(start);
    reporter_.Summary(s);
    return s;
  };
  if (options_.interactive && (!options_.input || !options_.prompt)) {
    summary.ok = false;
    summary.error = Error{ErrorKind::kUsage,
                          "--step needs a terminal to ask on",
                          {},
                          "run without --step, or from an interactive shell"};
    return finish(summary);
  }
  auto phases = SelectPhases(plan, options_.only, options_.from);
  if (!phases) {
    summary.ok = false;
    summary.error = phases.error();
    return finish(summary);
  }
  total_ = 0;
  for (const Phase* p : *phases) {
    total_ += p->steps.size();
    if (p->local) ++total_;  // EnsurePki
    if (p->gate.kind == GateKind::kRbacPresent && !options_.dry_run)
      ++total_;  // API apply
  }
  summary.steps_total = total_;
  phases_ = *phases;
  survey_.clear();
  surveyed_.clear();
  host_changed_ = false;
  if (options_.gate.expected_arch.empty())
    options_.gate.expected_arch = ArtifactArch(plan);

  for (const Phase* phase : *phases) {
    if (Interrupted()) {
      summary.ok = false;
      summary.interrupted = true;
      summary.error = Error{ErrorKind::kInterrupted,
                            "interrupted before phase " + phase->name,
                            {},
                            "run `hardway up` again to continue"};
      break;
    }
    if (options_.interactive) {
      std::ostream& out = *options_.prompt;
      out << "\nphase " << phase->name << ": " << phase->description << "\n";
      for (const Step& s : phase->steps) {
        out << "  " << (s.host.empty() ? "local" : s.host) << ": "
            << s.description << "\n";
      }
      if (phase->local) out << "  local: ensure the PKI in the state dir\n";
      if (phase->gate.kind != GateKind::kNone) {
        out << "  gate: " << phase->gate.description << "\n";
      }
      out << "[Enter] run, s skip, q quit: " << std::flush;
      std::string answer;
      if (!std::getline(*options_.input, answer)) answer = "q";
      if (answer == "q" || answer == "Q") {
        summary.ok = false;
        summary.interrupted = true;
        summary.error = Error{ErrorKind::kInterrupted,
                              "stopped by the user before phase " + phase->name,
                              {},
                              {}};
        break;
      }
      if (answer == "s" || answer == "S") {
        PhaseOutcome skipped;
        skipped.skipped = true;
        reporter_.PhaseDone(*phase, skipped);
        continue;
      }
    }
    PhaseOutcome outcome = RunPhase(plan, *phase, summary);
    ++summary.phases_run;
    if (!outcome.ok) {
      summary.ok = false;
      summary.failed_phase = phase->name;
      break;
    }
    if (Interrupted()) {
      summary.ok = false;
      summary.interrupted = true;
      summary.error =
          Error{ErrorKind::kInterrupted,
                "interrupted after phase " + phase->name,
                {},
                "run `hardway up` again to continue where it stopped"};
      break;
    }
  }
  return finish(summary);
}

PhaseOutcome Runner::RunPhase(const Plan& plan, const Phase& phase,
                              RunSummary& summary) {
  auto start = Clock::now();
  reporter_.PhaseStarted(phase);
  PhaseRun run;
  run.summary = &summary;
  run.host_changed = &host_changed_;
  run.survey_fresh = !host_changed_.load();

  if (phase.local) {
    Step step;
    step.id = phase.name + "/local";
    step.phase = phase.name;
    step.kind = StepKind::kRun;
    step.description = "ensure certificates, kubeconfigs and encryption config";
    size_t index = ++started_;
    reporter_.StepStarted(step, index, total_);
    auto t0 = Clock::now();
    StepOutcome o;
    std::optional<Error> err;
    if (options_.dry_run) {
      o.skipped = true;
      o.note = "dry run: the state dir is not written";
    } else if (!options_.local_phase) {
      err = Error{ErrorKind::kInternal,
                  "no handler for local phase " + phase.name,
                  {},
                  {}};
    } else if (auto changed = options_.local_phase(phase); !changed) {
      err = changed.error();
    } else {
      o.changed = *changed;
    }
    if (err) {
      o.ok = false;
      o.note = err->ToString();
    }
    o.duration = Since(t0);
    run.Record(step, o, err);
    reporter_.StepFinished(step, o, index, total_);
  }

  // Hosts in parallel, each host's steps in order on its own thread and
  // transport.
  std::vector<std::string> hosts = HostsOf(phase);
  std::vector<std::string> busy;
  for (const std::string& h : hosts) {
    bool has_steps = std::ranges::any_of(
        phase.steps, [&](const Step& s) { return s.host == h; });
    if (has_steps) busy.push_back(h);
  }
  // Hosts the phase has no step on but whose gate has commands to ask ahead
  // (preflight: every host) are looked at all the same: that look is where
  // the survey starts on a re-run. A host that cannot be reached, or a look
  // that fails, is left to the gate, which says why.
  std::vector<std::string> lookers;
  if (options_.gates && !options_.dry_run && !GateCommands(phase).empty()) {
    for (const std::string& h : phase.hosts)
      if (std::ranges::find(busy, h) == busy.end()) lookers.push_back(h);
  }
  std::atomic<size_t> next{0};
  const size_t work = busy.size() + lookers.size();
  size_t threads = std::min<size_t>(
      work, static_cast<size_t>(std::max(1, options_.parallel)));
  std::vector<std::thread> pool;
  for (size_t i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < work;) {
        if (k < busy.size()) {
          RunHost(plan, phase, busy[k], run);
          continue;
        }
        const std::string& host = lookers[k - busy.size()];
        if (auto t = pool_.Get(host)) (void)LookAt(phase, host, **t, run);
      }
    });
  }
  for (std::thread& t : pool) t.join();

  if (run.outcome.ok && phase.gate.kind == GateKind::kRbacPresent &&
      !options_.dry_run && !Interrupted()) {
    if (auto st = ApplyRbac(plan, phase, run); !st) run.outcome.ok = false;
  }

  if (!run.outcome.ok) {
    summary.error = run.first_error.value_or(
        Error{ErrorKind::kStep, "phase " + phase.name + " failed", {}, {}});
  } else if (!Interrupted() && options_.gates && !options_.dry_run &&
             phase.gate.kind != GateKind::kNone) {
    GateContext ctx = options_.gate;
    ctx.transports = &pool_;
    ctx.plan = &plan;
    ctx.interrupted = options_.interrupted;
    ctx.parallel = options_.parallel;
    for (const std::string& h : run.hosts_verified) {
      if (!run.hosts_changed.contains(h)) ctx.verified_by_run.insert(h);
    }
    for (auto& [h, states] : run.unit_states) {
      if (!run.hosts_changed.contains(h))
        ctx.unit_states_by_run[h] = std::move(states);
    }
    for (auto& [h, look] : run.gate_looks) {
      if (!run.hosts_changed.contains(h))
        ctx.gate_looks_by_run[h] = std::move(look);
    }
    reporter_.GateWaiting(phase);
    GateReport report = RunGate(phase, ctx);
    if (report.ok) {
      reporter_.GatePassed(phase, report);
    } else {
      reporter_.GateFailed(phase, report);
      run.outcome.ok = false;
      std::string detail;
      for (const GateVerdict& v : report.verdicts) {
        if (v.ok) continue;
        detail += (detail.empty() ? "" : "; ") +
                  (v.host.empty() ? "" : v.host + ": ") + v.detail;
      }
      if (report.interrupted) {
        summary.interrupted = true;
        summary.error =
            Error{ErrorKind::kInterrupted,
                  "interrupted while waiting for gate " + phase.name,
                  {},
                  "run `hardway up` again to continue"};
      } else if (std::any_of(
                     report.verdicts.begin(), report.verdicts.end(),
                     [](const GateVerdict& v) { return v.unreachable; })) {
        summary.error =
            Error{ErrorKind::kConnection, "cannot reach every host: " + detail,
                  phase.name,
                  std::string(phase.gate.kind == GateKind::kPreflight
                                  ? "nothing was changed on any host; "
                                  : "") +
                      "fix the connection and run `hardway up` again"};
      } else {
        summary.error =
            Error{ErrorKind::kGate,
                  "gate " + phase.name + " (" + report.description +
                      ") did not pass within " +
                      std::to_string(phase.gate.timeout.count() / 1000) +
                      "s: " + detail,
                  phase.name, "see the status and journal above"};
      }
    }
    run.outcome.gate = std::move(report);
  }
  run.outcome.duration = Since(start);
  reporter_.PhaseDone(phase, run.outcome);
  return run.outcome;
}

void Runner::RunHost(const Plan& plan, const Phase& phase,
                     const std::string& host, PhaseRun& run) {
  std::vector<const Step*> steps;
  for (const Step& s : phase.steps) {
    if (s.host == host) steps.push_back(&s);
  }
  auto fail_step = [&](const Step& step, size_t index, const Error& e) {
    StepOutcome o;
    o.ok = false;
    o.note = e.ToString();
    run.Record(step, o, e);
    reporter_.StepFinished(step, o, index, total_);
  };
  auto begin = [&](const Step& step) {
    size_t index = ++started_;
    reporter_.StepStarted(step, index, total_);
    return index;
  };

  auto transport = pool_.Get(host);
  if (!transport) {
    fail_step(*steps.front(), begin(*steps.front()), transport.error());
    return;
  }
  Transport& t = **transport;

  // What this phase needs to know of the host before changing anything: from
  // the survey when it is still fresh, else asked now in one call (which, at
  // the host's first phase of a run that has changed nothing yet, also asks
  // for every later phase: the survey).
  auto looked = LookAt(phase, host, t, run);
  if (!looked) {
    fail_step(*steps.front(), begin(*steps.front()), looked.error());
    return;
  }
  std::shared_ptr<HostFindings> seen = std::move(*looked);
  std::map<std::string, std::string>& remote = seen->remote;
  std::set<std::string> phase_units;
  for (const Step* s : steps) {
    if (s->kind == StepKind::kSystemd) phase_units.insert(s->unit);
  }
  size_t in_place = 0;
  for (const auto& [step, r] : seen->checks) in_place += r.exit_code == 0;
  if (!options_.dry_run && in_place == seen->checks.size()) {
    std::lock_guard lock(run.mu);
    run.hosts_verified.insert(host);
  }
  std::set<std::string> pending;
  for (const std::string& unit : phase_units) {
    if (remote.contains(MarkerPath(unit))) pending.insert(unit);
  }

  // Mark the units whose watched files are about to change, before changing
  // them.
  auto watchers = WatchersOf(plan, host);
  std::set<std::string> to_mark;
  for (const Step* s : steps) {
    if (!IsFileStep(*s)) continue;
    auto it = remote.find(s->dest);
    bool changes =
        it == remote.end() || s->sha256.empty() || it->second != s->sha256;
    if (!changes) continue;
    auto w = watchers.find(s->dest);
    if (w == watchers.end()) continue;
    for (const std::string& unit : w->second) {
      if (!remote.contains(MarkerPath(unit))) to_mark.insert(unit);
    }
  }
  if (!to_mark.empty()) {
    std::string cmd =
        std::string("mkdir -p ") + kPendingRestartDir + " && touch";
    for (const std::string& unit : to_mark) cmd += " " + MarkerPath(unit);
    auto r = t.Exec(cmd);
    if (!r || r->exit_code != 0) {
      Error e = r ? Error{ErrorKind::kStep,
                          "cannot record pending restarts: " + r->err,
                          host,
                          {}}
                  : r.error();
      fail_step(*steps.front(), begin(*steps.front()), e);
      return;
    }
    for (const std::string& unit : to_mark) {
      if (phase_units.contains(unit)) pending.insert(unit);
    }
    host_changed_ = true;
  }

  // The files whose bytes must travel go in one round trip per run of
  // consecutive file steps (UploadMany: one tar stream): a channel, a shell and
  // a few commands per file cost ~0.3 s per file on a busy host, more than a
  // certificate's bytes or even a binary's. Each file still reports its own
  // progress.
  std::map<const Step*, Result<UploadResult>> batched;
  auto send_batch_from = [&](size_t first) {
    std::vector<const Step*> group;
    std::vector<UploadRequest> requests;
    std::vector<std::string> known;
    for (size_t j = first; j < steps.size() && IsFileStep(*steps[j]); ++j) {
      const Step& s = *steps[j];
      auto it = remote.find(s.dest);
      bool changes =
          it == remote.end() || s.sha256.empty() || it->second != s.sha256;
      if (!changes || s.missing) continue;
      group.push_back(&s);
      requests.push_back(UploadRequestOf(s));
      known.push_back(it == remote.end() ? std::string() : it->second);
    }
    if (group.empty()) return;
    auto results = t.UploadMany(
        requests, known, [&](size_t k, uint64_t sent, uint64_t total) {
          reporter_.StepProgress(*group[k], sent, total);
        });
    for (size_t k = 0; k < group.size() && k < results.size(); ++k)
      batched.emplace(group[k], std::move(results[k]));
  };

  bool changed_before = false;  // a step of this host changed something
  // ... other than starting or restarting a unit. Those change no unit file
  // and no other unit's state that a later systemd step acts on (a unit that
  // another one pulled in runs with the files already in place), so the
  // phase's look at the units stays true for the next systemd step, except
  // that a daemon-reload has since loaded every unit file.
  bool changed_files = false;
  bool reloaded = false;  // a systemd step of this host ran daemon-reload
  // The checks asked again after a change: of every later run step whose look
  // said "in place", in one round trip, true until the next change.
  std::map<const Step*, StepCheckResult> reasked;
  int changes = 0, reasked_at = -1;
  std::map<const Step*, StepOutcome> unit_outcomes;  // see kSystemd below
  // Run steps that ran together with an earlier one (see kRun below).
  std::map<const Step*, std::pair<StepOutcome, std::optional<Error>>>
      ran_together;
  auto take_ran_together = [&](const Step& step, StepOutcome& o,
                               std::optional<Error>& err) {
    auto done = ran_together.find(&step);
    if (done == ran_together.end()) return false;
    o = done->second.first;
    err = done->second.second;
    if (err && err->where.empty()) err->where = host;
    return true;
  };
  auto ask_again_from = [&](size_t first) -> Status {
    std::vector<const Step*> which;
    for (size_t j = first; j < steps.size(); ++j) {
      auto p = seen->checks.find(steps[j]);
      if (p != seen->checks.end() && p->second.exit_code == 0)
        which.push_back(steps[j]);
    }
    auto asked = RunStepChecks(t, which);
    if (!asked) return std::unexpected(asked.error());
    reasked.clear();
    for (size_t k = 0; k < which.size(); ++k)
      reasked[which[k]] = std::move((*asked)[k]);
    reasked_at = changes;
    return {};
  };
  for (size_t si = 0; si < steps.size(); ++si) {
    const Step& step = *steps[si];
    if (Interrupted())
      return;  // the steps already done stay done; the next run resumes
    if (IsFileStep(step) && !options_.dry_run &&
        (si == 0 || !IsFileStep(*steps[si - 1]))) {
      send_batch_from(si);
    }
    size_t index = begin(step);
    auto t0 = Clock::now();
    StepOutcome o;
    std::optional<Error> err;
    switch (step.kind) {
      case StepKind::kUpload:
      case StepKind::kRender: {
        if (step.kind == StepKind::kUpload && step.missing &&
            options_.dry_run) {
          o.skipped = true;
          o.note = "local file missing: " + step.source;
          break;
        }
        if (step.kind == StepKind::kUpload && step.missing) {
          err = Error{ErrorKind::kStep, "local file missing: " + step.source,
                      host + " " + step.id,
                      "fetch the artifacts (scripts/artifacts.sh) or run "
                      "`hardway certs`"};
          break;
        }
        UploadRequest req = UploadRequestOf(step);
        auto it = remote.find(step.dest);
        std::string known = it == remote.end() ? std::string() : it->second;
        auto b = batched.find(&step);
        auto r = b != batched.end()
                     ? std::move(b->second)
                     : t.Upload(req, known, [&](uint64_t sent, uint64_t total) {
                         reporter_.StepProgress(step, sent, total);
                       });
        if (!r) {
          err = r.error();
          if (err->where.empty()) err->where = host;
          break;
        }
        o.bytes = r->bytes_sent;
        o.changed = r->changed;
        o.skipped = !r->changed;
        if (o.skipped) o.note = "unchanged";
        break;
      }
      case StepKind::kRun: {
        // Ran already, together with an earlier step (below).
        if (take_ran_together(step, o, err)) break;
        // The look's answer stands while nothing changed on this host. After
        // a change, a "missing" still stands (the command is idempotent, and
        // its check must pass after it, so at worst it runs once for
        // nothing); only an "in place" is asked again, since the change may
        // have undone it: together with the "in place" of the host's later
        // run steps, in one round trip, whose answers stand until the next
        // change.
        auto pre = seen->checks.find(&step);
        const StepCheckResult* before = nullptr;
        if (pre != seen->checks.end()) {
          before = &pre->second;
          if (changed_before && pre->second.exit_code == 0) {
            if (reasked_at != changes || !reasked.contains(&step)) {
              if (auto asked = ask_again_from(si); !asked) {
                err = asked.error();
                if (err->where.empty()) err->where = host;
                break;
              }
            }
            before = &reasked.at(&step);
          }
        }
        // A step that must run takes the consecutive run steps after it that
        // must run too (their look said "missing", which stands after a
        // change) into one round trip.
        const bool must_run =
            step.check.empty() || (before && before->exit_code != 0);
        if (must_run && !options_.dry_run) {
          std::vector<const Step*> group{&step};
          std::vector<std::string> missing{before ? LastLines(before->said, 1)
                                                  : std::string()};
          for (size_t j = si + 1;
               j < steps.size() && steps[j]->kind == StepKind::kRun; ++j) {
            auto look = seen->checks.find(steps[j]);
            if (!steps[j]->check.empty() &&
                (look == seen->checks.end() || look->second.exit_code == 0))
              break;
            group.push_back(steps[j]);
            missing.push_back(look == seen->checks.end()
                                  ? std::string()
                                  : LastLines(look->second.said, 1));
          }
          if (group.size() > 1) {
            RunCommands(t, group, missing, ran_together);
            if (take_ran_together(step, o, err)) break;
          }
        }
        auto r = RunCommand(t, step, o, before);
        if (!r) {
          err = r.error();
          if (err->where.empty()) err->where = host;
        }
        break;
      }
      case StepKind::kSystemd: {
        // A run of consecutive systemd steps goes in one command, at its
        // first step; each step then reports its own outcome.
        if (si == 0 || steps[si - 1]->kind != StepKind::kSystemd) {
          std::vector<const Step*> group;
          for (size_t j = si;
               j < steps.size() && steps[j]->kind == StepKind::kSystemd; ++j)
            group.push_back(steps[j]);
          std::map<std::string, UnitState> known;
          for (const Step* g : group) {
            auto state = seen->units.find(g->unit);
            if (changed_files || state == seen->units.end() ||
                state->second.units.empty())
              continue;
            UnitState u = state->second.units.front();
            if (reloaded) {
              u.need_daemon_reload = false;
              if (u.load_state == "not-found") u.load_state = "loaded";
            }
            known[g->unit] = std::move(u);
          }
          auto outcomes = RunSystemdSteps(t, group, pending, known, reloaded);
          for (size_t k = 0; k < group.size(); ++k)
            unit_outcomes[group[k]] = std::move(outcomes[k]);
        }
        o = std::move(unit_outcomes[&step]);
        if (!o.ok)
          err = Error{ErrorKind::kStep, o.note, host,
                      "see `systemctl status " + step.unit + "` on the host"};
        break;
      }
    }
    if (err) {
      o.ok = false;
      o.note = err->ToString();
    }
    o.duration = Since(t0);
    changed_before = changed_before || o.changed;
    changes += o.changed ? 1 : 0;
    changed_files =
        changed_files || (o.changed && step.kind != StepKind::kSystemd);
    run.Record(step, o, err);
    reporter_.StepFinished(step, o, index, total_);
    if (!o.ok) return;  // the rest of this host's steps depend on this one
  }
  if (!changed_before && !seen->units.empty()) {
    std::lock_guard lock(run.mu);
    run.unit_states[host] = std::move(seen->units);
  }
}

Result<std::shared_ptr<HostFindings>> Runner::LookAt(const Phase& phase,
                                                     const std::string& host,
                                                     Transport& t,
                                                     PhaseRun& run) {
  // From the survey while it is still fresh; else asked now in one call,
  // which at the host's first phase of a run that has changed nothing yet
  // also asks for every later phase (the survey).
  std::shared_ptr<HostFindings> seen;
  if (run.survey_fresh) {
    std::lock_guard lock(survey_mu_);
    auto h = survey_.find(host);
    if (h != survey_.end()) {
      if (auto p = h->second.find(phase.name); p != h->second.end()) {
        seen = std::move(p->second);
        h->second.erase(p);
      }
    }
  }
  if (!seen) {
    const LookMode mode{options_.dry_run, options_.gates && !options_.dry_run};
    std::vector<Look> looks{LookOf(phase, host, mode)};
    std::vector<const Phase*> later;
    if (run.survey_fresh && options_.survey && !options_.dry_run &&
        !options_.interactive) {
      std::lock_guard lock(survey_mu_);
      if (surveyed_.insert(host).second) {
        auto self = std::ranges::find(phases_, &phase);
        for (auto it = self == phases_.end() ? self : self + 1;
             it != phases_.end(); ++it) {
          Look look = LookOf(**it, host, mode);
          if (look.empty()) continue;
          looks.push_back(std::move(look));
          later.push_back(*it);
        }
      }
    }
    auto asked = Ask(t, looks);
    if (!asked) return std::unexpected(asked.error());
    seen = std::make_shared<HostFindings>(std::move(asked->front()));
    std::lock_guard lock(survey_mu_);
    for (size_t i = 0; i < later.size(); ++i) {
      survey_[host][later[i]->name] =
          std::make_shared<HostFindings>(std::move((*asked)[i + 1]));
    }
  }
  if (!seen->gate.results.empty()) {
    std::lock_guard lock(run.mu);
    run.gate_looks[host] = seen->gate;
  }
  return seen;
}

std::vector<StepOutcome> Runner::RunSystemdSteps(
    Transport& t, const std::vector<const Step*>& group,
    const std::set<std::string>& pending,
    const std::map<std::string, UnitState>& known, bool& reloaded) {
  std::vector<StepOutcome> out(group.size());
  // Each unit's state: from the phase's look where it still stands, the rest
  // asked now, all in one call.
  std::vector<UnitState> states(group.size());
  std::vector<std::string> ask;
  for (size_t k = 0; k < group.size(); ++k) {
    auto it = known.find(group[k]->unit);
    if (it != known.end())
      states[k] = it->second;
    else
      ask.push_back(group[k]->unit);
  }
  if (!ask.empty()) {
    auto show = t.Exec(UnitStateCommand(ask));
    if (!show) {
      out.front().ok = false;
      out.front().note = show.error().message;
      return out;
    }
    auto asked = ParseUnitSnapshot(show->out).units;
    size_t j = 0;
    for (size_t k = 0; k < group.size(); ++k) {
      if (known.contains(group[k]->unit)) continue;
      if (j < asked.size()) states[k] = asked[j];
      ++j;
    }
  }

  // A daemon-reload (~0.5 s on a busy host, and it blocks every other
  // systemctl) only when systemd has not loaded a unit file as it is on disk:
  // one reload loads them all. `enable --no-reload`: a plain enable reloads
  // the whole manager once more just to learn about a symlink that matters
  // only at the next boot. One systemctl per verb for adjacent units (started
  // in one systemd transaction, which keeps their After= order): each
  // systemctl costs 20-50 ms and each round trip more on a busy host, and a
  // worker starts three units.
  bool reload = false;
  std::string enable, markers;
  std::vector<std::pair<std::string, std::string>> verbs;  // verb, services
  std::vector<size_t> acting;
  for (size_t k = 0; k < group.size(); ++k) {
    const std::string& unit = group[k]->unit;
    const std::string service = unit + ".service";
    const UnitState& s = states[k];
    StepOutcome& o = out[k];
    bool active = s.active_state == "active" ||
                  s.active_state == "activating" ||
                  s.active_state == "reloading";
    bool enabled =
        s.unit_file_state == "enabled" || s.unit_file_state == "static";
    std::string verb;
    if (pending.contains(unit)) {
      verb = active ? "restart" : "start";
      o.restarted = active;
      o.started = !active;
      o.note = active ? "restarted (a watched file changed)" : "started";
      markers += " " + MarkerPath(unit);
    } else if (active && enabled) {
      o.skipped = true;
      o.note = "running";
      continue;
    } else {
      if (!active) verb = "start";
      o.started = !active;
      o.note = active ? "enabled" : "started";
    }
    o.changed = true;
    acting.push_back(k);
    reload = reload || s.load_state != "loaded" || s.need_daemon_reload;
    enable += " " + service;
    if (verb.empty()) continue;
    if (!verbs.empty() && verbs.back().first == verb)
      verbs.back().second += " " + service;
    else
      verbs.emplace_back(verb, service);
  }
  if (acting.empty()) return out;
  std::string cmd = std::string(reload ? "systemctl daemon-reload && " : "") +
                    "systemctl enable --no-reload" + enable;
  for (const auto& [verb, services] : verbs)
    cmd += " && systemctl " + verb + " " + services;
  if (!markers.empty()) cmd += " && rm -f" + markers;

  auto r = t.Exec(cmd);
  if (r && r->exit_code == 0) {
    reloaded = reloaded || reload;
    return out;
  }
  // The step to blame: the first (in step order) whose unit systemctl names
  // or that is not running now. The ones before it keep their outcome; the
  // host's run stops at the blamed one.
  std::string why = !r ? r.error().message
                       : "`" + cmd + "` exited with " +
                             std::to_string(r->exit_code) + ": " +
                             LastLines(r->err + r->out, 10);
  size_t blamed = acting.front();
  if (r) {
    std::vector<std::string> units;
    for (size_t k : acting) units.push_back(group[k]->unit);
    auto now = t.Exec(UnitStateCommand(units));
    auto after =
        now ? ParseUnitSnapshot(now->out).units : std::vector<UnitState>{};
    for (size_t i = 0; i < acting.size(); ++i) {
      size_t k = acting[i];
      bool named = (r->err + r->out).find(group[k]->unit + ".service") !=
                   std::string::npos;
      bool running =
          i < after.size() && (after[i].active_state == "active" ||
                               after[i].active_state == "activating");
      if (named || !running) {
        blamed = k;
        break;
      }
    }
  }
  StepOutcome& o = out[blamed];
  o.ok = false;
  o.changed = o.started = o.restarted = false;
  o.note = !r ? why : group[blamed]->unit + ".service did not start: " + why;
  return out;
}

Status Runner::ApplyRbac(const Plan& plan, const Phase& phase, PhaseRun& run) {
  // The rbac phase applies the manifests that the plan renders into an rbac/
  // folder (playbooks/templates/kube-apiserver-to-kubelet.yaml ->
  // /etc/kubernetes/rbac/): hosts have no kubectl, so hardway POSTs them
  // through the first controller's SSH connection with the admin certificate.
  // It is part of the phase rather than a Step because it runs on this machine,
  // against the API, not as a command on a host — the same place its gate runs.
  std::string manifest = options_.gate.rbac_manifest;
  if (manifest.empty()) manifest = RbacManifestOf(plan);
  const Topology* topo = options_.gate.topology;
  const GateHost* api = nullptr;
  for (const std::string& name : phase.hosts) {
    const GateHost* h = topo ? topo->host(name) : nullptr;
    if (h && h->Has(Role::kControlplane)) {
      api = h;
      break;
    }
  }
  Step step;
  step.phase = phase.name;
  step.host =
      api ? api->name : (phase.hosts.empty() ? "" : phase.hosts.front());
  step.id = phase.name + "/" + step.host + "/apply";
  step.kind = StepKind::kRun;
  step.description = "apply RBAC manifest through the API";
  size_t index = ++started_;
  reporter_.StepStarted(step, index, total_);
  auto t0 = Clock::now();
  StepOutcome o;
  auto fail = [&](Error e) -> Status {
    o.ok = false;
    o.note = e.ToString();
    o.duration = Since(t0);
    run.Record(step, o, e);
    reporter_.StepFinished(step, o, index, total_);
    return std::unexpected(e);
  };
  if (!api)
    return fail(Error{ErrorKind::kStep,
                      "no controlplane host to apply RBAC through",
                      {},
                      {}});
  if (manifest.empty()) {
    return fail(Error{ErrorKind::kStep,
                      "no RBAC manifest in the plan (render one into rbac/)",
                      {},
                      {}});
  }
  auto objects = ParseManifest(manifest, "rbac manifest");
  if (!objects) return fail(objects.error());
  auto t = pool_.Get(api->name);
  if (!t) return fail(t.error());
  // Wait out a moment of apiserver unreadiness: the previous gate saw /readyz,
  // but another controller may answer 503 while it warms up.
  auto deadline = Clock::now() + phase.gate.timeout;
  Result<ApplyReport> applied = Fail(ErrorKind::kStep, "not tried");
  while (true) {
    applied = ApplyObjects(**t, api->address, 6443, options_.gate.state_dir,
                           *objects);
    if (applied || Clock::now() >= deadline || Interrupted()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!applied) return fail(applied.error());
  o.changed = !applied->created.empty();
  o.skipped = !o.changed;
  std::string created, existing;
  for (const std::string& c : applied->created)
    created += (created.empty() ? "" : ", ") + c;
  for (const std::string& c : applied->existing)
    existing += (existing.empty() ? "" : ", ") + c;
  o.note = (created.empty() ? "" : "created " + created) +
           (existing.empty() ? ""
                             : std::string(created.empty() ? "" : "; ") +
                                   "already there: " + existing);
  o.duration = Since(t0);
  run.Record(step, o, std::nullopt);
  reporter_.StepFinished(step, o, index, total_);
  return {};
}

}  // namespace hardway
