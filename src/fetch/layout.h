// Where artifacts live in the artifacts folder, and which CPU an executable is
// built for. One rule, used by `hardway fetch` (which writes the folder), the
// plan builder (which reads it) and the artifact check before `up`.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "inventory/cluster.h"

namespace hardway {

// The architectures of the cluster's hosts, sorted, each once.
std::vector<std::string> ClusterArches(const Cluster& cluster);

// Flat ("etcd", "cni/bridge") when every host has the same architecture;
// one subfolder per architecture ("amd64/etcd", "arm64/etcd") when they differ.
bool PerArchLayout(const Cluster& cluster);

// The artifact's path relative to the artifacts folder for hosts of `arch`.
std::string ArtifactRelPath(bool per_arch, const std::string& arch,
                            const std::string& name);

// The architecture an ELF header (at least 20 bytes) was built for, named as
// release files name it: "amd64", "arm64", "arm", "386", "riscv64", ... or
// "machine N" for others; empty when `header` is not an ELF header.
std::string ElfArch(std::string_view header);
// Same for a file; empty when it is unreadable or not ELF.
std::string ElfArchOfFile(const std::filesystem::path& path);

// "x86_64" for amd64, "aarch64" for arm64: what `uname -m` prints.
std::string UnameMachine(std::string_view arch);

}  // namespace hardway
