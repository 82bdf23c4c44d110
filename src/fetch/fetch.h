// `hardway fetch`: downloads every release file the cluster's hosts need into
// the cache, verifies each against its published (or pinned) sha256, unpacks
// the archives and fills the artifacts folder, then writes SHA256SUMS and
// manifest.json there. Nothing unverified reaches the artifacts folder, and
// with everything cached nothing is downloaded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "fetch/bundle.h"
#include "fetch/download.h"
#include "inventory/cluster.h"
#include "util/error.h"

namespace hardway {

struct FetchOptions {
  std::filesystem::path releases_file;  // empty: DefaultReleasesFile()
  int parallel = 4;                     // downloads at once
  DownloadOptions download;
  bool progress = false;  // draw a progress bar on stderr (a TTY)
};

struct FetchedFile {
  std::string name;  // release name
  std::string arch;
  std::string version;
  std::string url;
  bool downloaded = false;  // false: the cache had it, verified
  bool resumed = false;     // continued an earlier partial download
  uint64_t size = 0;
  int requests = 0;  // requests for the file itself (retries included)
};

struct FetchReport {
  std::filesystem::path artifacts_dir;
  std::filesystem::path cache_dir;
  std::vector<FetchedFile> files;  // one per release file and architecture
  ArtifactManifestJson manifest;   // now in artifacts_dir/manifest.json
  size_t artifacts_changed = 0;    // artifacts written (new or different)
};

// artifacts.cache resolved against the inventory's folder; default
// $XDG_CACHE_HOME/hardway, else ~/.cache/hardway.
std::filesystem::path CacheDirFor(const Cluster& cluster);

// The artifacts folder configured in the inventory (artifacts.dir), whether
// or not a bundle replaces it.
std::filesystem::path ConfiguredArtifactsDir(const Cluster& cluster);

Result<FetchReport> Fetch(const Cluster& cluster, const FetchOptions& options);

// For inventories with artifacts.bundle: unpacks (once) and verifies the
// bundle into the cache and returns that folder, which then serves as the
// artifacts folder. Empty path when the inventory sets no bundle.
Result<std::filesystem::path> BundleArtifactsDir(const Inventory& inventory);

}  // namespace hardway
