// The library side of `hardway up`, `check` and `reset`: the CLI handlers bind
// options and call these, which print and return the process exit code
// (docs/exit-codes.md).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "inventory/cluster.h"

namespace hardway {

// In the state dir: written when a whole `up` passed every gate, removed when
// one fails and by `reset`. Its presence turns on the runner's survey.
inline constexpr const char* kLastUpFile = "last-up.json";

struct UpOptions {
  std::filesystem::path state_dir;
  std::string output = "text";  // text | json
  int parallel = 16;
  std::string only;
  std::string from;
  bool step = false;
  bool dry_run = false;
};
int UpCommand(const Cluster& cluster, const UpOptions& options);

struct CheckOptions {
  std::filesystem::path state_dir;
  std::string output = "text";
  int parallel = 16;
  std::chrono::milliseconds timeout{
      10'000};  // per gate, capped by the gate's own
};
int CheckCommand(const Cluster& cluster, const CheckOptions& options);

struct ResetOptions {
  std::filesystem::path state_dir;
  bool yes = false;
  int parallel = 16;
};
int ResetCommand(const Cluster& cluster, const ResetOptions& options);

}  // namespace hardway
