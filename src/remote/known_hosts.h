// Host key verification, done right after key exchange and before
// authentication, so a host we cannot verify never sees our credentials or a
// command. Uses libssh2's knownhost API on an OpenSSH known_hosts file (plain
// and hashed entries, "[host]:port" names).
//   strict      unknown or changed key: refused, with the fingerprint and the
//   line to add accept-new  unknown key: appended to known_hosts; changed key:
//   refused (as OpenSSH) pinned      Host.ssh.host_key must match exactly;
//   known_hosts is not consulted
#pragma once

#include <libssh2.h>

#include <filesystem>
#include <string>

#include "inventory/inventory.h"
#include "util/error.h"

namespace hardway {

struct HostKeyCheck {
  std::string name;     // inventory name, for messages
  std::string address;  // what we dial; the known_hosts name
  int port = 22;
  std::filesystem::path known_hosts;
  HostKeyPolicy policy = HostKeyPolicy::kStrict;
  std::string pinned;  // "ssh-ed25519 AAAA..." or empty
};

// Host key algorithms to ask for, those already trusted for this host first (as
// OpenSSH does), so a server with several keys presents the one we know. Empty:
// libssh2's default.
std::string PreferredHostKeyAlgorithms(LIBSSH2_SESSION* session,
                                       const HostKeyCheck& check);

// Verifies the key presented during the handshake of `session`. kConnection
// errors carry the fingerprint(s) and the known_hosts line in the hint.
Status VerifyHostKey(LIBSSH2_SESSION* session, const HostKeyCheck& check);

// "[127.0.0.1]:2222 ssh-ed25519 AAAA..." (no newline): what OpenSSH would
// record.
std::string KnownHostsLine(const std::string& address, int port,
                           const std::string& key_type,
                           const std::string& key_blob);

}  // namespace hardway
