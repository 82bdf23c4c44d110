// A real OpenSSH sshd on 127.0.0.1 for the ssh test tier: its own private
// folder, a fresh ed25519 host key, the test client's key authorized for root,
// a free high port.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

#include "inventory/cluster.h"

namespace hardway::testing {

// Runs a shell command, returns its exit status; stdout into *out when given.
int Shell(const std::string& command, std::string* out = nullptr);

// A private temporary folder removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }

 private:
  std::filesystem::path path_;
};

// The client key pair, made once per test process.
struct ClientKey {
  std::filesystem::path private_key;
  std::string public_line;  // "ssh-ed25519 AAAA... hardway-test"
};
const ClientKey& TestClientKey();

class Sshd {
 public:
  // Starts sshd and waits until it answers with its SSH banner. Empty on
  // failure, with the reason in *error.
  static std::unique_ptr<Sshd> Start(std::string* error,
                                     const std::string& address = "127.0.0.1");
  ~Sshd();

  int port() const { return port_; }
  const std::string& address() const { return address_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string host_key() const { return host_key_; }  // "ssh-ed25519 AAAA..."
  std::string log() const;                            // sshd's stderr so far

  // SIGKILL the listener and every process it started (connections, their
  // shells).
  void KillAll();

  // A Host for this sshd: root, the test key, no agent, pinned host key unless
  // `pin` is false (then known_hosts + policy decide).
  Host MakeHost(const std::string& name, bool pin = true) const;

 private:
  Sshd() = default;
  TempDir dir_;
  int port_ = 0;
  std::string address_;
  pid_t pid_ = -1;
  std::string host_key_;
};

// The SHA256 fingerprint of a public key line as ssh-keygen -l prints it.
std::string SshKeygenFingerprint(const std::string& public_line);

}  // namespace hardway::testing
