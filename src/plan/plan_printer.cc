#include "plan/plan_printer.h"

#include <algorithm>
#include <cstdio>

namespace hardway {
namespace {

Status CheckPhase(const Plan& plan, std::string_view only_phase) {
  if (only_phase.empty() || plan.phase(only_phase) != nullptr) return {};
  std::string names;
  for (const Phase& p : plan.phases)
    names += (names.empty() ? "" : ", ") + p.name;
  return Fail(ErrorKind::kUsage,
              "no phase named '" + std::string(only_phase) + "'", {},
              "phases are: " + names);
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string HostsLine(const Phase& p) {
  if (p.local) return "local (this machine)";
  std::string out = p.hosts.empty() ? "(none)" : Join(p.hosts, " ");
  out +=
      p.roles.empty() ? " (all hosts)" : " (role " + Join(p.roles, ", ") + ")";
  return out;
}

// "2m", "1m30s", "45s", "1h": as the playbook writes them.
std::string Timeout(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  long long s = ms / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0 || out.empty()) out += std::to_string(s % 60) + "s";
  return out;
}

std::string GateLine(const Gate& g) {
  std::string out(GateKindName(g.kind));
  out += ", timeout " + Timeout(g.timeout);
  if (!g.units.empty()) out += ", units " + Join(g.units, " ");
  if (g.port) out += ", port " + std::to_string(g.port);
  if (!g.description.empty()) out += ": " + g.description;
  return out;
}

// How the file goes to the host: mode (or the secret marker), owner, size,
// hash.
std::string FileColumns(const Step& s) {
  std::string out = "  ";
  out += s.secret ? "<" + s.secret_kind + ", " + FormatMode(s.mode) + ">"
                  : FormatMode(s.mode);
  out += " " + s.owner + "  ";
  if (s.missing) {
    out += "MISSING";
  } else {
    out += FormatSize(s.size) + "  sha256 " + s.sha256.substr(0, 12);
  }
  return out;
}

}  // namespace

std::string FormatMode(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

std::string FormatSize(uint64_t bytes) {
  if (bytes < 10 * 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

Result<std::string> FormatPlanText(const Plan& plan,
                                   std::string_view only_phase) {
  if (auto s = CheckPhase(plan, only_phase); !s)
    return std::unexpected(s.error());
  size_t hosts = 0, width = 0, missing = 0;
  {
    std::vector<std::string> names;
    for (const Phase& p : plan.phases) {
      for (const std::string& h : p.hosts) {
        width = std::max(width, h.size());
        names.push_back(h);
      }
      for (const Step& s : p.steps) missing += s.missing ? 1 : 0;
    }
    std::sort(names.begin(), names.end());
    hosts = std::unique(names.begin(), names.end()) - names.begin();
  }
  const size_t total = plan.step_count();
  const std::string total_str = std::to_string(total);

  std::string out;
  out.reserve(total * 160 + 4096);
  out += "plan for cluster " + plan.cluster + ": " +
         std::to_string(plan.phases.size()) + " phases, " +
         std::to_string(hosts) + " hosts, " + total_str + " steps\n";
  if (missing) {
    out += "warning: " + std::to_string(missing) +
           " uploads have no local file yet (MISSING); `up` needs them\n";
  }

  size_t number = 0;
  for (size_t pi = 0; pi < plan.phases.size(); ++pi) {
    const Phase& p = plan.phases[pi];
    const bool shown = only_phase.empty() || p.name == only_phase;
    if (!shown) {
      number += p.steps.size();
      continue;
    }
    out += "\nphase " + std::to_string(pi + 1) + "/" +
           std::to_string(plan.phases.size()) + " " + p.name;
    if (!p.description.empty()) out += ": " + p.description;
    out += "\n  needs: " +
           (p.needs.empty() ? std::string("-") : Join(p.needs, ", "));
    out += "\n  hosts: " + HostsLine(p);
    out += "\n  gate:  " + GateLine(p.gate) + "\n";
    if (p.steps.empty()) out += "  (no steps: the gate is the whole phase)\n";
    for (const Step& s : p.steps) {
      ++number;
      std::string n = std::to_string(number);
      out += "  [" + std::string(total_str.size() - n.size(), ' ') + n + "/" +
             total_str + "] ";
      out += s.host;
      out.append(width - std::min(width, s.host.size()) + 1, ' ');
      std::string_view kind = StepKindName(s.kind);
      out += kind;
      out.append(8 - kind.size(), ' ');
      switch (s.kind) {
        case StepKind::kRun:
          out += s.command;
          if (!s.check.empty()) out += "  [unless: " + s.check + "]";
          break;
        case StepKind::kSystemd:
          out += s.unit +
                 ".service: enable, start (daemon-reload if its unit file "
                 "changed)";
          if (!s.watch.empty())
            out += "; restart if changed: " + Join(s.watch, " ");
          break;
        case StepKind::kUpload:
        case StepKind::kRender:
          out += s.source_label + " -> " + s.dest + FileColumns(s);
          break;
      }
      out += '\n';
    }
  }
  return out;
}

Result<nlohmann::json> PlanToJson(const Plan& plan,
                                  std::string_view only_phase) {
  if (auto s = CheckPhase(plan, only_phase); !s)
    return std::unexpected(s.error());
  nlohmann::json phases = nlohmann::json::array();
  size_t number = 0;
  for (size_t pi = 0; pi < plan.phases.size(); ++pi) {
    const Phase& p = plan.phases[pi];
    if (!only_phase.empty() && p.name != only_phase) {
      number += p.steps.size();
      continue;
    }
    nlohmann::json steps = nlohmann::json::array();
    for (const Step& s : p.steps) {
      nlohmann::json j = {
          {"number", ++number},
          {"id", s.id},
          {"host", s.host},
          {"kind", StepKindName(s.kind)},
          {"description", s.description},
      };
      switch (s.kind) {
        case StepKind::kRun:
          j["command"] = s.command;
          if (!s.check.empty()) j["check"] = s.check;
          break;
        case StepKind::kSystemd:
          j["unit"] = s.unit;
          j["watch"] = s.watch;
          break;
        case StepKind::kUpload:
        case StepKind::kRender:
          j["source"] = s.source_label;
          j["dest"] = s.dest;
          j["mode"] = FormatMode(s.mode);
          j["owner"] = s.owner;
          j["missing"] = s.missing;
          j["size"] = s.size;
          j["sha256"] = s.sha256;
          j["secret"] = s.secret;
          if (s.secret) j["secret_kind"] = s.secret_kind;
          break;
      }
      steps.push_back(std::move(j));
    }
    nlohmann::json gate = {
        {"kind", GateKindName(p.gate.kind)},
        {"timeout_ms", p.gate.timeout.count()},
        {"description", p.gate.description},
    };
    if (!p.gate.units.empty()) gate["units"] = p.gate.units;
    if (p.gate.port) gate["port"] = p.gate.port;
    phases.push_back({
        {"number", pi + 1},
        {"name", p.name},
        {"description", p.description},
        {"needs", p.needs},
        {"roles", p.roles},
        {"local", p.local},
        {"hosts", p.hosts},
        {"gate", std::move(gate)},
        {"steps", std::move(steps)},
    });
  }
  return nlohmann::json{
      {"cluster", plan.cluster},
      {"step_count", plan.step_count()},
      {"phases", std::move(phases)},
  };
}

}  // namespace hardway
