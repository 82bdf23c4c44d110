#include "remote/known_hosts.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "remote/ssh_util.h"
#include "util/files.h"

namespace hardway {
namespace {

// Appends to known_hosts from parallel host threads go through one lock.
std::mutex& KnownHostsMutex() {
  static std::mutex m;
  return m;
}

int KnownHostKeyMask(int hostkey_type) {
  switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
      return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS:
      return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
      return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default:
      return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
  }
}

// Host key method names for a key type (RSA keys sign with SHA-2 first).
std::string MethodsForKeyType(const std::string& type) {
  if (type == "ssh-rsa") return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
  return type;
}

std::string KeyTypeForMask(int mask) {
  switch (mask & LIBSSH2_KNOWNHOST_KEY_MASK) {
    case LIBSSH2_KNOWNHOST_KEY_SSHRSA:
      return "ssh-rsa";
    case LIBSSH2_KNOWNHOST_KEY_SSHDSS:
      return "ssh-dss";
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_256:
      return "ecdsa-sha2-nistp256";
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_384:
      return "ecdsa-sha2-nistp384";
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_521:
      return "ecdsa-sha2-nistp521";
    case LIBSSH2_KNOWNHOST_KEY_ED25519:
      return "ssh-ed25519";
    default:
      return {};
  }
}

struct KnownHostsDeleter {
  void operator()(LIBSSH2_KNOWNHOSTS* h) const { libssh2_knownhost_free(h); }
};
using KnownHostsPtr = std::unique_ptr<LIBSSH2_KNOWNHOSTS, KnownHostsDeleter>;

struct LoadedKnownHosts {
  KnownHostsPtr hosts;
  std::set<std::string> revoked;  // base64 key blobs under @revoked
};

// Reads the file line by line: libssh2_knownhost_readfile stops at the first
// line it cannot parse (certificate authorities, security-key types), which
// would silently drop later entries. Such lines are skipped here, except
// @revoked ones, which we honour ourselves.
LoadedKnownHosts LoadKnownHosts(LIBSSH2_SESSION* session,
                                const std::filesystem::path& path) {
  LoadedKnownHosts loaded{KnownHostsPtr(libssh2_knownhost_init(session)), {}};
  auto content = ReadFile(path);
  if (!content) return loaded;  // a missing file knows no hosts
  std::istringstream in(*content);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("@revoked", 0) == 0) {
      std::istringstream fields(line);
      std::string marker, hostnames, type, blob;
      fields >> marker >> hostnames >> type >> blob;
      if (!blob.empty()) loaded.revoked.insert(blob);
      continue;
    }
    if (line[0] == '@') continue;  // @cert-authority: not supported by libssh2
    libssh2_knownhost_readline(loaded.hosts.get(), line.data(), line.size(),
                               LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  }
  return loaded;
}

Status AppendKnownHost(const std::filesystem::path& path,
                       const std::string& line) {
  std::lock_guard<std::mutex> lock(KnownHostsMutex());
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  int fd =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Fail(
        ErrorKind::kIo,
        "cannot open known_hosts for writing: " + std::string(strerror(errno)),
        path.string());
  }
  // Start on a fresh line if the file does not end with one.
  std::string text = line + "\n";
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, size - 1) == 1 && last != '\n')
      text = "\n" + text;
  }
  ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return Fail(ErrorKind::kIo, "cannot append to known_hosts", path.string());
  }
  return {};
}

// ssh-ed25519 -> ed25519, ecdsa-sha2-nistp256 -> ecdsa, ssh-rsa -> rsa (sshd's
// file names).
std::string HostKeyFileStem(const std::string& key_type) {
  if (key_type.rfind("ecdsa", 0) == 0) return "ecdsa";
  if (key_type.rfind("ssh-", 0) == 0) return key_type.substr(4);
  return key_type;
}

std::string Where(const HostKeyCheck& c) {
  return c.name + " (" + c.address + ":" + std::to_string(c.port) + ")";
}

}  // namespace

std::string KnownHostsLine(const std::string& address, int port,
                           const std::string& key_type,
                           const std::string& key_blob) {
  return KnownHostsName(address, port) + " " + key_type + " " +
         SshBase64Encode(key_blob);
}

std::string PreferredHostKeyAlgorithms(LIBSSH2_SESSION* session,
                                       const HostKeyCheck& check) {
  std::vector<std::string> preferred;
  if (!check.pinned.empty()) {
    std::istringstream fields(check.pinned);
    std::string type;
    fields >> type;
    preferred.push_back(MethodsForKeyType(type));
  } else {
    // Which key types are recorded for this host? libssh2 has no lookup by name
    // alone, so ask it whether each recorded key would match this host (works
    // for hashed names too).
    LoadedKnownHosts loaded = LoadKnownHosts(session, check.known_hosts);
    std::set<std::string> seen;
    libssh2_knownhost* entry = nullptr;
    libssh2_knownhost* prev = nullptr;
    while (libssh2_knownhost_get(loaded.hosts.get(), &entry, prev) == 0) {
      prev = entry;
      std::string type = KeyTypeForMask(entry->typemask);
      if (type.empty() || seen.count(type) || entry->key == nullptr) continue;
      auto blob = SshBase64Decode(entry->key);
      if (!blob) continue;
      libssh2_knownhost* found = nullptr;
      int rc = libssh2_knownhost_checkp(
          loaded.hosts.get(), check.address.c_str(), check.port, blob->data(),
          blob->size(),
          LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
              (entry->typemask & LIBSSH2_KNOWNHOST_KEY_MASK),
          &found);
      if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
        seen.insert(type);
        preferred.push_back(MethodsForKeyType(type));
      }
    }
  }
  if (preferred.empty()) return {};
  std::string list;
  std::set<std::string> in_list;
  for (const std::string& p : preferred) {
    std::istringstream names(p);
    std::string name;
    while (std::getline(names, name, ',')) {
      if (in_list.insert(name).second) list += (list.empty() ? "" : ",") + name;
    }
  }
  // Then every other algorithm libssh2 knows, so a server without our recorded
  // type still gets to a clear "changed key" error rather than a failed
  // negotiation.
  const char** algs = nullptr;
  int n =
      libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &algs);
  for (int i = 0; i < n; ++i) {
    if (in_list.insert(algs[i]).second) list += std::string(",") + algs[i];
  }
  if (n > 0) libssh2_free(session, algs);
  return list;
}

Status VerifyHostKey(LIBSSH2_SESSION* session, const HostKeyCheck& check) {
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(session, &len, &type);
  if (key == nullptr || len == 0) {
    return Fail(ErrorKind::kConnection, "server presented no host key",
                Where(check));
  }
  std::string blob(key, len);
  std::string key_type = KeyBlobType(blob);
  std::string fingerprint = FingerprintSha256(blob);
  std::string line = KnownHostsLine(check.address, check.port, key_type, blob);

  if (!check.pinned.empty()) {
    std::istringstream fields(check.pinned);
    std::string pin_type, pin_b64;
    fields >> pin_type >> pin_b64;
    auto pin_blob = SshBase64Decode(pin_b64);
    if (!pin_blob) {
      return Fail(ErrorKind::kValidation, "pinned host_key is not valid base64",
                  Where(check),
                  "host_key must look like \"ssh-ed25519 AAAA...\" (a line of "
                  "the host's "
                  "/etc/ssh/ssh_host_*_key.pub)");
    }
    if (pin_type == key_type && *pin_blob == blob) return {};
    return Fail(
        ErrorKind::kConnection,
        "host key does not match the key pinned in the inventory: pinned " +
            pin_type + " " + FingerprintSha256(*pin_blob) + ", server offers " +
            key_type + " " + fingerprint,
        Where(check),
        "if the host was legitimately reinstalled, update its host_key to \"" +
            key_type + " " + SshBase64Encode(blob) +
            "\"; otherwise someone may be intercepting the connection");
  }

  LoadedKnownHosts loaded = LoadKnownHosts(session, check.known_hosts);
  if (!loaded.hosts) {
    return Fail(ErrorKind::kInternal, "libssh2_knownhost_init failed",
                Where(check));
  }
  if (loaded.revoked.count(SshBase64Encode(blob))) {
    return Fail(ErrorKind::kConnection,
                "host key " + fingerprint + " is marked @revoked in " +
                    check.known_hosts.string(),
                Where(check));
  }
  libssh2_knownhost* known = nullptr;
  int rc = libssh2_knownhost_checkp(
      loaded.hosts.get(), check.address.c_str(), check.port, key, len,
      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
          KnownHostKeyMask(type),
      &known);
  switch (rc) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
      return {};
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: {
      std::string old = "an unreadable key";
      if (known != nullptr && known->key != nullptr) {
        if (auto old_blob = SshBase64Decode(known->key)) {
          old = KeyBlobType(*old_blob) + " " + FingerprintSha256(*old_blob);
        }
      }
      return Fail(ErrorKind::kConnection,
                  "HOST KEY CHANGED: " + check.known_hosts.string() + " has " +
                      old + ", the server offers " + key_type + " " +
                      fingerprint + "; refusing to connect",
                  Where(check),
                  "someone may be intercepting the connection, or the host was "
                  "reinstalled. If "
                  "you have verified the new key out of band, remove the old "
                  "entry (ssh-keygen "
                  "-R '" +
                      KnownHostsName(check.address, check.port) + "' -f " +
                      check.known_hosts.string() + ") and add: " + line);
    }
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
      if (check.policy == HostKeyPolicy::kAcceptNew) {
        return AppendKnownHost(check.known_hosts, line);
      }
      return Fail(
          ErrorKind::kConnection,
          "unknown host key " + key_type + " " + fingerprint +
              " (host_key_policy strict, "
              "not in " +
              check.known_hosts.string() + "); nothing was sent to the host",
          Where(check),
          "verify the fingerprint on the host (ssh-keygen -lf "
          "/etc/ssh/ssh_host_" +
              HostKeyFileStem(key_type) + "_key.pub), then add this line to " +
              check.known_hosts.string() + ": " + line +
              " — or pin it in the inventory (host_key: " + key_type + " " +
              SshBase64Encode(blob) +
              "), or set ssh.host_key_policy: accept-new");
    default:
      return Fail(ErrorKind::kConnection,
                  "cannot check the host key against known_hosts",
                  Where(check));
  }
}

}  // namespace hardway
