// `hardway validate -i FILE`: loads and checks the inventory; prints the
// resolved cluster, or every error found.
#include <iostream>

#include "cli/common.h"
#include "cli/registry.h"
#include "inventory/describe.h"

namespace hardway::cli {
namespace {

const bool kRegistered = RegisterCommand(10, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<CommonOptions>();
  CLI::App* cmd = app.add_subcommand("validate",
                                     "check an inventory and print the "
                                     "resolved cluster (or every error found)");
  AddInventoryOption(cmd, *opts);
  cmd->callback([opts, exit_code] {
    std::optional<Cluster> cluster = LoadClusterOrReport(*opts, exit_code);
    if (!cluster) return;
    std::cout << opts->inventory << ": ok\n" << DescribeCluster(*cluster);
    *exit_code = 0;
  });
});

}  // namespace
}  // namespace hardway::cli
