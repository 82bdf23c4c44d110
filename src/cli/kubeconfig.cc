// `hardway kubeconfig -i FILE [--state DIR]`: prints the admin kubeconfig, e.g.
// `hardway kubeconfig -i inv.yaml > ~/.kube/config`.
#include <iostream>

#include "cli/common.h"
#include "cli/registry.h"
#include "pki/cert_table.h"
#include "util/files.h"

namespace hardway::cli {
namespace {

const bool kRegistered = RegisterCommand(80, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<CommonOptions>();
  CLI::App* cmd = app.add_subcommand(
      "kubeconfig", "print the admin kubeconfig (holds a key)");
  AddInventoryOption(cmd, *opts);
  AddStateOption(cmd, *opts);
  cmd->callback([opts, exit_code] {
    std::optional<Cluster> cluster = LoadClusterOrReport(*opts, exit_code);
    if (!cluster) return;
    auto state_dir = StateDirFor(*opts, *cluster);
    for (const KubeconfigSpec& spec : KubeconfigTable(*cluster)) {
      if (spec.name != "admin") continue;
      auto path = KubeconfigPath(state_dir, spec);
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        *exit_code = ReportError(
            Error{ErrorKind::kPki, "no admin kubeconfig yet", path.string(),
                  "run `hardway certs -i " + opts->inventory + "` first"});
        return;
      }
      auto text = ReadFile(path);
      if (!text) {
        *exit_code = ReportError(text.error());
        return;
      }
      std::cout << *text;
      *exit_code = 0;
    }
  });
});

}  // namespace
}  // namespace hardway::cli
