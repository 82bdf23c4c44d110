// `hardway explain NAME [-i FILE]`: what a certificate, CA, kubeconfig,
// component or phase is for, who presents and who verifies it, which flags and
// files name it, which phase installs it and which gate checks it. Without -i
// it explains hardway's example inventory and says so first. Reads the
// inventory and the playbook only; needs no PKI and makes no state dir.
#include "trust/explain.h"

#include <iostream>

#include "cli/common.h"
#include "cli/registry.h"
#include "plan/plan_builder.h"
#include "util/files.h"

namespace hardway::cli {
namespace {

struct ExplainCmdOptions {
  CommonOptions common;
  std::string name;
};

int RunExplain(const ExplainCmdOptions& given) {
  ExplainCmdOptions opts = given;
  std::string intro;
  if (opts.common.inventory.empty()) {
    opts.common.inventory =
        (ResourceDir() / "inventory" / "example.yaml").string();
    intro = "(hardway's example inventory " + opts.common.inventory +
            "; pass -i FILE for your cluster)\n\n";
  }
  int exit_code = 0;
  auto cluster = LoadClusterOrReport(opts.common, &exit_code);
  if (!cluster) return exit_code;
  PlanOptions plan_options;
  plan_options.state_dir = StateDirFor(opts.common, *cluster);  // only read
  auto plan = BuildPlan(*cluster, plan_options);
  if (!plan) return ReportError(plan.error());
  auto text = Explain(*cluster, *plan, opts.name);
  if (!text) return ReportError(text.error());
  std::cout << intro << *text;
  return 0;
}

const bool kRegistered = RegisterCommand(95, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<ExplainCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "explain",
      "explain a certificate, CA, kubeconfig, component or phase: who "
      "presents and verifies it, where it is configured, which gate checks "
      "it");
  cmd->add_option("name", opts->name,
                  "e.g. kubelet-node-0, etcd/server-controller-0, etcd-ca, "
                  "admin, kubelet, etcd, distribute")
      ->required();
  cmd->add_option("-i,--inventory", opts->common.inventory,
                  "inventory YAML file; default: hardway's example")
      ->check(CLI::ExistingFile);
  cmd->callback([opts, exit_code] { *exit_code = RunExplain(*opts); });
});

}  // namespace
}  // namespace hardway::cli
