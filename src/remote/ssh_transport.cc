#include "remote/ssh_transport.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "remote/tar_stream.h"

namespace hardway {
namespace {

// `hardway -v` shows every remote call with its time, so a slow run says
// which round trips it spent its time on. Only the command's first line is
// shown (ExecMany's scripts are long); commands never carry secrets (they are
// the plan's, which `plan` prints too).
class CallTrace {
 public:
  CallTrace(const std::string& host, std::string_view what)
      : host_(host), start_(std::chrono::steady_clock::now()) {
    if (!spdlog::should_log(spdlog::level::debug)) return;
    what = what.substr(0, what.find('\n'));
    what_ = what.size() > 100 ? std::string(what.substr(0, 100)) + "..."
                              : std::string(what);
  }
  ~CallTrace() {
    if (!spdlog::should_log(spdlog::level::debug)) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start_)
                  .count();
    spdlog::debug("{}: {} ms: {}", host_, ms, what_);
  }
  CallTrace(const CallTrace&) = delete;
  CallTrace& operator=(const CallTrace&) = delete;

 private:
  const std::string& host_;
  std::chrono::steady_clock::time_point start_;
  std::string what_;
};

constexpr size_t kUploadChunk = 4 << 20;  // read and write 4 MiB at a time

struct ChannelDeleter {
  void operator()(LIBSSH2_CHANNEL* ch) const { libssh2_channel_free(ch); }
};
using ChannelPtr = std::unique_ptr<LIBSSH2_CHANNEL, ChannelDeleter>;

int SignalNumber(std::string_view name) {
  static const std::pair<std::string_view, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
      {"ILL", SIGILL},   {"ABRT", SIGABRT}, {"FPE", SIGFPE},
      {"KILL", SIGKILL}, {"SEGV", SIGSEGV}, {"PIPE", SIGPIPE},
      {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}};
  for (auto [n, v] : kSignals) {
    if (n == name) return v;
  }
  return 127;
}

std::string RandomSuffix() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
  return buf;
}

bool ModeMatches(const std::string& remote, uint32_t wanted) {
  if (remote.empty()) return false;
  return std::strtoul(remote.c_str(), nullptr, 8) == (wanted & 07777);
}

bool OwnerMatches(const RemoteFileInfo& info, const std::string& wanted) {
  if (wanted.find(':') == std::string::npos) {
    auto user = [](const std::string& s) { return s.substr(0, s.find(':')); };
    return user(info.owner) == wanted || user(info.owner_ids) == wanted;
  }
  return info.owner == wanted || info.owner_ids == wanted;
}

class ChannelTunnel : public Tunnel {
 public:
  ChannelTunnel(const SshSession* session, LIBSSH2_CHANNEL* channel,
                std::string where)
      : session_(session), channel_(channel), where_(std::move(where)) {}
  ~ChannelTunnel() override {
    Deadline deadline = Clock::now() + std::chrono::seconds(2);
    (void)session_->Retry([&] { return libssh2_channel_close(channel_); },
                          deadline);
    libssh2_channel_free(channel_);
  }

  Result<size_t> Read(std::span<char> buf) override {
    for (;;) {
      ssize_t n = libssh2_channel_read(channel_, buf.data(), buf.size());
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) {
        if (libssh2_channel_eof(channel_)) return 0;
        continue;  // other packets were processed; read again
      }
      if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
        return Fail(ErrorKind::kConnection,
                    "tunnel read failed: " + session_->LastError(), where_);
      }
      if (auto w = WaitUntilDeadline(); !w) return std::unexpected(w.error());
    }
  }

  Result<size_t> Write(std::span<const char> buf) override {
    for (;;) {
      ssize_t n = libssh2_channel_write(channel_, buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (n != LIBSSH2_ERROR_EAGAIN) {
        return Fail(ErrorKind::kConnection,
                    "tunnel write failed: " + session_->LastError(), where_);
      }
      if (auto w = WaitUntilDeadline(); !w) return std::unexpected(w.error());
    }
  }

  void SetDeadline(Deadline deadline) override { deadline_ = deadline; }

 private:
  Status WaitUntilDeadline() {
    if (deadline_ != kNoDeadline && Clock::now() >= deadline_) {
      return Fail(ErrorKind::kConnection,
                  "timed out: no data before the deadline", where_);
    }
    auto w = session_->Wait(deadline_);
    if (!w && deadline_ != kNoDeadline &&
        (Clock::now() >= deadline_ ||
         w.error().message.starts_with("timed out"))) {
      return Fail(ErrorKind::kConnection,
                  "timed out: no data before the deadline", where_);
    }
    return w;
  }

  Deadline deadline_ = kNoDeadline;
  const SshSession* session_;
  LIBSSH2_CHANNEL* channel_;
  std::string where_;
};

}  // namespace

SshTransport::SshTransport(std::string host,
                           std::unique_ptr<SshSession> session,
                           std::unique_ptr<BastionHop> bastion)
    : host_(std::move(host)),
      bastion_(std::move(bastion)),
      session_(std::move(session)) {}

SshTransport::~SshTransport() {
  session_.reset();  // before the hop that carries it
  bastion_.reset();
}

// Why the pump channel: libssh2 1.10 handles one channel open at a time, and
// an open waiting for its answer fails (LIBSSH2_ERROR_SOCKET_NONE, "Unexpected
// error") when it reads the answer to another open first, instead of queueing
// that answer. The only other open sshd can answer is one OpenTunnel gave up
// on, whose answer comes whenever sshd's connect ends. Reading on the pump
// channel (which never carries data) makes libssh2 queue every packet that
// has arrived, so such a late answer is queued before an open reads it.
void SshTransport::PumpIncoming() {
  if (opens_abandoned_ == 0 || pump_ == nullptr) return;
  char byte;
  (void)libssh2_channel_read(pump_, &byte, 1);  // EAGAIN once all is queued
}

// A round trip on the pump channel: sshd handles requests in order, so once
// it answered this one, its answer to every open sent before is queued.
bool SshTransport::SyncWithServer() {
  if (pump_ == nullptr) return false;
  auto rc = session_->Retry(
      [&] { return libssh2_channel_setenv(pump_, "HARDWAY_SYNC", "1"); },
      Clock::now() + std::chrono::seconds(5));
  return rc && (*rc == 0 || *rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED);
}

Result<LIBSSH2_CHANNEL*> SshTransport::OpenChannel(
    const std::function<LIBSSH2_CHANNEL*()>& open, Deadline deadline,
    bool* timed_out) {
  if (broken_) return std::unexpected(*broken_);
  LIBSSH2_SESSION* s = session_->raw();
  int late_answers = 0;
  for (;;) {
    PumpIncoming();
    LIBSSH2_CHANNEL* ch = open();
    if (ch != nullptr) return ch;
    int err = libssh2_session_last_errno(s);
    // A late answer was read inside the open after all (it arrived between
    // the pump and the open): that open failed, and sshd's answer to it is
    // still to come. Collect it, then open again.
    if (err == LIBSSH2_ERROR_SOCKET_NONE && late_answers < opens_abandoned_ &&
        SyncWithServer()) {
      ++late_answers;
      continue;
    }
    if (err != LIBSSH2_ERROR_EAGAIN) return nullptr;
    if (deadline != kNoDeadline && Clock::now() >= deadline) {
      *timed_out = true;
      return nullptr;
    }
    if (auto w = session_->Wait(deadline); !w) {
      // Wait's own timeout may come a fraction of a millisecond early.
      if (deadline != kNoDeadline &&
          (Clock::now() >= deadline ||
           w.error().message.starts_with("timed out"))) {
        *timed_out = true;
        return nullptr;
      }
      return std::unexpected(w.error());
    }
  }
}

Error SshTransport::ChannelError(const std::string& what) const {
  const SshEndpoint& e = session_->endpoint();
  return Error{
      ErrorKind::kConnection, what + ": " + session_->LastError(),
      host_ + " (" + e.address + ":" + std::to_string(e.port) + ")",
      "the SSH connection failed or was closed by the host; re-run to retry"};
}

Result<ExecResult> SshTransport::Run(const std::string& command,
                                     const InputFn& input) {
  CallTrace trace(host_, command);
  LIBSSH2_SESSION* s = session_->raw();
  auto opened = OpenChannel([&] { return libssh2_channel_open_session(s); });
  if (!opened) return std::unexpected(opened.error());
  LIBSSH2_CHANNEL* raw = *opened;
  if (raw == nullptr)
    return std::unexpected(ChannelError("cannot open an SSH channel"));
  ChannelPtr ch(raw);

  std::string line = RemoteCommandLine(user(), command);
  auto rc = session_->Retry([&] {
    return libssh2_channel_process_startup(raw, "exec", 4, line.data(),
                                           static_cast<unsigned>(line.size()));
  });
  if (!rc) return std::unexpected(rc.error());
  if (*rc != 0)
    return std::unexpected(ChannelError("cannot start the command"));

  std::optional<Error> input_error;
  if (input) {
    auto sent = input(raw);
    if (!sent) input_error = sent.error();
  }
  // EOF on stdin; a failure here shows up below when reading.
  (void)session_->Retry([&] { return libssh2_channel_send_eof(raw); });

  ExecResult result;
  std::string buf(64 * 1024, '\0');
  bool out_done = false, err_done = false;
  while (!out_done || !err_done) {
    bool progress = false;
    for (int stream : {0, SSH_EXTENDED_DATA_STDERR}) {
      bool& done = stream == 0 ? out_done : err_done;
      if (done) continue;
      ssize_t n = libssh2_channel_read_ex(raw, stream, buf.data(), buf.size());
      if (n > 0) {
        (stream == 0 ? result.out : result.err).append(buf.data(), n);
        progress = true;
      } else if (n == 0) {
        // 0 means end of stream only once the channel saw EOF; otherwise
        // libssh2 processed other packets (window adjust, the other stream) and
        // we simply read again.
        if (libssh2_channel_eof(raw)) {
          done = true;
        } else {
          progress = true;
        }
      } else if (n != LIBSSH2_ERROR_EAGAIN) {
        if (input_error) return std::unexpected(*input_error);
        return std::unexpected(
            ChannelError("connection lost while running a command"));
      }
    }
    if (!progress && (!out_done || !err_done)) {
      if (auto w = session_->Wait(); !w) return std::unexpected(w.error());
    }
  }
  (void)session_->Retry([&] { return libssh2_channel_close(raw); });
  (void)session_->Retry([&] { return libssh2_channel_wait_closed(raw); });
  result.exit_code = libssh2_channel_get_exit_status(raw);
  char* signame = nullptr;
  size_t signame_len = 0;
  libssh2_channel_get_exit_signal(raw, &signame, &signame_len, nullptr, nullptr,
                                  nullptr, nullptr);
  if (signame != nullptr) {
    std::string name(signame, signame_len);
    libssh2_free(s, signame);
    result.exit_code = 128 + SignalNumber(name);
    result.err += "killed by signal " + name + "\n";
  }
  // A local read failure wins; a remote failure (its stderr says why) wins over
  // the write error it caused on our side.
  if (input_error &&
      (input_error->kind == ErrorKind::kIo || result.exit_code == 0)) {
    return std::unexpected(*input_error);
  }
  if (user() != "root" && result.exit_code != 0 &&
      SudoWantsPassword(result.err)) {
    return Fail(
        ErrorKind::kConnection,
        "sudo asks for a password for user " + user() +
            " (hardway runs privileged commands with sudo -n)",
        host_,
        "give " + user() +
            " passwordless sudo (a NOPASSWD rule in /etc/sudoers.d/) or "
            "connect as root (ssh.user)");
  }
  return result;
}

Status SshTransport::WriteAll(LIBSSH2_CHANNEL* ch, std::string_view data,
                              uint64_t& sent,
                              const std::function<std::string()>& what) {
  while (!data.empty()) {
    ssize_t w = libssh2_channel_write(ch, data.data(), data.size());
    if (w == LIBSSH2_ERROR_EAGAIN) {
      if (auto ok = session_->Wait(); !ok) return std::unexpected(ok.error());
      continue;
    }
    if (w < 0) return std::unexpected(ChannelError(what()));
    data.remove_prefix(w);
    sent += w;
  }
  return {};
}

Result<ExecResult> SshTransport::Exec(const std::string& command) {
  return Run(command, {});
}

Result<std::vector<ExecResult>> SshTransport::ExecBatch(
    const std::vector<std::string>& commands, bool stop_after_failure) {
  std::vector<ExecResult> out(commands.size());
  if (commands.empty()) return out;
  // One channel and one shell (one sudo) for all (ExecManyScript).
  constexpr std::string_view kMark = kExecManyMark;
  auto r = Exec(ExecManyScript(commands, stop_after_failure));
  if (!r) return std::unexpected(r.error());
  std::vector<bool> seen(commands.size());
  std::string_view all = r->out;
  for (size_t pos = 0; pos < all.size();) {
    size_t mark = all.find(kMark, pos);
    if (mark == std::string_view::npos) break;
    size_t nl = all.find('\n', mark + kMark.size());
    if (nl == std::string_view::npos) nl = all.size();
    std::string_view line =
        all.substr(mark + kMark.size(), nl - mark - kMark.size());
    std::string_view text = all.substr(pos, mark - pos);
    pos = nl + 1;
    size_t space = line.find(' ');
    unsigned long i = std::strtoul(std::string(line).c_str(), nullptr, 10);
    if (i >= commands.size() || space == std::string_view::npos) continue;
    out[i].exit_code = std::atoi(std::string(line.substr(space + 1)).c_str());
    out[i].out = std::string(text);
    seen[i] = true;
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    if (seen[i]) continue;
    // Stopped where it was told to: after a failure.
    if (stop_after_failure && i > 0 && out[i - 1].exit_code != 0) {
      out.resize(i);
      return out;
    }
    return Fail(
        ErrorKind::kStep,
        "a batch of commands stopped before `" + commands[i] + "`: " + r->err,
        host_);
  }
  return out;
}

Result<std::string> SshTransport::ListingCommand(
    const std::vector<std::string>& paths) {
  for (const std::string& p : paths) {
    if (p.find('\n') != std::string::npos ||
        p.find('\\') != std::string::npos) {
      return Fail(ErrorKind::kValidation,
                  "remote path contains a newline or backslash: " + p, host_);
    }
  }
  if (memo_) return KeyedSha256ListingCommand(paths, memo_->KnownKeys(paths));
  return Sha256ListingCommand(paths);
}

Result<std::map<std::string, std::string>> SshTransport::AbsorbListing(
    const std::vector<std::string>& paths, std::string_view out) {
  std::string clock;
  auto listing = ParseSha256Listing(out, &clock);
  if (!listing) {
    return Fail(ErrorKind::kStep, listing.error().message, host_,
                "the host needs sha256sum and stat (coreutils)");
  }
  if (memo_) {
    size_t known = memo_->KnownKeys(paths).size();
    size_t hashed = 0;
    for (const auto& [path, info] : *listing) hashed += !info.sha256.empty();
    *listing = memo_->Absorb(paths, *listing, clock);
    spdlog::debug(
        "{}: listing of {} paths: {} hashed, {} unchanged by stat "
        "key ({} had a memo entry)",
        host_, paths.size(), hashed, listing->size() - hashed, known);
    SaveMemo();
  }
  std::map<std::string, std::string> sums;
  for (auto& [path, info] : *listing) {
    sums[path] = info.sha256;
    remote_files_[path] = info;
  }
  // Paths absent from the listing no longer exist as far as we know.
  for (const std::string& p : paths) {
    if (!listing->count(p)) remote_files_.erase(p);
  }
  return sums;
}

void SshTransport::ForgetInMemo(const std::vector<std::string>& dests) {
  if (!memo_) return;
  bool dropped = false;
  for (const std::string& d : dests) dropped = memo_->Forget(d) || dropped;
  if (dropped) SaveMemo();
}

void SshTransport::SaveMemo() {
  // The memo only saves work: a run goes on without it.
  if (auto saved = memo_->Save(); !saved) {
    spdlog::debug("{}: sha256 memo not saved: {}", host_,
                  saved.error().ToString());
  }
}

Result<std::map<std::string, std::string>> SshTransport::Sha256Of(
    const std::vector<std::string>& paths) {
  if (paths.empty()) return std::map<std::string, std::string>{};
  auto command = ListingCommand(paths);
  if (!command) return std::unexpected(command.error());
  auto res = Exec(*command);
  if (!res) return std::unexpected(res.error());
  return AbsorbListing(paths, res->out);
}

Result<Transport::Inspection> SshTransport::Inspect(
    const std::vector<std::string>& paths,
    const std::vector<std::string>& commands) {
  if (paths.empty()) return Transport::Inspect(paths, commands);
  auto listing = ListingCommand(paths);
  if (!listing) return std::unexpected(listing.error());
  // The listing first, then the commands, all in one ExecMany.
  std::vector<std::string> batch;
  batch.reserve(commands.size() + 1);
  batch.push_back(*listing);
  batch.insert(batch.end(), commands.begin(), commands.end());
  auto results = ExecMany(batch);
  if (!results) return std::unexpected(results.error());
  Inspection out;
  auto sums = AbsorbListing(paths, results->front().out);
  if (!sums) return std::unexpected(sums.error());
  out.sha256 = std::move(*sums);
  out.results.assign(std::make_move_iterator(results->begin() + 1),
                     std::make_move_iterator(results->end()));
  return out;
}

Result<UploadResult> SshTransport::Upload(
    const UploadRequest& request, const std::string& known_remote_sha256,
    const ProgressFn& progress) {
  CallTrace trace(host_, "upload " + request.dest);
  const std::string& dest = request.dest;
  if (dest.empty() || dest[0] != '/' || dest.back() == '/') {
    return Fail(ErrorKind::kValidation,
                "upload destination must be an absolute file path: " + dest,
                host_);
  }
  if (!request.sha256.empty() && known_remote_sha256 == request.sha256) {
    auto it = remote_files_.find(dest);
    if (it == remote_files_.end() ||
        (ModeMatches(it->second.mode, request.mode) &&
         OwnerMatches(it->second, request.owner))) {
      return UploadResult{false, 0};
    }
    // Same bytes, other mode or owner: fix those, send nothing.
    ForgetInMemo({dest});
    auto fix = Exec("chown -- " + ShellQuote(request.owner) + " " +
                    ShellQuote(dest) + " && chmod " + OctalMode(request.mode) +
                    " -- " + ShellQuote(dest));
    if (!fix) return std::unexpected(fix.error());
    if (fix->exit_code != 0) {
      return Fail(ErrorKind::kStep,
                  "cannot set owner/mode of " + dest + ": " + fix->err, host_);
    }
    remote_files_[dest].mode = OctalMode(request.mode);
    remote_files_[dest].owner = request.owner;
    return UploadResult{true, 0};
  }

  // The source: bytes in memory or a file streamed from disk.
  auto source = UploadSource::Open(request.source);
  if (!source) return std::unexpected(source.error());
  const uint64_t size = source->size();
  ForgetInMemo({dest});

  size_t slash = dest.rfind('/');
  std::string dir = slash == 0 ? "/" : dest.substr(0, slash);
  std::string base = dest.substr(slash + 1);
  std::string temp_name =
      std::string(kUploadTempPrefix) + base + "-" + RandomSuffix();
  std::string n = std::to_string(size);
  std::string temp = (dir == "/" ? "" : dir) + "/" + temp_name;
  // The bytes go to a temporary name, are checked complete (a dropped
  // connection ends the writer early), then chown, chmod, rename: the
  // destination is either old or new, never partial. Our leftovers of earlier
  // interrupted uploads of this file, and any of ours older than 10 minutes,
  // are removed.
  std::string vars = "set -e\nd=" + ShellQuote(dir) +
                     "; f=" + ShellQuote(dest) + "; t=" + ShellQuote(temp) +
                     "\n";
  std::string finish =
      "s=$(stat -c %s -- \"$t\" 2>/dev/null || echo none)\n"
      "[ \"$s\" = " +
      n + " ] || { echo \"upload incomplete: $s of " + n +
      " bytes arrived\" >&2; exit 1; }\n"
      "chown -- " +
      ShellQuote(request.owner) +
      " \"$t\"\n"
      "chmod " +
      OctalMode(request.mode) +
      " -- \"$t\"\n"
      "mv -f -- \"$t\" \"$f\"\n"
      "trap - EXIT\n"
      "rm -f -- \"$d\"/" +
      ShellQuote(std::string(kUploadTempPrefix) + base + "-") +
      "* 2>/dev/null || true\n"
      "find \"$d\" -maxdepth 1 -name '" +
      std::string(kUploadTempPrefix) +
      "*' -mmin +10 -delete 2>/dev/null || true\n";
  std::string trap =
      "trap 'rm -f -- \"$t\"' EXIT\ntrap 'exit 1' HUP INT TERM PIPE\n";

  uint64_t sent = 0;
  InputFn input = [&](LIBSSH2_CHANNEL* ch) -> Result<uint64_t> {
    std::string chunk(kUploadChunk, '\0');
    for (;;) {
      auto data = source->Next(chunk);
      if (!data) return std::unexpected(data.error());
      if (data->empty()) break;
      if (auto ok =
              WriteAll(ch, *data, sent,
                       [&] {
                         return "upload of " + dest + " interrupted after " +
                                std::to_string(sent) + " of " + n + " bytes";
                       });
          !ok) {
        return std::unexpected(ok.error());
      }
      if (progress) progress(sent, size);
    }
    return sent;
  };
  Result<ExecResult> res;
  if (user() == "root") {
    // Root: the bytes go over SCP (libssh2_scp_send64), measured faster on
    // loopback than SFTP and than piping into `cat` on an exec channel (see
    // docs/benchmarks.md "SSH"); then one exec renames. Three round trips.
    auto mk = Exec("mkdir -p -- " + ShellQuote(dir));
    if (!mk) return std::unexpected(mk.error());
    if (mk->exit_code != 0) {
      return Fail(ErrorKind::kStep, "cannot create " + dir + ": " + mk->err,
                  host_);
    }
    auto scp = SendScp(temp, size, input);
    if (!scp) {
      Error e = scp.error();
      e.message += " (" + dest + " was left unchanged)";
      return std::unexpected(e);
    }
    res = Run(vars + trap + finish, {});
  } else {
    // sudo: scp -t would write as the unprivileged user, so the bytes go
    // through an exec channel into `cat` running under sudo -n, in the same
    // single call.
    res = Run(vars + "mkdir -p -- \"$d\"\n" + trap +
                  "(umask 077; cat > \"$t\")\n" + finish,
              input);
  }
  if (!res) {
    Error e = res.error();
    e.message += " (" + dest + " was left unchanged)";
    return std::unexpected(e);
  }
  if (res->exit_code != 0) {
    return Fail(ErrorKind::kStep,
                "upload of " + dest + " failed (exit " +
                    std::to_string(res->exit_code) + "): " + res->err + " (" +
                    dest + " was left unchanged)",
                host_);
  }
  RemoteFileInfo& info = remote_files_[dest];
  info.sha256 = request.sha256;
  info.mode = OctalMode(request.mode);
  info.owner = request.owner;
  return UploadResult{true, sent};
}

Result<uint64_t> SshTransport::SendScp(const std::string& path, uint64_t size,
                                       const InputFn& input) {
  LIBSSH2_SESSION* s = session_->raw();
  auto opened = OpenChannel(
      [&] { return libssh2_scp_send64(s, path.c_str(), 0600, size, 0, 0); });
  if (!opened) return std::unexpected(opened.error());
  LIBSSH2_CHANNEL* raw = *opened;
  if (raw == nullptr) {
    return std::unexpected(
        ChannelError("cannot start an SCP upload to " + path));
  }
  ChannelPtr ch(raw);
  auto sent = input(raw);
  if (!sent) return sent;
  // scp's own exit status is not needed: the size check after it decides.
  auto eof = session_->Retry([&] { return libssh2_channel_send_eof(raw); });
  if (eof && *eof == 0) {
    eof = session_->Retry([&] { return libssh2_channel_wait_eof(raw); });
  }
  if (!eof) return std::unexpected(eof.error());
  if (*eof != 0)
    return std::unexpected(ChannelError("SCP upload to " + path + " failed"));
  (void)session_->Retry([&] { return libssh2_channel_close(raw); });
  (void)session_->Retry([&] { return libssh2_channel_wait_closed(raw); });
  return sent;
}

std::vector<Result<UploadResult>> SshTransport::UploadMany(
    const std::vector<UploadRequest>& requests,
    const std::vector<std::string>& known_remote_sha256,
    const BatchProgressFn& progress) {
  CallTrace trace(host_,
                  "upload " + std::to_string(requests.size()) + " files");
  std::vector<Result<UploadResult>> out(requests.size(), UploadResult{});
  auto known = [&](size_t i) {
    return i < known_remote_sha256.size() ? known_remote_sha256[i]
                                          : std::string();
  };
  // Only files whose bytes must travel share the channel; the rest take
  // Upload's path (nothing to do, or a mode/owner fix, or a validation error).
  std::vector<size_t> batch;
  std::vector<UploadSource> sources(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const UploadRequest& r = requests[i];
    bool same = !r.sha256.empty() && known(i) == r.sha256;
    bool valid = !r.dest.empty() && r.dest[0] == '/' && r.dest.back() != '/';
    if (same || !valid) {
      out[i] = Upload(r, known(i));
      continue;
    }
    auto source = UploadSource::Open(r.source);
    if (!source) {
      out[i] = std::unexpected(source.error());
      continue;
    }
    sources[i] = std::move(*source);
    batch.push_back(i);
  }
  if (batch.empty()) return out;

  // One shell and a handful of processes for the whole batch, whatever its
  // size: on a small or busy host every process costs 5-30 ms, and a
  // `head -c`, chown, chmod and mv per file made 30 certificates cost seconds.
  // `tar` (essential on Debian and Ubuntu) writes every file with its mode
  // into a staging folder beside its destination (same filesystem, so the
  // rename is atomic), chown runs once per owner, then one `mv` per folder
  // renames its files into place: a destination is old or new, never partial.
  // A failure before the renames changes nothing; the trap removes the
  // staging folders however the shell ends.
  std::string stage =
      std::string(kUploadTempPrefix) + "stage-" + RandomSuffix();
  std::map<std::string, std::vector<size_t>> by_dir;    // dir -> batch slots
  std::map<std::string, std::vector<size_t>> by_owner;  // owner -> slots
  for (size_t k = 0; k < batch.size(); ++k) {
    const std::string& dest = requests[batch[k]].dest;
    size_t slash = dest.rfind('/');
    by_dir[slash == 0 ? "/" : dest.substr(0, slash)].push_back(k);
    const std::string& owner = requests[batch[k]].owner;
    if (owner != "root" && owner != "root:root") by_owner[owner].push_back(k);
  }
  auto staged = [&](size_t k) {
    const std::string& dest = requests[batch[k]].dest;
    size_t slash = dest.rfind('/');
    return dest.substr(0, slash) + "/" + stage + dest.substr(slash);
  };
  std::string dirs, stages;
  for (const auto& [dir, slots] : by_dir) {
    dirs += " " + ShellQuote(dir);
    stages += " " + ShellQuote((dir == "/" ? "" : dir) + "/" + stage);
  }
  std::string script = "set -e\numask 077\nmkdir -p --" + dirs +
                       "\ntrap 'rm -rf --" + stages +
                       "' EXIT\ntrap 'exit 1' HUP INT TERM PIPE\n"
                       // -p: the modes in the stream; -m: mtime is now.
                       "tar -x -p -m --no-same-owner -f - -C /\n";
  for (const auto& [owner, slots] : by_owner) {
    script += "chown -- " + ShellQuote(owner);
    for (size_t k : slots) script += " " + ShellQuote(staged(k));
    script += "\n";
  }
  for (const auto& [dir, slots] : by_dir) {
    script += "mv -f --";
    std::string done = "echo ok";
    for (size_t k : slots) {
      script += " " + ShellQuote(staged(k));
      done += " " + std::to_string(k);
    }
    script += " " + ShellQuote(dir) + "\n" + done + "\n";
  }
  script += "rmdir --" + stages +
            "\ntrap - EXIT\n"
            // Staging folders of runs killed outright (no trap ran).
            "find" +
            dirs + " -maxdepth 1 -name '" + std::string(kUploadTempPrefix) +
            "*' -mmin +10 -exec rm -rf -- {} + 2>/dev/null || true\n";

  std::vector<std::string> dests;
  for (size_t i : batch) dests.push_back(requests[i].dest);
  ForgetInMemo(dests);

  uint64_t sent = 0;
  InputFn input = [&](LIBSSH2_CHANNEL* ch) -> Result<uint64_t> {
    TarWriter tar([&](std::string_view bytes) {
      return WriteAll(ch, bytes, sent, [&] {
        return "upload interrupted after " + std::to_string(sent) +
               " bytes of the batch";
      });
    });
    for (size_t k = 0; k < batch.size(); ++k) {
      size_t i = batch[k];
      const UploadRequest& r = requests[i];
      // Member names are relative to `-C /`.
      auto ok = tar.Add(staged(k).substr(1), r.mode, sources[i],
                        [&](uint64_t done, uint64_t total) {
                          if (progress) progress(i, done, total);
                        });
      if (!ok) {
        Error e = ok.error();
        e.message = "upload of " + r.dest + ": " + e.message;
        return std::unexpected(e);
      }
    }
    if (auto ok = tar.Finish(); !ok) return std::unexpected(ok.error());
    return sent;
  };
  auto res = Run(script, input);
  std::set<size_t> done;
  if (res) {
    std::string_view o = res->out;
    for (size_t pos = 0; pos < o.size();) {
      size_t nl = o.find('\n', pos);
      if (nl == std::string_view::npos) nl = o.size();
      std::string_view line = o.substr(pos, nl - pos);
      pos = nl + 1;
      if (!line.starts_with("ok ")) continue;
      for (size_t at = 3; at < line.size();) {
        size_t sp = line.find(' ', at);
        if (sp == std::string_view::npos) sp = line.size();
        done.insert(std::strtoul(std::string(line.substr(at, sp - at)).c_str(),
                                 nullptr, 10));
        at = sp + 1;
      }
    }
  }
  for (size_t k = 0; k < batch.size(); ++k) {
    size_t i = batch[k];
    const UploadRequest& r = requests[i];
    if (done.contains(k)) {
      RemoteFileInfo& info = remote_files_[r.dest];
      info.sha256 = r.sha256;
      info.mode = OctalMode(r.mode);
      info.owner = r.owner;
      out[i] = UploadResult{true, sources[i].size()};
      continue;
    }
    // Every file not renamed shares the cause: the script stops at the first
    // failing command, and nothing is renamed before all are unpacked and
    // chowned.
    Error e = res ? Error{ErrorKind::kStep,
                          "upload of " + r.dest + " failed (exit " +
                              std::to_string(res->exit_code) + "): " + res->err,
                          host_,
                          {}}
                  : res.error();
    e.message += " (" + r.dest + " was left unchanged)";
    out[i] = std::unexpected(e);
  }
  return out;
}

Result<std::string> SshTransport::ReadFile(const std::string& path) {
  auto res = Exec("cat -- " + ShellQuote(path));
  if (!res) return std::unexpected(res.error());
  if (res->exit_code != 0) {
    return Fail(ErrorKind::kStep, "cannot read " + path + ": " + res->err,
                host_);
  }
  return std::move(res->out);
}

namespace {

// A receive that fails without touching the socket; see AbandonChannelOpen.
LIBSSH2_RECV_FUNC(FailingRecv) {
  (void)socket;
  (void)buffer;
  (void)length;
  (void)flags;
  (void)abstract;
  return -ECANCELED;
}

// libssh2 keeps one channel open in progress per session and resumes it on
// the next open of any kind, whatever that one asks for: after we stop
// waiting for sshd's answer to a direct-tcpip open, the next Exec would get
// that tunnel instead of a session channel (or wait for sshd's answer), and
// the next OpenTunnel would reuse the old target. libssh2 1.10 has no call to
// cancel an open; it forgets one only when reading the answer fails. So the
// open is resumed once more with a receive that fails: libssh2 takes its error
// path (the half-open channel is freed, the open state is idle again) while
// the stream is left as it was, since a failed receive consumed nothing, just
// like EAGAIN. Channel ids are never reused, so sshd's late answer for that id
// is never taken for another channel (PumpIncoming keeps it from failing the
// open that reads it). Returns the channel if the answer was already buffered
// after all; nullptr with the open forgotten; or nullptr with *stuck set when
// the open request itself could not be sent yet (libssh2 cannot forget a
// half-sent packet: the session is unusable).
LIBSSH2_CHANNEL* AbandonChannelOpen(LIBSSH2_SESSION* s, const std::string& host,
                                    int port, bool* stuck) {
  void* recv = libssh2_session_callback_set(
      s, LIBSSH2_CALLBACK_RECV, reinterpret_cast<void*>(&FailingRecv));
  // Should libssh2's error path leave EAGAIN as the last error (versions
  // before 1.10 set none there), it would keep the old target for the next
  // direct-tcpip open: start from another error.
  libssh2_session_set_last_error(s, LIBSSH2_ERROR_CHANNEL_FAILURE,
                                 "tunnel open abandoned");
  LIBSSH2_CHANNEL* ch =
      libssh2_channel_direct_tcpip_ex(s, host.c_str(), port, "127.0.0.1", 0);
  libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, recv);
  *stuck =
      ch == nullptr && libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN;
  return ch;
}

}  // namespace

Result<std::unique_ptr<Tunnel>> SshTransport::OpenTunnel(
    const std::string& host, int port) {
  LIBSSH2_SESSION* s = session_->raw();
  std::string target = host + ":" + std::to_string(port);
  std::string where = host_ + " -> " + target;
  CallTrace trace(host_, "tunnel to " + target);
  // The pump channel is opened before the first tunnel, while no open can
  // be left pending: opened after one, it could itself meet the late answer.
  if (pump_ == nullptr && !pump_tried_) {
    pump_tried_ = true;
    auto pump = OpenChannel([&] { return libssh2_channel_open_session(s); });
    if (!pump) return std::unexpected(pump.error());
    pump_ = *pump;  // may stay null (sshd refused): then no pump
  }
  bool timed_out = false;
  auto opened = OpenChannel(
      [&] {
        return libssh2_channel_direct_tcpip_ex(s, host.c_str(), port,
                                               "127.0.0.1", 0);
      },
      Clock::now() + tunnel_open_timeout_, &timed_out);
  if (!opened) return std::unexpected(opened.error());
  LIBSSH2_CHANNEL* ch = *opened;
  if (timed_out) {
    bool stuck = false;
    ch = AbandonChannelOpen(s, host, port, &stuck);
    if (ch == nullptr) {
      auto ms = tunnel_open_timeout_.count();
      std::string after = ms % 1000 == 0 ? std::to_string(ms / 1000) + "s"
                                         : std::to_string(ms) + "ms";
      Error e{
          ErrorKind::kConnection,
          "timed out opening a tunnel " + where + ": no answer within " + after,
          host_,
          "check that " + target +
              " is reachable from the host (a firewall dropping the "
              "connection, a wrong address)"};
      if (stuck) {
        // The open request itself is still half-sent: nothing more can go
        // over this connection.
        e.message += " (the SSH connection to the host accepts no data)";
        e.hint = "the SSH connection stalled; re-run to reconnect";
        broken_ = e;
      } else {
        e.message += " (the host could not connect to " + target + ")";
        ++opens_abandoned_;
      }
      return std::unexpected(e);
    }
  }
  if (ch == nullptr) {
    return std::unexpected(ChannelError("cannot open a tunnel to " + target));
  }
  return std::make_unique<ChannelTunnel>(session_.get(), ch, where);
}

}  // namespace hardway
