// The hop through a bastion (jump host). libssh2 runs a session over a socket
// it can poll, not over another session's channel, so the target's session gets
// one end of a socketpair and a pump thread copies bytes between the other end
// and a direct-tcpip channel of the bastion's session. A socketpair rather than
// a local TCP forward: nothing listens on a port another local user could
// connect to, and there is no port to pick. The pump thread owns the bastion
// session after Start(); the target session never touches it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "remote/ssh_session.h"

namespace hardway {

class BastionHop {
 public:
  // `bastion` is authenticated. Opens a channel to target_address:target_port
  // through it and returns the hop; *local_fd receives the socket to run the
  // target's session on.
  static Result<std::unique_ptr<BastionHop>> Start(
      std::unique_ptr<SshSession> bastion, const std::string& target_address,
      int target_port, Deadline deadline, int* local_fd, bool* retryable);
  ~BastionHop();  // stops the pump, closes the channel and the bastion session

 private:
  BastionHop() = default;
  void Pump();

  std::unique_ptr<SshSession> bastion_;
  LIBSSH2_CHANNEL* channel_ = nullptr;
  int pump_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace hardway
