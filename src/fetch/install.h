// Writing files into the artifacts folder: through a temporary file in the
// same folder and rename(2), hashing on the way, and leaving a file that
// already has the same bytes and mode untouched.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "util/error.h"

namespace hardway {

// Incremental SHA-256 (OpenSSL EVP).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(const void* data, size_t size);
  std::string HexDigest();  // lower-case; call once

 private:
  void* ctx_;  // EVP_MD_CTX*
};

class AtomicFile {
 public:
  // Opens a temporary file beside `dest` (parents are created).
  static Result<std::unique_ptr<AtomicFile>> Create(
      const std::filesystem::path& dest);
  ~AtomicFile();  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Write(const void* data, size_t size);
  // Closes the file and gives it `mode`. When `dest` already has the same
  // bytes and mode it is left as it is and the result is false; otherwise the
  // temporary file is renamed over it (true). sha256() is set either way.
  Result<bool> Commit(std::filesystem::perms mode);
  const std::string& sha256() const { return sha256_; }
  uint64_t size() const { return size_; }

 private:
  AtomicFile(std::filesystem::path dest, std::filesystem::path tmp, int fd)
      : dest_(std::move(dest)), tmp_(std::move(tmp)), fd_(fd) {}
  std::filesystem::path dest_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
  Sha256Stream hash_;
  std::string sha256_;
  uint64_t size_ = 0;
};

// Copies `src` to `dest` with AtomicFile; returns whether `dest` changed and
// its sha256.
struct Installed {
  bool changed = false;
  std::string sha256;
  uint64_t size = 0;
};
Result<Installed> InstallFile(const std::filesystem::path& src,
                              const std::filesystem::path& dest,
                              std::filesystem::perms mode);

}  // namespace hardway
