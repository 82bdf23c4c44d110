#include "remote/ssh_fanout.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace hardway {
namespace {

void PrefixLines(std::ostream& os, const std::string& prefix,
                 const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    os << prefix << std::string_view(text).substr(pos, nl - pos) << '\n';
    pos = nl + 1;
  }
}

}  // namespace

FanoutResult ExecOnHosts(const std::vector<const Host*>& hosts,
                         const std::string& command,
                         const ConnectOptions& options, int parallel,
                         std::ostream& out, std::ostream& err) {
  FanoutResult result;
  result.hosts = static_cast<int>(hosts.size());
  size_t width = 0;
  for (const Host* h : hosts) width = std::max(width, h->name.size());

  std::mutex print_mutex;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < hosts.size(); i = next++) {
      const Host& host = *hosts[i];
      std::string prefix =
          host.name + std::string(width - host.name.size(), ' ') + " | ";
      auto transport = ConnectHost(host, options);
      Result<ExecResult> res =
          transport ? (*transport)->Exec(command)
                    : Result<ExecResult>(std::unexpected(transport.error()));
      // Whole hosts at a time, so one host's lines stay together.
      std::lock_guard<std::mutex> lock(print_mutex);
      if (!res) {
        ++result.failed_connections;
        err << prefix << "error: " << res.error().ToString() << '\n';
        continue;
      }
      PrefixLines(out, prefix, res->out);
      PrefixLines(err, prefix, res->err);
      if (res->exit_code != 0) {
        ++result.failed_commands;
        err << prefix << "exit " << res->exit_code << '\n';
      }
      out.flush();
    }
  };
  size_t threads = std::min<size_t>(std::max(parallel, 1), hosts.size());
  std::vector<std::thread> pool;
  for (size_t i = 0; i < threads; ++i) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  return result;
}

}  // namespace hardway
