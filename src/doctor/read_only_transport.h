// Doctor never changes a host, and this wrapper makes that a property of the
// code rather than of care: Upload is refused, and Exec runs only the few
// read-only commands doctor issues (date, stat, systemctl show, journalctl),
// each with exactly the options doctor gives it.
// Sha256Of, ReadFile and OpenTunnel pass through (they only read or connect).
#pragma once

#include <memory>
#include <string>

#include "remote/transport.h"

namespace hardway {

class ReadOnlyTransport : public Transport {
 public:
  explicit ReadOnlyTransport(std::unique_ptr<Transport> inner)
      : inner_(std::move(inner)) {}

  const std::string& host() const override { return inner_->host(); }
  Result<ExecResult> Exec(const std::string& command) override;
  Result<std::map<std::string, std::string>> Sha256Of(
      const std::vector<std::string>& paths) override {
    return inner_->Sha256Of(paths);
  }
  Result<UploadResult> Upload(const UploadRequest& request,
                              const std::string& known_remote_sha256 = {},
                              const ProgressFn& progress = {}) override;
  Result<std::string> ReadFile(const std::string& path) override {
    return inner_->ReadFile(path);
  }
  Result<std::unique_ptr<Tunnel>> OpenTunnel(const std::string& host,
                                             int port) override {
    return inner_->OpenTunnel(host, port);
  }

 private:
  std::unique_ptr<Transport> inner_;
};

// True for the commands ReadOnlyTransport lets through, the shapes gather.h
// builds and no other: `date +%s.%N`; `stat -c '%a %U:%G %n' /abs/path...
// [2>/dev/null]`; `systemctl show -p LoadState,ActiveState,SubState,NRestarts
// U.service...`; `journalctl -u U.service -n 5 --no-pager -o cat`. Words are
// plain or single-quoted; no shell operator, expansion or other option (date
// -s, journalctl --rotate / --vacuum-size / --flush) passes.
bool IsReadOnlyCommand(const std::string& command);

}  // namespace hardway
