// EnsurePki's memo of leaves a full check found good
// (state_dir/.pki-verified.json), so that `hardway plan` and `hardway up` on a
// 1,000-host inventory do not parse and verify a thousand certificates and keys
// on every run.
//
// An entry is keyed by a digest of everything a full check (CheckLeafContents)
// judged: the certificate's and key's bytes, the CA certificate's bytes and the
// spec (CN, O, usages, SANs, signing CA, wanted key algorithm). Any change to
// any of them, by whatever means and whatever the timestamps say, gives another
// digest and so a full check. The one input that changes by itself, time, is
// kept out of the digest: the recorded validity window is held against `now`
// and renew_before on every run. The file holds digests and dates, no secret
// (a SHA-256 over a key's bytes does not reveal them). It is a cache: deleting
// it, or any damage to it, costs one full check.
// `hardway certs --check` and the PKI gate (CheckPki) never read it.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "pki/cert_table.h"
#include "pki/x509.h"
#include "util/error.h"

namespace hardway {

inline constexpr std::string_view kPkiMemoFile = ".pki-verified.json";

// SHA-256 (hex) over the spec fields a full check compares, the wanted key
// algorithm and the three files' bytes.
std::string LeafDigest(const CertSpec& spec, KeyAlgorithm wanted,
                       std::string_view crt_pem, std::string_view key_pem,
                       std::string_view ca_pem);

struct MemoEntry {
  std::string digest;  // LeafDigest of what was checked
  TimePoint not_before;
  TimePoint not_after;
};

class PkiMemo {
 public:
  // A missing, unreadable or malformed file is an empty memo; a malformed
  // entry is skipped.
  static PkiMemo Load(const std::filesystem::path& state_dir);

  // True when `leaf` was found good with exactly `digest` and, at `now`, is
  // valid and outside renew_before: then a full check would find it good again.
  bool Vouches(const std::string& leaf, const std::string& digest,
               TimePoint now, std::chrono::milliseconds renew_before) const;

  const MemoEntry* Find(const std::string& leaf) const;  // nullptr: none
  void Record(const std::string& leaf, MemoEntry entry);
  size_t size() const { return entries_.size(); }

  std::string ToJson() const;  // stable: same entries, same bytes
  // Atomic, 0600; an unchanged memo is not rewritten.
  Status Save(const std::filesystem::path& state_dir) const;

 private:
  std::map<std::string, MemoEntry> entries_;
};

}  // namespace hardway
