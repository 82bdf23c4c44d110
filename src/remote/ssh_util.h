// Small pure helpers of the SSH transport: shell quoting, the command line sent
// to the host, parsing of remote listings, base64 and OpenSSH-style
// fingerprints. No I/O, unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace hardway {

// 'it'\''s' quoting for POSIX sh: safe for any byte string.
std::string ShellQuote(std::string_view text);

// The exact string handed to sshd for `command`: "/bin/sh -c '...'" for root,
// and "sudo -n /bin/sh -c '...'" for any other user, so no login shell and no
// rc files run.
std::string RemoteCommandLine(std::string_view user, std::string_view command);

// True when stderr shows that `sudo -n` refused because it wanted a password.
bool SudoWantsPassword(std::string_view err);

// What we know about a remote file after Sha256Of.
struct RemoteFileInfo {
  std::string sha256;
  std::string
      mode;  // octal without leading zeros, as stat %a prints ("644", "600")
  std::string owner;      // "root:root"
  std::string owner_ids;  // "0:0"
};

// The single remote command that prints sha256 and stat of every path (missing
// ones silent).
std::string Sha256ListingCommand(const std::vector<std::string>& paths);
// Parses its output; paths absent from the output do not exist (or are not
// readable files).
Result<std::map<std::string, RemoteFileInfo>> ParseSha256Listing(
    std::string_view out);

// "0644" for 0644.
std::string OctalMode(uint32_t mode);

// Standard base64 with padding (known_hosts, authorized_keys), and decoding of
// it.
std::string SshBase64Encode(std::string_view bytes);
std::optional<std::string> SshBase64Decode(std::string_view text);

// "SHA256:<base64 without padding>" of a public key blob, as `ssh-keygen -l`
// prints it.
std::string FingerprintSha256(std::string_view key_blob);

// The key type named inside an SSH public key blob ("ssh-ed25519"), empty if
// malformed.
std::string KeyBlobType(std::string_view key_blob);

// "[127.0.0.1]:2222" for a non-default port, "10.0.0.1" for 22: OpenSSH's
// known_hosts name.
std::string KnownHostsName(std::string_view address, int port);

// True when an OpenSSH private key file (PEM or openssh-key-v1) is protected by
// a passphrase.
bool PrivateKeyIsEncrypted(std::string_view file_content);

}  // namespace hardway
