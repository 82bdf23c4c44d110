// Shared by the cli tests, which run the real hardway binary (HARDWAY_BINARY).
#pragma once

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace hardway::cli_test {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // what the command wrote to the pipe (its stdout)
};

// Runs `cmd` through the shell and collects its stdout; exit_code is -1 when
// it could not start or did not exit normally.
inline CommandResult RunCommand(const std::string& cmd) {
  CommandResult run;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
    run.output.append(buf.data(), n);
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Runs `HARDWAY_BINARY args`; output holds stdout and stderr together.
inline CommandResult Hardway(const std::string& args) {
  return RunCommand(std::string(HARDWAY_BINARY) + " " + args + " 2>&1");
}

// Runs `HARDWAY_BINARY args` on a new pseudo-terminal (its stdin, stdout,
// stderr and controlling terminal); output is everything it wrote there.
// exit_code is -1 when it could not start, or did not exit within `limit`
// (then it is killed).
inline CommandResult HardwayOnPty(
    const std::vector<std::string>& args,
    std::chrono::seconds limit = std::chrono::seconds(60)) {
  // Built before fork: the child of a process that may have threads must not
  // allocate.
  std::vector<std::string> all = {HARDWAY_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  CommandResult run;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return run;
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool timed_out = false;
  std::array<char, 4096> buf;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::read(master, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: the program and its children closed the pty
    run.output.append(buf.data(), static_cast<size_t>(n));
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  run.exit_code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace hardway::cli_test
