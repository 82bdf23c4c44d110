// Executes a Plan: phases in order with a barrier between them; within a phase
// every host in parallel (bounded), each host's steps in order on its own
// Transport; a gate after each phase. Uploads are skipped when the host already
// has the same sha256 (one call per host and phase asks for its files and
// checks; on a run that has changed nothing yet, the first phase asks for all:
// the survey, see runner.cc). A systemd unit
// restarts only when a file it watches changed — in this run or in an earlier
// run that stopped before the restart (see "pending restarts" in runner.cc).
#pragma once

#include <atomic>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "plan/plan.h"
#include "remote/transport.h"
#include "run/gates.h"
#include "run/outcome.h"
#include "run/reporter.h"

namespace hardway {

// Host name -> a connected Transport (ConnectHost in real runs,
// RecordingTransport in dry runs).
using TransportFactory =
    std::function<Result<std::unique_ptr<Transport>>(const std::string& host)>;

// Connects each host once, on first use, and keeps the connection for the whole
// run. Get() is thread-safe; the runner guarantees one thread per host at a
// time.
class TransportPool : public TransportSource {
 public:
  explicit TransportPool(TransportFactory factory)
      : factory_(std::move(factory)) {}
  Result<Transport*> Get(const std::string& host) override;

 private:
  struct Slot {
    std::mutex mu;
    std::unique_ptr<Transport> transport;
    std::optional<Error> error;  // the connect failed
  };
  TransportFactory factory_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Slot>> slots_;
};

// Where a unit's pending restart is remembered on its host (see runner.cc).
inline constexpr const char* kPendingRestartDir =
    "/var/lib/hardway/pending-restart";

struct RunOptions {
  int parallel = 16;
  std::string only;  // run just this phase
  std::string from;  // start at this phase
  // --step: before each phase show its steps and read Enter (run) / s (skip) /
  // q (quit).
  bool interactive = false;
  std::istream* input = nullptr;
  std::ostream* prompt = nullptr;
  // Dry run: transports record instead of acting; local phases and gates are
  // skipped (they would write the state dir or wait for services that a
  // recording cannot start).
  bool dry_run = false;
  bool gates = true;
  // The local phases (pki): EnsurePki in real runs.
  // Returns whether it changed anything (a no-op re-run reports 0 changed
  // steps).
  std::function<Result<bool>(const Phase&)> local_phase;
  // Gate settings: topology, state dir, poll/settle, local PKI check.
  // transports, plan and interrupted are filled in by the runner.
  GateContext gate;
  // Set (from a SIGINT handler) to stop after the current steps.
  const std::atomic<bool>* interrupted = nullptr;
  // Ask each host, at its first phase, what every later phase will ask it
  // before changing anything (see "the survey" in runner.cc). Off: each phase
  // asks for itself (tests compare the two). Never in dry or --step runs.
  bool survey = true;
};

// What a phase found on a host before changing anything there (runner.cc).
struct HostFindings;

class Runner {
 public:
  Runner(TransportFactory factory, Reporter& reporter, RunOptions options);
  RunSummary Run(const Plan& plan);
  TransportPool& pool() { return pool_; }

 private:
  struct PhaseRun;
  PhaseOutcome RunPhase(const Plan& plan, const Phase& phase,
                        RunSummary& summary);
  void RunHost(const Plan& plan, const Phase& phase, const std::string& host,
               PhaseRun& run);
  // What `phase` needs to know of `host` before changing anything (see "the
  // survey" in runner.cc); records the gate's part in `run`.
  Result<std::shared_ptr<HostFindings>> LookAt(const Phase& phase,
                                               const std::string& host,
                                               Transport& t, PhaseRun& run);
  // The host's consecutive systemd steps `group`, in one command; their
  // outcomes in the same order. `known`: units' states as the phase's start
  // asked them, still true (see the caller); the rest are asked now. Sets
  // `reloaded` when it ran daemon-reload.
  std::vector<StepOutcome> RunSystemdSteps(
      Transport& t, const std::vector<const Step*>& group,
      const std::set<std::string>& pending,
      const std::map<std::string, UnitState>& known, bool& reloaded);
  Status ApplyRbac(const Plan& plan, const Phase& phase, PhaseRun& run);
  bool Interrupted() const {
    return options_.interrupted && options_.interrupted->load();
  }

  TransportPool pool_;
  Reporter& reporter_;
  RunOptions options_;
  std::atomic<size_t> started_{0};
  size_t total_ = 0;

  // The survey (see runner.cc): the phases of this run, in order; per host,
  // what a later phase's look found when the host's first phase asked for it;
  // hosts already surveyed; and whether a step changed anything on any host
  // (from then on the survey is stale and each phase asks for itself).
  std::vector<const Phase*> phases_;
  std::mutex survey_mu_;
  std::map<std::string, std::map<std::string, std::shared_ptr<HostFindings>>>
      survey_;
  std::set<std::string> surveyed_;
  std::atomic<bool> host_changed_{false};
};

// Phases a run covers for --only / --from; a usage error names the phases for
// an unknown one.
Result<std::vector<const Phase*>> SelectPhases(const Plan& plan,
                                               const std::string& only,
                                               const std::string& from);

// The units each host's dests would restart when they change: the systemd
// steps' watch lists plus the unit file itself
// (/etc/systemd/system/<unit>.service).
std::map<std::string, std::vector<std::string>> WatchersOf(
    const Plan& plan, const std::string& host);

// "x86_64" / "aarch64" from the ELF header of the first executable artifact in
// the plan; empty when none can be read.
std::string ArtifactArch(const Plan& plan);

}  // namespace hardway
