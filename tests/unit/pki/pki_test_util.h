// Shared by the pki tests: clusters from inventory text, temp state dirs, file
// snapshots.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "inventory/cluster.h"
#include "pki/pki.h"
#include "pki/verify_memo.h"
#include "util/files.h"

namespace hardway::testing {

// 3 controllers (etcd + controlplane), 2 workers (node-0 with an FQDN).
inline std::string InventoryYaml(
    const std::string& algorithm = "ecdsa-p256",
    const std::string& node1_address = "10.240.0.21",
    const std::string& controller1_address = "10.240.0.11",
    const std::string& provider = "aescbc", bool with_node1 = true) {
  std::string yaml = R"(cluster:
  name: test
  extra_sans: [k8s.example.com, 203.0.113.10]
pki:
  key_algorithm: )" + algorithm +
                     R"(
encryption: {provider: )" +
                     provider + R"(}
hosts:
  - {name: controller-0, address: 10.240.0.10, roles: [etcd, controlplane]}
  - {name: controller-1, address: )" +
                     controller1_address +
                     R"(, roles: [etcd, controlplane]}
  - {name: controller-2, address: 10.240.0.12, roles: [etcd, controlplane]}
  - {name: node-0, address: 10.240.0.20, fqdn: node-0.example.com, roles: [worker]}
)";
  if (with_node1)
    yaml +=
        "  - {name: node-1, address: " + node1_address + ", roles: [worker]}\n";
  return yaml;
}

inline Cluster MakeCluster(const std::string& yaml) {
  auto inventory = ParseInventory(yaml, "/tmp/pki-test/inventory.yaml");
  if (!inventory) {
    std::string all;
    for (const auto& e : inventory.error()) all += e.ToString() + "\n";
    ADD_FAILURE() << "inventory rejected:\n" << all;
    std::abort();
  }
  return Cluster::Resolve(*inventory);
}

inline std::filesystem::path FreshDir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      ("hardway-pki-" + name + "-" + std::to_string(std::random_device{}()));
  std::filesystem::remove_all(dir);
  return dir / "state";
}

inline PkiOptions TestOptions() {
  PkiOptions options;
  options.templates_dir =
      std::filesystem::path(HARDWAY_SOURCE_DIR) / "playbooks" / "templates";
  return options;
}

struct FileState {
  std::string bytes;
  timespec mtime{};
  bool operator==(const FileState& o) const {
    return bytes == o.bytes && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

// Every regular file under `dir`, by path relative to it, except EnsurePki's
// memo of verified leaves: a cache that changes whenever a leaf's verdict does
// (verify_memo_test watches it).
inline std::map<std::string, FileState> Snapshot(
    const std::filesystem::path& dir) {
  std::map<std::string, FileState> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == kPkiMemoFile) continue;
    struct stat st {};
    ::stat(e.path().c_str(), &st);
    out[e.path().lexically_relative(dir).generic_string()] = {
        *ReadFile(e.path()), st.st_mtim};
  }
  return out;
}

inline std::vector<std::string> ChangedFiles(
    const std::map<std::string, FileState>& before,
    const std::map<std::string, FileState>& after) {
  std::vector<std::string> changed;
  for (const auto& [path, state] : after) {
    auto it = before.find(path);
    if (it == before.end() || !(it->second == state)) changed.push_back(path);
  }
  for (const auto& [path, state] : before) {
    if (!after.contains(path)) changed.push_back(path + " (deleted)");
  }
  return changed;
}

inline unsigned Mode(const std::filesystem::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

}  // namespace hardway::testing
