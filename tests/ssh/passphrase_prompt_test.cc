// The passphrase prompt of an encrypted identity file, end to end: the real
// `hardway exec` binary runs on a pseudo-terminal this test holds the master
// side of (the test is the user's terminal), with no HARDWAY_SSH_PASSPHRASE
// and no ssh-agent, against a real sshd that authorizes the encrypted key.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "sshd_fixture.h"

extern char** environ;

namespace hardway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Shell;
using testing::Sshd;
using testing::TempDir;

using Clock = std::chrono::steady_clock;

// No step of a run may hang the test: everything is bounded by this.
constexpr auto kLimit = std::chrono::seconds(20);

struct PtyRun {
  int exit_code = -1;
  std::string screen;  // everything the program wrote to its terminal
  bool prompted = false;
  bool timed_out = false;
};

// Runs `argv` on a new pseudo-terminal (its stdin, stdout, stderr and
// controlling terminal), without HARDWAY_SSH_PASSPHRASE and SSH_AUTH_SOCK in
// its environment. Once `prompt` appears on the terminal, types `answer` and
// Enter, as a person would: only after seeing the prompt.
PtyRun RunOnPty(const std::vector<std::string>& argv, const std::string& prompt,
                const std::string& answer) {
  // Everything exec needs is built before fork: the child of a process that
  // may have threads must not allocate.
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("HARDWAY_SSH_PASSPHRASE=") ||
        v.starts_with("SSH_AUTH_SOCK="))
      continue;
    env.push_back(*e);
  }
  env.push_back(nullptr);

  PtyRun run;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    return run;
  }
  if (pid == 0) {
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  Clock::time_point deadline = Clock::now() + kLimit;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) {
      run.timed_out = true;
      break;
    }
    pollfd p{master, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;  // the deadline check above ends the loop
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: every holder of the terminal's slave side exited
    run.screen.append(buf, n);
    if (!run.prompted && run.screen.find(prompt) != std::string::npos) {
      run.prompted = true;
      std::string typed = answer + "\n";
      EXPECT_EQ(::write(master, typed.data(), typed.size()),
                static_cast<ssize_t>(typed.size()));
    }
  }
  int status = 0;
  while (!run.timed_out) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (Clock::now() >= deadline) {
      run.timed_out = true;
      break;
    }
    ::usleep(10'000);
  }
  if (run.timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ::close(master);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos;
       p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

class PassphrasePrompt : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    sshd_ = Sshd::Start(&error);
    ASSERT_TRUE(sshd_) << error;
    key_ = (dir_ / "id_encrypted").string();
    ASSERT_EQ(Shell("ssh-keygen -q -t ed25519 -N " + std::string(kPassphrase) +
                    " -C pty-test -f " + key_),
              0);
    std::ifstream pub(key_ + ".pub");
    std::getline(pub, pub_line_);
    std::ofstream(sshd_->dir() / "authorized_keys", std::ios::app)
        << pub_line_ << "\n";
    // agent is left at its default (on): with SSH_AUTH_SOCK unset there is
    // none, as for a user without one.
    inventory_ = (dir_ / "inventory.yaml").string();
    std::ofstream(inventory_)
        << "cluster:\n  name: pty-test\nssh:\n  user: root\n  identity_file: "
        << key_ << "\n  known_hosts: " << (dir_ / "known_hosts").string()
        << "\n  connect_timeout: 5s\nhosts:\n  - name: node-0\n    address: "
        << sshd_->address() << "\n    roles: [etcd, controlplane]\n"
        << "    host_key: \"" << sshd_->host_key()
        << "\"\n    ssh: {port: " << sshd_->port() << "}\n";
  }

  PtyRun ExecEchoOk(const std::string& typed) {
    return RunOnPty({HARDWAY_BINARY, "exec", "-i", inventory_, "--host",
                     "node-0", "--", "echo", "ok"},
                    "Enter passphrase for " + key_ + ": ", typed);
  }

  static constexpr const char* kPassphrase = "pty-Passphrase-7q";
  TempDir dir_;
  std::unique_ptr<Sshd> sshd_;
  std::string key_;
  std::string pub_line_;
  std::string inventory_;
};

TEST_F(PassphrasePrompt, AsksOnTheTerminalWithoutEchoAndConnects) {
  PtyRun run = ExecEchoOk(kPassphrase);
  ASSERT_FALSE(run.timed_out) << "no end within 20 s; terminal:\n"
                              << run.screen;
  ASSERT_TRUE(run.prompted) << run.screen;
  EXPECT_EQ(Count(run.screen, "Enter passphrase for " + key_), 1u)
      << run.screen;
  EXPECT_EQ(run.exit_code, 0) << run.screen;
  EXPECT_THAT(run.screen, HasSubstr("node-0 | ok")) << run.screen;
  // Echo was off while it was typed: the terminal never showed it.
  EXPECT_THAT(run.screen, Not(HasSubstr(kPassphrase))) << run.screen;
  // The login really was with that key (and not, say, the fixture's own).
  EXPECT_THAT(sshd_->log(), HasSubstr("Accepted publickey for root"));
  EXPECT_THAT(sshd_->log(),
              HasSubstr(testing::SshKeygenFingerprint(pub_line_)));
}

TEST_F(PassphrasePrompt, WrongPassphraseNamesTheKeyFile) {
  const std::string wrong = "not-the-Passphrase-3x";
  PtyRun run = ExecEchoOk(wrong);
  ASSERT_FALSE(run.timed_out) << "no end within 20 s; terminal:\n"
                              << run.screen;
  ASSERT_TRUE(run.prompted) << run.screen;
  EXPECT_NE(run.exit_code, 0) << run.screen;
  EXPECT_THAT(run.screen, Not(HasSubstr("node-0 | ok")));
  EXPECT_THAT(run.screen, HasSubstr("authentication failed for user root"))
      << run.screen;
  // Not "rejected": the server accepted the public key (.pub); the private
  // key could not be decrypted to sign with it.
  EXPECT_THAT(run.screen, HasSubstr("identity file " + key_ +
                                    " (cannot load: wrong passphrase"))
      << run.screen;
  EXPECT_THAT(run.screen, HasSubstr("give the passphrase of " + key_))
      << run.screen;
  EXPECT_THAT(run.screen, Not(HasSubstr(wrong))) << run.screen;
  EXPECT_THAT(sshd_->log(), Not(HasSubstr("Accepted publickey")));
}

}  // namespace
}  // namespace hardway
