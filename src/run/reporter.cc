#include "run/reporter.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "util/duration.h"

namespace hardway {
namespace {

using nlohmann::json;

std::string Now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                now.time_since_epoch()) %
            1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms.count()));
  return buf;
}

std::string OutcomeWord(const StepOutcome& o) {
  if (!o.ok) return "FAILED";
  if (o.note.starts_with("local file missing")) return "source missing";
  if (o.restarted) return "restarted";
  if (o.started) return "started";
  if (o.skipped) return "unchanged";
  if (o.changed) return "changed";
  return "ok";
}

json VerdictsJson(const GateReport& report) {
  json out = json::array();
  for (const GateVerdict& v : report.verdicts) {
    json j{{"host", v.host}, {"ok", v.ok}, {"detail", v.detail}};
    if (!v.unit.empty()) j["unit"] = v.unit;
    if (!v.diagnostics.empty()) j["diagnostics"] = v.diagnostics;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0 || v >= 10) {
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

std::string StatusLine(const Step& step, size_t index, size_t total) {
  std::string line = "[" + std::to_string(index) + "/" + std::to_string(total) +
                     "] " + step.phase + " " +
                     (step.host.empty() ? "local" : step.host) + ": " +
                     step.description;
  if ((step.kind == StepKind::kUpload || step.kind == StepKind::kRender) &&
      step.size > 0) {
    line += " (" + HumanBytes(step.size) + ")";
  }
  return line;
}

std::string FormatGateFailure(const GateReport& report) {
  std::string out =
      "gate " + report.phase + " failed: " + report.description + "\n";
  for (const GateVerdict& v : report.verdicts) {
    if (v.ok) continue;
    out += "  " + (v.host.empty() ? std::string("cluster") : v.host);
    if (!v.unit.empty()) out += " (" + v.unit + ")";
    out += ": " + v.detail + "\n";
    if (!v.diagnostics.empty()) {
      size_t pos = 0;
      while (pos < v.diagnostics.size()) {
        size_t nl = v.diagnostics.find('\n', pos);
        if (nl == std::string::npos) nl = v.diagnostics.size();
        out += "    | " + v.diagnostics.substr(pos, nl - pos) + "\n";
        pos = nl + 1;
      }
    }
  }
  return out;
}

ConsoleReporter::ConsoleReporter(std::ostream& out, bool tty, int width)
    : out_(out), tty_(tty), width_(width < 20 ? 20 : width) {}

void ConsoleReporter::Line(const std::string& text) {
  if (status_shown_) {
    out_ << "\r\x1b[K";
    status_shown_ = false;
  }
  out_ << text << "\n";
  out_.flush();
}

void ConsoleReporter::Status(const std::string& text) {
  std::string shown = text;
  // Elide in the middle so the counter and the end of the description stay
  // visible.
  if (static_cast<int>(shown.size()) > width_ - 1) {
    size_t keep = static_cast<size_t>(width_ - 4);
    shown = shown.substr(0, keep / 2) + "..." +
            shown.substr(shown.size() - (keep - keep / 2));
  }
  out_ << "\r" << shown << "\x1b[K";
  out_.flush();
  status_shown_ = true;
}

void ConsoleReporter::PhaseStarted(const Phase& phase) {
  std::lock_guard lock(mu_);
  if (!tty_) Line("== " + phase.name + ": " + phase.description);
}

void ConsoleReporter::StepStarted(const Step& step, size_t index,
                                  size_t total) {
  std::lock_guard lock(mu_);
  if (tty_) Status(StatusLine(step, index, total));
}

void ConsoleReporter::StepProgress(const Step& step, uint64_t sent,
                                   uint64_t total) {
  std::lock_guard lock(mu_);
  if (!tty_ || total == 0) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_progress_ < std::chrono::milliseconds(100) && sent < total)
    return;
  last_progress_ = now;
  int pct = static_cast<int>(sent * 100 / total);
  Status(step.phase + " " + step.host + ": " + step.description + " " +
         HumanBytes(sent) + "/" + HumanBytes(total) + " (" +
         std::to_string(pct) + "%)");
}

void ConsoleReporter::StepFinished(const Step& step, const StepOutcome& outcome,
                                   size_t index, size_t total) {
  std::lock_guard lock(mu_);
  std::string line = StatusLine(step, index, total);
  if (!outcome.ok) {
    Line(line + " FAILED\n  " + outcome.note);
  } else if (tty_) {
    Status(line + " [" + OutcomeWord(outcome) + "]");
  } else {
    Line(line + " [" + OutcomeWord(outcome) + "]");
  }
}

void ConsoleReporter::GateWaiting(const Phase& phase) {
  std::lock_guard lock(mu_);
  std::string text =
      "gate " + phase.name + ": waiting for " + phase.gate.description;
  if (tty_)
    Status(text);
  else
    Line(text);
}

void ConsoleReporter::GatePassed(const Phase& phase, const GateReport& report) {
  std::lock_guard lock(mu_);
  Line("gate " + phase.name + ": passed (" + FormatDuration(report.took) + ")");
}

void ConsoleReporter::GateFailed(const Phase&, const GateReport& report) {
  std::lock_guard lock(mu_);
  Line(FormatGateFailure(report));
}

void ConsoleReporter::PhaseDone(const Phase& phase,
                                const PhaseOutcome& outcome) {
  std::lock_guard lock(mu_);
  if (outcome.skipped) {
    Line("phase " + phase.name + ": skipped");
  } else if (!outcome.ok && outcome.failed > 0) {
    std::string hosts;
    for (const std::string& h : outcome.failed_hosts)
      hosts += (hosts.empty() ? "" : ", ") + h;
    Line("phase " + phase.name + ": " + std::to_string(outcome.failed) +
         " step(s) failed on " + hosts);
  } else if (!tty_) {
    Line("phase " + phase.name + ": " +
         std::string(outcome.ok ? "done" : "failed") + ", " +
         std::to_string(outcome.changed) + "/" + std::to_string(outcome.steps) +
         " steps changed, " + HumanBytes(outcome.bytes) + " uploaded");
  }
}

void ConsoleReporter::Summary(const RunSummary& s) {
  std::lock_guard lock(mu_);
  std::string text = s.ok ? "done" : s.interrupted ? "interrupted" : "FAILED";
  if (!s.failed_phase.empty()) text += " in phase " + s.failed_phase;
  text += ": " + std::to_string(s.phases_run) + " phase(s), " +
          std::to_string(s.steps_run) + "/" + std::to_string(s.steps_total) +
          " steps (" + std::to_string(s.steps_changed) + " changed, " +
          std::to_string(s.steps_unchanged) + " unchanged, " +
          std::to_string(s.steps_failed) + " failed), " +
          HumanBytes(s.bytes_uploaded) + " uploaded, " +
          std::to_string(s.units_started) + " unit(s) started, " +
          std::to_string(s.units_restarted) + " restarted, " +
          FormatDuration(s.duration);
  Line(text);
  if (s.error) Line("error: " + s.error->ToString());
}

JsonReporter::JsonReporter(std::ostream& out)
    : out_(out), start_(std::chrono::steady_clock::now()) {}

void JsonReporter::Emit(const std::string& line) {
  std::lock_guard lock(mu_);
  out_ << line << "\n";
  out_.flush();
}

namespace {
json Base(const char* event, std::chrono::steady_clock::time_point start) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return json{{"event", event}, {"time", Now()}, {"elapsed_ms", ms.count()}};
}
}  // namespace

void JsonReporter::PhaseStarted(const Phase& phase) {
  json j = Base("phase_started", start_);
  j["phase"] = phase.name;
  j["description"] = phase.description;
  j["hosts"] = phase.hosts;
  j["local"] = phase.local;
  j["steps"] = phase.steps.size();
  Emit(j.dump());
}

void JsonReporter::StepStarted(const Step& step, size_t index, size_t total) {
  json j = Base("step_started", start_);
  j["phase"] = step.phase;
  j["host"] = step.host;
  j["step"] = step.id;
  j["kind"] = StepKindName(step.kind);
  j["description"] = step.description;
  j["index"] = index;
  j["total"] = total;
  if (step.size > 0) j["size"] = step.size;
  Emit(j.dump());
}

void JsonReporter::StepFinished(const Step& step, const StepOutcome& o,
                                size_t index, size_t total) {
  json j = Base("step_finished", start_);
  j["phase"] = step.phase;
  j["host"] = step.host;
  j["step"] = step.id;
  j["kind"] = StepKindName(step.kind);
  j["index"] = index;
  j["total"] = total;
  j["ok"] = o.ok;
  j["changed"] = o.changed;
  j["skipped"] = o.skipped;
  j["bytes"] = o.bytes;
  j["duration_ms"] = o.duration.count();
  if (step.kind == StepKind::kSystemd) {
    j["unit"] = step.unit;
    j["started"] = o.started;
    j["restarted"] = o.restarted;
  }
  if (!o.note.empty()) j[o.ok ? "note" : "error"] = o.note;
  Emit(j.dump());
}

void JsonReporter::GateWaiting(const Phase& phase) {
  json j = Base("gate_waiting", start_);
  j["phase"] = phase.name;
  j["gate"] = GateKindName(phase.gate.kind);
  j["description"] = phase.gate.description;
  j["timeout_ms"] = phase.gate.timeout.count();
  Emit(j.dump());
}

void JsonReporter::GatePassed(const Phase& phase, const GateReport& r) {
  json j = Base("gate_passed", start_);
  j["phase"] = phase.name;
  j["gate"] = GateKindName(r.kind);
  j["took_ms"] = r.took.count();
  j["attempts"] = r.attempts;
  j["verdicts"] = VerdictsJson(r);
  Emit(j.dump());
}

void JsonReporter::GateFailed(const Phase& phase, const GateReport& r) {
  json j = Base("gate_failed", start_);
  j["phase"] = phase.name;
  j["gate"] = GateKindName(r.kind);
  j["description"] = r.description;
  j["took_ms"] = r.took.count();
  j["attempts"] = r.attempts;
  j["interrupted"] = r.interrupted;
  j["verdicts"] = VerdictsJson(r);
  Emit(j.dump());
}

void JsonReporter::PhaseDone(const Phase& phase, const PhaseOutcome& o) {
  json j = Base("phase_done", start_);
  j["phase"] = phase.name;
  j["ok"] = o.ok;
  j["skipped"] = o.skipped;
  j["steps"] = o.steps;
  j["changed"] = o.changed;
  j["failed"] = o.failed;
  j["bytes"] = o.bytes;
  j["failed_hosts"] = o.failed_hosts;
  j["duration_ms"] = o.duration.count();
  Emit(j.dump());
}

void JsonReporter::Summary(const RunSummary& s) {
  json j = Base("summary", start_);
  j["ok"] = s.ok;
  j["interrupted"] = s.interrupted;
  j["phases_run"] = s.phases_run;
  j["steps_total"] = s.steps_total;
  j["steps_run"] = s.steps_run;
  j["steps_changed"] = s.steps_changed;
  j["steps_unchanged"] = s.steps_unchanged;
  j["steps_failed"] = s.steps_failed;
  j["bytes_uploaded"] = s.bytes_uploaded;
  j["units_started"] = s.units_started;
  j["units_restarted"] = s.units_restarted;
  j["duration_ms"] = s.duration.count();
  if (!s.failed_phase.empty()) j["failed_phase"] = s.failed_phase;
  if (s.error) {
    j["error"] = {{"message", s.error->message},
                  {"where", s.error->where},
                  {"hint", s.error->hint},
                  {"exit_code", ExitCodeFor(s.error->kind)}};
  }
  Emit(j.dump());
}

}  // namespace hardway
