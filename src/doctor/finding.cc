#include "doctor/finding.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace hardway {

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kWarn:
      return "warn";
    case Verdict::kFail:
      return "fail";
  }
  return "?";
}

std::vector<Finding> SortFindings(std::vector<Finding> findings) {
  auto rank = [](const Finding& f) {
    return f.verdict == Verdict::kFail   ? 0
           : f.verdict == Verdict::kWarn ? 1
                                         : 2;
  };
  std::stable_sort(
      findings.begin(), findings.end(),
      [&](const Finding& a, const Finding& b) { return rank(a) < rank(b); });
  return findings;
}

namespace {

// Display width of UTF-8 text (the arrow in link labels is one column).
size_t Columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Pad(const std::string& s, size_t width) {
  size_t cols = Columns(s);
  return s + std::string(width > cols ? width - cols : 0, ' ');
}

std::string Shown(Verdict v) {
  return v == Verdict::kOk ? "ok" : v == Verdict::kWarn ? "WARN" : "FAIL";
}

}  // namespace

std::string FormatFindingsText(const std::vector<Finding>& findings) {
  std::vector<Finding> sorted = SortFindings(findings);
  size_t w_check = 5, w_subject = 7;
  for (const Finding& f : sorted) {
    w_check = std::max(w_check, Columns(f.check));
    w_subject = std::max(w_subject, Columns(f.subject));
  }
  std::string out = Pad("CHECK", w_check + 2) + Pad("SUBJECT", w_subject + 2) +
                    Pad("VERDICT", 9) + "CAUSE\n";
  size_t failed = 0, warned = 0, ok = 0;
  for (const Finding& f : sorted) {
    out += Pad(f.check, w_check + 2) + Pad(f.subject, w_subject + 2) +
           Pad(Shown(f.verdict), 9) + f.cause + "\n";
    (f.verdict == Verdict::kFail   ? failed
     : f.verdict == Verdict::kWarn ? warned
                                   : ok)++;
  }
  out += "\ndoctor: " + std::to_string(failed) + " failed, " +
         std::to_string(warned) + (warned == 1 ? " warning, " : " warnings, ") +
         std::to_string(ok) + " ok";
  if (failed > 0)
    out += " — `hardway up` repairs files, certificates and units";
  out += "\n";
  return out;
}

std::string FormatFindingsJson(const std::vector<Finding>& findings) {
  nlohmann::json array = nlohmann::json::array();
  for (const Finding& f : SortFindings(findings)) {
    array.push_back({{"check", f.check},
                     {"subject", f.subject},
                     {"host", f.host},
                     {"verdict", VerdictName(f.verdict)},
                     {"cause", f.cause}});
  }
  return array.dump(2) + "\n";
}

int DoctorExitCode(const std::vector<Finding>& findings) {
  bool failed = false;
  for (const Finding& f : findings) {
    if (f.unreachable) return ExitCodeFor(ErrorKind::kConnection);
    failed = failed || f.verdict == Verdict::kFail;
  }
  return failed ? ExitCodeFor(ErrorKind::kGate) : 0;
}

}  // namespace hardway
