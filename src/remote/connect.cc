#include "remote/connect.h"

#include <algorithm>
#include <thread>

#include "remote/ssh_bastion.h"
#include "remote/ssh_session.h"
#include "remote/ssh_transport.h"
#include "util/files.h"

namespace hardway {
namespace {

std::string ResolvePath(const std::string& path,
                        const ConnectOptions& options) {
  if (path.empty()) return path;
  std::filesystem::path p = ExpandHome(path);
  if (p.is_relative() && !options.base_dir.empty()) p = options.base_dir / p;
  return p.string();
}

SshEndpoint TargetEndpoint(const Host& host, const ConnectOptions& options) {
  SshEndpoint e;
  e.name = host.name;
  e.address = host.address;
  e.port = host.ssh.port;
  e.user = host.ssh.user;
  e.identity_file = ResolvePath(host.ssh.identity_file, options);
  e.agent = host.ssh.agent;
  e.allow_prompt = options.allow_prompt;
  e.host_key = HostKeyCheck{host.name,
                            host.address,
                            host.ssh.port,
                            ResolvePath(host.ssh.known_hosts, options),
                            host.ssh.host_key_policy,
                            host.ssh.host_key};
  return e;
}

SshEndpoint BastionEndpoint(const Host& host, const ConnectOptions& options) {
  const Bastion& b = *host.ssh.bastion;
  SshEndpoint e;
  e.name = "bastion " + b.address + " of " + host.name;
  e.address = b.address;
  e.port = b.port;
  e.user = b.user;
  e.identity_file = ResolvePath(
      b.identity_file.empty() ? host.ssh.identity_file : b.identity_file,
      options);
  e.agent = host.ssh.agent;
  e.allow_prompt = options.allow_prompt;
  e.host_key = HostKeyCheck{e.name,
                            b.address,
                            b.port,
                            ResolvePath(host.ssh.known_hosts, options),
                            host.ssh.host_key_policy,
                            b.host_key};
  return e;
}

// One attempt, direct or through the bastion.
Result<std::unique_ptr<SshTransport>> Attempt(const Host& host,
                                              const ConnectOptions& options,
                                              Deadline deadline,
                                              bool* retryable) {
  SshEndpoint target = TargetEndpoint(host, options);
  if (!host.ssh.bastion) {
    auto fd = TcpConnect(target.address, target.port, deadline, retryable);
    if (!fd) return std::unexpected(fd.error());
    auto session = SshSession::Establish(*fd, target, deadline, retryable);
    if (!session) return std::unexpected(session.error());
    return std::make_unique<SshTransport>(host.name, std::move(*session));
  }
  SshEndpoint jump = BastionEndpoint(host, options);
  auto fd = TcpConnect(jump.address, jump.port, deadline, retryable);
  if (!fd) {
    Error e = fd.error();
    e.message = "bastion " + jump.address + ":" + std::to_string(jump.port) +
                ": " + e.message;
    return std::unexpected(e);
  }
  auto bastion = SshSession::Establish(*fd, jump, deadline, retryable);
  if (!bastion) return std::unexpected(bastion.error());
  int local_fd = -1;
  auto hop = BastionHop::Start(std::move(*bastion), target.address, target.port,
                               deadline, &local_fd, retryable);
  if (!hop) return std::unexpected(hop.error());
  auto session = SshSession::Establish(local_fd, target, deadline, retryable);
  if (!session) return std::unexpected(session.error());
  return std::make_unique<SshTransport>(host.name, std::move(*session),
                                        std::move(*hop));
}

}  // namespace

Result<std::unique_ptr<Transport>> ConnectHost(const Host& host,
                                               const ConnectOptions& options) {
  const auto start = Clock::now();
  const Deadline deadline = start + host.ssh.connect_timeout;
  auto backoff = std::chrono::milliseconds(100);
  int attempts = 0;
  for (;;) {
    ++attempts;
    bool retryable = false;
    auto transport = Attempt(host, options, deadline, &retryable);
    if (transport) {
      if (!options.sha256_memo.empty()) {
        (*transport)
            ->set_sha256_memo(std::make_unique<Sha256Memo>(
                Sha256Memo::Load(options.sha256_memo, host.name)));
      }
      return std::unique_ptr<Transport>(std::move(*transport));
    }
    Error e = transport.error();
    auto now = Clock::now();
    if (retryable && now + backoff < deadline) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2,
                                                    std::chrono::seconds(2));
      continue;
    }
    std::string where =
        host.name + " (" + host.ssh.user + "@" + host.address + ":" +
        std::to_string(host.ssh.port) +
        (host.ssh.bastion ? " via bastion " + host.ssh.bastion->address : "") +
        ")";
    auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    std::string message = "cannot connect: " + e.message;
    if (retryable) {
      message += " (" + std::to_string(attempts) + " attempt" +
                 (attempts == 1 ? "" : "s") + " in " +
                 std::to_string(elapsed.count()) + " ms, ssh.connect_timeout " +
                 std::to_string(host.ssh.connect_timeout.count()) + " ms)";
      if (e.hint.empty()) {
        e.hint = "check that the host is up, sshd listens on port " +
                 std::to_string(host.ssh.port) +
                 " and no firewall drops the connection";
      }
    }
    return Fail(ErrorKind::kConnection, message, where, e.hint);
  }
}

}  // namespace hardway
