// Options and helpers every subcommand shares.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "inventory/cluster.h"
#include "util/error.h"

namespace hardway::cli {

struct CommonOptions {
  std::string inventory;  // -i/--inventory (required)
  std::string state_dir;  // --state; default: state/<cluster>/ beside the inventory
  std::string output = "text";  // --output text|json
};

void AddInventoryOption(CLI::App* cmd, CommonOptions& opts);
void AddStateOption(CLI::App* cmd, CommonOptions& opts);
void AddOutputOption(CLI::App* cmd, CommonOptions& opts);

// Loads and validates the inventory; on failure prints every error to stderr and returns the
// validation exit code in *exit_code.
std::optional<Cluster> LoadClusterOrReport(const CommonOptions& opts, int* exit_code);

std::filesystem::path StateDirFor(const CommonOptions& opts, const Cluster& cluster);

// Prints the error to stderr ("hardway: ...") and returns its exit code.
int ReportError(const Error& error);

}  // namespace hardway::cli
