// The release files `hardway fetch` downloads: data/releases.yaml (official
// URL templates and where each file's sha256 is published), turned into
// concrete downloads for an inventory's versions, host architectures, mirror,
// URL overrides and pinned checksums.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inventory/cluster.h"
#include "util/error.h"

namespace hardway {

enum class ChecksumSource {
  kFile,  // a file holding the sha256 of this one file ("{{url}}.sha256")
  kList,  // a sha256sum-style list naming the file by its base name
};

// One entry of data/releases.yaml.
struct ReleaseSpec {
  std::string name;        // "etcd": key of artifacts.urls / artifacts.sha256
  std::string version_of;  // "kubernetes" or a key of artifacts.versions
  std::string url;         // template: {{version}}, {{bare_version}}, {{arch}}
  ChecksumSource checksum = ChecksumSource::kFile;
  std::string checksum_url;  // template; also {{url}} and {{dir}}
  bool archive = false;      // a .tar.gz: `files` maps paths to members
  // Path in the artifacts folder -> archive member (template); for a binary
  // one entry with an empty member.
  std::vector<std::pair<std::string, std::string>> files;
  int line = 0;  // in the releases file, for messages
};

struct Releases {
  std::filesystem::path path;
  std::vector<ReleaseSpec> specs;
};

// ResourceDir()/data/releases.yaml.
std::filesystem::path DefaultReleasesFile();
Result<Releases> LoadReleases(const std::filesystem::path& path);
// From text (tests); `path` is only used in messages.
Result<Releases> ParseReleases(const std::string& text,
                               const std::filesystem::path& path);

// Replaces every {{name}} with vars[name]; an unknown name or an unclosed
// "{{" is an error naming it.
Result<std::string> ExpandTemplate(
    std::string_view text, const std::map<std::string, std::string>& vars);

// The rule of artifacts.mirror: the URL's "scheme://host[:port]" is replaced by
// the mirror, the path is kept. ("https://dl.k8s.io/release/v1/kubelet",
// "http://m:8080/k8s") -> "http://m:8080/k8s/release/v1/kubelet". An empty
// mirror returns the URL unchanged.
std::string ApplyMirror(const std::string& url, const std::string& mirror);

// One file to download for one architecture, everything filled in.
struct FetchItem {
  std::string name;      // release name ("etcd")
  std::string arch;      // "amd64"
  std::string version;   // "v3.6.0"
  std::string url;       // after override or mirror
  std::string filename;  // last path segment of `url`
  ChecksumSource checksum = ChecksumSource::kFile;
  std::string checksum_url;
  std::string pinned_sha256;  // from artifacts.sha256; wins over the published
  std::string pin_key;        // "etcd" or "etcd/amd64": where the pin came from
  bool archive = false;
  // Path relative to the artifacts folder ("etcd", or "arm64/etcd" in the
  // per-arch layout) -> archive member ("" for a binary).
  std::vector<std::pair<std::string, std::string>> files;
};

// Every download the cluster needs: each release for each host architecture.
// Errors name the releases file or inventory key concerned.
Result<std::vector<FetchItem>> ResolveFetch(const Releases& releases,
                                            const Cluster& cluster);

// The version of `version_of` ("kubernetes", "etcd", ...) in the inventory.
std::string ReleaseVersion(const Inventory& inventory,
                           const std::string& version_of);

}  // namespace hardway
