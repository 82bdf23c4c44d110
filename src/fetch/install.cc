#include "fetch/install.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/sha256.h"

namespace hardway {
namespace fs = std::filesystem;

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256Stream::~Sha256Stream() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256Stream::Update(const void* data, size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string Sha256Stream::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const fs::path& dest) {
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  std::string tmpl =
      (dest.parent_path() / ("." + dest.filename().string() + ".tmp-XXXXXX"))
          .string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) {
    return Fail(ErrorKind::kIo,
                std::string("cannot create a file: ") + std::strerror(errno),
                dest.parent_path().string(),
                "check that the folder is writable");
  }
  return std::unique_ptr<AtomicFile>(
      new AtomicFile(dest, fs::path(buf.data()), fd));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

Status AtomicFile::Write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd_, p + done, size - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrorKind::kIo,
                  std::string("cannot write: ") + std::strerror(errno),
                  dest_.string(), "check free space");
    }
    done += static_cast<size_t>(w);
  }
  hash_.Update(data, size);
  size_ += size;
  return {};
}

Result<bool> AtomicFile::Commit(fs::perms mode) {
  sha256_ = hash_.HexDigest();
  if (::fchmod(fd_, static_cast<mode_t>(mode)) != 0 || ::fsync(fd_) != 0 ||
      ::close(fd_) != 0) {
    fd_ = -1;
    return Fail(ErrorKind::kIo,
                std::string("cannot finish the file: ") + std::strerror(errno),
                dest_.string());
  }
  fd_ = -1;
  std::error_code ec;
  struct stat st {};
  if (::stat(dest_.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      (st.st_mode & 07777) == static_cast<mode_t>(mode) &&
      static_cast<uint64_t>(st.st_size) == size_) {
    auto existing = Sha256File(dest_);
    if (existing && *existing == sha256_)
      return false;  // the destructor removes tmp_
  }
  fs::rename(tmp_, dest_, ec);
  if (ec) {
    return Fail(ErrorKind::kIo, "cannot rename into place: " + ec.message(),
                dest_.string());
  }
  committed_ = true;
  return true;
}

Result<Installed> InstallFile(const fs::path& src, const fs::path& dest,
                              fs::perms mode) {
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Fail(ErrorKind::kIo,
                std::string("cannot read: ") + std::strerror(errno),
                src.string());
  }
  auto out = AtomicFile::Create(dest);
  if (!out) {
    ::close(fd);
    return std::unexpected(out.error());
  }
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Fail(ErrorKind::kIo,
                  std::string("cannot read: ") + std::strerror(errno),
                  src.string());
    }
    if (n == 0) break;
    if (auto s = (*out)->Write(buf.data(), static_cast<size_t>(n)); !s) {
      ::close(fd);
      return std::unexpected(s.error());
    }
  }
  ::close(fd);
  auto changed = (*out)->Commit(mode);
  if (!changed) return std::unexpected(changed.error());
  return Installed{*changed, (*out)->sha256(), (*out)->size()};
}

}  // namespace hardway
