#include "remote/tar_stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace hardway {

Result<UploadSource> UploadSource::Open(
    const std::variant<std::string, std::filesystem::path>& source) {
  UploadSource s;
  if (const auto* bytes = std::get_if<std::string>(&source)) {
    s.bytes_ = bytes;
    s.size_ = bytes->size();
    return s;
  }
  const auto& path = std::get<std::filesystem::path>(source);
  s.path_ = path.string();
  s.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (s.fd_ < 0 || ::fstat(s.fd_, &st) != 0) {
    return Fail(ErrorKind::kIo,
                "cannot read upload source: " + std::string(strerror(errno)),
                s.path_);
  }
  s.size_ = static_cast<uint64_t>(st.st_size);
  ::posix_fadvise(s.fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  return s;
}

UploadSource::UploadSource(UploadSource&& other) noexcept {
  *this = std::move(other);
}

UploadSource& UploadSource::operator=(UploadSource&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    bytes_ = other.bytes_;
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    size_ = other.size_;
    read_ = other.read_;
    other.fd_ = -1;
  }
  return *this;
}

UploadSource::~UploadSource() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string_view> UploadSource::Next(std::string& buf) {
  uint64_t left = size_ - read_;
  if (left == 0) return std::string_view();
  if (bytes_ != nullptr) {
    std::string_view v = std::string_view(*bytes_).substr(read_, buf.size());
    read_ += v.size();
    return v;
  }
  for (;;) {
    ssize_t got = ::read(fd_, buf.data(), std::min<uint64_t>(buf.size(), left));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return Fail(ErrorKind::kIo,
                  "upload source ended early or became unreadable", path_);
    }
    read_ += got;
    return std::string_view(buf.data(), got);
  }
}

TarWriter::TarWriter(Sink sink) : sink_(std::move(sink)) {
  a_ = archive_write_new();
  archive_write_set_format_pax_restricted(a_);
  // Records of 1 MiB go to the sink as large channel writes; the last one is
  // not padded out (GNU tar reads its input as a stream).
  archive_write_set_bytes_per_block(a_, 1 << 20);
  archive_write_set_bytes_in_last_block(a_, 1);
  archive_write_open(a_, this, nullptr, &TarWriter::Write, nullptr);
}

TarWriter::~TarWriter() { archive_write_free(a_); }

ssize_t TarWriter::Write(archive*, void* self, const void* buf, size_t n) {
  auto* w = static_cast<TarWriter*>(self);
  auto ok = w->sink_(std::string_view(static_cast<const char*>(buf), n));
  if (!ok) {
    w->sink_error_ = ok.error();
    return -1;
  }
  return static_cast<ssize_t>(n);
}

Status TarWriter::Failed(const std::string& what) {
  if (sink_error_) return std::unexpected(*sink_error_);
  return Fail(ErrorKind::kIo, what + ": " + archive_error_string(a_));
}

Status TarWriter::Add(const std::string& name, unsigned mode,
                      UploadSource& source, const Progress& progress) {
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, mode & 07777);
  archive_entry_set_size(e, static_cast<la_int64_t>(source.size()));
  archive_entry_set_mtime(e, std::time(nullptr), 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  bool ok = archive_write_header(a_, e) == ARCHIVE_OK;
  archive_entry_free(e);
  if (!ok) return Failed("cannot write the tar header of " + name);
  std::string buf(1 << 20, '\0');
  uint64_t done = 0;
  for (;;) {
    auto chunk = source.Next(buf);
    if (!chunk) return std::unexpected(chunk.error());
    if (chunk->empty()) break;
    if (archive_write_data(a_, chunk->data(), chunk->size()) < 0)
      return Failed("cannot write " + name + " into the tar stream");
    done += chunk->size();
    if (progress) progress(done, source.size());
  }
  return {};
}

Status TarWriter::Finish() {
  if (archive_write_close(a_) != ARCHIVE_OK)
    return Failed("cannot end the tar stream");
  return {};
}

}  // namespace hardway
