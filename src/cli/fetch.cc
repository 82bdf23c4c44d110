// `hardway fetch -i FILE [--bundle OUT.tar] [--parallel N]`: downloads the
// release files the inventory's versions and host architectures call for,
// verifies each against its published (or pinned) sha256, and fills the
// artifacts folder with SHA256SUMS and manifest.json; --bundle also writes the
// verified set as one tar for offline use (artifacts.bundle).
#include "fetch/fetch.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/common.h"
#include "cli/registry.h"
#include "util/sha256.h"

namespace hardway::cli {
namespace {

struct FetchCmdOptions {
  CommonOptions common;
  std::string bundle;
  int parallel = 4;
};

std::string Size(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

int RunFetch(const FetchCmdOptions& opts) {
  // Not LoadClusterOrReport: that swaps artifacts.dir for an inventory's
  // bundle, and fetch fills the folder the inventory names.
  auto inventory = LoadInventory(opts.common.inventory);
  if (!inventory) {
    for (const Error& e : inventory.error())
      std::cerr << "error: " << e.ToString() << "\n";
    std::cerr << inventory.error().size() << " error(s) in "
              << opts.common.inventory << "\n";
    return ExitCodeFor(ErrorKind::kValidation);
  }
  if (!inventory->artifacts.bundle.empty()) {
    if (!opts.bundle.empty()) {
      return ReportError(
          Error{ErrorKind::kUsage,
                "the inventory already uses the bundle " +
                    inventory->artifacts.bundle.string(),
                opts.common.inventory,
                "remove artifacts.bundle to fetch from the network and "
                "write a new bundle"});
    }
    auto dir = BundleArtifactsDir(*inventory);
    if (!dir) return ReportError(dir.error());
    auto manifest = ReadManifest(*dir);
    if (!manifest) return ReportError(manifest.error());
    std::cout << "bundle " << inventory->artifacts.bundle.string() << ": "
              << manifest->entries.size() << " artifacts verified, unpacked in "
              << dir->string()
              << "\nplan and up use it; nothing was downloaded\n";
    return 0;
  }
  const Cluster cluster = Cluster::Resolve(*inventory);
  FetchOptions options;
  options.parallel = opts.parallel;
  options.progress = isatty(STDERR_FILENO) != 0;
  auto report = Fetch(cluster, options);
  if (!report) return ReportError(report.error());
  size_t downloaded = 0;
  for (const FetchedFile& f : report->files) {
    std::cout << (f.downloaded ? (f.resumed ? "resumed    " : "downloaded ")
                               : "cached     ")
              << f.name << " " << f.version << " " << f.arch << " ("
              << Size(f.size) << ")\n";
    downloaded += f.downloaded ? 1 : 0;
  }
  std::cout
      << report->artifacts_dir.string() << ": "
      << report->manifest.entries.size() << " artifacts verified ("
      << report->artifacts_changed << " written), " << downloaded << " of "
      << report->files.size()
      << " release files downloaded; SHA256SUMS and manifest.json updated\n";
  if (!opts.bundle.empty()) {
    if (auto w =
            WriteBundle(report->artifacts_dir, report->manifest, opts.bundle);
        !w)
      return ReportError(w.error());
    auto sha = Sha256File(opts.bundle);
    std::cout << "bundle " << opts.bundle << " (sha256 " << (sha ? *sha : "?")
              << "): use it offline with artifacts: {bundle: " << opts.bundle
              << "}\n";
  }
  return 0;
}

const bool kRegistered = RegisterCommand(15, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<FetchCmdOptions>();
  CLI::App* cmd =
      app.add_subcommand("fetch",
                         "download and verify the release binaries into the "
                         "artifacts folder (and a bundle)");
  AddInventoryOption(cmd, opts->common);
  cmd->add_option(
      "--bundle", opts->bundle,
      "also write the verified artifacts and their manifest as this .tar");
  cmd->add_option("--parallel", opts->parallel, "downloads at once")
      ->check(CLI::Range(1, 64));
  cmd->callback([opts, exit_code] { *exit_code = RunFetch(*opts); });
});

}  // namespace
}  // namespace hardway::cli
