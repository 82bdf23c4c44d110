// `hardway doctor -i FILE`: every host and every mutual-TLS link of the
// cluster checked over SSH, read-only; a table (or --output json) of findings,
// non-zero exit when one fails (docs/doctor.md).
#include "doctor/doctor.h"

#include "cli/common.h"
#include "cli/registry.h"

namespace hardway::cli {
namespace {

struct DoctorCmdOptions {
  CommonOptions common;
  int parallel = 16;
  std::string host;
};

const bool kRegistered = RegisterCommand(55, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<DoctorCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "doctor",
      "check every host and mutual-TLS link of the live cluster (read-only)");
  AddInventoryOption(cmd, opts->common);
  AddStateOption(cmd, opts->common);
  AddOutputOption(cmd, opts->common);
  cmd->add_option("--parallel", opts->parallel, "hosts examined at once")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--host", opts->host,
                  "only this host: its files, units, clock, certificates and "
                  "the links tested from it");
  cmd->callback([opts, exit_code] {
    auto cluster = LoadClusterOrReport(opts->common, exit_code);
    if (!cluster) return;
    DoctorCommandOptions doctor;
    doctor.state_dir = StateDirFor(opts->common, *cluster);
    doctor.output = opts->common.output;
    doctor.parallel = opts->parallel;
    doctor.host = opts->host;
    *exit_code = DoctorCommand(*cluster, doctor);
  });
});

}  // namespace
}  // namespace hardway::cli
