// How hardway reaches a host. Everything that touches a host goes through this
// interface, so tests and dry runs swap the implementation (SshTransport,
// RecordingTransport, a fault-injecting wrapper) the way leveldb swaps its Env.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "util/error.h"

namespace hardway {

struct ExecResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};

struct UploadRequest {
  // Either bytes in memory or a local file streamed from disk.
  std::variant<std::string, std::filesystem::path> source;
  std::string dest;  // absolute path on the host
  uint32_t mode = 0644;
  std::string owner = "root:root";
  std::string
      sha256;  // hex of the source; lets the transport skip unchanged files
  uint64_t size = 0;
};

struct UploadResult {
  bool changed =
      false;  // false: the destination already had this sha256 and mode
  uint64_t bytes_sent = 0;
};

// Called with (bytes sent so far, total) during large uploads.
using ProgressFn = std::function<void(uint64_t, uint64_t)>;
// Progress of request `index` of an UploadMany batch: bytes sent, file size.
using BatchProgressFn = std::function<void(size_t, uint64_t, uint64_t)>;

// A byte stream to host:port as seen from the remote host (an SSH direct-tcpip
// channel).
class Tunnel {
 public:
  virtual ~Tunnel() = default;
  // Blocking; returns 0 at end of stream.
  virtual Result<size_t> Read(std::span<char> buf) = 0;
  virtual Result<size_t> Write(std::span<const char> buf) = 0;
  // From now on, a Read or Write still waiting at `deadline` (steady clock)
  // fails with ErrorKind::kConnection and a message starting "timed out"
  // instead of blocking on: a server that accepts the connection and then says
  // nothing cannot hang its caller. The default does nothing (no deadline).
  virtual void SetDeadline(std::chrono::steady_clock::time_point deadline) {
    (void)deadline;
  }
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const std::string& host() const = 0;  // inventory name, for messages

  // Runs `command` with /bin/sh -c (through sudo -n when the user is not root).
  virtual Result<ExecResult> Exec(const std::string& command) = 0;

  // Independent commands in one round trip where the transport can
  // (SshTransport: one shell runs each in its own subshell; its `out` then
  // holds stdout and stderr together). One result per command, in order.
  Result<std::vector<ExecResult>> ExecMany(
      const std::vector<std::string>& commands) {
    return ExecBatch(commands, false);
  }

  // ExecMany that stops after the first command exiting non-zero: the results
  // of the commands that ran, the failing one last. For commands that depend on
  // each other (a step's command, then its check, then the next step's).
  Result<std::vector<ExecResult>> ExecUntilFailure(
      const std::vector<std::string>& commands) {
    return ExecBatch(commands, true);
  }

  // sha256 hex of each path that exists (one remote call); missing paths are
  // absent.
  virtual Result<std::map<std::string, std::string>> Sha256Of(
      const std::vector<std::string>& paths) = 0;

  // Sha256Of(paths) and ExecMany(commands) in one round trip where the
  // transport can (SshTransport: the listing is one more command of the
  // batch). Before a phase changes anything the runner asks a host both what
  // its files hold and what its checks say; one call instead of two. The
  // default makes the two calls (none for an empty part).
  struct Inspection {
    std::map<std::string, std::string> sha256;  // as Sha256Of
    std::vector<ExecResult> results;            // as ExecMany
  };
  virtual Result<Inspection> Inspect(const std::vector<std::string>& paths,
                                     const std::vector<std::string>& commands) {
    Inspection out;
    if (!paths.empty()) {
      auto sums = Sha256Of(paths);
      if (!sums) return std::unexpected(sums.error());
      out.sha256 = std::move(*sums);
    }
    if (!commands.empty()) {
      auto results = ExecMany(commands);
      if (!results) return std::unexpected(results.error());
      out.results = std::move(*results);
    }
    return out;
  }

  // Atomic: temp file in the destination folder, mode, owner, rename. Skips the
  // transfer when `known_remote_sha256` (from Sha256Of) equals request.sha256.
  virtual Result<UploadResult> Upload(
      const UploadRequest& request, const std::string& known_remote_sha256 = {},
      const ProgressFn& progress = {}) = 0;

  // Several files in one round trip where the transport can (SshTransport: one
  // exec channel carries a tar stream of every file into a staging folder
  // beside its destination, then chown and rename). The same guarantees as
  // Upload for each file; one result per request, in order.
  // `known_remote_sha256[i]` is request i's, as for Upload. The default sends
  // them one by one.
  virtual std::vector<Result<UploadResult>> UploadMany(
      const std::vector<UploadRequest>& requests,
      const std::vector<std::string>& known_remote_sha256,
      const BatchProgressFn& progress = {}) {
    std::vector<Result<UploadResult>> out;
    for (size_t i = 0; i < requests.size(); ++i) {
      ProgressFn one;
      if (progress)
        one = [&](uint64_t sent, uint64_t total) { progress(i, sent, total); };
      out.push_back(Upload(requests[i],
                           i < known_remote_sha256.size()
                               ? known_remote_sha256[i]
                               : std::string(),
                           one));
    }
    return out;
  }

  virtual Result<std::string> ReadFile(const std::string& path) = 0;

  virtual Result<std::unique_ptr<Tunnel>> OpenTunnel(const std::string& host,
                                                     int port) = 0;

 protected:
  // What ExecMany and ExecUntilFailure (`stop_after_failure`) run: one round
  // trip where the transport can; by default Exec one by one.
  virtual Result<std::vector<ExecResult>> ExecBatch(
      const std::vector<std::string>& commands, bool stop_after_failure) {
    std::vector<ExecResult> out;
    for (const std::string& c : commands) {
      auto r = Exec(c);
      if (!r) return std::unexpected(r.error());
      out.push_back(std::move(*r));
      if (stop_after_failure && out.back().exit_code != 0) break;
    }
    return out;
  }
};

}  // namespace hardway
