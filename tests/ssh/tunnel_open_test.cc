// Opening a direct-tcpip channel to a target the host's sshd cannot reach ends
// at OpenTunnel's deadline, and the session stays usable afterwards. The target
// is a loopback listener whose accept queue is full: Linux then drops every new
// SYN, so sshd's connect stays in SYN_SENT (checked in /proc/net/tcp) and sshd
// sends no answer to the channel open, exactly as with a firewall that drops.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "remote/connect.h"
#include "remote/ssh_transport.h"
#include "sshd_fixture.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using testing::Sshd;

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

// Sockets in SYN_SENT towards 127.0.0.1:port, from /proc/net/tcp.
int SynSentTo(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state;
    f >> sl >> local >> remote >> state;
    if (remote == want && state == "02") ++n;
  }
  return n;
}

// A listener that accepts nothing: backlog 0, its queue filled by our own
// connects until one of them gets no answer to its SYN (then the kernel drops
// every SYN to it). Empty if the kernel never started dropping.
struct BlackHole {
  std::optional<Fd> listener;
  std::vector<Fd> queued;  // completed connects, sitting in the accept queue
  int port = 0;
};

BlackHole MakeBlackHole() {
  BlackHole b;
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = Loopback(0);
  if (::bind(l.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(l.fd, 0) != 0)
    return b;
  socklen_t len = sizeof a;
  ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&a), &len);
  b.port = ntohs(a.sin_port);
  for (int i = 0; i < 8; ++i) {
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    ::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{c.fd, POLLOUT, 0};
    if (::poll(&p, 1, 300) == 0) {
      // This SYN went unanswered: the queue is full. The probe itself is
      // closed, so that any socket in SYN_SENT to the port is sshd's.
      b.listener.emplace(std::move(l));
      return b;
    }
    b.queued.push_back(std::move(c));
  }
  return b;
}

// libssh2 gives up waiting by itself only after 60 s: a call that hangs (an
// Exec waiting for the abandoned open, say) is ended well before that by
// killing sshd, so that it fails on the closed connection instead.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, Sshd* sshd)
      : thread_([this, limit, sshd] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
            ADD_FAILURE() << "hung for " << limit.count()
                          << " s: killing sshd to end the call";
            sshd->KillAll();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

class TunnelOpen : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    sshd_ = Sshd::Start(&error);
    ASSERT_TRUE(sshd_) << error;
    auto t = ConnectHost(sshd_->MakeHost("node-0"));
    ASSERT_TRUE(t) << t.error().ToString();
    transport_ = std::move(*t);
    ssh_ = dynamic_cast<SshTransport*>(transport_.get());
    ASSERT_NE(ssh_, nullptr);
  }
  std::unique_ptr<Sshd> sshd_;
  std::unique_ptr<Transport> transport_;
  SshTransport* ssh_ = nullptr;
};

TEST_F(TunnelOpen, DefaultDeadlineIsTenSeconds) {
  EXPECT_EQ(ssh_->tunnel_open_timeout(), std::chrono::seconds(10));
}

TEST_F(TunnelOpen, TargetThatDropsSynTimesOutAndTheSessionStaysUsable) {
  Watchdog watchdog(std::chrono::seconds(20), sshd_.get());
  BlackHole hole = MakeBlackHole();
  ASSERT_TRUE(hole.listener) << "the kernel answered every SYN to a listener "
                                "with a full queue: no way to make sshd's "
                                "connect block here";
  ASSERT_EQ(SynSentTo(hole.port), 0);

  ssh_->set_tunnel_open_timeout(std::chrono::milliseconds(1500));
  Clock::time_point start = Clock::now();
  auto tunnel = transport_->OpenTunnel("127.0.0.1", hole.port);
  auto took = Clock::now() - start;
  ASSERT_FALSE(tunnel) << "a tunnel opened to a port that drops SYNs";
  std::string target = "127.0.0.1:" + std::to_string(hole.port);
  EXPECT_THAT(tunnel.error().message,
              HasSubstr("timed out opening a tunnel node-0 -> " + target));
  EXPECT_THAT(tunnel.error().message, HasSubstr("within 1500ms"));
  EXPECT_EQ(tunnel.error().kind, ErrorKind::kConnection);
  EXPECT_GE(took, std::chrono::milliseconds(1400));
  EXPECT_LT(took, std::chrono::seconds(5));
  // What we gave up on really was sshd's connect, still waiting for a SYN-ACK
  // (and not a refusal or an answer we missed).
  EXPECT_EQ(SynSentTo(hole.port), 1);

  // The same session: a command runs, and a new tunnel reaches its own target
  // (libssh2 must not resume the abandoned open, nor reuse its target).
  auto r = transport_->Exec("echo still");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->out, "still\n");
  EXPECT_EQ(r->exit_code, 0);
  {
    auto banner = transport_->OpenTunnel("127.0.0.1", sshd_->port());
    ASSERT_TRUE(banner) << banner.error().ToString();
    (*banner)->SetDeadline(Clock::now() + std::chrono::seconds(5));
    char buf[64];
    auto n = (*banner)->Read(buf);
    ASSERT_TRUE(n) << n.error().ToString();
    EXPECT_EQ(std::string(buf, std::min<size_t>(*n, 7)), "SSH-2.0");
  }

  // Now let sshd's connect through: free the queue, and its next SYN
  // retransmission is accepted. sshd then confirms the channel we abandoned
  // and forwards what the target sends on it; none of that may reach or
  // disturb the channels opened after it.
  hole.queued.clear();
  {
    Fd drained(::accept4(hole.listener->fd, nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_GE(drained.fd, 0);
  }
  pollfd p{hole.listener->fd, POLLIN, 0};
  // sshd retransmits its SYN 1, 3, 7 s after the first.
  ASSERT_EQ(::poll(&p, 1, 15'000), 1) << "sshd's connect never arrived";
  Fd late(::accept4(hole.listener->fd, nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(late.fd, 0);
  std::string noise = "late data for the abandoned channel\n";
  ASSERT_EQ(::write(late.fd, noise.data(), noise.size()),
            static_cast<ssize_t>(noise.size()));
  // Give sshd time to send its confirmation and that data to us.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 3; ++i) {
    r = transport_->Exec("echo after-" + std::to_string(i));
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->out, "after-" + std::to_string(i) + "\n");
  }
  auto again = transport_->OpenTunnel("127.0.0.1", sshd_->port());
  ASSERT_TRUE(again) << again.error().ToString();
  (*again)->SetDeadline(Clock::now() + std::chrono::seconds(5));
  char buf[64];
  auto n = (*again)->Read(buf);
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(std::string(buf, std::min<size_t>(*n, 7)), "SSH-2.0");
}

}  // namespace
}  // namespace hardway
