// Shared by the plan tests: inventories, a PKI state dir made once per test
// binary, and the plan built from them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "inventory/cluster.h"
#include "pki/pki.h"
#include "plan/plan_builder.h"
#include "util/files.h"

namespace hardway::testing {

namespace fs = std::filesystem;

inline fs::path TempRoot() {
  static const fs::path root = [] {
    fs::path p = fs::temp_directory_path() /
                 ("hardway-plan-test-" + std::to_string(getpid()));
    fs::create_directories(p);
    return p;
  }();
  return root;
}

// Removes the temp folder when the test binary exits.
class TempRootCleaner : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(TempRoot(), ec);
  }
};

// Three control-plane hosts (etcd too) and two workers, the start of the
// inventories below.
inline const std::string kThreePlusTwoHosts =
    R"(  - {name: cp-0, address: 10.0.0.10, roles: [etcd, controlplane]}
  - {name: cp-1, address: 10.0.0.11, roles: [etcd, controlplane]}
  - {name: cp-2, address: 10.0.0.12, roles: [etcd, controlplane]}
  - {name: w-0, address: 10.0.0.20, roles: [worker]}
  - {name: w-1, address: 10.0.0.21, roles: [worker]}
)";

inline const std::string kThreeByFive =
    R"(cluster:
  name: big
  extra_args:
    kube-apiserver: {--audit-log-maxage: "30"}
    kubelet: {v: "4"}
hosts:
)" + kThreePlusTwoHosts +
    R"(  - {name: w-2, address: 10.0.0.22, roles: [worker]}
  - {name: w-3, address: 10.0.0.23, roles: [worker]}
  - {name: w-4, address: 10.0.0.24, roles: [worker]}
)";

// kThreePlusTwoHosts in a cluster `name`.
inline std::string ThreePlusTwoInventory(const std::string& name) {
  return "cluster: {name: " + name + "}\nhosts:\n" + kThreePlusTwoHosts;
}

inline std::string ExampleInventoryText() {
  auto text =
      ReadFile(fs::path(HARDWAY_SOURCE_DIR) / "inventory" / "example.yaml");
  EXPECT_TRUE(text.has_value());
  return text.value_or("");
}

// Parses `yaml` as if it were the file <temp>/<name>/inventory.yaml, so its
// relative artifacts dir (./artifacts) points at an empty temp folder, never at
// the user's.
inline Cluster MakeCluster(const std::string& yaml, const std::string& name) {
  fs::path dir = TempRoot() / name;
  fs::create_directories(dir);
  auto inv = ParseInventory(yaml, dir / "inventory.yaml");
  if (!inv) {
    for (const Error& e : inv.error()) ADD_FAILURE() << e.ToString();
    std::abort();
  }
  return Cluster::Resolve(*inv);
}

// The state dir for a cluster, filled by EnsurePki once per test binary and
// cluster name.
inline fs::path StateFor(const Cluster& cluster) {
  static std::map<std::string, fs::path> made;
  auto it = made.find(cluster.name());
  if (it != made.end()) return it->second;
  fs::path state = TempRoot() / cluster.name() / "state";
  auto report = EnsurePki(cluster, state);
  if (!report) {
    ADD_FAILURE() << report.error().ToString();
    std::abort();
  }
  made[cluster.name()] = state;
  return state;
}

inline Plan MustBuild(const Cluster& cluster) {
  PlanOptions options;
  options.state_dir = StateFor(cluster);
  auto plan = BuildPlan(cluster, options);
  if (!plan) {
    ADD_FAILURE() << plan.error().ToString();
    std::abort();
  }
  return *plan;
}

}  // namespace hardway::testing
