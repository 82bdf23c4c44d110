// The hardway side of bench/ssh.sh: the same work the peers do, through
// hardway_remote.
//   ssh_bench HOSTS KEY KNOWN_HOSTS connect            connect+auth+`true`,
//   host by host ssh_bench HOSTS KEY KNOWN_HOSTS exec N             all hosts
//   in parallel, N commands each ssh_bench HOSTS KEY KNOWN_HOSTS upload FILE
//   DEST   FILE to DEST on all hosts in parallel,
//                                                      after one sha256 call
//                                                      per host; "%p" in DEST
//                                                      is replaced by the port
//   ssh_bench HOSTS KEY KNOWN_HOSTS transfer FILE DEST first host only: the
//   same file sent
//                                                      three ways on one
//                                                      session (our upload
//                                                      channel, libssh2 SCP,
//                                                      libssh2 SFTP)
//   ssh_bench HOSTS KEY KNOWN_HOSTS listing MEMO_DIR ROUNDS FILE...
//                                                      Sha256Of(FILEs) on all
//                                                      hosts at once, ROUNDS
//                                                      times after one untimed
//                                                      round; MEMO_DIR "-": no
//                                                      Sha256Memo. Seconds are
//                                                      per round
// HOSTS is a file of "127.0.0.1:PORT" lines. Prints "seconds=S bytes_sent=B".
#include <fcntl.h>
#include <libssh2_sftp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "remote/connect.h"
#include "remote/sha256_memo.h"
#include "remote/ssh_session.h"
#include "remote/ssh_transport.h"
#include "util/sha256.h"

using namespace hardway;

namespace {

// Writes all of `data` with `write` (libssh2 non-blocking style), waiting on
// the session.
template <typename W>
bool WriteAll(const SshSession& s, std::string_view data, W write) {
  while (!data.empty()) {
    ssize_t n = write(data.data(), data.size());
    if (n == LIBSSH2_ERROR_EAGAIN) {
      if (!s.Wait()) return false;
      continue;
    }
    if (n < 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

// The three ways to send a file, each on its own fresh session to the same
// sshd.
int Transfer(const Host& h, const std::string& file, const std::string& dest) {
  std::string content;
  {
    std::ifstream in(file, std::ios::binary);
    content.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto session = [&]() -> std::unique_ptr<SshSession> {
    bool retry = false;
    auto fd = TcpConnect(h.address, h.ssh.port, kNoDeadline, &retry);
    if (!fd) return nullptr;
    SshEndpoint e{h.name,
                  h.address,
                  h.ssh.port,
                  "root",
                  h.ssh.identity_file,
                  false,
                  false,
                  HostKeyCheck{h.name, h.address, h.ssh.port, h.ssh.known_hosts,
                               HostKeyPolicy::kStrict, ""}};
    auto s = SshSession::Establish(*fd, e, kNoDeadline, &retry);
    if (!s) std::cerr << s.error().ToString() << "\n";
    return s ? std::move(*s) : nullptr;
  };
  const double mib = content.size() / 1048576.0;
  auto report = [&](const char* name, Clock::time_point t0) {
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("%-32s %6.2f s  %7.1f MiB/s\n", name, secs, mib / secs);
  };
  {  // hardway: mkdir, SCP to a temp name, size check + chown + chmod + rename
    auto s = session();
    if (!s) return 1;
    SshTransport t(h.name, std::move(s));
    auto t0 = Clock::now();
    auto up = t.Upload(
        UploadRequest{content, dest + ".channel", 0644, "root:root", "", 0});
    if (!up) {
      std::cerr << up.error().ToString() << "\n";
      return 1;
    }
    report("hardway Upload (SCP, then rename)", t0);
  }
  {  // libssh2 SCP
    auto s = session();
    if (!s) return 1;
    auto t0 = Clock::now();
    LIBSSH2_CHANNEL* ch = nullptr;
    std::string path = dest + ".scp";
    while (!(ch = libssh2_scp_send64(s->raw(), path.c_str(), 0644,
                                     content.size(), 0, 0)) &&
           libssh2_session_last_errno(s->raw()) == LIBSSH2_ERROR_EAGAIN) {
      if (!s->Wait()) return 1;
    }
    if (ch == nullptr) return 1;
    for (size_t off = 0; off < content.size(); off += 4 << 20) {
      if (!WriteAll(*s, std::string_view(content).substr(off, 4 << 20),
                    [&](const char* p, size_t n) {
                      return libssh2_channel_write(ch, p, n);
                    })) {
        return 1;
      }
    }
    (void)s->Retry([&] { return libssh2_channel_send_eof(ch); });
    (void)s->Retry([&] { return libssh2_channel_wait_eof(ch); });
    (void)s->Retry([&] { return libssh2_channel_close(ch); });
    libssh2_channel_free(ch);
    report("libssh2 SCP (scp_send64)", t0);
  }
  {  // libssh2 SFTP, 4 MiB writes (libssh2 pipelines them as 30 KB packets)
    auto s = session();
    if (!s) return 1;
    auto t0 = Clock::now();
    LIBSSH2_SFTP* sftp = nullptr;
    while (!(sftp = libssh2_sftp_init(s->raw())) &&
           libssh2_session_last_errno(s->raw()) == LIBSSH2_ERROR_EAGAIN) {
      if (!s->Wait()) return 1;
    }
    if (sftp == nullptr) return 1;
    std::string path = dest + ".sftp";
    LIBSSH2_SFTP_HANDLE* f = nullptr;
    while (!(f = libssh2_sftp_open(
                 sftp, path.c_str(),
                 LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
                 0644)) &&
           libssh2_session_last_errno(s->raw()) == LIBSSH2_ERROR_EAGAIN) {
      if (!s->Wait()) return 1;
    }
    if (f == nullptr) return 1;
    for (size_t off = 0; off < content.size(); off += 4 << 20) {
      if (!WriteAll(*s, std::string_view(content).substr(off, 4 << 20),
                    [&](const char* p, size_t n) {
                      return libssh2_sftp_write(f, p, n);
                    })) {
        return 1;
      }
    }
    (void)s->Retry([&] { return libssh2_sftp_close_handle(f); });
    (void)s->Retry([&] { return libssh2_sftp_shutdown(sftp); });
    report("libssh2 SFTP (4 MiB writes)", t0);
  }
  return 0;
}

// The re-run's listing: every host lists the same files at once (the hosts
// of bench/sshd-loopback.sh share this machine's disk and cores, as the
// testbed's containers do). The untimed first round fills the memo.
int Listing(const std::vector<Host>& hosts, const std::string& memo_dir,
            int rounds, const std::vector<std::string>& files) {
  std::vector<std::unique_ptr<Transport>> transports;
  for (const Host& h : hosts) {
    ConnectOptions options;
    if (memo_dir != "-") options.sha256_memo = Sha256MemoFile(memo_dir, h.name);
    auto t = ConnectHost(h, options);
    if (!t) {
      std::cerr << t.error().ToString() << "\n";
      return 1;
    }
    transports.push_back(std::move(*t));
  }
  std::atomic<int> failures{0};
  auto round = [&] {
    std::vector<std::thread> threads;
    for (auto& t : transports) {
      threads.emplace_back([&] {
        auto sums = t->Sha256Of(files);
        if (!sums || sums->size() != files.size()) {
          std::cerr << (sums ? "files missing" : sums.error().ToString())
                    << "\n";
          ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
  };
  round();
  auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) round();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("seconds=%.3f bytes_sent=0\n", secs / rounds);
  return failures > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: ssh_bench HOSTS KEY KNOWN_HOSTS connect|exec N|upload "
                 "FILE DEST\n";
    return 2;
  }
  std::vector<Host> hosts;
  std::ifstream in(argv[1]);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Host h;
    h.name = line;
    h.address = line.substr(0, line.find(':'));
    h.ssh.port = std::stoi(line.substr(line.find(':') + 1));
    h.ssh.identity_file = argv[2];
    h.ssh.known_hosts = argv[3];
    h.ssh.agent = false;
    hosts.push_back(h);
  }
  std::string mode = argv[4];
  if (mode == "transfer" && argc >= 7 && !hosts.empty())
    return Transfer(hosts[0], argv[5], argv[6]);
  if (mode == "listing" && argc >= 8) {
    return Listing(hosts, argv[5], std::stoi(argv[6]),
                   std::vector<std::string>(argv + 7, argv + argc));
  }
  std::atomic<uint64_t> bytes{0};
  std::atomic<int> failures{0};
  auto start = Clock::now();
  auto fail = [&](const std::string& what) {
    std::cerr << what << "\n";
    ++failures;
  };
  if (mode == "connect") {
    for (const Host& h : hosts) {
      auto t = ConnectHost(h);
      if (!t) {
        fail(t.error().ToString());
        continue;
      }
      auto r = (*t)->Exec("true");
      if (!r || r->exit_code != 0) fail("exec failed on " + h.name);
    }
  } else {
    std::string sha;
    if (mode == "upload") {
      auto s = Sha256File(argv[5]);
      if (!s) {
        std::cerr << s.error().ToString() << "\n";
        return 1;
      }
      sha = *s;
    }
    std::vector<std::thread> threads;
    for (const Host& h : hosts) {
      threads.emplace_back([&, h] {
        auto t = ConnectHost(h);
        if (!t) return fail(t.error().ToString());
        if (mode == "exec") {
          int n = std::stoi(argv[5]);
          for (int i = 0; i < n; ++i) {
            auto r = (*t)->Exec("true");
            if (!r || r->exit_code != 0)
              return fail("exec failed on " + h.name);
          }
        } else {
          std::string dest = argv[6];  // "%p" stands for the host's port
          if (auto at = dest.find("%p"); at != std::string::npos) {
            dest.replace(at, 2, std::to_string(h.ssh.port));
          }
          auto remote = (*t)->Sha256Of({dest});
          if (!remote) return fail(remote.error().ToString());
          std::string known = remote->count(dest) ? remote->at(dest) : "";
          UploadRequest req{
              std::filesystem::path(argv[5]), dest, 0644, "root:root", sha, 0};
          auto up = (*t)->Upload(req, known);
          if (!up) return fail(up.error().ToString());
          bytes += up->bytes_sent;
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("seconds=%.3f bytes_sent=%llu\n", secs,
              static_cast<unsigned long long>(bytes));
  return failures > 0 ? 1 : 0;
}
