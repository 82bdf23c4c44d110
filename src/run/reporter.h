// How a run tells people and CI what it does (ninja's Status printer). The
// runner calls these from several threads; implementations serialise
// themselves.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <ostream>

#include "run/outcome.h"

namespace hardway {

class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual void PhaseStarted(const Phase& phase) = 0;
  // index: 1-based position among the steps started so far; total: steps of the
  // run.
  virtual void StepStarted(const Step& step, size_t index, size_t total) = 0;
  virtual void StepProgress(const Step& /*step*/, uint64_t /*sent*/,
                            uint64_t /*total*/) {}
  virtual void StepFinished(const Step& step, const StepOutcome& outcome,
                            size_t index, size_t total) = 0;
  virtual void GateWaiting(const Phase& phase) = 0;
  virtual void GatePassed(const Phase& phase, const GateReport& report) = 0;
  virtual void GateFailed(const Phase& phase, const GateReport& report) = 0;
  virtual void PhaseDone(const Phase& phase, const PhaseOutcome& outcome) = 0;
  virtual void Summary(const RunSummary& summary) = 0;
};

// "23 MB", "812 B" (decimal units, as ninja-style status lines show them).
std::string HumanBytes(uint64_t bytes);
// "[12/87] etcd controller-1: upload etcd (23 MB)"
std::string StatusLine(const Step& step, size_t index, size_t total);

// For people: on a TTY one status line rewritten in place (with upload
// progress); otherwise one plain line per finished step. Gate failures and the
// summary are always full lines.
class ConsoleReporter : public Reporter {
 public:
  ConsoleReporter(std::ostream& out, bool tty, int width = 100);
  void PhaseStarted(const Phase& phase) override;
  void StepStarted(const Step& step, size_t index, size_t total) override;
  void StepProgress(const Step& step, uint64_t sent, uint64_t total) override;
  void StepFinished(const Step& step, const StepOutcome& outcome, size_t index,
                    size_t total) override;
  void GateWaiting(const Phase& phase) override;
  void GatePassed(const Phase& phase, const GateReport& report) override;
  void GateFailed(const Phase& phase, const GateReport& report) override;
  void PhaseDone(const Phase& phase, const PhaseOutcome& outcome) override;
  void Summary(const RunSummary& summary) override;

 private:
  void Line(
      const std::string& text);  // a full line (ends the status line first)
  void Status(const std::string& text);  // the TTY status line
  std::ostream& out_;
  bool tty_;
  int width_;
  bool status_shown_ = false;
  std::chrono::steady_clock::time_point last_progress_{};
  std::mutex mu_;
};

// For CI: one JSON object per line, schema in docs/json-events.md.
class JsonReporter : public Reporter {
 public:
  explicit JsonReporter(std::ostream& out);
  void PhaseStarted(const Phase& phase) override;
  void StepStarted(const Step& step, size_t index, size_t total) override;
  void StepFinished(const Step& step, const StepOutcome& outcome, size_t index,
                    size_t total) override;
  void GateWaiting(const Phase& phase) override;
  void GatePassed(const Phase& phase, const GateReport& report) override;
  void GateFailed(const Phase& phase, const GateReport& report) override;
  void PhaseDone(const Phase& phase, const PhaseOutcome& outcome) override;
  void Summary(const RunSummary& summary) override;

 private:
  void Emit(const std::string& json_line);
  std::ostream& out_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
};

// Accepts every event and says nothing (check, tests).
class NullReporter : public Reporter {
 public:
  void PhaseStarted(const Phase&) override {}
  void StepStarted(const Step&, size_t, size_t) override {}
  void StepFinished(const Step&, const StepOutcome&, size_t, size_t) override {}
  void GateWaiting(const Phase&) override {}
  void GatePassed(const Phase&, const GateReport&) override {}
  void GateFailed(const Phase&, const GateReport&) override {}
  void PhaseDone(const Phase&, const PhaseOutcome&) override {}
  void Summary(const RunSummary&) override {}
};

// Formats a failed gate for people: per failing host the detail, then
// diagnostics.
std::string FormatGateFailure(const GateReport& report);

}  // namespace hardway
