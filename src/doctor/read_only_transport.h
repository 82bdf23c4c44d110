// Doctor never changes a host, and this wrapper makes that a property of the
// code rather than of care: Upload is refused, and Exec runs only the few
// read-only commands doctor issues (stat, date, systemctl show, journalctl).
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

// True for the commands ReadOnlyTransport lets through: `stat -c ...`,
// `date +...`, `systemctl show ...`, `journalctl ...`, with no shell operators
// that could chain another command.
bool IsReadOnlyCommand(const std::string& command);

}  // namespace hardway
