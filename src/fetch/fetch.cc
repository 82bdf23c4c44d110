#include "fetch/fetch.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "fetch/install.h"
#include "fetch/layout.h"
#include "fetch/releases.h"
#include "util/files.h"
#include "util/sha256.h"

namespace hardway {
namespace fs = std::filesystem;

namespace {

fs::path BaseDir(const Inventory& inv) {
  std::error_code ec;
  fs::path file = fs::absolute(inv.path, ec);
  if (ec) file = inv.path;
  return file.parent_path().lexically_normal();
}

fs::path Resolve(const Inventory& inv, const fs::path& p) {
  const std::string s = p.string();
  if (s == "~" || s.starts_with("~/")) return ExpandHome(s).lexically_normal();
  if (p.is_absolute()) return p.lexically_normal();
  return (BaseDir(inv) / p).lexically_normal();
}

fs::path CacheDirOf(const Inventory& inv) {
  if (!inv.artifacts.cache.empty()) return Resolve(inv, inv.artifacts.cache);
  if (const char* xdg = std::getenv("XDG_CACHE_HOME");
      xdg && *xdg && fs::path(xdg).is_absolute())
    return fs::path(xdg) / "hardway";
  return ExpandHome("~/.cache/hardway");
}

std::string Megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// One line on stderr, redrawn a few times a second: files done, bytes.
class ProgressBar : public DownloadProgress {
 public:
  ProgressBar(size_t files, bool enabled) : slots_(files), enabled_(enabled) {
    if (enabled_) thread_ = std::thread([this] { Loop(); });
  }
  ~ProgressBar() override { Stop(); }

  void Update(size_t slot, uint64_t done, uint64_t total) override {
    slots_[slot].done = done;
    if (total > 0) slots_[slot].total = total;
  }
  void FileDone() { ++files_done_; }
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::cerr << "\r\033[K" << std::flush;
  }

 private:
  struct Slot {
    std::atomic<uint64_t> done{0};
    std::atomic<uint64_t> total{0};
  };
  void Loop() {
    std::unique_lock lock(mu_);
    // Drawn at once, then every 200 ms: a fetch faster than that (all
    // cached) still shows it is working.
    do {
      uint64_t done = 0, total = 0;
      for (const Slot& s : slots_) {
        done += s.done;
        total += std::max(s.total.load(), s.done.load());
      }
      std::cerr << "\r\033[Kfetch: " << files_done_ << "/" << slots_.size()
                << " files, " << Megabytes(done)
                << (total > 0 ? " of " + Megabytes(total) : "") << std::flush;
    } while (!cv_.wait_for(lock, std::chrono::milliseconds(200),
                           [this] { return stop_; }));
  }
  std::vector<Slot> slots_;
  bool enabled_;
  std::atomic<size_t> files_done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// "etcd v3.6.0 (amd64)": how errors name a release file.
std::string Label(const FetchItem& item) {
  return item.name + " " + item.version + " (" + item.arch + ")";
}

Error Describe(Error e, const FetchItem& item, const Inventory& inv) {
  e.message = Label(item) + ": " + e.message;
  if (e.hint.empty()) {
    if (e.message.find("HTTP 404") != std::string::npos ||
        e.message.find("HTTP 403") != std::string::npos) {
      e.hint = "is " + item.version +
               " a released version? Check the version "
               "(cluster.kubernetes_version or "
               "artifacts.versions) and the location (" +
               (inv.artifacts.mirror.empty()
                    ? std::string("artifacts.mirror")
                    : "artifacts.mirror " + inv.artifacts.mirror) +
               ", artifacts.urls." + item.name + ")";
    } else if (e.kind == ErrorKind::kConnection) {
      e.hint =
          "check the network or proxy (https_proxy), or use artifacts.mirror "
          "or a "
          "bundle made elsewhere with `hardway fetch --bundle`";
    }
  }
  return e;
}

// Makes cache/<name>/<version>/<arch>/<file> a verified copy of the release
// file; downloads only what the cache lacks.
Result<FetchedFile> FetchOne(const FetchItem& item, const fs::path& cache,
                             Downloader& dl, const Inventory& inv) {
  FetchedFile out{item.name, item.arch, item.version, item.url, false, false,
                  0,         0};
  const fs::path dest = cache / "downloads" / item.name / item.version /
                        item.arch / item.filename;
  const fs::path record = dest.string() + ".sha256";
  std::error_code ec;
  if (fs::is_regular_file(dest, ec)) {
    auto have = Sha256File(dest);
    std::string recorded;
    if (auto text = ReadFile(record)) recorded = ParseChecksumFile(*text);
    const std::string& want =
        item.pinned_sha256.empty() ? recorded : item.pinned_sha256;
    if (have && !want.empty() && *have == want) {
      out.size = fs::file_size(dest, ec);
      return out;
    }
    fs::remove(dest, ec);
    fs::remove(record, ec);
  }
  std::string expected = item.pinned_sha256;
  std::string from = "pinned in artifacts.sha256." + item.pin_key;
  if (expected.empty()) {
    auto text = dl.FetchText(item.checksum_url);
    if (!text) {
      Error e = text.error();
      e.message = "cannot get the published sha256: " + e.message;
      return std::unexpected(Describe(e, item, inv));
    }
    expected = item.checksum == ChecksumSource::kList
                   ? ParseChecksumList(*text, item.filename)
                   : ParseChecksumFile(*text);
    if (expected.empty()) {
      return Fail(ErrorKind::kValidation,
                  Label(item) + ": " + item.checksum_url +
                      (item.checksum == ChecksumSource::kList
                           ? " does not list " + item.filename
                           : " holds no sha256"),
                  item.checksum_url,
                  "pin the file's sha256 in the inventory: artifacts.sha256." +
                      item.name + "/" + item.arch + ": <hex>");
    }
    from = "published at " + item.checksum_url;
  }
  auto stats = dl.FetchFile(item.url, dest, expected, from);
  if (!stats) return std::unexpected(Describe(stats.error(), item, inv));
  if (auto w = WriteFileAtomic(record, expected + "  " + item.filename + "\n",
                               fs::perms(0644));
      !w)
    return std::unexpected(w.error());
  out.downloaded = true;
  out.resumed = stats->resumed;
  out.size = stats->size;
  out.requests = stats->requests;
  return out;
}

// SHA256SUMS keeps lines for files fetch does not manage (added by hand) that
// still exist; fetched files get their new sums.
std::string MergeSha256Sums(const fs::path& dir,
                            const ArtifactManifestJson& manifest) {
  std::map<std::string, std::string> sums;
  if (auto text = ReadFile(dir / "SHA256SUMS")) {
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      if (line.size() < 67 || line[64] != ' ') continue;
      std::string name = line.substr(66);
      if (name.starts_with("./")) name.erase(0, 2);
      std::error_code ec;
      if (fs::is_regular_file(dir / name, ec)) sums[name] = line.substr(0, 64);
    }
  }
  for (const ManifestEntry& e : manifest.entries) sums[e.path] = e.sha256;
  std::string out;
  for (const auto& [name, sum] : sums) out += sum + "  " + name + "\n";
  return out;
}

}  // namespace

fs::path CacheDirFor(const Cluster& cluster) {
  return CacheDirOf(cluster.inventory());
}

fs::path ConfiguredArtifactsDir(const Cluster& cluster) {
  return Resolve(cluster.inventory(), cluster.inventory().artifacts.dir);
}

Result<fs::path> BundleArtifactsDir(const Inventory& inventory) {
  if (inventory.artifacts.bundle.empty()) return fs::path();
  return UnpackBundle(Resolve(inventory, inventory.artifacts.bundle),
                      CacheDirOf(inventory));
}

Result<FetchReport> Fetch(const Cluster& cluster, const FetchOptions& options) {
  const Inventory& inv = cluster.inventory();
  auto releases =
      LoadReleases(options.releases_file.empty() ? DefaultReleasesFile()
                                                 : options.releases_file);
  if (!releases) return std::unexpected(releases.error());
  auto items = ResolveFetch(*releases, cluster);
  if (!items) return std::unexpected(items.error());

  FetchReport report;
  report.artifacts_dir = ConfiguredArtifactsDir(cluster);
  report.cache_dir = CacheDirFor(cluster);
  report.files.resize(items->size());

  // Downloads, `parallel` at once; every failure is collected.
  std::vector<std::optional<Error>> errors(items->size());
  {
    ProgressBar progress(items->size(), options.progress);
    std::atomic<size_t> next{0};
    const size_t workers = std::min<size_t>(std::max(1, options.parallel),
                                            std::max<size_t>(1, items->size()));
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        Downloader dl(options.download);
        for (size_t i = next++; i < items->size(); i = next++) {
          dl.SetProgress(&progress, i);
          auto got = FetchOne((*items)[i], report.cache_dir, dl, inv);
          if (got) {
            report.files[i] = *got;
          } else {
            errors[i] = got.error();
          }
          progress.FileDone();
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  std::vector<Error> failed;
  for (auto& e : errors) {
    if (e) failed.push_back(*e);
  }
  if (failed.size() == 1) return std::unexpected(failed.front());
  if (!failed.empty()) {
    Error all = failed.front();
    all.message = std::to_string(failed.size()) +
                  " release files failed; nothing was installed:";
    for (const Error& e : failed) all.message += "\n  " + e.ToString();
    all.where.clear();
    all.hint.clear();
    return std::unexpected(all);
  }

  // Every release file is verified: fill the artifacts folder.
  for (size_t i = 0; i < items->size(); ++i) {
    const FetchItem& item = (*items)[i];
    const fs::path src = report.cache_dir / "downloads" / item.name /
                         item.version / item.arch / item.filename;
    std::vector<std::pair<std::string, fs::path>> members;
    for (const auto& [rel, member] : item.files)
      members.emplace_back(member, report.artifacts_dir / rel);
    std::vector<ExtractedMember> written;
    if (item.archive) {
      auto extracted = ExtractMembers(src, members, fs::perms(0755));
      if (!extracted) {
        Error e = extracted.error();
        e.message = Label(item) + ": " + e.message;
        return std::unexpected(e);
      }
      written = std::move(*extracted);
    } else {
      for (const auto& [member, dest] : members) {
        auto installed = InstallFile(src, dest, fs::perms(0755));
        if (!installed) return std::unexpected(installed.error());
        written.push_back(
            ExtractedMember{installed->sha256, installed->changed});
      }
    }
    const std::string prefix = PerArchLayout(cluster) ? item.arch + "/" : "";
    for (size_t k = 0; k < item.files.size(); ++k) {
      const std::string& rel = item.files[k].first;
      report.manifest.entries.push_back(
          ManifestEntry{rel, rel.substr(prefix.size()), item.name, item.version,
                        item.arch, written[k].sha256, item.url});
      if (written[k].changed) ++report.artifacts_changed;
    }
  }
  std::ranges::sort(report.manifest.entries, {}, &ManifestEntry::path);
  if (auto w =
          WriteFileAtomic(report.artifacts_dir / kManifestJson,
                          ManifestToJson(report.manifest), fs::perms(0644));
      !w)
    return std::unexpected(w.error());
  if (auto w = WriteFileAtomic(
          report.artifacts_dir / "SHA256SUMS",
          MergeSha256Sums(report.artifacts_dir, report.manifest),
          fs::perms(0644));
      !w)
    return std::unexpected(w.error());
  return report;
}

}  // namespace hardway
