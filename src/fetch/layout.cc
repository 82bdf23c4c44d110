#include "fetch/layout.h"

#include <algorithm>
#include <fstream>
#include <set>

namespace hardway {

std::vector<std::string> ClusterArches(const Cluster& cluster) {
  std::set<std::string> arches;
  for (const Host& h : cluster.hosts()) arches.insert(h.arch);
  return {arches.begin(), arches.end()};
}

bool PerArchLayout(const Cluster& cluster) {
  return ClusterArches(cluster).size() > 1;
}

std::string ArtifactRelPath(bool per_arch, const std::string& arch,
                            const std::string& name) {
  return per_arch ? arch + "/" + name : name;
}

std::string ElfArch(std::string_view h) {
  if (h.size() < 20 || h.substr(0, 4) !=
                           "\x7f"
                           "ELF")
    return {};
  auto byte = [&](size_t i) {
    return static_cast<unsigned>(static_cast<unsigned char>(h[i]));
  };
  // e_ident[EI_DATA] 1: little endian; e_machine is the half-word at 18.
  unsigned machine = byte(5) == 1 ? (byte(18) | (byte(19) << 8))
                                  : ((byte(18) << 8) | byte(19));
  bool elf64 = byte(4) == 2;
  switch (machine) {
    case 62:  // EM_X86_64
      return "amd64";
    case 183:  // EM_AARCH64
      return "arm64";
    case 40:  // EM_ARM
      return "arm";
    case 3:  // EM_386
      return "386";
    case 243:  // EM_RISCV
      return elf64 ? "riscv64" : "riscv32";
    case 21:  // EM_PPC64
      return byte(5) == 1 ? "ppc64le" : "ppc64";
    case 22:  // EM_S390
      return "s390x";
    default:
      return "machine " + std::to_string(machine);
  }
}

std::string ElfArchOfFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string header(20, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header.size())))
    return {};
  return ElfArch(header);
}

std::string UnameMachine(std::string_view arch) {
  if (arch == "amd64") return "x86_64";
  if (arch == "arm64") return "aarch64";
  if (arch == "arm") return "armv7l";
  if (arch == "386") return "i686";
  return std::string(arch);
}

}  // namespace hardway
