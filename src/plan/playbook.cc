#include "plan/playbook.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "util/duration.h"
#include "util/files.h"

namespace hardway {
namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  Result<Playbook> Parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return Fail(ErrorKind::kValidation, "YAML syntax: " + e.msg,
                  Where(e.mark), "fix the YAML syntax");
    }
    if (!root.IsMap()) {
      return Fail(ErrorKind::kValidation,
                  "a playbook is a mapping with a 'phases' list", file_,
                  "start the file with\nphases:\n  - name: ...");
    }
    if (auto s = CheckKeys(root, "playbook", {"phases"}); !s)
      return std::unexpected(s.error());
    const YAML::Node phases = root["phases"];
    if (!phases || !phases.IsSequence() || phases.size() == 0) {
      return Fail(ErrorKind::kValidation, "'phases' must be a non-empty list",
                  phases ? Where(phases.Mark()) : file_);
    }
    Playbook book;
    std::map<std::string, int> seen;
    for (const YAML::Node& p : phases) {
      auto phase = ParsePhase(p);
      if (!phase) return std::unexpected(phase.error());
      if (auto [it, inserted] = seen.emplace(phase->name, phase->line);
          !inserted) {
        return Fail(ErrorKind::kValidation,
                    "duplicate phase '" + phase->name + "'", Where(p.Mark()),
                    "first defined on line " + std::to_string(it->second) +
                        "; rename one");
      }
      book.phases.push_back(std::move(*phase));
    }
    if (auto s = OrderPhases(book.phases); !s)
      return std::unexpected(s.error());
    return book;
  }

 private:
  std::string Where(const YAML::Mark& m) const {
    if (m.is_null()) return file_;
    return file_ + ":" + std::to_string(m.line + 1) + ":" +
           std::to_string(m.column + 1);
  }
  std::string WhereLine(int line) const {
    return file_ + ":" + std::to_string(line);
  }

  Status CheckKeys(const YAML::Node& map, const std::string& what,
                   const std::vector<std::string>& allowed) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return Fail(
            ErrorKind::kValidation, "unknown key '" + key + "' in " + what,
            Where(it->first.Mark()), "allowed keys: " + Join(allowed, ", "));
      }
    }
    return {};
  }

  Result<std::string> String(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      return Fail(ErrorKind::kValidation, what + " must be a string",
                  Where(n.Mark()));
    }
    return n.Scalar();
  }

  Result<bool> Bool(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) {
      return n.Scalar() == "true";
    }
    return Fail(ErrorKind::kValidation, what + " must be true or false",
                Where(n.Mark()));
  }

  Result<std::vector<std::string>> Strings(const YAML::Node& n,
                                           const std::string& what) {
    std::vector<std::string> out;
    if (n.IsScalar()) {  // a single item is accepted as a one-item list
      out.push_back(n.Scalar());
      return out;
    }
    if (!n.IsSequence()) {
      return Fail(ErrorKind::kValidation, what + " must be a list of strings",
                  Where(n.Mark()));
    }
    for (const YAML::Node& item : n) {
      auto s = String(item, what + " item");
      if (!s) return std::unexpected(s.error());
      out.push_back(*s);
    }
    return out;
  }

  Result<std::vector<Role>> Roles(const YAML::Node& n,
                                  const std::string& what) {
    auto names = Strings(n, what);
    if (!names) return std::unexpected(names.error());
    std::vector<Role> roles;
    for (const std::string& name : *names) {
      auto role = ParseRole(name);
      if (!role) {
        return Fail(ErrorKind::kValidation,
                    "unknown role '" + name + "' in " + what, Where(n.Mark()),
                    "roles are etcd, controlplane, worker");
      }
      roles.push_back(*role);
    }
    return roles;
  }

  Result<PhaseSpec> ParsePhase(const YAML::Node& p) {
    if (!p.IsMap()) {
      return Fail(ErrorKind::kValidation, "a phase must be a mapping",
                  Where(p.Mark()));
    }
    if (auto s = CheckKeys(p, "phase",
                           {"name", "description", "needs", "roles", "local",
                            "steps", "gate"});
        !s) {
      return std::unexpected(s.error());
    }
    PhaseSpec phase;
    phase.line = p.Mark().line + 1;
    if (!p["name"]) {
      return Fail(ErrorKind::kValidation, "phase without a name",
                  Where(p.Mark()), "add name: <phase>");
    }
    auto name = String(p["name"], "phase name");
    if (!name) return std::unexpected(name.error());
    phase.name = *name;
    bool name_ok =
        !phase.name.empty() &&
        std::all_of(phase.name.begin(), phase.name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        });
    if (!name_ok) {
      return Fail(ErrorKind::kValidation, "bad phase name '" + phase.name + "'",
                  Where(p["name"].Mark()),
                  "use lower-case letters, digits and '-'");
    }
    const std::string what = "phase " + phase.name;
    if (p["description"]) {
      auto d = String(p["description"], what + " description");
      if (!d) return std::unexpected(d.error());
      phase.description = *d;
    }
    if (p["needs"]) {
      auto needs = Strings(p["needs"], what + " needs");
      if (!needs) return std::unexpected(needs.error());
      phase.needs = *needs;
      needs_marks_[phase.name] = p["needs"].Mark();
    }
    if (p["roles"]) {
      auto roles = Roles(p["roles"], what + " roles");
      if (!roles) return std::unexpected(roles.error());
      phase.roles = *roles;
    }
    if (p["local"]) {
      auto local = Bool(p["local"], what + " local");
      if (!local) return std::unexpected(local.error());
      phase.local = *local;
    }
    if (!p["gate"]) {
      return Fail(ErrorKind::kValidation, what + " has no gate",
                  Where(p.Mark()),
                  "add gate: {kind: ..., timeout: ...}; every phase says how "
                  "it is checked");
    }
    auto gate = ParseGate(p["gate"], what);
    if (!gate) return std::unexpected(gate.error());
    phase.gate = *gate;
    if (p["steps"]) {
      const YAML::Node steps = p["steps"];
      if (!steps.IsSequence()) {
        return Fail(ErrorKind::kValidation, what + " steps must be a list",
                    Where(steps.Mark()));
      }
      for (const YAML::Node& s : steps) {
        auto step = ParseStep(s, what);
        if (!step) return std::unexpected(step.error());
        phase.steps.push_back(std::move(*step));
      }
    }
    if (phase.local && (!phase.steps.empty() || !phase.roles.empty())) {
      return Fail(
          ErrorKind::kValidation,
          what +
              " is local: it runs on this machine and takes no roles or steps",
          Where(p.Mark()), "move the steps to a phase that runs on hosts");
    }
    return phase;
  }

  Result<Gate> ParseGate(const YAML::Node& g, const std::string& what) {
    if (!g.IsMap()) {
      return Fail(
          ErrorKind::kValidation, what + " gate must be a mapping",
          Where(g.Mark()),
          "e.g. gate: {kind: unit_active, timeout: 60s, units: [etcd]}");
    }
    if (auto s = CheckKeys(g, what + " gate",
                           {"kind", "timeout", "units", "port", "description"});
        !s) {
      return std::unexpected(s.error());
    }
    Gate gate;
    if (!g["kind"]) {
      return Fail(ErrorKind::kValidation, what + " gate has no kind",
                  Where(g.Mark()));
    }
    auto kind_name = String(g["kind"], what + " gate kind");
    if (!kind_name) return std::unexpected(kind_name.error());
    auto kind = ParseGateKind(*kind_name);
    if (!kind) {
      std::vector<std::string> names;
      for (int k = 0; k <= static_cast<int>(GateKind::kPodRoutes); ++k) {
        names.emplace_back(GateKindName(static_cast<GateKind>(k)));
      }
      return Fail(ErrorKind::kValidation,
                  "unknown gate kind '" + *kind_name + "'",
                  Where(g["kind"].Mark()), "gate kinds: " + Join(names, ", "));
    }
    gate.kind = *kind;
    if (g["timeout"]) {
      auto t = String(g["timeout"], what + " gate timeout");
      if (!t) return std::unexpected(t.error());
      auto d = ParseDuration(*t);
      if (!d || d->count() <= 0) {
        return Fail(ErrorKind::kValidation, "bad gate timeout '" + *t + "'",
                    Where(g["timeout"].Mark()),
                    "a duration such as 30s, 2m, 1h30m");
      }
      gate.timeout = *d;
    }
    if (g["units"]) {
      auto units = Strings(g["units"], what + " gate units");
      if (!units) return std::unexpected(units.error());
      gate.units = *units;
    }
    if (g["port"]) {
      auto p = String(g["port"], what + " gate port");
      if (!p) return std::unexpected(p.error());
      int port = 0;
      bool ok = !p->empty() && p->size() <= 5 &&
                std::all_of(p->begin(), p->end(),
                            [](char c) { return c >= '0' && c <= '9'; });
      if (ok) port = std::stoi(*p);
      if (!ok || port < 1 || port > 65535) {
        return Fail(ErrorKind::kValidation, "bad gate port '" + *p + "'",
                    Where(g["port"].Mark()), "a TCP port, 1-65535");
      }
      gate.port = port;
    }
    if (g["description"]) {
      auto d = String(g["description"], what + " gate description");
      if (!d) return std::unexpected(d.error());
      gate.description = *d;
    }
    return gate;
  }

  Result<uint32_t> Mode(const YAML::Node& n) {
    const std::string s = n.IsScalar() ? n.Scalar() : "";
    uint32_t mode = 0;
    bool ok = s.size() >= 3 && s.size() <= 4;
    for (char c : s) {
      if (c < '0' || c > '7') ok = false;
      mode = mode * 8 + static_cast<uint32_t>(c - '0');
    }
    if (!ok) {
      return Fail(ErrorKind::kValidation, "bad mode '" + s + "'",
                  Where(n.Mark()),
                  "an octal mode in quotes, e.g. mode: \"0755\"");
    }
    return mode;
  }

  Result<StepSpec> ParseStep(const YAML::Node& s, const std::string& what) {
    const std::string kinds_hint =
        "a step is one of upload, render, run, systemd";
    if (!s.IsMap()) {
      return Fail(ErrorKind::kValidation, "a step must be a mapping",
                  Where(s.Mark()), kinds_hint);
    }
    if (auto c = CheckKeys(s, what + " step",
                           {"upload", "render", "run", "systemd", "check",
                            "roles", "once", "description"});
        !c) {
      return std::unexpected(c.error());
    }
    StepSpec step;
    step.line = s.Mark().line + 1;
    int kinds = 0;
    for (const char* k : {"upload", "render", "run", "systemd"})
      kinds += s[k] ? 1 : 0;
    if (kinds != 1) {
      return Fail(
          ErrorKind::kValidation,
          kinds == 0 ? "step has no action" : "step has more than one action",
          Where(s.Mark()), kinds_hint);
    }
    if (s["roles"]) {
      auto roles = Roles(s["roles"], what + " step roles");
      if (!roles) return std::unexpected(roles.error());
      step.roles = *roles;
    }
    if (s["once"]) {
      auto once = Bool(s["once"], what + " step once");
      if (!once) return std::unexpected(once.error());
      step.once = *once;
    }
    if (s["description"]) {
      auto d = String(s["description"], what + " step description");
      if (!d) return std::unexpected(d.error());
      step.description = *d;
    }

    if (s["run"]) {
      step.kind = StepKind::kRun;
      auto cmd = String(s["run"], what + " run");
      if (!cmd) return std::unexpected(cmd.error());
      if (cmd->empty()) {
        return Fail(ErrorKind::kValidation, "empty command",
                    Where(s["run"].Mark()));
      }
      // Appending is the hard way's re-run defect: a second run duplicates the
      // line.
      if (cmd->find(">>") != std::string::npos) {
        return Fail(
            ErrorKind::kValidation,
            "command appends with '>>', so it is not idempotent",
            Where(s["run"].Mark()),
            "write the whole file (render/upload it) instead of appending");
      }
      step.command = *cmd;
      if (s["check"]) {
        auto check = String(s["check"], what + " check");
        if (!check) return std::unexpected(check.error());
        if (check->empty()) {
          return Fail(ErrorKind::kValidation, "empty check",
                      Where(s["check"].Mark()),
                      "a command that exits 0 when the step has nothing to do");
        }
        step.check = *check;
      }
      return step;
    }
    if (s["check"]) {
      return Fail(ErrorKind::kValidation, "only run steps take a check",
                  Where(s["check"].Mark()),
                  "uploads and renders already skip files the host has; "
                  "systemd steps skip running units");
    }

    if (s["systemd"]) {
      step.kind = StepKind::kSystemd;
      const YAML::Node u = s["systemd"];
      if (!u.IsMap()) {
        return Fail(ErrorKind::kValidation, "systemd step must be a mapping",
                    Where(u.Mark()),
                    "systemd: {unit: etcd, watch: [/usr/local/bin/etcd, ...]}");
      }
      if (auto c = CheckKeys(u, what + " systemd step", {"unit", "watch"});
          !c) {
        return std::unexpected(c.error());
      }
      if (!u["unit"]) {
        return Fail(ErrorKind::kValidation, "systemd step without a unit",
                    Where(u.Mark()));
      }
      auto unit = String(u["unit"], "systemd unit");
      if (!unit) return std::unexpected(unit.error());
      if (unit->empty() || unit->find_first_of(" /\t") != std::string::npos ||
          unit->ends_with(".service")) {
        return Fail(ErrorKind::kValidation, "bad unit name '" + *unit + "'",
                    Where(u["unit"].Mark()),
                    "the unit name without .service, e.g. etcd");
      }
      step.unit = *unit;
      if (u["watch"]) {
        auto watch = Strings(u["watch"], "systemd watch");
        if (!watch) return std::unexpected(watch.error());
        for (const std::string& w : *watch) {
          if (!w.starts_with("/")) {
            return Fail(ErrorKind::kValidation,
                        "watch path '" + w + "' is not absolute",
                        Where(u["watch"].Mark()));
          }
        }
        step.watch = *watch;
      }
      return step;
    }

    const bool upload = static_cast<bool>(s["upload"]);
    step.kind = upload ? StepKind::kUpload : StepKind::kRender;
    const YAML::Node f = upload ? s["upload"] : s["render"];
    const std::string kind = upload ? "upload" : "render";
    if (!f.IsMap()) {
      return Fail(ErrorKind::kValidation, kind + " step must be a mapping",
                  Where(f.Mark()),
                  upload ? "upload: {artifact: etcd, dest: "
                           "/usr/local/bin/etcd, mode: \"0755\"}"
                         : "render: {template: units/etcd.service, dest: "
                           "/etc/systemd/system/etcd.service}");
    }
    std::vector<std::string> keys = {"dest", "mode", "owner"};
    if (upload) {
      keys.insert(keys.begin(), {"artifact", "state"});
    } else {
      keys.insert(keys.begin(), "template");
    }
    if (auto c = CheckKeys(f, what + " " + kind + " step", keys); !c) {
      return std::unexpected(c.error());
    }
    if (upload) {
      if (static_cast<bool>(f["artifact"]) == static_cast<bool>(f["state"])) {
        return Fail(ErrorKind::kValidation,
                    "upload needs exactly one of artifact or state",
                    Where(f.Mark()),
                    "artifact: a file of artifacts.dir; state: a file of the "
                    "state dir");
      }
      step.source_kind =
          f["artifact"] ? UploadSource::kArtifact : UploadSource::kState;
      auto src =
          String(f["artifact"] ? f["artifact"] : f["state"], kind + " source");
      if (!src) return std::unexpected(src.error());
      step.source = *src;
    } else {
      if (!f["template"]) {
        return Fail(ErrorKind::kValidation, "render step without a template",
                    Where(f.Mark()));
      }
      step.source_kind = UploadSource::kTemplate;
      auto src = String(f["template"], "render template");
      if (!src) return std::unexpected(src.error());
      step.source = *src;
    }
    if (step.source.empty() || step.source.starts_with("/") ||
        step.source.find("..") != std::string::npos) {
      return Fail(ErrorKind::kValidation,
                  "bad " + kind + " source '" + step.source + "'",
                  Where(f.Mark()),
                  "a relative path inside the artifacts dir, the state dir or "
                  "hardway's "
                  "resource dir");
    }
    if (!f["dest"]) {
      return Fail(ErrorKind::kValidation, kind + " step without a dest",
                  Where(f.Mark()), "add dest: /absolute/path/on/the/host");
    }
    auto dest = String(f["dest"], kind + " dest");
    if (!dest) return std::unexpected(dest.error());
    if (!dest->starts_with("/") || dest->ends_with("/")) {
      return Fail(ErrorKind::kValidation,
                  "dest '" + *dest + "' is not an absolute file path",
                  Where(f["dest"].Mark()));
    }
    step.dest = *dest;
    if (f["mode"]) {
      auto mode = Mode(f["mode"]);
      if (!mode) return std::unexpected(mode.error());
      step.mode = *mode;
    }
    if (f["owner"]) {
      auto owner = String(f["owner"], kind + " owner");
      if (!owner) return std::unexpected(owner.error());
      step.owner = *owner;
    }
    return step;
  }

  // Checks needs and sorts the phases so that each comes after what it needs,
  // keeping the playbook's order wherever the needs allow it.
  Status OrderPhases(std::vector<PhaseSpec>& phases) {
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < phases.size(); ++i) index[phases[i].name] = i;
    for (const PhaseSpec& p : phases) {
      for (const std::string& need : p.needs) {
        if (!index.contains(need)) {
          std::vector<std::string> names;
          for (const PhaseSpec& q : phases) names.push_back(q.name);
          return Fail(ErrorKind::kValidation,
                      "phase " + p.name + " needs unknown phase '" + need + "'",
                      Where(needs_marks_[p.name]),
                      "phases are: " + Join(names, ", "));
        }
        if (need == p.name) {
          return Fail(ErrorKind::kValidation,
                      "phase " + p.name + " needs itself",
                      Where(needs_marks_[p.name]));
        }
      }
    }
    std::vector<bool> placed(phases.size(), false);
    std::vector<size_t> order;
    while (order.size() < phases.size()) {
      bool progress = false;
      for (size_t i = 0; i < phases.size(); ++i) {
        if (placed[i]) continue;
        bool ready =
            std::all_of(phases[i].needs.begin(), phases[i].needs.end(),
                        [&](const std::string& n) { return placed[index[n]]; });
        if (ready) {
          placed[i] = true;
          order.push_back(i);
          progress = true;
          break;  // restart from the top: keep the playbook's order
        }
      }
      if (!progress) return CycleError(phases, index, placed);
    }
    std::vector<PhaseSpec> sorted;
    sorted.reserve(phases.size());
    for (size_t i : order) sorted.push_back(std::move(phases[i]));
    phases = std::move(sorted);
    return {};
  }

  // Every unplaced phase waits on another unplaced one, so following needs must
  // loop.
  std::unexpected<Error> CycleError(const std::vector<PhaseSpec>& phases,
                                    std::map<std::string, size_t>& index,
                                    const std::vector<bool>& placed) {
    size_t start = 0;
    while (placed[start]) ++start;
    std::vector<size_t> path;
    std::vector<int> pos(phases.size(), -1);
    size_t cur = start;
    while (pos[cur] < 0) {
      pos[cur] = static_cast<int>(path.size());
      path.push_back(cur);
      for (const std::string& n : phases[cur].needs) {
        if (!placed[index[n]]) {
          cur = index[n];
          break;
        }
      }
    }
    std::vector<std::string> names;
    for (size_t i = static_cast<size_t>(pos[cur]); i < path.size(); ++i) {
      names.push_back(phases[path[i]].name);
    }
    names.push_back(phases[cur].name);
    const PhaseSpec& first = phases[cur];
    YAML::Mark mark = needs_marks_[first.name];
    return Fail(ErrorKind::kValidation,
                "phases need each other in a cycle: " + Join(names, " -> "),
                mark.is_null() ? WhereLine(first.line) : Where(mark),
                "remove one of these needs");
  }

  std::string file_;
  std::map<std::string, YAML::Mark> needs_marks_;
};

}  // namespace

Result<Playbook> ParsePlaybook(const std::string& text,
                               const std::filesystem::path& path) {
  Parser parser(path.string());
  auto book = parser.Parse(text);
  if (book) book->path = path;
  return book;
}

Result<Playbook> LoadPlaybook(const std::filesystem::path& path) {
  auto text = ReadFile(path);
  if (!text) {
    return Fail(ErrorKind::kValidation,
                "cannot read playbook: " + text.error().message, path.string());
  }
  return ParsePlaybook(*text, path);
}

}  // namespace hardway
