// A tar stream written straight into a sink (an SSH channel), for
// SshTransport::UploadMany: many files reach a host in one stream that one
// remote `tar -x` unpacks, instead of a process per file there.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "util/error.h"

struct archive;

namespace hardway {

// The bytes of one file to send (by Upload, or into a tar stream by
// UploadMany): held in memory, or read from a local file whose size is fixed
// when it is opened (a file that shrinks while it is sent
// fails the upload rather than sending a short member).
class UploadSource {
 public:
  UploadSource() = default;
  static Result<UploadSource> Open(
      const std::variant<std::string, std::filesystem::path>& source);
  UploadSource(UploadSource&& other) noexcept;
  UploadSource& operator=(UploadSource&& other) noexcept;
  UploadSource(const UploadSource&) = delete;
  UploadSource& operator=(const UploadSource&) = delete;
  ~UploadSource();

  uint64_t size() const { return size_; }
  // Up to buf.size() bytes of what is left, as a view into `buf` (or into the
  // held bytes); empty at the end.
  Result<std::string_view> Next(std::string& buf);

 private:
  const std::string* bytes_ = nullptr;  // the request's, outlives us
  int fd_ = -1;
  std::string path_;
  uint64_t size_ = 0;
  uint64_t read_ = 0;
};

class TarWriter {
 public:
  using Sink = std::function<Status(std::string_view)>;
  using Progress = std::function<void(uint64_t done, uint64_t total)>;

  explicit TarWriter(Sink sink);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // One regular file, owned by root (the remote side chowns), `mode` as given.
  Status Add(const std::string& name, unsigned mode, UploadSource& source,
             const Progress& progress = {});
  // The end-of-archive blocks; nothing can be added afterwards.
  Status Finish();

 private:
  static ssize_t Write(archive* a, void* self, const void* buf, size_t n);
  Status Failed(const std::string& what);

  Sink sink_;
  archive* a_ = nullptr;
  std::optional<Error> sink_error_;
};

}  // namespace hardway
