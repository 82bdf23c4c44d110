// HTTP(S) and file:// downloads with libcurl: resumable (a .part file and a
// Range request), retried with exponential back-off on connection errors and
// 5xx answers (never on 404 and other 4xx), and verified against a sha256
// before the file gets its final name.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "util/error.h"

namespace hardway {

struct DownloadOptions {
  int attempts = 5;  // requests per URL before giving up on a retryable error
  std::chrono::milliseconds retry_delay{1000};  // before the second; doubles
  std::chrono::milliseconds max_retry_delay{30000};
  std::chrono::milliseconds connect_timeout{15000};
  // A transfer slower than 1 KiB/s for this long is aborted (and retried).
  std::chrono::seconds stall_timeout{60};
  const std::atomic<bool>* interrupted = nullptr;  // set: stop at once
};

// Receives byte counts while files download; called from download threads.
class DownloadProgress {
 public:
  virtual ~DownloadProgress() = default;
  // `slot` identifies one file; `total` is 0 while unknown.
  virtual void Update(size_t slot, uint64_t done, uint64_t total) = 0;
};

struct DownloadStats {
  uint64_t size = 0;      // the file's size
  uint64_t received = 0;  // bytes received over the network by this call
  int requests = 0;       // requests made (retries included)
  bool resumed = false;   // continued a .part left by an earlier try or run
};

// One libcurl easy handle (so connections are reused). Not thread-safe: use
// one per thread.
class Downloader {
 public:
  explicit Downloader(DownloadOptions options = {});
  ~Downloader();
  Downloader(const Downloader&) = delete;
  Downloader& operator=(const Downloader&) = delete;

  void SetProgress(DownloadProgress* progress, size_t slot) {
    progress_ = progress;
    slot_ = slot;
  }

  // The body of a small file (a published checksum), at most `max_bytes`.
  Result<std::string> FetchText(const std::string& url,
                                size_t max_bytes = 1 << 20);

  // Downloads `url` into `dest`.part, continuing a .part already there, and
  // checks its sha256 against `expected_sha256` (lower-case hex). Only a
  // matching file is renamed to `dest`. A mismatch deletes the .part and fails
  // naming the URL and both sums; `expected_from` says where the expected sum
  // came from ("published at URL", "pinned in ..."). A resumed download that
  // does not match is fetched once more from the start before failing.
  Result<DownloadStats> FetchFile(const std::string& url,
                                  const std::filesystem::path& dest,
                                  const std::string& expected_sha256,
                                  const std::string& expected_from);

  struct Request;  // one request's state (download.cc)

 private:
  enum class Outcome { kOk, kRetry, kFail, kRangeDone };
  Outcome Perform(Request& r);
  bool Sleep(std::chrono::milliseconds delay);

  DownloadOptions options_;
  void* curl_ = nullptr;  // CURL*
  DownloadProgress* progress_ = nullptr;
  size_t slot_ = 0;
};

// The first 64-hex word of a published `.sha256` file; empty when none.
std::string ParseChecksumFile(const std::string& text);
// The sum a sha256sum-style list gives `filename` (matched on its base name,
// "*" and "./" prefixes ignored); empty when it is not listed.
std::string ParseChecksumList(const std::string& text,
                              const std::string& filename);

}  // namespace hardway
