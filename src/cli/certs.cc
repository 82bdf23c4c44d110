// `hardway certs -i FILE [--state DIR]`: makes the state dir's PKI complete and
// valid and says per file what happened. `--check` changes nothing: it lists
// every certificate against the table and fails on any mismatch or one inside
// renew_before.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/registry.h"
#include "pki/check.h"
#include "pki/pki.h"

namespace hardway::cli {
namespace {

struct CertsOptions {
  CommonOptions common;
  bool check = false;
};

std::string Join(const std::vector<std::string>& a,
                 const std::vector<std::string>& b) {
  std::string out;
  for (const auto* list : {&a, &b}) {
    for (const auto& s : *list) out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

void PrintCheckText(const std::vector<CertCheck>& checks) {
  std::cout << std::left << std::setw(11) << "STATUS" << std::setw(7) << "DAYS"
            << std::setw(12) << "NOT-AFTER"
            << "FILE\n";
  for (const CertCheck& c : checks) {
    std::cout << std::left << std::setw(11) << CertStatusName(c.status);
    if (c.info) {
      std::cout << std::setw(7) << c.days_left << std::setw(12)
                << FormatDate(c.info->not_after);
    } else {
      std::cout << std::setw(7) << "-" << std::setw(12) << "-";
    }
    std::cout << c.file << "\n";
    if (c.info) {
      std::cout << "    subject " << c.info->subject << "  issuer "
                << c.info->issuer << "  key " << c.info->key << "\n";
      std::string sans = Join(c.info->dns_sans, c.info->ip_sans);
      if (!sans.empty()) std::cout << "    SANs " << sans << "\n";
    }
    if (!c.reason.empty() && c.status != CertStatus::kOk) {
      std::cout << "    " << c.reason << "\n";
    }
  }
}

nlohmann::json CheckJson(const std::vector<CertCheck>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const CertCheck& c : checks) {
    nlohmann::json j = {{"name", c.name},
                        {"file", c.file},
                        {"status", CertStatusName(c.status)},
                        {"reason", c.reason}};
    if (c.info) {
      j["subject"] = c.info->subject;
      j["issuer"] = c.info->issuer;
      j["dns_sans"] = c.info->dns_sans;
      j["ip_sans"] = c.info->ip_sans;
      j["not_before"] = FormatDate(c.info->not_before);
      j["not_after"] = FormatDate(c.info->not_after);
      j["days_left"] = c.days_left;
      j["key"] = c.info->key;
      j["serial"] = c.info->serial;
    }
    out.push_back(std::move(j));
  }
  return out;
}

int RunCheck(const CertsOptions& opts, const Cluster& cluster) {
  auto state_dir = StateDirFor(opts.common, cluster);
  auto checks = CheckPki(cluster, state_dir, std::chrono::system_clock::now());
  if (opts.common.output == "json") {
    std::cout << CheckJson(checks).dump(2) << "\n";
  } else {
    PrintCheckText(checks);
  }
  if (CheckPassed(checks)) return 0;
  size_t bad =
      std::count_if(checks.begin(), checks.end(), [](const CertCheck& c) {
        return c.status != CertStatus::kOk && c.status != CertStatus::kStale;
      });
  return ReportError(Error{
      ErrorKind::kPki, std::to_string(bad) + " file(s) need attention",
      state_dir.string(),
      "run `hardway certs -i " + opts.common.inventory +
          "` to (re)issue leaves, kubeconfigs and the encryption config; it "
          "says what to do about a CA"});
}

int RunEnsure(const CertsOptions& opts, const Cluster& cluster) {
  auto state_dir = StateDirFor(opts.common, cluster);
  auto report = EnsurePki(cluster, state_dir);
  if (!report) return ReportError(report.error());
  if (opts.common.output == "json") {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : report->files) {
      files.push_back({{"file", f.file},
                       {"action", PkiActionName(f.action)},
                       {"reason", f.reason}});
    }
    std::cout << nlohmann::json{{"state_dir", state_dir.string()},
                                {"files", files}}
                     .dump(2)
              << "\n";
    return 0;
  }
  for (const auto& f : report->files) {
    std::cout << std::left << std::setw(10) << PkiActionName(f.action)
              << f.file;
    if (!f.reason.empty()) std::cout << "  (" << f.reason << ")";
    std::cout << "\n";
  }
  std::cout << report->Count(PkiAction::kIssued) << " issued, "
            << report->Count(PkiAction::kReissued) << " reissued, "
            << report->Count(PkiAction::kKept) << " kept";
  if (size_t stale = report->Count(PkiAction::kStale))
    std::cout << ", " << stale << " stale";
  std::cout << " in " << state_dir.string() << "\n";
  return 0;
}

const bool kRegistered = RegisterCommand(20, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<CertsOptions>();
  CLI::App* cmd = app.add_subcommand("certs",
                                     "issue or renew the CAs, certificates, "
                                     "kubeconfigs and encryption config");
  AddInventoryOption(cmd, opts->common);
  AddStateOption(cmd, opts->common);
  AddOutputOption(cmd, opts->common);
  cmd->add_flag(
      "--check", opts->check,
      "change nothing: list every certificate and whether it matches its spec; "
      "exit non-zero on a mismatch or one inside renew_before");
  cmd->callback([opts, exit_code] {
    std::optional<Cluster> cluster =
        LoadClusterOrReport(opts->common, exit_code);
    if (!cluster) return;
    *exit_code =
        opts->check ? RunCheck(*opts, *cluster) : RunEnsure(*opts, *cluster);
  });
});

}  // namespace
}  // namespace hardway::cli
