#include "run/reset.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "remote/recording_transport.h"  // SplitShellWords

namespace hardway {
namespace {

// Never deleted recursively, whatever a playbook says.
const std::set<std::string>& SystemFolders() {
  static const std::set<std::string> kFolders = {
      "/",
      "/bin",
      "/boot",
      "/dev",
      "/etc",
      "/home",
      "/lib",
      "/lib64",
      "/opt",
      "/proc",
      "/root",
      "/run",
      "/sbin",
      "/srv",
      "/sys",
      "/tmp",
      "/usr",
      "/usr/bin",
      "/usr/lib",
      "/usr/local",
      "/usr/local/bin",
      "/usr/local/sbin",
      "/usr/local/lib",
      "/usr/sbin",
      "/var",
      "/var/lib",
      "/var/log",
      "/var/run",
      "/etc/systemd",
      "/etc/systemd/system",
      "/lib/systemd",
      "/lib/systemd/system",
      "/etc/sysctl.d",
      "/etc/default",
      "/var/cache",
  };
  return kFolders;
}

std::string Normal(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.ends_with('/')) p.pop_back();
  return p;
}

// Folders created by `mkdir [-p] A B` and `install -d [-m MODE] A` in a
// command.
std::vector<std::string> CreatedFolders(const std::string& command) {
  std::vector<std::string> out;
  std::vector<std::string> words = SplitShellWords(command);
  for (size_t i = 0; i < words.size(); ++i) {
    bool mkdir = words[i] == "mkdir" || words[i].ends_with("/mkdir");
    bool install =
        (words[i] == "install" || words[i].ends_with("/install")) &&
        std::find(words.begin() + i, words.end(), "-d") != words.end();
    if (!mkdir && !install) continue;
    for (size_t j = i + 1; j < words.size(); ++j) {
      const std::string& w = words[j];
      if (w == "&&" || w == ";" || w == "|" || w == "||") break;
      if (w == "-m" || w == "-o" || w == "-g") {
        ++j;
        continue;
      }
      if (w.starts_with("-")) continue;
      if (w.starts_with("/")) out.push_back(Normal(w));
    }
  }
  return out;
}

// --data-dir / --root-dir flags in rendered units and configs.
std::vector<std::string> DataFlags(const std::string& content) {
  std::vector<std::string> out;
  for (const char* flag : {"--data-dir", "--root-dir"}) {
    for (size_t pos = content.find(flag); pos != std::string::npos;
         pos = content.find(flag, pos + 1)) {
      size_t start = pos + std::string(flag).size();
      if (start >= content.size() ||
          (content[start] != '=' && content[start] != ' '))
        continue;
      ++start;
      size_t end = content.find_first_of(" \t\n\\\"'", start);
      std::string value = content.substr(start, end - start);
      if (value.starts_with("/")) out.push_back(Normal(value));
    }
  }
  return out;
}

void AddUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::ranges::find(v, s) == v.end()) v.push_back(s);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

bool IsOurFolder(const std::string& raw) {
  std::string path = Normal(raw);
  if (!path.starts_with("/") || SystemFolders().contains(path)) return false;
  for (const auto& part : std::filesystem::path(path)) {
    std::string p = part.string();
    for (const char* ours : {"etcd", "kube", "containerd", "cni", "hardway"}) {
      if (p.find(ours) != std::string::npos) return true;
    }
  }
  return false;
}

std::vector<ResetTarget> BuildReset(const Plan& plan) {
  std::vector<ResetTarget> targets;
  auto target = [&](const std::string& host) -> ResetTarget& {
    for (ResetTarget& t : targets) {
      if (t.host == host) return t;
    }
    targets.push_back(ResetTarget{host, {}, {}, {}, {}});
    return targets.back();
  };
  for (const Phase& phase : plan.phases) {
    for (const Step& s : phase.steps) {
      if (s.host.empty()) continue;
      ResetTarget& t = target(s.host);
      switch (s.kind) {
        case StepKind::kSystemd:
          AddUnique(t.units, s.unit);
          break;
        case StepKind::kUpload:
        case StepKind::kRender:
          AddUnique(t.files, Normal(s.dest));
          for (const std::string& d : DataFlags(s.content)) {
            if (IsOurFolder(d)) AddUnique(t.dirs, d);
          }
          break;
        case StepKind::kRun:
          for (const std::string& d : CreatedFolders(s.command)) {
            if (IsOurFolder(d)) AddUnique(t.dirs, d);
          }
          break;
      }
    }
  }
  for (ResetTarget& t : targets) {
    AddUnique(t.dirs, "/var/lib/hardway");
    // Parents of what we remove, removed only if that leaves them empty.
    std::set<std::string> parents;
    auto add_parents = [&](const std::string& path) {
      for (auto p = std::filesystem::path(path).parent_path();
           p.string().size() > 1; p = p.parent_path()) {
        if (SystemFolders().contains(p.string())) break;
        parents.insert(p.string());
      }
    };
    for (const std::string& f : t.files) add_parents(f);
    for (const std::string& d : t.dirs) add_parents(d);
    for (const std::string& d : t.dirs) {
      std::erase_if(parents, [&](const std::string& p) {
        return p == d || p.starts_with(d + "/");
      });
    }
    t.parents.assign(parents.begin(), parents.end());
    std::ranges::sort(
        t.parents, [](const std::string& a, const std::string& b) {
          return a.size() != b.size() ? a.size() > b.size() : a < b;
        });
  }
  return targets;
}

namespace {

ResetResult ResetHost(const ResetTarget& target, TransportPool& pool) {
  ResetResult result{target.host, {}, {}, std::nullopt};
  auto t = pool.Get(target.host);
  if (!t) {
    result.error = t.error();
    return result;
  }
  Transport& tr = **t;
  auto exec = [&](const std::string& cmd) -> Result<ExecResult> {
    return tr.Exec(cmd);
  };
  auto fail = [&](const std::string& what, const std::string& detail) {
    result.error =
        Error{ErrorKind::kStep, what + ": " + detail, target.host, {}};
  };

  if (!target.units.empty()) {
    std::string cmd = "systemctl show -p LoadState,ActiveState";
    for (const std::string& u : target.units) cmd += " " + u + ".service";
    auto show = exec(cmd);
    if (!show) return result.error = show.error(), result;
    auto states = ParseSystemctlShow(show->out);
    std::vector<std::string> loaded;
    for (size_t i = 0; i < target.units.size() && i < states.size(); ++i) {
      if (states[i].load_state == "loaded") loaded.push_back(target.units[i]);
    }
    if (!loaded.empty()) {
      std::string stop = "systemctl disable --now";
      for (const std::string& u : loaded) stop += " " + u + ".service";
      auto r = exec(stop);
      if (!r) return result.error = r.error(), result;
      if (r->exit_code != 0) {
        fail("cannot stop units", r->err);
        return result;
      }
      result.stopped = loaded;
    }
  }

  std::vector<std::string> present;
  auto shas = tr.Sha256Of(target.files);
  if (!shas) return result.error = shas.error(), result;
  for (const std::string& f : target.files) {
    if (shas->contains(f)) present.push_back(f);
  }
  std::string ls = "ls -d";
  for (const std::string& d : target.dirs) ls += " " + d;
  auto dirs = exec(ls + " 2>/dev/null");
  if (!dirs) return result.error = dirs.error(), result;
  for (const std::string& line : Lines(dirs->out)) {
    if (std::ranges::find(target.dirs, line) != target.dirs.end())
      present.push_back(line);
  }
  if (!present.empty()) {
    std::string rm = "rm -rf";
    for (const std::string& p : present) rm += " " + p;
    auto r = exec(rm);
    if (!r) return result.error = r.error(), result;
    if (r->exit_code != 0) {
      fail("cannot remove files", r->err);
      return result;
    }
    result.removed = present;
  }
  if (!result.stopped.empty() || !present.empty()) {
    auto r = exec("systemctl daemon-reload");
    if (!r) return result.error = r.error(), result;
  }
  if (!target.parents.empty()) {
    // Only empty folders go; rmdir refuses the others, which is what we want.
    std::string rmdir = "rmdir";
    for (const std::string& p : target.parents) rmdir += " " + p;
    auto r = exec(rmdir + " 2>/dev/null; true");
    if (!r) return result.error = r.error(), result;
  }
  return result;
}

}  // namespace

std::vector<ResetResult> RunReset(const std::vector<ResetTarget>& targets,
                                  TransportPool& pool, int parallel) {
  std::vector<ResetResult> results(targets.size());
  std::atomic<size_t> next{0};
  size_t threads = std::min<size_t>(targets.size(),
                                    static_cast<size_t>(std::max(1, parallel)));
  std::vector<std::thread> workers;
  for (size_t i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < targets.size();) {
        results[k] = ResetHost(targets[k], pool);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  return results;
}

}  // namespace hardway
