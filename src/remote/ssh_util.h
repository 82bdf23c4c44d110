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
  // Only from a keyed listing: the file's stat key (kStatKeyFormat), e.g.
  // "2259192:1795700692.826535389:1795700692.886535389:1124162".
  std::string key;
};

// The one script that runs `commands` in order in one shell (ExecMany), each
// with stderr joined to stdout and followed by a newline and a marker line
// "@@hardway-exec INDEX EXIT_CODE". Each runs in a subshell, so an `exit` or a
// `set` in it ends or changes only itself, except a lone `test` of plain words
// (RunsInPlace): a builtin that can do neither, which then costs no fork.
// `stop_after_failure`: the script ends after the first command that exits
// non-zero (its marker printed), and the later commands never run.
std::string ExecManyScript(const std::vector<std::string>& commands,
                           bool stop_after_failure = false);
bool RunsInPlace(std::string_view command);
inline constexpr std::string_view kExecManyMark = "\n@@hardway-exec ";

// What a keyed listing prints per file to tell whether it changed: size,
// mtime and ctime in ns, inode (stat -L). Writing a file's bytes, renaming
// another file over it, chmod and chown all set its ctime to now, which no
// user can set back, so a file whose key is unchanged still holds the bytes
// it held (as git's index and rsync's quick check assume).
inline constexpr std::string_view kStatKeyFormat = "%s:%.9Y:%.9Z:%i";

// The single remote command that prints sha256 and stat of every path (missing
// ones silent). The hasher is `openssl dgst` where the host has it, else
// sha256sum.
std::string Sha256ListingCommand(const std::vector<std::string>& paths);

// The same listing for a caller that remembers sha256 by stat key
// (Sha256Memo), still one remote call and at most three processes (date,
// stat, the hasher): the host's clock first, then one stat of every path with
// its key, and a hash only of the paths whose key is not exactly
// `known[path]` (the shell compares them; paths must not contain a newline or
// backslash). Without any path to hash, no hasher runs.
std::string KeyedSha256ListingCommand(
    const std::vector<std::string>& paths,
    const std::map<std::string, std::string>& known);

// Parses the output of either command. From Sha256ListingCommand: the paths
// hashed, with their stat; paths absent from the output do not exist (or are
// not readable files). From KeyedSha256ListingCommand: every path stat found,
// with its key, and a sha256 only when it was hashed; `clock` (when not null)
// gets the host's clock at the start of the listing ("1795700692.826535389";
// empty for the first command).
Result<std::map<std::string, RemoteFileInfo>> ParseSha256Listing(
    std::string_view out, std::string* clock = nullptr);

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
