// hardway: builds a Kubernetes cluster on plain VMs the hard way. Subcommands
// live in src/cli/ and register themselves (cli/registry.h); main only
// dispatches and maps errors to exit codes (docs/exit-codes.md).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "cli/registry.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"hardway: Kubernetes the hard way, automated and transparent"};
  app.set_version_flag("--version", std::string("hardway ") + HARDWAY_VERSION);
  app.require_subcommand(1);
  // Logs go to stderr: stdout carries what was asked for (`--output json`
  // events, the plan, a kubeconfig) and must stay parseable under -v.
  spdlog::set_default_logger(spdlog::stderr_color_mt("hardway"));
  spdlog::set_level(spdlog::level::warn);
  app.add_flag_function(
      "-v,--verbose", [](int64_t) { spdlog::set_level(spdlog::level::debug); },
      "debug logging on stderr");

  int exit_code = 0;
  auto& registry = hardway::cli::CommandRegistry();
  std::stable_sort(
      registry.begin(), registry.end(),
      [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& entry : registry) entry.add(app, &exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : hardway::ExitCodeFor(hardway::ErrorKind::kUsage);
  }
  return exit_code;
}
