#include "cli/common.h"

#include <iostream>

#include "fetch/fetch.h"

namespace hardway::cli {

void AddInventoryOption(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_option("-i,--inventory", opts.inventory, "inventory YAML file")
      ->required()
      ->check(CLI::ExistingFile);
}

void AddStateOption(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_option("--state", opts.state_dir,
                  "state dir (PKI, kubeconfigs); default: state/<cluster>/ beside the inventory");
}

void AddOutputOption(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_option("--output", opts.output, "output format")
      ->check(CLI::IsMember({"text", "json"}));
}

std::optional<Cluster> LoadClusterOrReport(const CommonOptions& opts, int* exit_code) {
  auto inventory = LoadInventory(opts.inventory);
  if (!inventory) {
    for (const Error& e : inventory.error()) std::cerr << "error: " << e.ToString() << "\n";
    std::cerr << inventory.error().size() << " error(s) in " << opts.inventory << "\n";
    *exit_code = ExitCodeFor(ErrorKind::kValidation);
    return std::nullopt;
  }
  // artifacts.bundle: the bundle, unpacked once into the cache and checked
  // member by member, serves as the artifacts folder (offline).
  if (!inventory->artifacts.bundle.empty()) {
    auto dir = BundleArtifactsDir(*inventory);
    if (!dir) {
      *exit_code = ReportError(dir.error());
      return std::nullopt;
    }
    inventory->artifacts.dir = *dir;
  }
  return Cluster::Resolve(*inventory);
}

std::filesystem::path StateDirFor(const CommonOptions& opts, const Cluster& cluster) {
  if (!opts.state_dir.empty()) return opts.state_dir;
  return cluster.default_state_dir();
}

int ReportError(const Error& error) {
  std::cerr << "hardway: " << error.ToString() << "\n";
  return ExitCodeFor(error.kind);
}

}  // namespace hardway::cli
