// `hardway reset -i FILE [--yes]`: undoes `up` on every host (the inverse of
// the bootstrap plan); asks on a terminal unless --yes.
#include "cli/common.h"
#include "cli/registry.h"
#include "run/commands.h"

namespace hardway::cli {
namespace {

struct ResetCmdOptions {
  CommonOptions common;
  ResetOptions reset;
};

const bool kRegistered = RegisterCommand(70, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<ResetCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "reset",
      "stop our units and remove everything `up` installed (safe to re-run)");
  AddInventoryOption(cmd, opts->common);
  AddStateOption(cmd, opts->common);
  cmd->add_flag("--yes", opts->reset.yes, "do not ask for confirmation");
  cmd->add_option("--parallel", opts->reset.parallel, "hosts worked on at once")
      ->check(CLI::Range(1, 1024));
  cmd->callback([opts, exit_code] {
    auto cluster = LoadClusterOrReport(opts->common, exit_code);
    if (!cluster) return;
    ResetOptions reset = opts->reset;
    reset.state_dir = StateDirFor(opts->common, *cluster);
    *exit_code = ResetCommand(*cluster, reset);
  });
});

}  // namespace
}  // namespace hardway::cli
