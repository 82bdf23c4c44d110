// Runs one command on many hosts at once (what `hardway exec` does, and what
// people use pssh for): one thread and one SSH connection per host, output
// printed per host as it completes, each line prefixed with the host name.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "inventory/cluster.h"
#include "remote/connect.h"

namespace hardway {

struct FanoutResult {
  int hosts = 0;
  int failed_commands = 0;     // connected, the command exited non-zero
  int failed_connections = 0;  // could not connect (or the connection broke)
};

// `parallel` bounds the number of hosts in flight. stdout lines go to `out` as
// "node-0 | line", stderr lines and errors to `err`.
FanoutResult ExecOnHosts(const std::vector<const Host*>& hosts,
                         const std::string& command,
                         const ConnectOptions& options, int parallel,
                         std::ostream& out, std::ostream& err);

}  // namespace hardway
