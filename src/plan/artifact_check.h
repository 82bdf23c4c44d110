// Refuses corrupt or missing artifacts before anything is sent to a host.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "inventory/cluster.h"
#include "plan/plan.h"
#include "util/error.h"

namespace hardway {

// The artifacts folder's manifest: SHA256SUMS in `sha256sum` format, paths
// relative to the folder. Written by scripts/artifacts.sh (and by whoever adds
// binaries, e.g. the e2e harness).
inline constexpr const char* kArtifactManifest = "SHA256SUMS";

// Parses a manifest: relative path -> sha256 hex. Errors name the file and
// line.
Result<std::map<std::string, std::string>> ParseArtifactManifest(
    const std::string& text, const std::filesystem::path& path);

// Every artifact the plan uploads must exist, and, when the manifest exists, be
// listed in it with the same sha256 (the plan already hashed each file once).
// Without a manifest only presence is checked. With `cluster`, an executable
// (ELF) built for another CPU than a host's hosts[].arch is refused too,
// naming the artifact and the host. Returns every problem in one error,
// naming each artifact.
Status VerifyArtifacts(const Plan& plan,
                       const std::filesystem::path& artifacts_dir,
                       const Cluster* cluster = nullptr);

}  // namespace hardway
