// What `hardway doctor` reports: one Finding per check, link, file, unit or
// clock, with a verdict and the cause in words; and how the findings become a
// table for people, a JSON array for programs and an exit code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hardway {

enum class Verdict { kOk, kWarn, kFail };
// "ok", "warn", "fail" (JSON); the table prints "ok", "WARN", "FAIL".
std::string_view VerdictName(Verdict verdict);

struct Finding {
  // "ssh", "clock", "file", "cert", "unit" or "link".
  std::string check;
  // What was checked: "controller-0", "apiserver on controller-1",
  // "kubelet node-1 → kube-apiserver controller-0", "kube-scheduler on
  // controller-2", "controller-0 /etc/kubernetes/pki/apiserver.key".
  std::string subject;
  // The host concerned; empty for hardway's own machine.
  std::string host;
  Verdict verdict = Verdict::kOk;
  // In words, never with key material: "client certificate expired 2026-11-21
  // (3 days ago)".
  std::string cause;
  // Set on the "ssh" finding of a host that could not be reached.
  bool unreachable = false;
};

// Failures first, then warnings, then the rest; each group keeps its order.
std::vector<Finding> SortFindings(std::vector<Finding> findings);

// "CHECK  SUBJECT  VERDICT  CAUSE" rows (sorted) and a summary line:
// "doctor: 2 failed, 1 warning, 97 ok".
std::string FormatFindingsText(const std::vector<Finding>& findings);

// A JSON array of {check, subject, host, verdict, cause} (docs/doctor.md).
std::string FormatFindingsJson(const std::vector<Finding>& findings);

// 0 when nothing failed (warnings allowed); 3 (connection) when a host could
// not be reached; else 5 (gate) when a check failed. docs/doctor.md.
int DoctorExitCode(const std::vector<Finding>& findings);

}  // namespace hardway
