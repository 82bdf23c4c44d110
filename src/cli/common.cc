#include "cli/common.h"

#include <iostream>

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
