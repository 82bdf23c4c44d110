#include "pki/verify_memo.h"

#include <nlohmann/json.hpp>

#include "util/files.h"
#include "util/sha256.h"

namespace hardway {
namespace fs = std::filesystem;
namespace {

// Bump when what a full check judges changes (a new comparison in
// SpecMismatches, another input): every old entry then misses once.
constexpr int kVersion = 1;

// Length-prefixed, so no two different field lists give the same text.
void Field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

void List(std::string& out, const std::vector<std::string>& values) {
  out += std::to_string(values.size());
  out += '[';
  for (const auto& v : values) Field(out, v);
}

long long Seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
      .count();
}

}  // namespace

std::string LeafDigest(const CertSpec& spec, KeyAlgorithm wanted,
                       std::string_view crt_pem, std::string_view key_pem,
                       std::string_view ca_pem) {
  std::string text;
  text.reserve(crt_pem.size() + key_pem.size() + ca_pem.size() + 512);
  Field(text, "hardway-pki-memo-v" + std::to_string(kVersion));
  Field(text, spec.name);
  Field(text, spec.ca);
  Field(text, spec.cn);
  List(text, spec.orgs);
  Field(text, spec.client_auth ? "client" : "-");
  Field(text, spec.server_auth ? "server" : "-");
  List(text, spec.dns_sans);
  List(text, spec.ip_sans);
  Field(text, KeyAlgorithmName(wanted));
  Field(text, crt_pem);
  Field(text, key_pem);
  Field(text, ca_pem);
  return Sha256Hex(text);
}

PkiMemo PkiMemo::Load(const fs::path& state_dir) {
  PkiMemo memo;
  std::error_code ec;
  fs::path path = state_dir / kPkiMemoFile;
  if (!fs::exists(path, ec)) return memo;
  auto text = ReadFile(path);
  if (!text) return memo;
  auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return memo;
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() ||
      version->get<long long>() != kVersion) {
    return memo;
  }
  auto leaves = doc.find("leaves");
  if (leaves == doc.end() || !leaves->is_object()) return memo;
  for (const auto& [name, e] : leaves->items()) {
    if (!e.is_object()) continue;
    auto digest = e.find("digest");
    auto not_before = e.find("not_before");
    auto not_after = e.find("not_after");
    if (digest == e.end() || !digest->is_string() || not_before == e.end() ||
        !not_before->is_number_integer() || not_after == e.end() ||
        !not_after->is_number_integer()) {
      continue;
    }
    memo.entries_[name] = {
        digest->get<std::string>(),
        TimePoint(std::chrono::seconds(not_before->get<long long>())),
        TimePoint(std::chrono::seconds(not_after->get<long long>()))};
  }
  return memo;
}

const MemoEntry* PkiMemo::Find(const std::string& leaf) const {
  auto it = entries_.find(leaf);
  return it == entries_.end() ? nullptr : &it->second;
}

bool PkiMemo::Vouches(const std::string& leaf, const std::string& digest,
                      TimePoint now,
                      std::chrono::milliseconds renew_before) const {
  const MemoEntry* e = Find(leaf);
  if (e == nullptr || e->digest != digest) return false;
  // The same conditions under which CheckLeaf finds no expiry problem (and
  // VerifyIssuedBy no "not valid before"); otherwise the full check runs and
  // says why.
  return e->not_before <= now && now <= e->not_after &&
         e->not_after - now >= renew_before;
}

void PkiMemo::Record(const std::string& leaf, MemoEntry entry) {
  entries_[leaf] = std::move(entry);
}

std::string PkiMemo::ToJson() const {
  nlohmann::json leaves = nlohmann::json::object();
  for (const auto& [name, e] : entries_) {
    leaves[name] = {{"digest", e.digest},
                    {"not_before", Seconds(e.not_before)},
                    {"not_after", Seconds(e.not_after)}};
  }
  nlohmann::json doc = {
      {"about",
       "hardway: certificates a full check found good, by a digest of their "
       "files and spec; a cache, safe to delete"},
      {"version", kVersion},
      {"leaves", std::move(leaves)}};
  return doc.dump(1) + "\n";
}

Status PkiMemo::Save(const fs::path& state_dir) const {
  auto written =
      WriteFileAtomic(state_dir / kPkiMemoFile, ToJson(),
                      fs::perms::owner_read | fs::perms::owner_write);
  if (!written) return std::unexpected(written.error());
  return {};
}

}  // namespace hardway
