#include "plan/artifact_check.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "fetch/bundle.h"
#include "fetch/layout.h"
#include "util/files.h"

namespace hardway {
namespace fs = std::filesystem;

namespace {

// How to (re)write SHA256SUMS for files made by hand.
std::string RegenerateSha256Sums(const fs::path& dir) {
  return "(cd " + dir.string() +
         " && find . -type f ! -name SHA256SUMS ! -name manifest.json | sort "
         "| xargs sha256sum > SHA256SUMS)";
}

}  // namespace

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
                  "regenerate it: " + RegenerateSha256Sums(path.parent_path()));
    }
    std::string name = line.substr(66);
    if (name.starts_with("./")) name = name.substr(2);
    sums[name] = line.substr(0, 64);
  }
  return sums;
}

namespace {

// One manifest of the folder, read as relative path -> sha256.
struct Manifest {
  fs::path path;
  std::map<std::string, std::string> sums;
};

// manifest.json, then SHA256SUMS: those of the two the folder has.
Result<std::vector<Manifest>> ReadManifests(const fs::path& dir) {
  std::vector<Manifest> out;
  std::error_code ec;
  if (fs::exists(dir / kManifestJson, ec)) {
    auto parsed = ReadManifest(dir);
    if (!parsed) return std::unexpected(parsed.error());
    Manifest m{dir / kManifestJson, {}};
    for (const ManifestEntry& e : parsed->entries) m.sums[e.path] = e.sha256;
    out.push_back(std::move(m));
  }
  const fs::path sums_path = dir / kArtifactManifest;
  if (fs::exists(sums_path, ec)) {
    auto text = ReadFile(sums_path);
    if (!text) return std::unexpected(text.error());
    auto parsed = ParseArtifactManifest(*text, sums_path);
    if (!parsed) return std::unexpected(parsed.error());
    out.push_back(Manifest{sums_path, std::move(*parsed)});
  }
  return out;
}

}  // namespace

Result<ArtifactCheck> VerifyArtifacts(const Plan& plan,
                                      const fs::path& artifacts_dir,
                                      const Cluster* cluster) {
  auto manifests = ReadManifests(artifacts_dir);
  if (!manifests) return std::unexpected(manifests.error());

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
      if (manifests->empty()) continue;
      // Listed in at least one manifest; every manifest listing it agrees
      // (SHA256SUMS may also list files added by hand that manifest.json,
      // written by fetch, does not).
      bool listed = false;
      for (const Manifest& m : *manifests) {
        auto it = m.sums.find(name);
        if (it == m.sums.end()) continue;
        listed = true;
        if (it->second != step.sha256) {
          problems.push_back(name + ": sha256 " + step.sha256 +
                             " does not match " + it->second + " in " +
                             m.path.string() + " (corrupt or replaced)");
        }
      }
      if (!listed) {
        std::string where = manifests->front().path.string();
        for (size_t i = 1; i < manifests->size(); ++i)
          where += " or " + (*manifests)[i].path.string();
        problems.push_back(name + ": not listed in " + where);
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
  if (problems.empty()) {
    ArtifactCheck check;
    for (const Manifest& m : *manifests) check.manifests.push_back(m.path);
    if (manifests->empty() && !seen.empty()) {
      check.warning =
          "the artifacts in " + artifacts_dir.string() +
          " are not verified (only their presence is checked): it has "
          "neither " +
          std::string(kManifestJson) + " nor " + kArtifactManifest +
          ". `hardway fetch -i INVENTORY` writes both; for files made by "
          "hand: " +
          RegenerateSha256Sums(artifacts_dir);
    }
    return check;
  }
  std::string message = "artifacts refused before any upload:";
  for (const std::string& p : problems) message += "\n  " + p;
  const bool has_json = std::ranges::any_of(*manifests, [](const Manifest& m) {
    return m.path.filename() == kManifestJson;
  });
  return Fail(ErrorKind::kValidation, message, artifacts_dir.string(),
              "`hardway fetch -i INVENTORY` fetches and verifies the right "
              "files for each host's arch (scripts/artifacts.sh DIR refills "
              "Debian's); if a change is intended, regenerate " +
                  std::string(kArtifactManifest) + ": " +
                  RegenerateSha256Sums(artifacts_dir) +
                  (has_json ? " and remove " + std::string(kManifestJson) +
                                  " (only `hardway fetch` writes it)"
                            : ""));
}

}  // namespace hardway
