// One authenticated libssh2 session over a connected stream socket (TCP, or one
// end of a socketpair when the host sits behind a bastion). The session runs in
// libssh2's non-blocking mode and every call waits on the socket with poll():
// that lets one thread read a command's stdout and stderr without deadlock, and
// bounds the handshake by the connect deadline. Not thread-safe: one thread
// uses a session at a time.
#pragma once

#include <libssh2.h>

#include <chrono>
#include <memory>
#include <string>

#include "remote/known_hosts.h"
#include "util/error.h"

namespace hardway {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

struct SshEndpoint {
  std::string name;     // inventory name (or "bastion of X"), for messages
  std::string address;  // what we dial
  int port = 22;
  std::string user = "root";
  std::string identity_file;  // absolute; may not exist
  bool agent = true;          // try ssh-agent (when SSH_AUTH_SOCK is set)
  bool allow_prompt = true;   // ask for a key passphrase on the TTY
  HostKeyCheck host_key;
};

// Establishes a TCP connection; errors name the cause in words (connection
// refused, timed out, no route to host). `retryable` tells the caller whether
// trying again may help.
Result<int> TcpConnect(const std::string& address, int port, Deadline deadline,
                       bool* retryable);

class SshSession {
 public:
  // Takes ownership of `fd`. Handshake, host key verification (before anything
  // else is sent), then authentication; all bounded by `deadline`. On failure
  // *retryable says whether a new attempt may succeed (a handshake cut short:
  // yes; host key or authentication: no).
  static Result<std::unique_ptr<SshSession>> Establish(
      int fd, const SshEndpoint& endpoint, Deadline deadline, bool* retryable);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  LIBSSH2_SESSION* raw() const { return session_; }
  int fd() const { return fd_; }
  const SshEndpoint& endpoint() const { return endpoint_; }

  // Blocks until the socket is ready in the direction libssh2 last wanted, or
  // for at most 200 ms (then the caller simply retries); fails only once
  // `deadline` has passed.
  Status Wait(Deadline deadline = kNoDeadline) const;
  // libssh2's last error message, for error texts.
  std::string LastError() const;

  // Calls `op` until it stops returning LIBSSH2_ERROR_EAGAIN.
  template <typename Op>
  Result<int> Retry(Op op, Deadline deadline = kNoDeadline) const {
    for (;;) {
      int rc = op();
      if (rc != LIBSSH2_ERROR_EAGAIN) return rc;
      if (auto s = Wait(deadline); !s) return std::unexpected(s.error());
    }
  }

 private:
  SshSession(int fd, LIBSSH2_SESSION* session, SshEndpoint endpoint);
  Status Authenticate(Deadline deadline, bool* retryable);

  int fd_;
  LIBSSH2_SESSION* session_;
  SshEndpoint endpoint_;
};

}  // namespace hardway
