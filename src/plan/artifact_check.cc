#include "plan/artifact_check.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "fetch/layout.h"
#include "util/files.h"

namespace hardway {
namespace fs = std::filesystem;

Result<std::map<std::string, std::string>> ParseArtifactManifest(
    const std::string& text, const fs::path& path) {
  std::map<std::string, std::string> sums;
  std::istringstream in(text);
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    // "<64 hex><space><space or *><path>", as sha256sum prints it.
    bool hex =
        line.size() > 66 && line.find_first_not_of("0123456789abcdef") == 64;
    if (!hex || line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) {
      return Fail(ErrorKind::kValidation, "not a sha256sum line",
                  path.string() + ":" + std::to_string(line_no),
                  "regenerate it: (cd " + path.parent_path().string() +
                      " && find . -type f ! -name SHA256SUMS | sort | xargs "
                      "sha256sum > SHA256SUMS)");
    }
    std::string name = line.substr(66);
    if (name.starts_with("./")) name = name.substr(2);
    sums[name] = line.substr(0, 64);
  }
  return sums;
}

Status VerifyArtifacts(const Plan& plan, const fs::path& artifacts_dir,
                       const Cluster* cluster) {
  fs::path manifest_path = artifacts_dir / kArtifactManifest;
  std::optional<std::map<std::string, std::string>> manifest;
  std::error_code ec;
  if (fs::exists(manifest_path, ec)) {
    auto text = ReadFile(manifest_path);
    if (!text) return std::unexpected(text.error());
    auto parsed = ParseArtifactManifest(*text, manifest_path);
    if (!parsed) return std::unexpected(parsed.error());
    manifest = std::move(*parsed);
  }

  std::set<std::string> seen;
  std::vector<std::string> problems;
  // (artifact, host arch) -> hosts of that arch given an executable built for
  // another CPU; the ELF machine of each artifact is read once.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>>
      wrong_arch;
  std::map<std::string, std::string> elf_arch;
  for (const Phase& phase : plan.phases) {
    for (const Step& step : phase.steps) {
      if (step.kind != StepKind::kUpload ||
          !step.source_label.starts_with("artifact "))
        continue;
      if (const Host* host = cluster ? cluster->host(step.host) : nullptr;
          host && !step.missing) {
        auto [it, inserted] = elf_arch.try_emplace(step.source);
        if (inserted) it->second = ElfArchOfFile(step.source);
        if (!it->second.empty() && it->second != host->arch) {
          auto& hosts = wrong_arch[{step.source, host->arch}];
          if (std::find(hosts.begin(), hosts.end(), host->name) == hosts.end())
            hosts.push_back(host->name);
        }
      }
      if (!seen.insert(step.source).second) continue;
      std::string name =
          fs::path(step.source).lexically_relative(artifacts_dir).string();
      if (step.missing) {
        problems.push_back(name + ": missing (" + step.source + ")");
        continue;
      }
      if (!manifest) continue;
      auto it = manifest->find(name);
      if (it == manifest->end()) {
        problems.push_back(name + ": not listed in " + manifest_path.string());
      } else if (it->second != step.sha256) {
        problems.push_back(name + ": sha256 " + step.sha256.substr(0, 16) +
                           "… does not match the manifest's " +
                           it->second.substr(0, 16) +
                           "… (corrupt or replaced)");
      }
    }
  }
  for (const auto& [key, hosts] : wrong_arch) {
    const auto& [source, arch] = key;
    std::string name =
        fs::path(source).lexically_relative(artifacts_dir).string();
    std::string names = hosts.front();
    if (hosts.size() > 1) {
      names += " (and " + std::to_string(hosts.size() - 1) + " more " + arch +
               " host" + (hosts.size() > 2 ? "s" : "") + ")";
    }
    problems.push_back(name + ": built for " + elf_arch[source] +
                       " (ELF header), but host " + names + " is " + arch +
                       " (hosts[].arch)");
  }
  if (problems.empty()) return {};
  std::string message = "artifacts refused before any upload:";
  for (const std::string& p : problems) message += "\n  " + p;
  return Fail(ErrorKind::kValidation, message, artifacts_dir.string(),
              "`hardway fetch -i INVENTORY` fetches and verifies the right "
              "files for each host's arch (scripts/artifacts.sh DIR refills "
              "Debian's); if a change is intended, regenerate " +
                  std::string(kArtifactManifest));
}

}  // namespace hardway
