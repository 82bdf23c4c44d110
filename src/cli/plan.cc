// `hardway plan -i FILE [--state DIR] [--phase NAME] [--output json]`: builds
// the plan that `hardway up` executes and prints it, step by step, without
// contacting any host. It first makes the local state dir's PKI complete
// (EnsurePki touches only that folder), so sizes and hashes of certificates and
// kubeconfigs are the ones `up` will upload.
#include <iostream>

#include "cli/common.h"
#include "cli/registry.h"
#include "pki/pki.h"
#include "plan/plan_builder.h"
#include "plan/plan_printer.h"
#include "util/files.h"

namespace hardway::cli {
namespace {

struct PlanCmdOptions {
  CommonOptions common;
  std::string phase;
};

int RunPlan(const PlanCmdOptions& opts) {
  int exit_code = 0;
  auto cluster = LoadClusterOrReport(opts.common, &exit_code);
  if (!cluster) return exit_code;
  const std::filesystem::path state_dir = StateDirFor(opts.common, *cluster);
  // The playbook and --phase are checked before the PKI is touched.
  auto book = LoadPlaybook(ResourceDir() / "playbooks" / "bootstrap.yaml");
  if (!book) return ReportError(book.error());
  if (!opts.phase.empty()) {
    bool known = false;
    std::string names;
    for (const PhaseSpec& p : book->phases) {
      known |= p.name == opts.phase;
      names += (names.empty() ? "" : ", ") + p.name;
    }
    if (!known) {
      return ReportError(Error{ErrorKind::kUsage,
                               "no phase named '" + opts.phase + "'",
                               {},
                               "phases are: " + names});
    }
  }
  auto pki = EnsurePki(*cluster, state_dir);
  if (!pki) return ReportError(pki.error());
  size_t issued =
      pki->Count(PkiAction::kIssued) + pki->Count(PkiAction::kReissued);
  if (issued > 0) {
    std::cerr << "hardway: state dir " << state_dir.string() << ": " << issued
              << " file(s) issued or reissued\n";
  }
  PlanOptions plan_options;
  plan_options.state_dir = state_dir;
  plan_options.keep_rendered_content = false;  // printed, never run
  auto plan = BuildPlan(*book, *cluster, plan_options);
  if (!plan) return ReportError(plan.error());
  if (opts.common.output == "json") {
    auto json = PlanToJson(*plan, opts.phase);
    if (!json) return ReportError(json.error());
    std::cout << json->dump(2) << "\n";
  } else {
    auto text = FormatPlanText(*plan, opts.phase);
    if (!text) return ReportError(text.error());
    std::cout << *text;
  }
  return 0;
}

const bool kRegistered = RegisterCommand(30, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<PlanCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "print every step `hardway up` would run, without contacting any host");
  AddInventoryOption(cmd, opts->common);
  AddStateOption(cmd, opts->common);
  AddOutputOption(cmd, opts->common);
  cmd->add_option("--phase", opts->phase, "show only this phase (e.g. etcd)");
  cmd->callback([opts, exit_code] { *exit_code = RunPlan(*opts); });
});

}  // namespace
}  // namespace hardway::cli
