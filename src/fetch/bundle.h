// The artifact manifest (manifest.json: name, version, arch, sha256 of every
// fetched file), release archives (reading members out of a .tar.gz) and the
// offline bundle: one uncompressed tar of the verified artifact set with its
// manifest, unpacked and checked member by member before use.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "util/error.h"

namespace hardway {

inline constexpr const char* kManifestJson = "manifest.json";

struct ManifestEntry {
  std::string
      path;  // relative to the artifacts folder: "etcd", "arm64/cni/bridge"
  std::string name;     // the artifact: "etcd", "cni/bridge"
  std::string release;  // the release file it came from: "etcd", "cni_plugins"
  std::string version;  // "v3.6.0"
  std::string arch;     // "amd64"
  std::string sha256;
  std::string url;  // where the release file was downloaded from
  bool operator==(const ManifestEntry&) const = default;
};

struct ArtifactManifestJson {
  std::vector<ManifestEntry> entries;  // sorted by path
};

std::string ManifestToJson(const ArtifactManifestJson& manifest);
Result<ArtifactManifestJson> ParseManifestJson(const std::string& text,
                                               const std::string& where);
// "<sha256>  <path>" lines, sorted by path, as sha256sum prints them.
std::string ManifestToSha256Sums(const ArtifactManifestJson& manifest);

// Extracts archive members (names compared without a leading "./") to their
// destinations (written atomically, `mode`), in one pass over the archive.
// Returns each destination's sha256 and whether it changed, in input order.
// A member that is missing or not a regular file is an error naming it.
struct ExtractedMember {
  std::string sha256;
  bool changed = false;
};
Result<std::vector<ExtractedMember>> ExtractMembers(
    const std::filesystem::path& archive,
    const std::vector<std::pair<std::string, std::filesystem::path>>& members,
    std::filesystem::perms mode);

// Writes `out` (through a temporary file and rename): manifest.json,
// SHA256SUMS, then every manifest entry read from `artifacts_dir`, each
// checked against its manifest sha256 on the way.
Status WriteBundle(const std::filesystem::path& artifacts_dir,
                   const ArtifactManifestJson& manifest,
                   const std::filesystem::path& out);

// The folder holding the bundle's artifacts: <cache_dir>/bundles/<sha256 of
// the bundle>/, unpacked on first use. Every member must be listed in the
// bundle's manifest.json with the same sha256; anything else refuses the
// bundle, naming the member, and leaves nothing behind.
Result<std::filesystem::path> UnpackBundle(
    const std::filesystem::path& bundle,
    const std::filesystem::path& cache_dir);

// Reads manifest.json of an artifacts folder or unpacked bundle.
Result<ArtifactManifestJson> ReadManifest(const std::filesystem::path& dir);

}  // namespace hardway
