#include "remote/recording_transport.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "remote/tcp_tunnel.h"
#include "util/sha256.h"

namespace hardway {
namespace {

constexpr uint64_t kKeepContentBelow =
    1 << 20;  // bigger file sources keep only sha and size

std::string UnitName(std::string name) {
  constexpr std::string_view kSuffix = ".service";
  if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) {
    name.resize(name.size() - kSuffix.size());
  }
  return name;
}

bool UnderOrAt(const std::string& path, const std::string& dir) {
  if (path == dir) return true;
  std::string prefix = dir.ends_with('/') ? dir : dir + "/";
  return path.starts_with(prefix);
}

ExecResult Ok(std::string out = {}) {
  return ExecResult{0, std::move(out), {}};
}
ExecResult Err(int code, std::string err) {
  return ExecResult{code, {}, std::move(err)};
}

// Splits "a && b; c" into segments with the connector that precedes each.
struct Segment {
  std::string connector;  // "", "&&", ";"
  std::vector<std::string> words;
  std::string text;
};

std::vector<Segment> SplitSegments(const std::vector<std::string>& words) {
  std::vector<Segment> out(1);
  for (const std::string& w : words) {
    if (w == "&&" || w == ";") {
      out.push_back(Segment{w, {}, {}});
      continue;
    }
    std::string word = w;
    bool ends_segment = word.size() > 1 && word.ends_with(';');
    if (ends_segment) word.pop_back();
    // Redirections of generated commands (2>/dev/null, >/dev/null, 2>&1) do not
    // matter here.
    if (!(word.starts_with("2>") || word.starts_with(">") ||
          word.starts_with("1>"))) {
      out.back().words.push_back(word);
      out.back().text += (out.back().text.empty() ? "" : " ") + word;
    }
    if (ends_segment) out.push_back(Segment{";", {}, {}});
  }
  std::erase_if(out, [](const Segment& s) { return s.words.empty(); });
  return out;
}

}  // namespace

std::vector<std::string> SplitShellWords(const std::string& command) {
  std::vector<std::string> words;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < command.size()) {
        cur += command[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (have) words.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) words.push_back(cur);
  return words;
}

void FakeHost::Script(std::string match, std::vector<ExecResult> results) {
  std::lock_guard lock(mu_);
  rules_.push_back(Rule{std::move(match), std::move(results), 0});
}

void FakeHost::MapTunnel(std::string host, int port, int local_port) {
  std::lock_guard lock(mu_);
  tunnels_[{std::move(host), port}] = local_port;
}

void FakeHost::PutFile(const std::string& path, std::string content,
                       uint32_t mode, std::string owner) {
  std::lock_guard lock(mu_);
  FakeFile f;
  f.sha256 = Sha256Hex(content);
  f.size = content.size();
  f.content = std::move(content);
  f.mode = mode;
  f.owner = std::move(owner);
  files[path] = std::move(f);
}

bool FakeHost::Exists(const std::string& path) const {
  std::lock_guard lock(mu_);
  return files.contains(path) || dirs.contains(path);
}

uint64_t CallLog::Add(RecordedCall call) {
  std::lock_guard lock(mu_);
  call.seq = calls_.size() + 1;
  calls_.push_back(std::move(call));
  return calls_.back().seq;
}

std::vector<RecordedCall> CallLog::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<RecordedCall> CallLog::calls(const std::string& host) const {
  std::lock_guard lock(mu_);
  std::vector<RecordedCall> out;
  for (const RecordedCall& c : calls_) {
    if (c.host == host) out.push_back(c);
  }
  return out;
}

void CallLog::Clear() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

RecordingTransport::RecordingTransport(std::string host,
                                       std::shared_ptr<FakeHost> state,
                                       std::shared_ptr<CallLog> log)
    : host_(std::move(host)),
      state_(state ? std::move(state) : std::make_shared<FakeHost>()),
      log_(log ? std::move(log) : std::make_shared<CallLog>()) {}

Result<ExecResult> RecordingTransport::Exec(const std::string& command) {
  ExecResult result;
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(state_->mu_);
    delay = state_->exec_delay;
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  {
    std::lock_guard lock(state_->mu_);
    bool scripted = false;
    for (FakeHost::Rule& rule : state_->rules_) {
      if (command.find(rule.match) == std::string::npos || rule.results.empty())
        continue;
      result = rule.results[std::min(rule.next, rule.results.size() - 1)];
      ++rule.next;
      scripted = true;
      break;
    }
    if (!scripted) {
      int last = 0;
      for (const Segment& seg : SplitSegments(SplitShellWords(command))) {
        if (seg.connector == "&&" && last != 0) continue;
        ExecResult r = RunSegment(seg.words, seg.text);
        result.out += r.out;
        result.err += r.err;
        last = r.exit_code;
      }
      result.exit_code = last;
    }
  }
  log_->Add(
      RecordedCall{0, host_, "exec", command, {}, 0, result.exit_code == 0});
  return result;
}

ExecResult RecordingTransport::RunSegment(const std::vector<std::string>& argv,
                                          const std::string& text) {
  FakeHost& s = *state_;
  // A scripted rule may answer one segment of a chain too.
  for (FakeHost::Rule& rule : s.rules_) {
    if (text.find(rule.match) == std::string::npos || rule.results.empty())
      continue;
    ExecResult r = rule.results[std::min(rule.next, rule.results.size() - 1)];
    ++rule.next;
    return r;
  }
  const std::string& cmd = argv[0];
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  if (cmd == "true") return Ok();
  if (cmd == "false") return Err(1, "");
  if (cmd == "systemctl") return Systemctl(args);
  if (cmd == "mkdir") {
    for (const std::string& a : args) {
      if (a.starts_with("-")) continue;
      // mkdir -p creates every missing parent too.
      for (std::filesystem::path p = a; !p.empty() && p != p.root_path();
           p = p.parent_path()) {
        s.dirs.insert(p.string());
      }
    }
    return Ok();
  }
  if (cmd == "touch") {
    for (const std::string& a : args) {
      if (a.starts_with("-") || s.files.contains(a)) continue;
      FakeFile f;
      f.sha256 = Sha256Hex("");
      s.files[a] = f;
    }
    return Ok();
  }
  if (cmd == "rm") {
    bool recursive = std::ranges::any_of(args, [](const std::string& a) {
      return a.starts_with("-") && a.find('r') != a.npos;
    });
    for (const std::string& a : args) {
      if (a.starts_with("-")) continue;
      s.files.erase(a);
      if (!recursive) continue;
      std::erase_if(s.files,
                    [&](const auto& kv) { return UnderOrAt(kv.first, a); });
      std::erase_if(s.dirs,
                    [&](const std::string& d) { return UnderOrAt(d, a); });
    }
    return Ok();
  }
  if (cmd == "rmdir") {
    int code = 0;
    std::string err;
    for (const std::string& a : args) {
      if (a.starts_with("-")) continue;
      bool busy = std::ranges::any_of(
                      s.files,
                      [&](const auto& kv) { return UnderOrAt(kv.first, a); }) ||
                  std::ranges::any_of(s.dirs, [&](const std::string& d) {
                    return d != a && UnderOrAt(d, a);
                  });
      if (!s.dirs.contains(a)) {
        code = 1;
        err +=
            "rmdir: failed to remove '" + a + "': No such file or directory\n";
      } else if (busy) {
        code = 1;
        err += "rmdir: failed to remove '" + a + "': Directory not empty\n";
      } else {
        s.dirs.erase(a);
      }
    }
    return Err(code, err);
  }
  if (cmd == "ls") {
    ExecResult r;
    for (const std::string& a : args) {
      if (a.starts_with("-")) continue;
      if (s.files.contains(a) || s.dirs.contains(a)) {
        r.out += a + "\n";
      } else {
        r.exit_code = 2;
        r.err += "ls: cannot access '" + a + "': No such file or directory\n";
      }
    }
    return r;
  }
  if (cmd == "cat") {
    ExecResult r;
    for (const std::string& a : args) {
      auto it = s.files.find(a);
      if (it == s.files.end()) {
        r.exit_code = 1;
        r.err += "cat: " + a + ": No such file or directory\n";
      } else {
        r.out += it->second.content;
      }
    }
    return r;
  }
  if (cmd == "test" && args.size() == 2) {
    bool yes = args[0] == "-d" ? s.dirs.contains(args[1])
               : args[0] == "-f"
                   ? s.files.contains(args[1])
                   : s.files.contains(args[1]) || s.dirs.contains(args[1]);
    return Err(yes ? 0 : 1, "");
  }
  if (cmd == "stat" && args.size() >= 2 && args[0] == "-c") {
    // Only the format hardway's files gate uses: "%a %U:%G %n".
    ExecResult r;
    for (size_t i = 2; i < args.size(); ++i) {
      auto it = s.files.find(args[i]);
      if (it == s.files.end()) {
        r.exit_code = 1;
        r.err +=
            "stat: cannot statx '" + args[i] + "': No such file or directory\n";
        continue;
      }
      char mode[16];
      std::snprintf(mode, sizeof mode, "%o", it->second.mode);
      r.out +=
          std::string(mode) + " " + it->second.owner + " " + args[i] + "\n";
    }
    return r;
  }
  if (cmd == "journalctl") return Ok("-- No entries --\n");
  s.unknown_commands.push_back(text);
  return Ok();
}

ExecResult RecordingTransport::Systemctl(const std::vector<std::string>& args) {
  FakeHost& s = *state_;
  std::vector<std::string> names;
  std::vector<std::string> props;
  std::string verb;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-p" && i + 1 < args.size()) {
      std::string list = args[++i];
      for (size_t pos = 0; pos <= list.size();) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        props.push_back(list.substr(pos, comma - pos));
        pos = comma + 1;
      }
    } else if (a.starts_with("-")) {
      if (a == "--version") return Ok("systemd 252 (252.36-1~deb12u1)\n");
    } else if (verb.empty()) {
      verb = a;
    } else {
      names.push_back(UnitName(a));
    }
  }
  bool now = std::ranges::find(args, "--now") != args.end();
  auto unit_file_exists = [&](const std::string& name) {
    for (const char* dir : {"/etc/systemd/system/", "/lib/systemd/system/",
                            "/usr/lib/systemd/system/"}) {
      if (s.files.contains(dir + name + ".service")) return true;
    }
    return false;
  };
  auto unit_file_sha = [&](const std::string& name) -> std::string {
    for (const char* dir : {"/etc/systemd/system/", "/lib/systemd/system/",
                            "/usr/lib/systemd/system/"}) {
      auto it = s.files.find(dir + name + ".service");
      if (it != s.files.end())
        return it->second.sha256 + "/" + it->second.content;
    }
    return {};
  };
  // systemd loads a unit file on first use and then keeps it until a reload.
  auto load = [&](const std::string& name, FakeUnit& u) {
    if (u.loaded_sha256.empty()) u.loaded_sha256 = unit_file_sha(name);
  };
  auto needs_reload = [&](const std::string& name, const FakeUnit& u) {
    std::string now_sha = unit_file_sha(name);
    return !u.loaded_sha256.empty() && !now_sha.empty() &&
           now_sha != u.loaded_sha256;
  };
  auto start = [&](FakeUnit& u, bool restart) {
    if (restart)
      ++u.restarts;
    else if (u.active_state != "active")
      ++u.starts;
    if (u.crashloop) {
      u.active_state = "activating";
      u.sub_state = "auto-restart";
    } else {
      u.active_state = "active";
      u.sub_state = "running";
    }
  };
  if (verb == "daemon-reload") {
    ++s.daemon_reloads;
    for (auto& [name, u] : s.units) u.loaded_sha256 = unit_file_sha(name);
    return Ok();
  }
  if (verb == "show") {
    ExecResult r;
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = s.units.find(names[i]);
      // Like systemd after a daemon-reload: a unit without a file is gone
      // unless running.
      bool loaded =
          unit_file_exists(names[i]) ||
          (it != s.units.end() && it->second.active_state != "inactive");
      FakeUnit u = it == s.units.end() ? FakeUnit{} : it->second;
      if (it != s.units.end() && u.crashloop && u.active_state != "inactive") {
        ++it->second.n_restarts;
        u = it->second;
      }
      if (i > 0) r.out += "\n";
      for (const std::string& p : props) {
        std::string v;
        if (p == "ActiveState")
          v = u.active_state;
        else if (p == "SubState")
          v = u.sub_state;
        else if (p == "NRestarts")
          v = std::to_string(u.n_restarts);
        else if (p == "UnitFileState")
          v = !loaded ? "" : u.enabled ? "enabled" : "disabled";
        else if (p == "LoadState")
          v = loaded ? "loaded" : "not-found";
        else if (p == "NeedDaemonReload")
          v = needs_reload(names[i], u) ? "yes" : "no";
        r.out += p + "=" + v + "\n";
      }
    }
    return r;
  }
  if (verb == "is-active") {
    auto it = s.units.find(names.empty() ? "" : names[0]);
    std::string state =
        it == s.units.end() ? "inactive" : it->second.active_state;
    return ExecResult{state == "active" ? 0 : 3, state + "\n", {}};
  }
  if (verb == "status") {
    ExecResult r;
    for (const std::string& n : names) {
      auto it = s.units.find(n);
      std::string state =
          it == s.units.end() ? "inactive" : it->second.active_state;
      r.out += "● " + n + ".service\n     Active: " + state + "\n";
      if (state != "active") r.exit_code = 3;
    }
    return r;
  }
  ExecResult r;
  for (const std::string& n : names) {
    if (verb == "enable" || verb == "start" || verb == "restart") {
      if (!unit_file_exists(n)) {
        r.exit_code = verb == "enable" ? 1 : 5;
        r.err +=
            "Failed to " + verb + " unit: Unit " + n + ".service not found.\n";
        continue;
      }
    }
    if (verb == "disable" || verb == "stop") {
      if (!unit_file_exists(n) && !s.units.contains(n)) {
        r.exit_code = verb == "disable" ? 1 : 5;
        r.err +=
            "Failed to " + verb + " unit: Unit " + n + ".service not loaded.\n";
        continue;
      }
    }
    FakeUnit& u = s.units[n];
    if ((verb == "start" && u.active_state != "active") || verb == "restart") {
      if (needs_reload(n, u)) ++u.stale_starts;
    }
    load(n, u);
    if (verb == "enable") {
      u.enabled = true;
      if (now) start(u, false);
    } else if (verb == "disable") {
      u.enabled = false;
      if (now) u.active_state = "inactive", u.sub_state = "dead";
    } else if (verb == "start") {
      if (u.active_state != "active") start(u, false);
    } else if (verb == "restart") {
      start(u, true);
    } else if (verb == "stop") {
      u.active_state = "inactive";
      u.sub_state = "dead";
    } else {
      r.exit_code = 1;
      r.err += "Unknown command verb " + verb + ".\n";
    }
  }
  return r;
}

Result<std::map<std::string, std::string>> RecordingTransport::Sha256Of(
    const std::vector<std::string>& paths) {
  std::map<std::string, std::string> out;
  {
    std::lock_guard lock(state_->mu_);
    for (const std::string& p : paths) {
      auto it = state_->files.find(p);
      if (it != state_->files.end()) out[p] = it->second.sha256;
    }
  }
  log_->Add(RecordedCall{0, host_, "sha256", {}, paths, 0, true});
  return out;
}

Result<std::vector<ExecResult>> RecordingTransport::ExecBatch(
    const std::vector<std::string>& commands, bool stop_after_failure) {
  RecordedCall call;
  call.host = host();
  call.op = "exec-many";
  call.paths = commands;
  log_->Add(call);
  return Transport::ExecBatch(commands, stop_after_failure);
}

std::vector<Result<UploadResult>> RecordingTransport::UploadMany(
    const std::vector<UploadRequest>& requests,
    const std::vector<std::string>& known_remote_sha256,
    const BatchProgressFn& progress) {
  RecordedCall call;
  call.host = host();
  call.op = "upload-many";
  for (const UploadRequest& r : requests) call.paths.push_back(r.dest);
  log_->Add(call);
  // Then each file exactly as Upload records and applies it.
  return Transport::UploadMany(requests, known_remote_sha256, progress);
}

Result<UploadResult> RecordingTransport::Upload(
    const UploadRequest& request, const std::string& known_remote_sha256,
    const ProgressFn& progress) {
  UploadResult result;
  FakeFile f;
  f.mode = request.mode;
  f.owner = request.owner;
  f.sha256 = request.sha256;
  f.size = request.size;
  if (const auto* bytes = std::get_if<std::string>(&request.source)) {
    f.content = *bytes;
    f.size = bytes->size();
    if (f.sha256.empty()) f.sha256 = Sha256Hex(*bytes);
  } else {
    const auto& path = std::get<std::filesystem::path>(request.source);
    std::error_code ec;
    // A dry run may plan uploads of sources that do not exist yet (artifacts
    // not fetched); the fake records them with the size and sha the plan knows.
    if (std::filesystem::is_regular_file(path, ec)) {
      auto size = std::filesystem::file_size(path, ec);
      if (!ec) f.size = size;
      if (f.size < kKeepContentBelow) {
        std::ifstream in(path, std::ios::binary);
        f.content.assign(std::istreambuf_iterator<char>(in), {});
        if (f.sha256.empty()) f.sha256 = Sha256Hex(f.content);
      } else if (f.sha256.empty()) {
        auto sha = Sha256File(path);
        if (sha) f.sha256 = *sha;
      }
    }
  }
  bool skip = !known_remote_sha256.empty() && known_remote_sha256 == f.sha256;
  {
    std::lock_guard lock(state_->mu_);
    auto it = state_->files.find(request.dest);
    if (skip && it != state_->files.end()) {
      // The transport contract: same sha256 means nothing is sent; mode and
      // owner are fixed up cheaply if they differ.
      result.changed =
          it->second.mode != request.mode || it->second.owner != request.owner;
      it->second.mode = request.mode;
      it->second.owner = request.owner;
    } else {
      result.changed = true;
      result.bytes_sent = f.size;
      std::filesystem::path parent =
          std::filesystem::path(request.dest).parent_path();
      for (std::filesystem::path p = parent; !p.empty() && p != p.root_path();
           p = p.parent_path()) {
        state_->dirs.insert(p.string());
      }
      state_->files[request.dest] = std::move(f);
    }
  }
  if (progress && result.bytes_sent > 0)
    progress(result.bytes_sent, result.bytes_sent);
  log_->Add(RecordedCall{
      0, host_, "upload", request.dest, {}, result.bytes_sent, true});
  return result;
}

Result<std::string> RecordingTransport::ReadFile(const std::string& path) {
  std::optional<std::string> content;
  {
    std::lock_guard lock(state_->mu_);
    auto it = state_->files.find(path);
    if (it != state_->files.end()) content = it->second.content;
  }
  log_->Add(RecordedCall{0, host_, "read", path, {}, 0, content.has_value()});
  if (!content) return Fail(ErrorKind::kStep, "no such file: " + path, host_);
  return *content;
}

Result<std::unique_ptr<Tunnel>> RecordingTransport::OpenTunnel(
    const std::string& host, int port) {
  std::optional<int> local;
  {
    std::lock_guard lock(state_->mu_);
    auto it = state_->tunnels_.find({host, port});
    if (it != state_->tunnels_.end()) local = it->second;
  }
  std::string target = host + ":" + std::to_string(port);
  log_->Add(RecordedCall{0, host_, "tunnel", target, {}, 0, local.has_value()});
  if (!local) {
    return Fail(ErrorKind::kConnection,
                "connection refused: nothing listens on " + target, host_);
  }
  return ConnectLoopbackTunnel(*local);
}

}  // namespace hardway
