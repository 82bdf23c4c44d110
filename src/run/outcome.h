// What running a plan produces: per step, per gate, per phase and for the whole
// run. Plain data shared by the runner, the gates and the reporters.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "util/error.h"

namespace hardway {

struct StepOutcome {
  bool ok = true;
  bool changed = false;  // the host is different afterwards
  bool skipped =
      false;  // nothing to do (same sha256 on the host) or skipped by the user
  uint64_t bytes = 0;    // bytes uploaded
  bool started = false;  // systemd: the unit was not running and was started
  bool restarted =
      false;  // systemd: a watched file changed and the unit was restarted
  std::string
      note;  // "unchanged", "restarted (etcd.service changed)", error text
  std::chrono::milliseconds duration{0};
};

// One gate's verdict for one host (or for the cluster when host is empty).
struct GateVerdict {
  std::string host;
  bool ok = false;
  std::string
      detail;  // "active (running), 0 restarts", "certificate expired on ..."
  std::string unit;  // the unit concerned, when there is one
  // The host could not be reached at all (connecting already retried until
  // ssh.connect_timeout): the gate stops waiting and the run ends with a
  // connection error rather than a gate failure.
  bool unreachable = false;
  // Waiting longer cannot help (a unit crash-looped several times while the
  // gate watched it): the gate fails now instead of at its deadline.
  bool hopeless = false;
  // When this check cannot pass sooner than a known time from now (a unit
  // that must stay up a little longer, by systemd's own clock): the gate's
  // next look waits that long instead of its usual poll, and not longer.
  std::chrono::milliseconds retry_in{0};
  std::string
      diagnostics;  // on failure: systemctl status + journal of the unit
};

struct GateReport {
  std::string phase;
  GateKind kind = GateKind::kNone;
  std::string description;
  bool ok = true;
  std::vector<GateVerdict> verdicts;
  std::chrono::milliseconds took{0};
  int attempts = 0;
  bool interrupted = false;
};

struct PhaseOutcome {
  bool ok = true;
  bool skipped = false;  // --step: the user skipped it
  size_t steps = 0;
  size_t changed = 0;
  size_t failed = 0;
  uint64_t bytes = 0;
  std::vector<std::string> failed_hosts;
  std::optional<GateReport> gate;
  std::chrono::milliseconds duration{0};
};

struct RunSummary {
  bool ok = true;
  size_t phases_run = 0;
  size_t steps_total = 0;  // steps of the selected phases
  size_t steps_run = 0;
  size_t steps_changed = 0;
  size_t steps_unchanged = 0;
  size_t steps_failed = 0;
  uint64_t bytes_uploaded = 0;
  int units_started = 0;
  int units_restarted = 0;
  std::string failed_phase;  // empty when ok
  std::optional<Error> error;
  bool interrupted = false;
  std::chrono::milliseconds duration{0};
};

}  // namespace hardway
