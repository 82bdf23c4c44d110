// `hardway up -i FILE`: builds the cluster by executing the plan that `hardway
// plan` prints.
#include "cli/common.h"
#include "cli/registry.h"
#include "run/commands.h"

namespace hardway::cli {
namespace {

struct UpCmdOptions {
  CommonOptions common;
  UpOptions up;
};

const bool kRegistered = RegisterCommand(40, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<UpCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "up", "bring the cluster up (idempotent: re-run to converge)");
  AddInventoryOption(cmd, opts->common);
  AddStateOption(cmd, opts->common);
  AddOutputOption(cmd, opts->common);
  cmd->add_option("--parallel", opts->up.parallel, "hosts worked on at once")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--only", opts->up.only, "run just this phase");
  cmd->add_option("--from", opts->up.from, "start at this phase")
      ->excludes("--only");
  cmd->add_flag("--step", opts->up.step,
                "ask before each phase: Enter runs it, s skips it, q quits "
                "(needs a terminal)");
  cmd->add_flag(
      "--dry-run", opts->up.dry_run,
      "print the plan and run it against recording hosts; touch nothing");
  cmd->callback([opts, exit_code] {
    auto cluster = LoadClusterOrReport(opts->common, exit_code);
    if (!cluster) return;
    UpOptions up = opts->up;
    up.state_dir = StateDirFor(opts->common, *cluster);
    up.output = opts->common.output;
    *exit_code = UpCommand(*cluster, up);
  });
});

}  // namespace
}  // namespace hardway::cli
