// `hardway exec -i FILE [--role R | --host H] [--parallel N] -- CMD...`: runs a
// command on the selected hosts in parallel over SSH (what people use pssh
// for), prints each host's output prefixed by its name, and exits non-zero if
// any host failed: the connection-error code when a host could not be reached,
// else the step-failure code when a command exited non-zero.
#include <iostream>

#include "cli/common.h"
#include "cli/registry.h"
#include "remote/ssh_fanout.h"

namespace hardway::cli {
namespace {

struct ExecCmdOptions {
  CommonOptions common;
  std::string role;
  std::vector<std::string> hosts;
  int parallel = 16;
  std::vector<std::string> command;
};

int RunExec(const ExecCmdOptions& opts) {
  int exit_code = 0;
  auto cluster = LoadClusterOrReport(opts.common, &exit_code);
  if (!cluster) return exit_code;
  std::vector<const Host*> selected;
  if (!opts.hosts.empty()) {
    for (const std::string& name : opts.hosts) {
      const Host* h = cluster->host(name);
      if (h == nullptr) {
        std::string known;
        for (const Host& k : cluster->hosts())
          known += (known.empty() ? "" : ", ") + k.name;
        return ReportError(Error{ErrorKind::kUsage,
                                 "no host named " + name + " in the inventory",
                                 opts.common.inventory, "hosts: " + known});
      }
      selected.push_back(h);
    }
  } else if (!opts.role.empty()) {
    auto role = ParseRole(opts.role);
    if (!role) {
      return ReportError(Error{ErrorKind::kUsage, "unknown role " + opts.role,
                               "--role", "one of: etcd, controlplane, worker"});
    }
    selected = cluster->hosts(*role);
  } else {
    for (const Host& h : cluster->hosts()) selected.push_back(&h);
  }
  if (selected.empty()) {
    return ReportError(Error{ErrorKind::kUsage, "no host has role " + opts.role,
                             opts.common.inventory, ""});
  }
  std::string command;
  for (const std::string& word : opts.command)
    command += (command.empty() ? "" : " ") + word;

  ConnectOptions connect;
  connect.base_dir = cluster->base_dir();
  FanoutResult result = ExecOnHosts(selected, command, connect, opts.parallel,
                                    std::cout, std::cerr);
  if (result.failed_connections + result.failed_commands > 0) {
    std::cerr << "hardway: " << result.failed_commands << " of " << result.hosts
              << " host(s) failed the command, " << result.failed_connections
              << " could not be reached\n";
  }
  if (result.failed_connections > 0) return ExitCodeFor(ErrorKind::kConnection);
  if (result.failed_commands > 0) return ExitCodeFor(ErrorKind::kStep);
  return 0;
}

const bool kRegistered = RegisterCommand(60, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<ExecCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "exec",
      "run a command on hosts in parallel over SSH, output prefixed by host");
  AddInventoryOption(cmd, opts->common);
  auto* role =
      cmd->add_option("--role", opts->role, "only hosts with this role");
  cmd->add_option("--host", opts->hosts, "only this host (repeatable)")
      ->excludes(role);
  cmd->add_option("--parallel", opts->parallel, "hosts at once (default 16)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("command", opts->command,
                  "the command, after --; runs with /bin/sh -c")
      ->required();
  cmd->callback([opts, exit_code] { *exit_code = RunExec(*opts); });
});

}  // namespace
}  // namespace hardway::cli
