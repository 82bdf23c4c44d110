#include "doctor/gather.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "remote/ssh_util.h"
#include "util/files.h"

namespace hardway {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
    s.pop_back();
  s.erase(0, s.find_first_not_of(" \n\r\t"));
  return s;
}

void WantCredential(HostWork& work, const Credential& c) {
  for (const std::string* p : {&c.cert_path, &c.key_path, &c.ca_path}) {
    if (work.files.contains(*p)) work.wanted.insert(*p);
  }
}

// "front-proxy-client" for an upload of "state pki/front-proxy-client.crt"
// (ext ".crt"), else "".
std::string StateStem(const Step& s, std::string_view ext) {
  constexpr std::string_view kPrefix = "state pki/";
  if (s.kind != StepKind::kUpload || !s.source_label.starts_with(kPrefix) ||
      !s.source_label.ends_with(ext))
    return "";
  return s.source_label.substr(
      kPrefix.size(), s.source_label.size() - kPrefix.size() - ext.size());
}

}  // namespace

std::vector<HostWork> PlanHostWork(
    const Plan& plan, const std::vector<Link>& links,
    const std::vector<std::string>& hosts,
    const std::vector<std::string>& controllers) {
  std::vector<HostWork> out;
  for (const std::string& host : hosts) {
    HostWork work;
    work.host = host;
    for (const Phase& phase : plan.phases) {
      for (const Step& s : phase.steps) {
        if (s.host != host) continue;
        if (s.kind == StepKind::kUpload || s.kind == StepKind::kRender) {
          work.files[s.dest] = &s;
        } else if (s.kind == StepKind::kSystemd &&
                   std::ranges::find(work.units, s.unit) == work.units.end()) {
          work.units.push_back(s.unit);
        }
      }
    }
    std::map<std::string, std::string> key_of;  // stem -> key dest
    for (const auto& [dest, step] : work.files) {
      std::string stem = StateStem(*step, ".key");
      if (!stem.empty()) key_of[stem] = dest;
    }
    for (const auto& [dest, step] : work.files) {
      std::string stem = StateStem(*step, ".crt");
      if (stem.empty()) continue;
      auto key = key_of.find(stem);
      work.certs.push_back(HostWork::PlannedCert{
          .stem = stem,
          .dest = dest,
          .key_dest = key == key_of.end() ? "" : key->second});
      work.wanted.insert(dest);
      if (key != key_of.end()) work.wanted.insert(key->second);
    }
    bool controller = std::ranges::find(controllers, host) != controllers.end();
    for (const Link& l : links) {
      if (l.client.host == host) WantCredential(work, l.client.credential);
      if (l.server.host == host || (l.server.host.empty() && controller))
        WantCredential(work, l.server.credential);
    }
    out.push_back(std::move(work));
  }
  return out;
}

std::string StatCommand(const std::vector<std::string>& paths) {
  std::string cmd = "stat -c " + ShellQuote(kStatFormat);
  for (const std::string& p : paths) cmd += " " + ShellQuote(p);
  return cmd + " 2>/dev/null";
}

std::string UnitsCommand(const std::vector<std::string>& units) {
  std::string cmd = std::string("systemctl show -p ") + kUnitProperties;
  for (const std::string& u : units) cmd += " " + u + ".service";
  return cmd;
}

std::string JournalCommand(const std::string& unit) {
  return "journalctl -u " + unit + ".service -n " +
         std::to_string(kJournalLines) + " --no-pager -o cat";
}

HostFacts GatherHost(Transport& t, const HostWork& work) {
  HostFacts facts;
  facts.host = work.host;

  // The clock, against ours at the midpoint of the round trip.
  auto before = std::chrono::system_clock::now();
  auto date = t.Exec(kClockCommand);
  auto after = std::chrono::system_clock::now();
  if (!date) {
    facts.clock_error = date.error().message;
  } else {
    double remote = std::strtod(Trim(date->out).c_str(), nullptr);
    if (date->exit_code != 0 || remote <= 0) {
      facts.clock_error =
          "cannot read the clock: " + Trim(date->err + date->out);
    } else {
      double local = std::chrono::duration<double>(
                         (before + (after - before) / 2).time_since_epoch())
                         .count();
      facts.clock_offset = remote - local;
      facts.clock_round_trip =
          std::chrono::duration<double>(after - before).count();
    }
  }

  // Every planned file: sha256, then mode and owner.
  std::vector<std::string> paths;
  for (const auto& [dest, step] : work.files) paths.push_back(dest);
  if (!paths.empty()) {
    auto shas = t.Sha256Of(paths);
    if (!shas) {
      facts.files_error = shas.error().message;
    } else {
      facts.files_listed = true;
      for (const auto& [path, sha] : *shas) facts.files[path].sha256 = sha;
      auto stat = t.Exec(StatCommand(paths));
      if (stat) {
        std::istringstream in(stat->out);
        for (std::string line; std::getline(in, line);) {
          std::istringstream words(line);
          std::string mode, owner, path;
          words >> mode >> owner;
          std::getline(words >> std::ws, path);
          auto it = facts.files.find(path);
          if (it == facts.files.end()) continue;
          it->second.mode = mode;
          it->second.owner = owner;
        }
      }
    }
  } else {
    facts.files_listed = true;
  }

  // Credentials: the state dir's bytes when the host holds the same, else
  // the host's own (read into memory only).
  for (const std::string& dest : work.wanted) {
    auto file = facts.files.find(dest);
    if (file == facts.files.end()) continue;  // missing: the file check says so
    const Step* step = work.files.at(dest);
    if (!step->sha256.empty() && file->second.sha256 == step->sha256 &&
        step->kind == StepKind::kUpload) {
      auto local = ReadFile(step->source);
      if (local) {
        facts.contents[dest] = std::move(*local);
        continue;
      }
    }
    auto remote = t.ReadFile(dest);
    if (remote) {
      facts.contents[dest] = std::move(*remote);
    } else {
      facts.content_errors[dest] = remote.error().message;
    }
  }

  // Units, and the journal's last lines of those down or restarted.
  if (!work.units.empty()) {
    auto show = t.Exec(UnitsCommand(work.units));
    if (!show) {
      facts.units_error = show.error().message;
    } else {
      auto states = ParseSystemctlShow(show->out);
      if (states.size() != work.units.size()) {
        facts.units_error =
            "systemctl show failed: " + Trim(show->err + show->out);
      } else {
        for (size_t i = 0; i < states.size(); ++i) {
          facts.units.emplace_back(work.units[i], states[i]);
          const UnitState& s = states[i];
          if (s.load_state == "not-found") continue;
          if (s.active_state != "active" || s.sub_state == "auto-restart" ||
              s.n_restarts > 0) {
            auto journal = t.Exec(JournalCommand(work.units[i]));
            if (journal) facts.journals[work.units[i]] = journal->out;
          }
        }
      }
    }
  }
  return facts;
}

}  // namespace hardway
