#include "plan/artifact_check.h"

#include <set>
#include <sstream>

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

Status VerifyArtifacts(const Plan& plan, const fs::path& artifacts_dir) {
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
  for (const Phase& phase : plan.phases) {
    for (const Step& step : phase.steps) {
      if (step.kind != StepKind::kUpload ||
          !step.source_label.starts_with("artifact "))
        continue;
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
  if (problems.empty()) return {};
  std::string message = "artifacts refused before any upload:";
  for (const std::string& p : problems) message += "\n  " + p;
  return Fail(ErrorKind::kValidation, message, artifacts_dir.string(),
              "restore the files (scripts/artifacts.sh DIR refills Debian's) "
              "or, if the change "
              "is intended, regenerate " +
                  std::string(kArtifactManifest));
}

}  // namespace hardway
