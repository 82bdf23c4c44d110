#include "remote/sha256_memo.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/files.h"

namespace hardway {
namespace {

constexpr int kVersion = 1;

bool IsDigits(std::string_view s) {
  return !s.empty() &&
         s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Only what stat prints for kStatKeyFormat (a negative mtime has a '-'): a
// key goes into the listing command, quoted, and must be one line.
bool PlausibleKey(std::string_view key) {
  return !key.empty() &&
         key.find_first_not_of("0123456789.:-") == std::string_view::npos;
}

bool PlausibleSha256(std::string_view sha) {
  return sha.size() == 64 &&
         sha.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The ctime field of a key ("size:mtime:ctime:inode").
std::optional<int64_t> KeyCtime(std::string_view key) {
  size_t a = key.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = key.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  size_t c = key.find(':', b + 1);
  if (c == std::string_view::npos) return std::nullopt;
  return ParseEpochNanos(key.substr(b + 1, c - b - 1));
}

}  // namespace

std::optional<int64_t> ParseEpochNanos(std::string_view text) {
  size_t dot = text.find('.');
  std::string_view secs = text.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (!IsDigits(secs) || secs.size() > 10) return std::nullopt;
  if (dot != std::string_view::npos && (!IsDigits(frac) || frac.size() > 9))
    return std::nullopt;
  int64_t ns = 0;
  for (char c : secs) ns = ns * 10 + (c - '0');
  // int64 ns end in 2262.
  if (ns > std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1)
    return std::nullopt;
  ns *= 1'000'000'000;
  int64_t scale = 100'000'000;
  for (char c : frac) {
    ns += (c - '0') * scale;
    scale /= 10;
  }
  return ns;
}

Sha256Memo Sha256Memo::Load(std::filesystem::path file, std::string host) {
  Sha256Memo memo;
  memo.file_ = std::move(file);
  memo.host_ = std::move(host);
  std::error_code ec;
  if (!std::filesystem::exists(memo.file_, ec)) return memo;
  auto text = ReadFile(memo.file_);
  if (!text) {
    spdlog::debug("{}: sha256 memo {} not read, starting empty: {}", memo.host_,
                  memo.file_.string(), text.error().message);
    return memo;
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr,
                                           /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("version") || j["version"] != kVersion ||
      !j.contains("host") || j["host"] != memo.host_ || !j.contains("files") ||
      !j["files"].is_object()) {
    spdlog::debug(
        "{}: sha256 memo {} is corrupt or not this host's, "
        "starting empty",
        memo.host_, memo.file_.string());
    // Rewritten at the next save, even if nothing is recorded.
    memo.dirty_ = true;
    return memo;
  }
  size_t skipped = 0;
  for (const auto& [path, e] : j["files"].items()) {
    if (!e.is_object() || !e.contains("key") || !e["key"].is_string() ||
        !e.contains("sha256") || !e["sha256"].is_string()) {
      ++skipped;
      continue;
    }
    std::string key = e["key"];
    std::string sha = e["sha256"];
    if (path.empty() || path.find('\n') != std::string::npos ||
        !PlausibleKey(key) || !PlausibleSha256(sha)) {
      ++skipped;
      continue;
    }
    memo.entries_[path] = Entry{std::move(key), std::move(sha)};
  }
  if (skipped > 0) {
    spdlog::debug("{}: sha256 memo {}: {} malformed entries left out",
                  memo.host_, memo.file_.string(), skipped);
    memo.dirty_ = true;
  }
  return memo;
}

std::map<std::string, std::string> Sha256Memo::KnownKeys(
    const std::vector<std::string>& paths) const {
  std::map<std::string, std::string> known;
  for (const std::string& p : paths) {
    auto it = entries_.find(p);
    if (it != entries_.end()) known[p] = it->second.key;
  }
  return known;
}

std::map<std::string, RemoteFileInfo> Sha256Memo::Absorb(
    const std::vector<std::string>& paths,
    const std::map<std::string, RemoteFileInfo>& listing,
    std::string_view clock) {
  std::map<std::string, RemoteFileInfo> out;
  const std::optional<int64_t> listed_at = ParseEpochNanos(clock);
  auto drop = [&](const std::string& p) {
    if (entries_.erase(p) > 0) dirty_ = true;
  };
  for (const std::string& p : paths) {
    auto it = listing.find(p);
    if (it == listing.end()) {
      drop(p);  // missing
      continue;
    }
    RemoteFileInfo info = it->second;
    auto e = entries_.find(p);
    if (info.sha256.empty()) {
      // Not hashed: the shell found the memo's key on the file's stat line.
      // Checked again here so nothing but an exact key match ever yields
      // the memo's sha256; anything else is a file sha256sum could not read.
      if (e != entries_.end() && !info.key.empty() &&
          e->second.key == info.key) {
        info.sha256 = e->second.sha256;
        out[p] = std::move(info);
      } else {
        drop(p);
      }
      continue;
    }
    std::optional<int64_t> ctime = KeyCtime(info.key);
    bool settled =
        listed_at && ctime &&
        *listed_at - *ctime >= static_cast<int64_t>(racy_margin_.count());
    if (settled && PlausibleKey(info.key) && PlausibleSha256(info.sha256)) {
      if (e == entries_.end() || e->second.key != info.key ||
          e->second.sha256 != info.sha256) {
        entries_[p] = Entry{info.key, info.sha256};
        dirty_ = true;
      }
    } else {
      drop(p);
    }
    out[p] = std::move(info);
  }
  return out;
}

bool Sha256Memo::Forget(const std::string& path) {
  if (entries_.erase(path) == 0) return false;
  dirty_ = true;
  return true;
}

const Sha256Memo::Entry* Sha256Memo::Find(const std::string& path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

Status Sha256Memo::Save() {
  if (!dirty_ || file_.empty()) return {};
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [path, e] : entries_) {
    files[path] = {{"key", e.key}, {"sha256", e.sha256}};
  }
  nlohmann::json j{{"version", kVersion}, {"host", host_}, {"files", files}};
  auto written = WriteFileAtomic(
      file_, j.dump(1) + "\n",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  if (!written) return std::unexpected(written.error());
  dirty_ = false;
  return {};
}

std::filesystem::path Sha256MemoFile(const std::filesystem::path& state_dir,
                                     std::string_view host) {
  std::string name = "sha256-";
  for (unsigned char c : host) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (plain) {
      name += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      name += buf;
    }
  }
  return state_dir / "memo" / (name + ".json");
}

}  // namespace hardway
