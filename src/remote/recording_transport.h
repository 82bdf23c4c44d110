// A Transport that acts on a scripted fake host instead of a machine: it
// records every call and answers from a small in-memory model (files, folders,
// systemd units). Used by the runner's tests and by `hardway up --dry-run`, so
// a dry run executes the very plan a real run does.
//
// The fake understands the few shell commands hardway itself issues (systemctl,
// mkdir -p, touch, rm, rmdir, ls -d, cat, test, true/false, chained with `&&`
// and `;`); anything else is answered by a scripted rule (FakeHost::Script) or,
// failing that, with exit 0 and no output and noted in
// FakeHost::unknown_commands.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "remote/transport.h"

namespace hardway {

struct FakeFile {
  std::string content;  // kept for in-memory sources and small files only
  std::string sha256;
  uint64_t size = 0;
  uint32_t mode = 0644;
  std::string owner = "root:root";
};

struct FakeUnit {
  bool enabled = false;
  std::string active_state =
      "inactive";                  // "active", "activating", "failed", ...
  std::string sub_state = "dead";  // "running", "auto-restart", ...
  int n_restarts = 0;              // systemd's NRestarts (automatic restarts)
  int starts = 0;                  // `systemctl start` that started it
  int restarts = 0;                // `systemctl restart` calls
  // The unit crash-loops: `start`/`restart` leave it activating (auto-restart)
  // and every `systemctl show` counts one more automatic restart.
  bool crashloop = false;
  // What systemd has loaded: the unit file's sha256 at the last daemon-reload
  // (or when first loaded on demand); empty: never loaded.
  std::string loaded_sha256;
  // start/restart while the unit file on disk differed from what was loaded
  // (real systemd warns and runs the old definition).
  int stale_starts = 0;
};

class FakeHost {
 public:
  std::map<std::string, FakeFile> files;
  std::set<std::string> dirs;
  std::map<std::string, FakeUnit> units;  // by name without ".service"
  int daemon_reloads = 0;
  // Every Exec takes this long (tests: slow hosts, to check the runner's
  // barriers).
  std::chrono::milliseconds exec_delay{0};
  std::vector<std::string> unknown_commands;

  // Commands containing `match` get these results, one per call, the last one
  // repeating.
  void Script(std::string match, std::vector<ExecResult> results);
  void Script(std::string match, ExecResult result) {
    Script(std::move(match), std::vector<ExecResult>{std::move(result)});
  }
  // OpenTunnel(host, port) reaches 127.0.0.1:local_port (a server the test
  // started).
  void MapTunnel(std::string host, int port, int local_port);

  void PutFile(const std::string& path, std::string content,
               uint32_t mode = 0644, std::string owner = "root:root");
  bool Exists(const std::string& path) const;

  std::mutex& mutex() const { return mu_; }

 private:
  friend class RecordingTransport;
  struct Rule {
    std::string match;
    std::vector<ExecResult> results;
    size_t next = 0;
  };
  std::vector<Rule> rules_;
  std::map<std::pair<std::string, int>, int> tunnels_;
  mutable std::mutex mu_;
};

struct RecordedCall {
  uint64_t seq = 0;  // global order across every transport sharing the log
  std::string host;
  std::string op;                  // "exec", "exec-many", "sha256", "upload",
                                   // "upload-many", "read", "tunnel"
  std::string detail;              // command, destination, path or "host:port"
  std::vector<std::string> paths;  // sha256: the paths asked for
  uint64_t bytes = 0;              // upload: bytes "sent"
  bool ok = true;
};

// Shared by the transports of one run so tests can check the order across
// hosts.
class CallLog {
 public:
  uint64_t Add(RecordedCall call);
  std::vector<RecordedCall> calls() const;
  std::vector<RecordedCall> calls(const std::string& host) const;
  void Clear();

 private:
  mutable std::mutex mu_;
  std::vector<RecordedCall> calls_;
};

class RecordingTransport : public Transport {
 public:
  explicit RecordingTransport(std::string host,
                              std::shared_ptr<FakeHost> state = nullptr,
                              std::shared_ptr<CallLog> log = nullptr);

  const std::string& host() const override { return host_; }
  Result<ExecResult> Exec(const std::string& command) override;
  Result<std::map<std::string, std::string>> Sha256Of(
      const std::vector<std::string>& paths) override;
  Result<UploadResult> Upload(const UploadRequest& request,
                              const std::string& known_remote_sha256 = {},
                              const ProgressFn& progress = {}) override;
  std::vector<Result<UploadResult>> UploadMany(
      const std::vector<UploadRequest>& requests,
      const std::vector<std::string>& known_remote_sha256,
      const BatchProgressFn& progress = {}) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<std::unique_ptr<Tunnel>> OpenTunnel(const std::string& host,
                                             int port) override;

  FakeHost& state() { return *state_; }
  CallLog& log() { return *log_; }

 private:
  // ExecMany and ExecUntilFailure: recorded as one "exec-many" call (its
  // commands in `paths`), then each command exactly as Exec records and runs
  // it (up to the first that fails, for ExecUntilFailure).
  Result<std::vector<ExecResult>> ExecBatch(
      const std::vector<std::string>& commands,
      bool stop_after_failure) override;
  ExecResult RunSegment(const std::vector<std::string>& argv,
                        const std::string& text);
  ExecResult Systemctl(const std::vector<std::string>& args);

  std::string host_;
  std::shared_ptr<FakeHost> state_;
  std::shared_ptr<CallLog> log_;
};

// Splits a generated command line into words, honouring '…' and "…" quoting (no
// expansion).
std::vector<std::string> SplitShellWords(const std::string& command);

}  // namespace hardway
