// What hardway last hashed on one host, keyed by stat, so an unchanged file is
// not hashed again (as git's index and rsync's quick check do): path ->
// {stat key, sha256}. SshTransport asks the host for every file's key in its
// listing (KeyedSha256ListingCommand) and hashes only the files whose key is
// not the memo's; a key is trusted only once the file's ctime is safely in
// the past (the racy-git rule, see Absorb).
//
// Kept per host in a JSON file in the state dir (Sha256MemoFile), written
// atomically. A missing or corrupt file is an empty memo: the memo only ever
// saves work, it never decides alone what a file holds.
//
// Thread-safety: as the SshTransport that owns it (one thread at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "remote/ssh_util.h"
#include "util/error.h"

namespace hardway {

class Sha256Memo {
 public:
  struct Entry {
    std::string key;  // kStatKeyFormat, as the host printed it
    std::string sha256;
  };

  // Why 100 ms: ctime comes from the kernel's coarse clock, which moves in
  // ticks of up to 10 ms (HZ=100), and a 32-bit host or a VM may lag more;
  // the margin costs nothing but hashing a file again that was written in
  // the last 100 ms before a listing.
  static constexpr std::chrono::milliseconds kDefaultRacyMargin{100};

  // An empty memo kept nowhere (Save does nothing).
  Sha256Memo() = default;
  // `host`'s memo kept in `file`. A missing file is an empty memo; an
  // unreadable or corrupt one too (a debug log says why), as is one written
  // for another host. Entries with a malformed key or sha256 are left out.
  static Sha256Memo Load(std::filesystem::path file, std::string host);

  // Path -> key of every path of `paths` with an entry: what
  // KeyedSha256ListingCommand needs not hash again.
  std::map<std::string, std::string> KnownKeys(
      const std::vector<std::string>& paths) const;

  // Takes in a keyed listing of `paths` (ParseSha256Listing of
  // KeyedSha256ListingCommand's output, and its clock). Returns the files
  // that exist, as Sha256Of reports them: with the sha256 just computed, or
  // the memo's for a file whose key is exactly the memo's. A file stat found
  // but neither hashed nor known (a folder, an unreadable file) is absent, as
  // a missing one.
  //
  // Records {key, sha256} of a file just hashed only when its ctime is at
  // least racy_margin() older than the clock the listing printed before its
  // stat: a write after our stat then gets a newer ctime, so a changed key.
  // Without that margin a write within the same tick of the coarse clock as
  // the ctime we saw would keep the key (git's "racily clean" entries).
  // Entries of paths that are missing or not hashable are dropped.
  std::map<std::string, RemoteFileInfo> Absorb(
      const std::vector<std::string>& paths,
      const std::map<std::string, RemoteFileInfo>& listing,
      std::string_view clock);

  // Drops the entry of `path` (a file about to be written or chmod'ed:
  // never trusted again, whatever its key). True if there was one.
  bool Forget(const std::string& path);

  // Writes the file (atomically, mode 0600) when an entry changed since the
  // load or the last save. Without a file, does nothing.
  Status Save();

  const Entry* Find(const std::string& path) const;
  size_t size() const { return entries_.size(); }
  const std::filesystem::path& file() const { return file_; }

  std::chrono::nanoseconds racy_margin() const { return racy_margin_; }
  void set_racy_margin(std::chrono::nanoseconds margin) {
    racy_margin_ = margin;
  }

 private:
  std::filesystem::path file_;
  std::string host_;
  std::map<std::string, Entry> entries_;
  bool dirty_ = false;
  std::chrono::nanoseconds racy_margin_ = kDefaultRacyMargin;
};

// "<state_dir>/memo/sha256-<host>.json"; bytes of the host name other than
// letters, digits, '.', '_' and '-' are written %XX, so two hosts never share
// a file.
std::filesystem::path Sha256MemoFile(const std::filesystem::path& state_dir,
                                     std::string_view host);

// "1795700692.826535389" (date +%s.%N, stat's %.9Z) in ns since the epoch;
// empty when malformed or negative.
std::optional<int64_t> ParseEpochNanos(std::string_view text);

}  // namespace hardway
