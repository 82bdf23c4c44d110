#include "sshd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace hardway::testing {

int Shell(const std::string& command, std::string* out) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    if (out != nullptr) out->append(buf, n);
  }
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TempDir::TempDir() {
  std::string templ =
      (std::filesystem::temp_directory_path() / "hardway-ssh-XXXXXX").string();
  char* made = ::mkdtemp(templ.data());
  path_ = made != nullptr ? made : templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

const ClientKey& TestClientKey() {
  static TempDir* dir = new TempDir();  // lives for the process
  static ClientKey key = [] {
    ClientKey k;
    k.private_key = dir->path() / "id_ed25519";
    Shell("ssh-keygen -q -t ed25519 -N '' -C hardway-test -f " +
          k.private_key.string());
    std::ifstream in(k.private_key.string() + ".pub");
    std::getline(in, k.public_line);
    return k;
  }();
  return key;
}

namespace {

int FreePort(const std::string& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// True once something on the port sends an SSH banner.
bool AnswersSsh(const std::string& address, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  addr.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    pollfd p{fd, POLLIN, 0};
    char buf[8] = {};
    if (::poll(&p, 1, 2000) == 1 && ::read(fd, buf, 7) == 7)
      ok = std::string(buf) == "SSH-2.0";
  }
  ::close(fd);
  return ok;
}

std::vector<pid_t> Descendants(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    children[ppid].push_back(std::stoi(name));
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    for (pid_t c : children[p]) {
      out.push_back(c);
      todo.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<Sshd> Sshd::Start(std::string* error,
                                  const std::string& address) {
  std::unique_ptr<Sshd> sshd(new Sshd());
  const auto& dir = sshd->dir_.path();
  ::mkdir("/run/sshd", 0755);  // sshd's privilege separation folder
  std::filesystem::path key = dir / "ssh_host_ed25519_key";
  if (Shell("ssh-keygen -q -t ed25519 -N '' -C '' -f " + key.string()) != 0) {
    *error = "ssh-keygen failed";
    return nullptr;
  }
  {
    std::ifstream in(key.string() + ".pub");
    std::string type, blob;
    in >> type >> blob;
    sshd->host_key_ = type + " " + blob;
  }
  std::ofstream(dir / "authorized_keys") << TestClientKey().public_line << "\n";
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = FreePort(address);
    std::filesystem::path config = dir / "sshd_config";
    std::ofstream(config)
        << "ListenAddress " << address << "\n"
        << "Port " << port << "\n"
        << "HostKey " << key.string() << "\n"
        << "PidFile none\n"
        << "UsePAM no\n"
        << "StrictModes no\n"
        << "AuthorizedKeysFile " << (dir / "authorized_keys").string() << "\n"
        << "PermitRootLogin prohibit-password\n"
        << "PasswordAuthentication no\n"
        << "KbdInteractiveAuthentication no\n"
        << "AllowTcpForwarding yes\n"
        << "MaxStartups 200\n"
        << "MaxSessions 200\n"
        << "Subsystem sftp internal-sftp\n"
        << "LogLevel INFO\n"
        // bash, root's login shell, sources ~/.bashrc for commands run by
        // sshd unless SHLVL says it is nested; the test machine's bashrc
        // (pyenv, ...) costs seconds per command and is not what we test.
        << "SetEnv SHLVL=1\n";
    std::string log = (dir / "sshd.log").string();
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 2);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f",
              config.c_str(), (char*)nullptr);
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        break;  // exited: most likely the port was taken meanwhile; try another
      }
      if (AnswersSsh(address, port)) {
        sshd->pid_ = pid;
        sshd->port_ = port;
        sshd->address_ = address;
        return sshd;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  *error = "sshd did not start; its log: " + sshd->log();
  return nullptr;
}

Sshd::~Sshd() { KillAll(); }

void Sshd::KillAll() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGSTOP);  // no new children while we collect them
  for (pid_t p : Descendants(pid_)) ::kill(p, SIGKILL);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string Sshd::log() const {
  std::ifstream in(dir() / "sshd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Host Sshd::MakeHost(const std::string& name, bool pin) const {
  Host h;
  h.name = name;
  h.address = address_;
  h.ssh.user = "root";
  h.ssh.port = port_;
  h.ssh.identity_file = TestClientKey().private_key.string();
  h.ssh.agent = false;
  h.ssh.known_hosts = (dir() / "client_known_hosts").string();
  h.ssh.connect_timeout = std::chrono::milliseconds(5000);
  if (pin) h.ssh.host_key = host_key_;
  return h;
}

std::string SshKeygenFingerprint(const std::string& public_line) {
  TempDir tmp;
  std::ofstream(tmp / "k.pub") << public_line << "\n";
  std::string out;
  Shell("ssh-keygen -l -E sha256 -f " + (tmp / "k.pub").string(), &out);
  std::istringstream fields(out);
  std::string bits, fp;
  fields >> bits >> fp;
  return fp;
}

}  // namespace hardway::testing
