#include "remote/ssh_session.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "remote/ssh_util.h"
#include "util/files.h"

namespace hardway {
namespace {

void InitLibssh2Once() {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
}

int RemainingMs(Deadline deadline) {
  if (deadline == kNoDeadline) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return left.count() < 0
             ? 0
             : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

std::string ErrnoCause(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connection refused";
    case ETIMEDOUT:
      return "timed out";
    case EHOSTUNREACH:
      return "no route to host";
    case ENETUNREACH:
      return "network unreachable";
    case ECONNRESET:
      return "connection reset";
    default:
      return std::strerror(err);
  }
}

// Passphrases are asked once per key file and process, even with many hosts in
// parallel.
std::mutex& PassphraseMutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::string>& PassphraseCache() {
  static std::map<std::string, std::string> cache;
  return cache;
}

std::optional<std::string> PromptPassphrase(const std::string& key_file) {
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) return std::nullopt;
  // Echo goes off before the prompt is shown, as in OpenSSH's readpassphrase:
  // someone who types as soon as the prompt appears must neither see the
  // passphrase echoed nor lose it to the flush of pending input.
  termios old{};
  bool restore = ::tcgetattr(tty, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  std::string prompt = "Enter passphrase for " + key_file + ": ";
  (void)!::write(tty, prompt.data(), prompt.size());
  std::string line;
  char c;
  while (::read(tty, &c, 1) == 1 && c != '\n') line += c;
  if (restore) ::tcsetattr(tty, TCSAFLUSH, &old);
  (void)!::write(tty, "\n", 1);
  ::close(tty);
  return line;
}

// nullopt: the key is encrypted and no passphrase is available.
std::optional<std::string> PassphraseFor(const std::string& key_file,
                                         bool allow_prompt) {
  if (const char* env = std::getenv("HARDWAY_SSH_PASSPHRASE"))
    return std::string(env);
  std::lock_guard<std::mutex> lock(PassphraseMutex());
  auto it = PassphraseCache().find(key_file);
  if (it != PassphraseCache().end()) return it->second;
  if (!allow_prompt || !::isatty(STDIN_FILENO)) return std::nullopt;
  auto answer = PromptPassphrase(key_file);
  if (answer) PassphraseCache()[key_file] = *answer;
  return answer;
}

std::string Where(const SshEndpoint& e) {
  return e.name + " (" + e.user + "@" + e.address + ":" +
         std::to_string(e.port) + ")";
}

// Cipher order: aes128-ctr first. libssh2 1.10 has no AES-GCM or ChaCha20;
// aes128-ctr is its fastest cipher with AES-NI and keeps large uploads from
// being cipher-bound.
void PreferFastCiphers(LIBSSH2_SESSION* session) {
  for (int method : {LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC}) {
    const char** algs = nullptr;
    int n = libssh2_session_supported_algs(session, method, &algs);
    if (n <= 0) continue;
    std::string list = "aes128-ctr";
    bool has = false;
    for (int i = 0; i < n; ++i) {
      if (std::string_view(algs[i]) == "aes128-ctr") {
        has = true;
      } else {
        list += std::string(",") + algs[i];
      }
    }
    libssh2_free(session, algs);
    if (has) libssh2_session_method_pref(session, method, list.c_str());
  }
}

}  // namespace

Result<int> TcpConnect(const std::string& address, int port, Deadline deadline,
                       bool* retryable) {
  *retryable = false;
  std::string where = address + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints,
                          &res);
  if (gai != 0) {
    *retryable = gai == EAI_AGAIN;
    return Fail(ErrorKind::kConnection,
                "cannot resolve " + address + ": " + ::gai_strerror(gai),
                where);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res,
                                                             ::freeaddrinfo);
  int fd =
      ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return Fail(ErrorKind::kConnection,
                std::string("socket: ") + std::strerror(errno));
  int err = 0;
  if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int rc;
      do {
        rc = ::poll(&p, 1, RemainingMs(deadline));
      } while (rc < 0 && errno == EINTR);
      if (rc == 0) {
        err = ETIMEDOUT;
      } else {
        socklen_t len = sizeof(err);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
  }
  if (err != 0) {
    ::close(fd);
    *retryable = true;  // a booting VM refuses, then answers: keep trying until
                        // the deadline
    return Fail(ErrorKind::kConnection, ErrnoCause(err), where);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // A host that vanishes (power off, network cut) must not hang a run forever.
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  int idle = 15, interval = 5, count = 4;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  return fd;
}

SshSession::SshSession(int fd, LIBSSH2_SESSION* session, SshEndpoint endpoint)
    : fd_(fd), session_(session), endpoint_(std::move(endpoint)) {}

SshSession::~SshSession() {
  if (session_ != nullptr) {
    // Best effort and bounded: a dead peer must not stall the destructor.
    Deadline deadline = Clock::now() + std::chrono::seconds(2);
    (void)Retry(
        [&] { return libssh2_session_disconnect(session_, "hardway: done"); },
        deadline);
    libssh2_session_free(session_);
  }
  if (fd_ >= 0) ::close(fd_);
}

Status SshSession::Wait(Deadline deadline) const {
  int dirs = libssh2_session_block_directions(session_);
  pollfd p{fd_, 0, 0};
  if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND) p.events |= POLLIN;
  if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) p.events |= POLLOUT;
  if (p.events == 0) p.events = POLLIN;
  for (;;) {
    // libssh2 may already hold a whole packet in its own buffer when it says
    // EAGAIN (libssh2 issue #232), and then the socket never becomes readable
    // again: a wait on the socket alone can hang for good. So never sleep
    // longer than kMaxIdleWait; a wake-up without data only costs the caller
    // one more EAGAIN.
    constexpr int kMaxIdleWaitMs = 200;
    int left = RemainingMs(deadline);
    bool capped = left < 0 || left > kMaxIdleWaitMs;
    int rc = ::poll(&p, 1, capped ? kMaxIdleWaitMs : left);
    if (rc > 0 || (rc == 0 && capped)) return {};
    if (rc == 0) {
      return Fail(ErrorKind::kConnection,
                  "timed out waiting for the SSH server", Where(endpoint_));
    }
    if (errno != EINTR) {
      return Fail(ErrorKind::kConnection,
                  std::string("poll: ") + std::strerror(errno),
                  Where(endpoint_));
    }
  }
}

std::string SshSession::LastError() const {
  char* msg = nullptr;
  int len = 0;
  libssh2_session_last_error(session_, &msg, &len, 0);
  return msg != nullptr && len > 0 ? std::string(msg, len)
                                   : std::string("unknown libssh2 error");
}

Result<std::unique_ptr<SshSession>> SshSession::Establish(
    int fd, const SshEndpoint& endpoint, Deadline deadline, bool* retryable) {
  InitLibssh2Once();
  *retryable = false;
  LIBSSH2_SESSION* raw = libssh2_session_init();
  if (raw == nullptr) {
    ::close(fd);
    return Fail(ErrorKind::kInternal, "libssh2_session_init failed",
                Where(endpoint));
  }
  std::unique_ptr<SshSession> session(new SshSession(fd, raw, endpoint));
  libssh2_session_set_blocking(raw, 0);
  std::string algs = PreferredHostKeyAlgorithms(raw, endpoint.host_key);
  if (!algs.empty())
    libssh2_session_method_pref(raw, LIBSSH2_METHOD_HOSTKEY, algs.c_str());
  PreferFastCiphers(raw);

  auto rc = session->Retry([&] { return libssh2_session_handshake(raw, fd); },
                           deadline);
  if (!rc) {
    *retryable = true;
    return Fail(ErrorKind::kConnection,
                "SSH handshake timed out (no SSH banner/key exchange)",
                Where(endpoint));
  }
  if (*rc != 0) {
    *retryable =
        true;  // sshd not ready yet, or it dropped us (MaxStartups): try again
    return Fail(ErrorKind::kConnection,
                "SSH handshake failed: " + session->LastError(),
                Where(endpoint));
  }
  // Before anything of ours goes over the wire.
  if (auto ok = VerifyHostKey(raw, endpoint.host_key); !ok)
    return std::unexpected(ok.error());
  if (auto ok = session->Authenticate(deadline, retryable); !ok) {
    return std::unexpected(ok.error());
  }
  return session;
}

Status SshSession::Authenticate(Deadline deadline, bool* retryable) {
  const std::string& user = endpoint_.user;
  char* list = nullptr;
  for (;;) {
    list = libssh2_userauth_list(session_, user.c_str(),
                                 static_cast<unsigned>(user.size()));
    if (list != nullptr ||
        libssh2_session_last_errno(session_) != LIBSSH2_ERROR_EAGAIN)
      break;
    if (auto s = Wait(deadline); !s) {
      *retryable = true;
      return s;
    }
  }
  if (list == nullptr) {
    if (libssh2_userauth_authenticated(session_))
      return {};  // "none" was accepted
    *retryable = true;
    return Fail(ErrorKind::kConnection,
                "cannot list authentication methods: " + LastError(),
                Where(endpoint_));
  }
  std::string offered = list;
  std::vector<std::string> tried;
  bool wrong_passphrase = false;

  if (offered.find("publickey") != std::string::npos) {
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    if (endpoint_.agent && sock != nullptr && *sock != '\0') {
      LIBSSH2_AGENT* agent = libssh2_agent_init(session_);
      std::string note = "ssh-agent";
      if (agent != nullptr && libssh2_agent_connect(agent) == 0) {
        int keys = 0;
        if (libssh2_agent_list_identities(agent) == 0) {
          libssh2_agent_publickey* id = nullptr;
          libssh2_agent_publickey* prev = nullptr;
          while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
            prev = id;
            ++keys;
            auto rc = Retry(
                [&] { return libssh2_agent_userauth(agent, user.c_str(), id); },
                deadline);
            if (rc && *rc == 0) {
              libssh2_agent_disconnect(agent);
              libssh2_agent_free(agent);
              return {};
            }
            if (!rc) {
              libssh2_agent_disconnect(agent);
              libssh2_agent_free(agent);
              *retryable = true;
              return std::unexpected(rc.error());
            }
          }
        }
        note +=
            " (" + std::to_string(keys) + " key" + (keys == 1 ? "" : "s") + ")";
        libssh2_agent_disconnect(agent);
      } else {
        note += " (cannot connect to " + std::string(sock) + ")";
      }
      if (agent != nullptr) libssh2_agent_free(agent);
      tried.push_back(note);
    }
    const std::string& key = endpoint_.identity_file;
    if (!key.empty()) {
      auto content = ReadFile(key);
      if (!content) {
        tried.push_back("identity file " + key + " (not readable)");
      } else {
        std::optional<std::string> passphrase = std::string();
        bool encrypted = PrivateKeyIsEncrypted(*content);
        if (encrypted) {
          passphrase = PassphraseFor(key, endpoint_.allow_prompt);
        }
        if (!passphrase) {
          tried.push_back(
              "identity file " + key +
              " (encrypted; set HARDWAY_SSH_PASSPHRASE or run on a terminal)");
        } else {
          std::string pub = key + ".pub";
          bool has_pub = ::access(pub.c_str(), R_OK) == 0;
          auto rc = Retry(
              [&] {
                return libssh2_userauth_publickey_fromfile_ex(
                    session_, user.c_str(), static_cast<unsigned>(user.size()),
                    has_pub ? pub.c_str() : nullptr, key.c_str(),
                    passphrase->c_str());
              },
              deadline);
          if (!rc) {
            *retryable = true;
            return std::unexpected(rc.error());
          }
          if (*rc == 0) return {};
          if (*rc == LIBSSH2_ERROR_FILE) {
            tried.push_back("identity file " + key +
                            " (cannot load: " + LastError() + ")");
          } else if (*rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED && encrypted &&
                     has_pub) {
            // With KEY.pub, libssh2 offers the public key first and decrypts
            // the private key only to sign, once the server accepted it: a
            // wrong passphrase shows up as this signing failure, not as
            // LIBSSH2_ERROR_FILE (and the server did not reject the key).
            tried.push_back("identity file " + key +
                            " (cannot load: wrong passphrase, or it does not "
                            "match " +
                            pub + ")");
            wrong_passphrase = true;
          } else {
            tried.push_back("identity file " + key + " (rejected)");
          }
        }
      }
    }
  }
  std::string tried_text;
  for (const std::string& t : tried)
    tried_text += (tried_text.empty() ? "" : ", ") + t;
  if (tried_text.empty()) tried_text = "nothing usable";
  std::string hint =
      wrong_passphrase
          ? "run again and give the passphrase of " + endpoint_.identity_file +
                " (at the prompt or in HARDWAY_SSH_PASSPHRASE)"
          : "add the public key to ~" + user +
                "/.ssh/authorized_keys on the host, load it into ssh-agent, "
                "or set ssh.identity_file / ssh.user in the inventory";
  return Fail(ErrorKind::kConnection,
              "authentication failed for user " + user + ": server offered [" +
                  offered + "], tried " + tried_text,
              Where(endpoint_), hint);
}

}  // namespace hardway
