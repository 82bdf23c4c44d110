// Builds the Transport for one inventory host: TCP (or a hop through its
// bastion), SSH handshake, host key check, authentication, retried with
// back-off until ssh.connect_timeout.
#pragma once

#include <filesystem>
#include <memory>

#include "inventory/cluster.h"
#include "remote/transport.h"

namespace hardway {

struct ConnectOptions {
  // Relative identity_file / known_hosts paths resolve against this (the
  // inventory's folder).
  std::filesystem::path base_dir;
  // Ask for a key passphrase on the terminal when HARDWAY_SSH_PASSPHRASE is not
  // set.
  bool allow_prompt = true;
  // When set, the transport keeps a Sha256Memo of the host in this file
  // (Sha256MemoFile): a listing hashes only the files whose stat key changed
  // since hardway last hashed them. For runs that change hosts (`up`), not for
  // those that must read every byte (`doctor`, `check`). Empty: every listing
  // hashes every file.
  std::filesystem::path sha256_memo;
};

// Errors are kConnection and name the host, address, port and the cause:
// connection refused, timed out, no route, authentication failed (methods
// offered and tried), host key unknown or changed (fingerprints). Host key and
// authentication failures are not retried.
Result<std::unique_ptr<Transport>> ConnectHost(
    const Host& host, const ConnectOptions& options = {});

}  // namespace hardway
