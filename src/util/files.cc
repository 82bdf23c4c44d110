#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace hardway {
namespace fs = std::filesystem;

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(ErrorKind::kIo, std::string("cannot read: ") + std::strerror(errno),
                path.string());
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

Result<bool> WriteFileAtomic(const fs::path& path, std::string_view content, fs::perms mode) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto existing = ReadFile(path);
    auto current_mode = fs::status(path, ec).permissions() & fs::perms::mask;
    if (existing && *existing == content && !ec && current_mode == mode) return false;
  }
  if (path.has_parent_path() && !fs::exists(path.parent_path())) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return Fail(ErrorKind::kIo, "cannot create folder: " + ec.message(),
                  path.parent_path().string());
    }
    fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
  }
  std::string tmp = path.string() + ".tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(std::random_device{}());
  // Create with the final mode so a secret is never readable by others, even briefly.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  static_cast<mode_t>(mode));
  if (fd < 0) {
    return Fail(ErrorKind::kIo, std::string("cannot create: ") + std::strerror(errno), tmp);
  }
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(ErrorKind::kIo, std::string("cannot write: ") + std::strerror(err), tmp);
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, static_cast<mode_t>(mode));  // umask may have narrowed open()'s mode
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Fail(ErrorKind::kIo, std::string("cannot flush: ") + std::strerror(err), tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Fail(ErrorKind::kIo, std::string("cannot rename into place: ") + std::strerror(err),
                path.string());
  }
  return true;
}

fs::path ExpandHome(const std::string& path) {
  if (path == "~" || path.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    return fs::path(home ? home : "/root") / path.substr(path.size() > 1 ? 2 : 1);
  }
  return path;
}

fs::path ResourceDir() {
  if (const char* env = std::getenv("HARDWAY_HOME"); env && *env) return env;
  fs::path source = HARDWAY_SOURCE_DIR;
  std::error_code ec;
  if (fs::exists(source / "playbooks" / "bootstrap.yaml", ec)) return source;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return exe.parent_path().parent_path() / "share" / "hardway";
}

}  // namespace hardway
