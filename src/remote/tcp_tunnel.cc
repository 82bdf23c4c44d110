#include "remote/tcp_tunnel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

namespace hardway {
namespace {

class TcpTunnel : public Tunnel {
 public:
  explicit TcpTunnel(int fd) : fd_(fd) {}
  ~TcpTunnel() override { close(fd_); }

  Result<size_t> Read(std::span<char> buf) override {
    while (true) {
      if (auto ready = WaitFor(POLLIN); !ready)
        return std::unexpected(ready.error());
      ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      // A reset by the peer reads like the end of the stream to the TLS layer
      // above, which then reports what the server said (an alert) or that it
      // hung up.
      if (errno == ECONNRESET) return 0;
      return Fail(ErrorKind::kConnection,
                  std::string("read: ") + std::strerror(errno));
    }
  }

  Result<size_t> Write(std::span<const char> buf) override {
    size_t done = 0;
    while (done < buf.size()) {
      if (auto ready = WaitFor(POLLOUT); !ready)
        return std::unexpected(ready.error());
      ssize_t n = send(fd_, buf.data() + done, buf.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        // Like an SSH channel, whose writes after the far end closed are not
        // reported to the writer: the reader then gets what the peer said last
        // (a TLS alert, say) and the end of the stream, which explains more
        // than "connection reset".
        if (errno == EPIPE || errno == ECONNRESET) return buf.size();
        return Fail(ErrorKind::kConnection,
                    std::string("write: ") + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    return done;
  }

  void SetDeadline(std::chrono::steady_clock::time_point deadline) override {
    deadline_ = deadline;
  }

 private:
  // Waits until the socket is ready for `events` or the deadline passes.
  Status WaitFor(short events) {
    if (!deadline_) return {};
    while (true) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(
          *deadline_ - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, events, 0};
      int rc = poll(&p, 1,
                    static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
      if (rc > 0) return {};
      if (rc < 0 && errno != EINTR) {
        return Fail(ErrorKind::kConnection,
                    std::string("poll: ") + std::strerror(errno));
      }
    }
    return Fail(ErrorKind::kConnection,
                "timed out: no data before the deadline", "127.0.0.1");
  }

  int fd_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace

Result<std::unique_ptr<Tunnel>> ConnectLoopbackTunnel(int port) {
  std::string where = "127.0.0.1:" + std::to_string(port);
  if (port <= 0 || port > 65535)
    return Fail(ErrorKind::kConnection, "bad port", where);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(ErrorKind::kConnection, std::strerror(errno), where);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return Fail(ErrorKind::kConnection, "connect failed: " + why, where);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return std::make_unique<TcpTunnel>(fd);
}

}  // namespace hardway
