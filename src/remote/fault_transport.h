// A Transport wrapper that injects failures (leveldb's FaultInjectionEnv, for
// hosts): a call whose operation and text match a rule fails with the rule's
// error, or, for Exec, returns the rule's exit code. Tests use it to check that
// the runner stops after a failing phase, reports the host and resumes on the
// next run.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "remote/transport.h"

namespace hardway {

struct FaultRule {
  std::string
      op;  // "exec", "sha256", "upload", "read", "tunnel", or "*" for any
  std::string match;  // substring of the command, destination, path or
                      // "host:port"; "" = any
  int skip = 0;       // let this many matching calls through first
  int times = -1;     // then fail this many (-1: every one after)
  // The failure: an Error (connection lost, ...) or, for exec, a command
  // result.
  std::optional<Error> error;
  std::optional<ExecResult> exec_result;
};

// Shared between the test and the wrappers so a test can add or clear rules
// mid-run.
class FaultPlan {
 public:
  void Add(FaultRule rule);
  void Clear();
  // The rule that fires for this call, if any (and counts the call).
  std::optional<FaultRule> Match(const std::string& op,
                                 const std::string& text);
  // Whether any rule is about this call at all (counts nothing).
  bool Concerns(const std::string& op, const std::string& text) const;
  int fired() const;

 private:
  struct Entry {
    FaultRule rule;
    int seen = 0;
    int failed = 0;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  int fired_ = 0;
};

class FaultTransport : public Transport {
 public:
  FaultTransport(std::unique_ptr<Transport> inner,
                 std::shared_ptr<FaultPlan> plan);

  const std::string& host() const override { return inner_->host(); }
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

  Transport& inner() { return *inner_; }

 private:
  // ExecMany and ExecUntilFailure: each run of commands no rule concerns goes
  // to the inner transport's batch of the same kind (one round trip there); a
  // command a rule concerns goes alone, through Exec, in order between them.
  Result<std::vector<ExecResult>> ExecBatch(
      const std::vector<std::string>& commands,
      bool stop_after_failure) override;

  std::unique_ptr<Transport> inner_;
  std::shared_ptr<FaultPlan> plan_;
};

}  // namespace hardway
