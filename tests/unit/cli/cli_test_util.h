// Shared by the cli tests, which run the real hardway binary (HARDWAY_BINARY).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

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

}  // namespace hardway::cli_test
