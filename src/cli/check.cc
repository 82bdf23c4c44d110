// `hardway check -i FILE`: runs every gate of the plan against the live cluster
// and prints a table (gate, host, verdict, detail); exits non-zero when one
// fails.
#include "cli/common.h"
#include "cli/registry.h"
#include "run/commands.h"
#include "util/duration.h"

namespace hardway::cli {
namespace {

struct CheckCmdOptions {
  CommonOptions common;
  int parallel = 16;
  std::string timeout = "10s";
};

const bool kRegistered = RegisterCommand(50, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<CheckCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check", "run every health gate against the live cluster");
  AddInventoryOption(cmd, opts->common);
  AddStateOption(cmd, opts->common);
  AddOutputOption(cmd, opts->common);
  cmd->add_option("--parallel", opts->parallel, "hosts checked at once")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--timeout", opts->timeout,
                  "longest wait per gate (e.g. 10s, 1m)");
  cmd->callback([opts, exit_code] {
    auto timeout = ParseDuration(opts->timeout);
    if (!timeout) {
      *exit_code = ReportError(Error{ErrorKind::kUsage,
                                     "bad --timeout " + opts->timeout,
                                     {},
                                     "a duration such as 10s, 500ms or 1m"});
      return;
    }
    auto cluster = LoadClusterOrReport(opts->common, exit_code);
    if (!cluster) return;
    CheckOptions check;
    check.state_dir = StateDirFor(opts->common, *cluster);
    check.output = opts->common.output;
    check.parallel = opts->parallel;
    check.timeout = *timeout;
    *exit_code = CheckCommand(*cluster, check);
  });
});

}  // namespace
}  // namespace hardway::cli
