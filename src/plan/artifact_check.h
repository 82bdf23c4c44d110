// Refuses corrupt or missing artifacts before anything is sent to a host.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "inventory/cluster.h"
#include "plan/plan.h"
#include "util/error.h"

namespace hardway {

// The artifacts folder's manifests, relative paths -> sha256:
//  - manifest.json (fetch/bundle.h kManifestJson), written by `hardway fetch`
//    and by an unpacked bundle;
//  - SHA256SUMS in `sha256sum` format, written by `hardway fetch` too, and by
//    scripts/artifacts.sh and whoever adds binaries by hand (the e2e harness).
inline constexpr const char* kArtifactManifest = "SHA256SUMS";

// Parses a SHA256SUMS: relative path -> sha256 hex. Errors name the file and
// line.
Result<std::map<std::string, std::string>> ParseArtifactManifest(
    const std::string& text, const std::filesystem::path& path);

struct ArtifactCheck {
  // The manifests every artifact was checked against (manifest.json first);
  // empty when the folder has none.
  std::vector<std::filesystem::path> manifests;
  // Set when artifacts were uploaded by the plan but nothing could verify
  // them (no manifest): says so and how to get one. `up` prints it.
  std::string warning;
};

// Every artifact the plan uploads must exist, be listed in at least one of the
// folder's manifests, and match the sha256 of every manifest listing it (the
// plan already hashed each file once); a mismatch names the file, both sums
// and the manifest. Without any manifest only presence is checked, and the
// result carries a warning. With `cluster`, an executable (ELF) built for
// another CPU than a host's hosts[].arch is refused too, naming the artifact
// and the host. Returns every problem in one error, naming each artifact.
Result<ArtifactCheck> VerifyArtifacts(
    const Plan& plan, const std::filesystem::path& artifacts_dir,
    const Cluster* cluster = nullptr);

}  // namespace hardway
