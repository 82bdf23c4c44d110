#include "remote/ssh_util.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

namespace hardway {

std::string ShellQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

std::string RemoteCommandLine(std::string_view user, std::string_view command) {
  // sshd runs the string with the user's shell -c; we hand it a plain /bin/sh
  // so the user's shell and its rc files do not change how our commands behave.
  std::string line = "/bin/sh -c " + ShellQuote(command);
  if (user == "root") return line;
  return "sudo -n " + line;
}

bool SudoWantsPassword(std::string_view err) {
  return err.find("sudo: a password is required") != std::string_view::npos ||
         err.find("sudo: a terminal is required") != std::string_view::npos;
}

namespace {
constexpr std::string_view kStatMarker = "@@hardway-stat@@";
constexpr std::string_view kClockMarker = "@@hardway-clock@@ ";

// "<mode> <user>:<group> <uid>:<gid>" and what follows it (the path, in the
// first command's listing; nothing in a keyed one).
bool ParseStatFields(std::string_view line, RemoteFileInfo& info,
                     std::string_view* rest) {
  size_t a = line.find(' ');
  size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  if (b == std::string_view::npos) return false;
  size_t c = line.find(' ', b + 1);
  if ((rest != nullptr) != (c != std::string_view::npos)) return false;
  info.mode = std::string(line.substr(0, a));
  info.owner = std::string(line.substr(a + 1, b - a - 1));
  info.owner_ids = std::string(line.substr(b + 1, c - b - 1));
  if (rest != nullptr) *rest = line.substr(c + 1);
  return true;
}

Error UnexpectedLine(std::string_view what, std::string_view line) {
  return Error{ErrorKind::kInternal,
               "unexpected " + std::string(what) +
                   " output line: " + std::string(line.substr(0, 120)),
               {},
               {}};
}
}  // namespace

// The hasher of a listing, given its (quoted) arguments. OpenSSL's `dgst`
// hashes with the CPU's SHA extensions where it has them, about twice as fast
// as coreutils' sha256sum here (which Debian builds without OpenSSL), and a
// first `up` hashes every binary it sent; most hosts have it (ca-certificates
// needs it), the others get sha256sum. Both print "<64 hex> <mode char><path>".
// `openssl dgst` has no `--` in old releases, so only absolute paths (which
// cannot be taken for an option) go to it.
std::string HashCommand(const std::vector<std::string>& paths,
                        const std::string& args) {
  const bool absolute = std::ranges::all_of(
      paths, [](const std::string& p) { return p.starts_with('/'); });
  if (!absolute) return "sha256sum --" + args;
  return "if command -v openssl >/dev/null; then openssl dgst -sha256 -r" +
         args + "; else sha256sum --" + args + "; fi";
}

bool RunsInPlace(std::string_view command) {
  // Plain words only: no quoting, expansion, redirection, pattern or second
  // command, so the builtin sees exactly these arguments.
  constexpr std::string_view kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
      "./_-+=:,@";
  return command.starts_with("test ") &&
         command.find_first_not_of(kPlain) == std::string_view::npos;
}

std::string ExecManyScript(const std::vector<std::string>& commands,
                           bool stop_after_failure) {
  // One fork per command, no command substitution: a process costs 5-30 ms
  // on a busy host.
  const std::string mark(kExecManyMark.substr(1));
  std::string script;
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string& c = commands[i];
    script += RunsInPlace(c) ? c + " 2>&1" : "(\n" + c + "\n) 2>&1";
    script += "; r=$?; printf '\\n" + mark + "%d %d\\n' " + std::to_string(i) +
              " $r\n";
    if (stop_after_failure) script += "[ $r -eq 0 ] || exit 0\n";
  }
  return script;
}

std::string Sha256ListingCommand(const std::vector<std::string>& paths) {
  // Two processes for any number of files: one hasher, one stat.
  std::string quoted;
  for (const std::string& p : paths) quoted += " " + ShellQuote(p);
  return "{ " + HashCommand(paths, quoted) + "; } 2>/dev/null; echo " +
         std::string(kStatMarker) + "; stat -L -c '%a %U:%G %u:%g %n' --" +
         quoted + " 2>/dev/null; true";
}

std::string KeyedSha256ListingCommand(
    const std::vector<std::string>& paths,
    const std::map<std::string, std::string>& known) {
  // A process costs 5-30 ms on a busy host, so the decisions are the shell's
  // own builtins (case, set) on one captured stat: no process per file. The
  // clock comes first, before the stat: a caller trusts a key only for a file
  // whose ctime is older than that (see Sha256Memo). stat runs before
  // sha256sum, so a write while hashing leaves a key that never matches again.
  // stat prints two lines per file, "<key> <path>" and "<mode> <owner>
  // <ids>": a memo's key is found as a whole line, so "/a/b" cannot match the
  // line of "/a/b.bak" nor of a path that merely ends in " /a/b".
  std::string quoted, unknown;
  size_t n_known = 0;
  for (const std::string& p : paths) {
    quoted += " " + ShellQuote(p);
    if (known.contains(p)) {
      ++n_known;
    } else {
      unknown += " " + ShellQuote(p);
    }
  }
  std::string cmd =
      "date +'" + std::string(kClockMarker) + "%s.%N'  # sha256 listing of " +
      std::to_string(paths.size()) + " paths, " + std::to_string(n_known) +
      " known by stat key\ns=$(stat -L -c '" + std::string(kStatKeyFormat) +
      " %n\n%a %U:%G %u:%g' --" + quoted + " 2>/dev/null)\nset --" + unknown +
      "\n";
  for (const std::string& p : paths) {
    auto it = known.find(p);
    if (it == known.end()) continue;
    cmd += "case \"\n$s\n\" in *" +
           ShellQuote("\n" + it->second + " " + p + "\n") +
           "*) ;; *) set -- \"$@\" " + ShellQuote(p) + " ;; esac\n";
  }
  cmd += "[ $# -eq 0 ] || { " + HashCommand(paths, " \"$@\"") +
         "; } 2>/dev/null\necho " + std::string(kStatMarker) +
         "\nprintf '%s\\n' \"$s\"\n";
  return cmd;
}

Result<std::map<std::string, RemoteFileInfo>> ParseSha256Listing(
    std::string_view out, std::string* clock) {
  if (clock != nullptr) clock->clear();
  std::map<std::string, RemoteFileInfo> sums;
  std::map<std::string, RemoteFileInfo> stats;
  bool keyed = false;  // a KeyedSha256ListingCommand's output
  bool in_stat = false;
  std::optional<std::pair<std::string, std::string>> key_line;  // key, path
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string_view::npos) nl = out.size();
    std::string_view line = out.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    if (!in_stat && !keyed && sums.empty() && line.starts_with(kClockMarker)) {
      keyed = true;
      if (clock != nullptr) *clock = line.substr(kClockMarker.size());
      continue;
    }
    if (line == kStatMarker) {
      in_stat = true;
      continue;
    }
    if (!in_stat) {
      // "<64 hex>  <path>" (sha256sum) or "<64 hex> *<path>" (openssl -r)
      if (line.size() < 67 ||
          (line.substr(64, 2) != "  " && line.substr(64, 2) != " *")) {
        return std::unexpected(UnexpectedLine("sha256sum", line));
      }
      sums[std::string(line.substr(66))].sha256 =
          std::string(line.substr(0, 64));
    } else if (!keyed) {
      // "<mode> <user>:<group> <uid>:<gid> <path>"
      RemoteFileInfo info;
      std::string_view path;
      if (!ParseStatFields(line, info, &path)) {
        return std::unexpected(UnexpectedLine("stat", line));
      }
      stats[std::string(path)] = std::move(info);
    } else if (!key_line) {
      // "<key> <path>", then its fields on the next line.
      size_t space = line.find(' ');
      if (space == 0 || space == std::string_view::npos) {
        return std::unexpected(UnexpectedLine("stat", line));
      }
      key_line.emplace(line.substr(0, space), line.substr(space + 1));
    } else {
      RemoteFileInfo& info = stats[key_line->second];
      if (!ParseStatFields(line, info, nullptr)) {
        return std::unexpected(UnexpectedLine("stat", line));
      }
      info.key = std::move(key_line->first);
      key_line.reset();
    }
  }
  if (key_line) {
    return Fail(ErrorKind::kInternal,
                "stat output ended after the key of " + key_line->second);
  }
  if (keyed) {
    // Every file stat found; a sha256 where it was hashed.
    for (auto& [path, info] : sums) stats[path].sha256 = std::move(info.sha256);
    return stats;
  }
  for (auto& [path, info] : sums) {
    auto it = stats.find(path);
    if (it != stats.end()) {
      info.mode = it->second.mode;
      info.owner = it->second.owner;
      info.owner_ids = it->second.owner_ids;
    }
  }
  return sums;
}

std::string OctalMode(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777);
  return buf;
}

std::string SshBase64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

std::optional<std::string> SshBase64Decode(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes.
  if (text.size() >= 1 && text[text.size() - 1] == '=') --n;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --n;
  out.resize(n);
  return out;
}

std::string FingerprintSha256(std::string_view key_blob) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key_blob.data(), key_blob.size(), md, &len, EVP_sha256(), nullptr);
  std::string b64 =
      SshBase64Encode(std::string_view(reinterpret_cast<char*>(md), len));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

std::string KeyBlobType(std::string_view key_blob) {
  if (key_blob.size() < 4) return {};
  uint32_t n = (uint32_t(uint8_t(key_blob[0])) << 24) |
               (uint32_t(uint8_t(key_blob[1])) << 16) |
               (uint32_t(uint8_t(key_blob[2])) << 8) |
               uint32_t(uint8_t(key_blob[3]));
  if (n > key_blob.size() - 4 || n > 64) return {};
  return std::string(key_blob.substr(4, n));
}

std::string KnownHostsName(std::string_view address, int port) {
  if (port == 22) return std::string(address);
  return "[" + std::string(address) + "]:" + std::to_string(port);
}

bool PrivateKeyIsEncrypted(std::string_view content) {
  if (content.find("ENCRYPTED") != std::string_view::npos)
    return true;  // PEM / PKCS#8
  // The armour lines of the format, split so the source holds no key marker.
  constexpr std::string_view kBegin =
      "-----BEGIN OPENSSH PRIVATE"
      " KEY-----";
  constexpr std::string_view kEnd =
      "-----END OPENSSH PRIVATE"
      " KEY-----";
  size_t b = content.find(kBegin);
  size_t e = content.find(kEnd);
  if (b == std::string_view::npos || e == std::string_view::npos || e < b)
    return false;
  std::string body;
  for (char c : content.substr(b + kBegin.size(), e - b - kBegin.size())) {
    if (c != '\n' && c != '\r' && c != ' ') body += c;
  }
  auto raw = SshBase64Decode(body);
  // "openssh-key-v1\0" then string ciphername.
  constexpr std::string_view kMagic{"openssh-key-v1\0", 15};
  if (!raw || raw->size() < kMagic.size() + 4 ||
      raw->compare(0, kMagic.size(), kMagic) != 0) {
    return false;
  }
  std::string cipher =
      KeyBlobType(std::string_view(*raw).substr(kMagic.size()));
  return !cipher.empty() && cipher != "none";
}

}  // namespace hardway
