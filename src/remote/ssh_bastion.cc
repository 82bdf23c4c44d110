#include "remote/ssh_bastion.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace hardway {

Result<std::unique_ptr<BastionHop>> BastionHop::Start(
    std::unique_ptr<SshSession> bastion, const std::string& target_address,
    int target_port, Deadline deadline, int* local_fd, bool* retryable) {
  *retryable = false;
  LIBSSH2_SESSION* s = bastion->raw();
  LIBSSH2_CHANNEL* channel = nullptr;
  for (;;) {
    channel = libssh2_channel_direct_tcpip_ex(s, target_address.c_str(),
                                              target_port, "127.0.0.1", 0);
    if (channel != nullptr ||
        libssh2_session_last_errno(s) != LIBSSH2_ERROR_EAGAIN)
      break;
    if (auto w = bastion->Wait(deadline); !w) {
      *retryable = true;
      return std::unexpected(w.error());
    }
  }
  if (channel == nullptr) {
    *retryable = true;  // the target may still be booting
    return Fail(ErrorKind::kConnection,
                "bastion " + bastion->endpoint().address + " cannot reach " +
                    target_address + ":" + std::to_string(target_port) + ": " +
                    bastion->LastError(),
                bastion->endpoint().name,
                "check that the bastion allows TCP forwarding "
                "(AllowTcpForwarding) and reaches "
                "the host");
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    libssh2_channel_free(channel);
    return Fail(ErrorKind::kInternal,
                std::string("socketpair: ") + std::strerror(errno));
  }
  std::unique_ptr<BastionHop> hop(new BastionHop());
  if (::pipe2(hop->stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    libssh2_channel_free(channel);
    return Fail(ErrorKind::kInternal,
                std::string("pipe: ") + std::strerror(errno));
  }
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  hop->bastion_ = std::move(bastion);
  hop->channel_ = channel;
  hop->pump_fd_ = sv[0];
  *local_fd = sv[1];
  hop->thread_ = std::thread([h = hop.get()] { h->Pump(); });
  return hop;
}

BastionHop::~BastionHop() {
  if (thread_.joinable()) {
    (void)!::write(stop_pipe_[1], "x", 1);
    thread_.join();
  }
  if (channel_ != nullptr) {
    Deadline deadline = Clock::now() + std::chrono::seconds(1);
    (void)bastion_->Retry([&] { return libssh2_channel_close(channel_); },
                          deadline);
    libssh2_channel_free(channel_);
  }
  bastion_.reset();
  for (int fd : {pump_fd_, stop_pipe_[0], stop_pipe_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

void BastionHop::Pump() {
  constexpr size_t kMax = 1 << 20;
  std::string up,
      down;  // up: target session -> channel; down: channel -> target session
  size_t up_off = 0, down_off = 0;
  bool local_eof = false, eof_sent = false, remote_eof = false, shut = false;
  std::string buf(256 * 1024, '\0');
  for (;;) {
    bool progress = false;
    if (!local_eof && up.size() - up_off < kMax) {
      ssize_t n = ::read(pump_fd_, buf.data(), buf.size());
      if (n > 0) {
        up.append(buf.data(), n);
        progress = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        local_eof = true;
        progress = true;
      }
    }
    if (up_off < up.size()) {
      ssize_t n = libssh2_channel_write(channel_, up.data() + up_off,
                                        up.size() - up_off);
      if (n > 0) {
        up_off += n;
        progress = true;
        if (up_off == up.size() || up_off > kMax) {
          up.erase(0, up_off);
          up_off = 0;
        }
      } else if (n != LIBSSH2_ERROR_EAGAIN) {
        break;
      }
    }
    if (local_eof && up_off == up.size() && !eof_sent) {
      int rc = libssh2_channel_send_eof(channel_);
      if (rc == 0) {
        eof_sent = true;
        progress = true;
      } else if (rc != LIBSSH2_ERROR_EAGAIN) {
        break;
      }
    }
    if (!remote_eof && down.size() - down_off < kMax) {
      ssize_t n = libssh2_channel_read(channel_, buf.data(), buf.size());
      if (n > 0) {
        down.append(buf.data(), n);
        progress = true;
      } else if (n == 0) {
        if (libssh2_channel_eof(channel_)) {
          remote_eof = true;
          progress = true;
        }
      } else if (n != LIBSSH2_ERROR_EAGAIN) {
        remote_eof = true;
        progress = true;
      }
    }
    if (down_off < down.size()) {
      ssize_t n =
          ::write(pump_fd_, down.data() + down_off, down.size() - down_off);
      if (n > 0) {
        down_off += n;
        progress = true;
        if (down_off == down.size() || down_off > kMax) {
          down.erase(0, down_off);
          down_off = 0;
        }
      } else if (errno != EAGAIN && errno != EINTR) {
        break;
      }
    }
    if (remote_eof && down_off == down.size() && !shut) {
      ::shutdown(pump_fd_,
                 SHUT_WR);  // the target session sees the connection end
      shut = true;
    }
    if (shut && eof_sent) break;
    if (progress) continue;
    int dirs = libssh2_session_block_directions(bastion_->raw());
    pollfd p[3] = {{bastion_->fd(), POLLIN, 0},
                   {pump_fd_, 0, 0},
                   {stop_pipe_[0], POLLIN, 0}};
    if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) p[0].events |= POLLOUT;
    if (!local_eof && up.size() - up_off < kMax) p[1].events |= POLLIN;
    if (down_off < down.size()) p[1].events |= POLLOUT;
    // The timeout only guards against a missed wake-up; data drives the loop.
    int rc = ::poll(p, 3, 100);
    if (rc > 0 && (p[2].revents & POLLIN)) break;
  }
  ::shutdown(pump_fd_, SHUT_RDWR);
}

}  // namespace hardway
