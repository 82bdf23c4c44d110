// `hardway reset`: the inverse of the bootstrap plan, derived from it so it
// cannot drift — stop and disable every unit the plan starts, remove every file
// it uploads (unit files included), the data folders its commands create (mkdir
// -p / install -d) and its units name (--data-dir), the pending-restart
// markers, then daemon-reload and remove folders left empty. Safe to re-run:
// what is already gone is skipped and not reported.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "run/runner.h"

namespace hardway {

struct ResetTarget {
  std::string host;
  std::vector<std::string> units;    // without ".service"
  std::vector<std::string> files;    // every uploaded or rendered destination
  std::vector<std::string> dirs;     // removed recursively
  std::vector<std::string> parents;  // removed only when empty, deepest first
};

std::vector<ResetTarget> BuildReset(const Plan& plan);

// True for folders hardway may delete recursively: absolute, not a system
// folder, and named after one of our components (etcd, kube*, containerd, cni,
// hardway).
bool IsOurFolder(const std::string& path);

struct ResetResult {
  std::string host;
  std::vector<std::string> stopped;  // units stopped and disabled
  std::vector<std::string> removed;  // files and folders removed
  std::optional<Error> error;
};

std::vector<ResetResult> RunReset(const std::vector<ResetTarget>& targets,
                                  TransportPool& pool, int parallel);

}  // namespace hardway
