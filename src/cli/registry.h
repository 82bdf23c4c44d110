// Subcommands register themselves here (one file per subcommand in src/cli/), so adding a
// command never touches main.cc. Handlers only bind options and call the library.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace hardway::cli {

// Adds the subcommand to `app`; the callback it installs stores the exit code in *exit_code.
using AddCommandFn = std::function<void(CLI::App& app, int* exit_code)>;

struct CommandEntry {
  int order;  // position in --help
  AddCommandFn add;
};

std::vector<CommandEntry>& CommandRegistry();
bool RegisterCommand(int order, AddCommandFn add);

}  // namespace hardway::cli
