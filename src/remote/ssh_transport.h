// Transport over one kept SSH session per host (libssh2). Each
// Exec/Upload/ReadFile is a new channel on that session (~ms) instead of a new
// connection (~200 ms). Commands run as
// `/bin/sh -c '...'`, through `sudo -n` when the SSH user is not root.
//
// Thread-safety: an SshTransport is used by one thread at a time (the runner
// gives each host its own thread); different transports are independent. A
// Tunnel borrows the session: use it from the same thread and destroy it before
// the transport.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "remote/sha256_memo.h"
#include "remote/ssh_bastion.h"
#include "remote/ssh_session.h"
#include "remote/ssh_util.h"
#include "remote/transport.h"

namespace hardway {

// Prefix of our temporary upload files; stale ones in a folder we upload to are
// removed.
inline constexpr std::string_view kUploadTempPrefix = ".hardway-tmp-";

class SshTransport : public Transport {
 public:
  // `bastion` (may be null) carries `session`'s bytes and must outlive it.
  SshTransport(std::string host, std::unique_ptr<SshSession> session,
               std::unique_ptr<BastionHop> bastion = nullptr);
  ~SshTransport() override;

  const std::string& host() const override { return host_; }
  Result<ExecResult> Exec(const std::string& command) override;
  Result<std::map<std::string, std::string>> Sha256Of(
      const std::vector<std::string>& paths) override;
  Result<Inspection> Inspect(const std::vector<std::string>& paths,
                             const std::vector<std::string>& commands) override;
  Result<UploadResult> Upload(const UploadRequest& request,
                              const std::string& known_remote_sha256 = {},
                              const ProgressFn& progress = {}) override;
  std::vector<Result<UploadResult>> UploadMany(
      const std::vector<UploadRequest>& requests,
      const std::vector<std::string>& known_remote_sha256,
      const BatchProgressFn& progress = {}) override;
  Result<std::string> ReadFile(const std::string& path) override;
  // Fails with "timed out opening a tunnel" when the host's sshd has not
  // answered within tunnel_open_timeout(): sshd answers only once its own
  // connect to the target is done, and a target that drops SYNs would hold us
  // for the kernel's whole connect timeout (about two minutes). The session
  // stays usable after such a timeout.
  Result<std::unique_ptr<Tunnel>> OpenTunnel(const std::string& host,
                                             int port) override;
  void set_tunnel_open_timeout(std::chrono::milliseconds timeout) {
    tunnel_open_timeout_ = timeout;
  }
  std::chrono::milliseconds tunnel_open_timeout() const {
    return tunnel_open_timeout_;
  }

  const std::string& user() const { return session_->endpoint().user; }

  // From now on Sha256Of and Inspect hash only the files whose stat key is
  // not `memo`'s (KeyedSha256ListingCommand), record what they hash in it and
  // save it after each listing; uploads drop their destinations' entries.
  // Without a memo (the default) every listing hashes every file.
  void set_sha256_memo(std::unique_ptr<Sha256Memo> memo) {
    memo_ = std::move(memo);
  }
  Sha256Memo* sha256_memo() { return memo_.get(); }

 private:
  // Feeds the command's stdin; returns bytes written or an error. Null: no
  // stdin.
  using InputFn = std::function<Result<uint64_t>(LIBSSH2_CHANNEL*)>;
  Result<ExecResult> Run(const std::string& command, const InputFn& input);
  // Streams `size` bytes from `input` into `path` with SCP (mode 0600).
  Result<uint64_t> SendScp(const std::string& path, uint64_t size,
                           const InputFn& input);
  // ExecMany and ExecUntilFailure: one ExecManyScript, its markers parsed.
  Result<std::vector<ExecResult>> ExecBatch(
      const std::vector<std::string>& commands,
      bool stop_after_failure) override;
  // Writes all of `data` to the channel, waiting whenever libssh2 says EAGAIN;
  // counts what went into `sent`. On failure the error says what() and why.
  Status WriteAll(LIBSSH2_CHANNEL* ch, std::string_view data, uint64_t& sent,
                  const std::function<std::string()>& what);
  Error ChannelError(const std::string& what) const;
  // Opens a channel with `open` (libssh2_channel_open_session and the like)
  // until `deadline`: nullptr when sshd or libssh2 refused it (why:
  // LastError()), or with *timed_out set when the deadline passed with the
  // open still pending.
  Result<LIBSSH2_CHANNEL*> OpenChannel(
      const std::function<LIBSSH2_CHANNEL*()>& open,
      Deadline deadline = kNoDeadline, bool* timed_out = nullptr);
  // Sha256Of's command and the reading of its output (which also fills
  // remote_files_), shared with Inspect.
  Result<std::string> ListingCommand(const std::vector<std::string>& paths);
  Result<std::map<std::string, std::string>> AbsorbListing(
      const std::vector<std::string>& paths, std::string_view out);
  // Drops the memo's entries of files about to be written or chmod'ed, and
  // saves it before the host is touched.
  void ForgetInMemo(const std::vector<std::string>& dests);
  void SaveMemo();
  void PumpIncoming();
  bool SyncWithServer();

  std::string host_;
  std::unique_ptr<BastionHop>
      bastion_;  // declared first: destroyed after the session
  std::unique_ptr<SshSession> session_;
  std::map<std::string, RemoteFileInfo>
      remote_files_;                  // from the last Sha256Of
  std::unique_ptr<Sha256Memo> memo_;  // null: no memo
  // As TlsOptions::timeout, the per-exchange bound of the HTTPS gates.
  std::chrono::milliseconds tunnel_open_timeout_{10'000};
  int opens_abandoned_ = 0;  // tunnel opens given up on (see PumpIncoming)
  // An idle session channel, opened before the first tunnel; owned by the
  // session (libssh2_session_free frees it).
  LIBSSH2_CHANNEL* pump_ = nullptr;
  bool pump_tried_ = false;
  std::optional<Error> broken_;  // set: every channel open fails with it
};

}  // namespace hardway
