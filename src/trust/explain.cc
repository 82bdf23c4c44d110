#include "trust/explain.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "pki/cert_table.h"
#include "trust/graph.h"
#include "trust/links.h"
#include "util/duration.h"
#include "util/suggest.h"

namespace hardway {

namespace {

constexpr Component kComponents[] = {
    Component::kEtcd,      Component::kApiserver, Component::kControllerManager,
    Component::kScheduler, Component::kKubelet,   Component::kKubeProxy,
    Component::kHardway};

// "a, b, c" for up to six names, else the first five and a count.
std::string Names(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = names.size() <= 6 ? names.size() : 5;
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (shown < names.size())
    out += ", … (" + std::to_string(names.size()) + " in all)";
  return out;
}

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end())
    list.push_back(value);
}

std::string Mode(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

bool IsPathChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' ||
         c == '-' || c == '_';
}

// `path` occurs in `line` as a whole path, not as part of a longer one.
bool MentionsPath(std::string_view line, std::string_view path) {
  for (size_t at = line.find(path); at != std::string_view::npos;
       at = line.find(path, at + 1)) {
    const bool starts = at == 0 || !IsPathChar(line[at - 1]);
    const size_t end = at + path.size();
    const bool ends = end == line.size() || !IsPathChar(line[end]);
    if (starts && ends) return true;
  }
  return false;
}

// A line of a unit or config as people read it: no indentation, no trailing
// line continuation.
std::string Tidy(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
    line.remove_prefix(1);
  while (!line.empty() &&
         (line.back() == ' ' || line.back() == '\\' || line.back() == '\r'))
    line.remove_suffix(1);
  return std::string(line);
}

struct Reference {
  std::string line;  // "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt"
  std::string file;  // "/etc/systemd/system/kube-apiserver.service"
  bool operator<(const Reference& o) const {
    return std::tie(file, line) < std::tie(o.file, o.line);
  }
};

// What the plan knows, indexed for the questions below.
class Explainer {
 public:
  Explainer(const Cluster& cluster, const Plan& plan)
      : cluster_(cluster),
        plan_(plan),
        table_(CertificateTable(cluster)),
        kubeconfigs_(KubeconfigTable(cluster)),
        links_(TrustLinks(cluster)) {}

  const std::vector<CertSpec>& table() const { return table_; }
  const std::vector<KubeconfigSpec>& kubeconfigs() const {
    return kubeconfigs_;
  }

  std::string Certificate(const CertSpec& spec) const;
  std::string Authority(const CertSpec& spec) const;
  std::string KeyPair(const CertSpec& spec) const;
  std::string ComponentText(Component c) const;
  std::string PhaseText(const Phase& phase) const;

 private:
  // Hosts in inventory order.
  std::vector<std::string> Ordered(const std::set<std::string>& hosts) const {
    std::vector<std::string> out;
    for (const Host& h : cluster_.hosts()) {
      if (hosts.contains(h.name)) out.push_back(h.name);
    }
    return out;
  }
  std::string Where(Component c, const std::set<std::string>& hosts) const {
    if (c == Component::kHardway) return "hardway on this machine";
    std::string out(ComponentName(c));
    if (!hosts.empty()) out += " on " + Names(Ordered(hosts));
    return out;
  }

  // Upload steps whose source is `label` ("state pki/apiserver.crt").
  std::vector<const Step*> Uploads(const std::string& label) const {
    std::vector<const Step*> out;
    for (const Phase& p : plan_.phases)
      for (const Step& s : p.steps)
        if (s.kind == StepKind::kUpload && s.source_label == label)
          out.push_back(&s);
    return out;
  }

  // Lines of the host's rendered units and configs that name `path`.
  std::vector<Reference> References(const std::string& host,
                                    const std::string& path) const {
    std::vector<Reference> out;
    for (const Phase& p : plan_.phases) {
      for (const Step& s : p.steps) {
        if (s.kind != StepKind::kRender || s.host != host) continue;
        std::istringstream in(s.content);
        std::string line;
        while (std::getline(in, line)) {
          const std::string tidy = Tidy(line);
          if (tidy.starts_with("#") || !MentionsPath(tidy, path)) continue;
          out.push_back(Reference{.line = tidy, .file = s.dest});
        }
      }
    }
    return out;
  }

  // The units a systemd step on `host` restarts when `dest` changes.
  std::vector<std::string> Watchers(const std::string& host,
                                    const std::string& dest) const {
    std::vector<std::string> out;
    for (const Phase& p : plan_.phases)
      for (const Step& s : p.steps)
        if (s.kind == StepKind::kSystemd && s.host == host &&
            std::find(s.watch.begin(), s.watch.end(), dest) != s.watch.end())
          AddUnique(out, s.unit);
    return out;
  }

  // The phase that starts the component's unit; nullptr for hardway.
  const Phase* StartingPhase(Component c) const {
    const std::string_view unit = ComponentUnit(c);
    if (unit.empty()) return nullptr;
    for (const Phase& p : plan_.phases)
      for (const Step& s : p.steps)
        if (s.kind == StepKind::kSystemd && s.unit == unit) return &p;
    return nullptr;
  }

  const Phase* PhaseWithGate(GateKind kind) const {
    for (const Phase& p : plan_.phases)
      if (p.gate.kind == kind) return &p;
    return nullptr;
  }

  // "phase distribute; its gate files_present (within 1m 0s) checks: ..."
  static std::string InstallLine(const Phase& p) {
    if (p.gate.kind == GateKind::kNone) return "phase " + p.name;
    return "phase " + p.name + "; its gate " +
           std::string(GateKindName(p.gate.kind)) + " (within " +
           FormatDuration(p.gate.timeout) + ") checks: " + p.gate.description;
  }

  static std::string GateLine(const Phase& p) {
    if (p.gate.kind == GateKind::kNone) return "phase " + p.name + ": no gate";
    return "gate " + std::string(GateKindName(p.gate.kind)) + " of phase " +
           p.name + " (within " + FormatDuration(p.gate.timeout) +
           "): " + p.gate.description;
  }

  // How `verifier` checks the other side: the flag or config line that names
  // its CA file on its host, or where the CA comes from.
  std::string HowVerified(const Endpoint& verifier) const {
    const Credential& c = verifier.credential;
    const std::string ca = CaDisplayName(c.trusts);
    if (verifier.component == Component::kHardway)
      return "with " + ca + " from the state dir (" + c.ca_path + ")";
    if (!c.kubeconfig.empty())
      return "with " + ca + " from its kubeconfig " + c.ca_path;
    if (!verifier.host.empty()) {
      for (const Reference& r : References(verifier.host, c.ca_path)) {
        std::istringstream flags(c.flags);
        std::string flag;
        while (std::getline(flags, flag, ',')) {
          flag = Tidy(flag);
          flag = flag.substr(0, flag.find(' '));    // "(file.yaml)"
          flag = flag.substr(flag.rfind('.') + 1);  // a.x509.caFile
          if (!flag.empty() && r.line.find(flag) != std::string::npos)
            return "with " + ca + ": " + r.line + " in " + r.file;
        }
      }
    }
    return "with " + ca + " (" + c.ca_path + ")";
  }

  // Lines "- dest (mode) on hosts; phase P; a change restarts U" for the
  // uploads of these sources, and the rendered lines that name their dests.
  void Placements(const std::vector<std::string>& labels,
                  const std::string& prefix, std::vector<std::string>& files,
                  std::vector<std::string>& refs,
                  std::vector<const Phase*>& phases) const;

  // What to print under "on the hosts:" when nothing goes to a host.
  enum class NoFiles { kOmitHeading, kHeadingOnly, kStaysInStateDir };
  // The "on the hosts / referenced by / installed in / checked by" block of
  // a credential, from what Placements found and the gates that check it.
  std::string PlacementBlock(const std::vector<std::string>& files,
                             const std::vector<std::string>& refs,
                             const std::vector<const Phase*>& phases,
                             NoFiles no_files,
                             const std::vector<std::string>& gates) const;
  // The pki gate, if the plan has one.
  std::vector<std::string> PkiGate() const;

  std::string Presenters(const CertSpec& spec) const;
  std::vector<std::string> Checks(const CertSpec& spec) const;

  const Cluster& cluster_;
  const Plan& plan_;
  std::vector<CertSpec> table_;
  std::vector<KubeconfigSpec> kubeconfigs_;
  std::vector<Link> links_;
};

void Explainer::Placements(const std::vector<std::string>& labels,
                           const std::string& prefix,
                           std::vector<std::string>& files,
                           std::vector<std::string>& refs,
                           std::vector<const Phase*>& phases) const {
  // (phase, dests) -> hosts, so that every host with the same files is one
  // line.
  std::map<std::string, std::set<std::string>> by_host;   // host -> "dest (m)"
  std::map<std::string, std::string> phase_of;            // host -> phase
  std::map<std::string, std::set<std::string>> restarts;  // host -> units
  std::map<Reference, std::set<std::string>> ref_hosts;
  std::vector<Reference> ref_order;
  for (const std::string& label : labels) {
    for (const Step* s : Uploads(label)) {
      by_host[s->host].insert(s->dest + " (" + Mode(s->mode) + ")");
      phase_of[s->host] = s->phase;
      if (const Phase* p = plan_.phase(s->phase);
          p && std::find(phases.begin(), phases.end(), p) == phases.end())
        phases.push_back(p);
      for (const std::string& u : Watchers(s->host, s->dest))
        restarts[s->host].insert(u);
      for (const Reference& r : References(s->host, s->dest)) {
        if (!ref_hosts.contains(r)) ref_order.push_back(r);
        ref_hosts[r].insert(s->host);
      }
    }
  }
  std::map<std::string, std::set<std::string>> grouped;  // line -> hosts
  std::vector<std::string> order;
  for (const Host& h : cluster_.hosts()) {
    auto it = by_host.find(h.name);
    if (it == by_host.end()) continue;
    std::string what;
    for (const std::string& f : it->second)
      what += (what.empty() ? "" : ", ") + f;
    std::string tail = "; phase " + phase_of[h.name];
    if (!restarts[h.name].empty()) {
      std::string units;
      for (const std::string& u : restarts[h.name])
        units += (units.empty() ? "" : ", ") + u;
      tail += "; a change restarts " + units;
    }
    const std::string key = what + "\t" + tail;
    if (!grouped.contains(key)) order.push_back(key);
    grouped[key].insert(h.name);
  }
  for (const std::string& key : order) {
    const size_t tab = key.find('\t');
    files.push_back(prefix + key.substr(0, tab) + " on " +
                    Names(Ordered(grouped[key])) + key.substr(tab + 1));
  }
  for (const Reference& r : ref_order) {
    refs.push_back(r.line + " in " + r.file + " on " +
                   Names(Ordered(ref_hosts[r])));
  }
}

std::string Explainer::Presenters(const CertSpec& spec) const {
  struct Use {
    const Endpoint* self = nullptr;
    const Endpoint* peer = nullptr;
    const Link* link = nullptr;
    char direction = '>';  // '>' dials, '<' serves, '=' both: peers
    std::set<std::string> self_hosts, peer_hosts, dials;
  };
  std::vector<std::pair<std::string, Use>> uses;
  for (const Link& l : links_) {
    for (bool as_server : {false, true}) {
      const Endpoint& self = as_server ? l.server : l.client;
      const Endpoint& peer = as_server ? l.client : l.server;
      if (self.credential.cert != spec.name) continue;
      const char direction = self.component == peer.component ? '='
                             : as_server                      ? '<'
                                                              : '>';
      const std::string key =
          std::string(ComponentName(self.component)) + direction +
          std::string(ComponentName(peer.component)) + std::to_string(l.port);
      auto it = std::find_if(uses.begin(), uses.end(),
                             [&](const auto& u) { return u.first == key; });
      if (it == uses.end()) {
        uses.push_back({key, Use{.self = &self,
                                 .peer = &peer,
                                 .link = &l,
                                 .direction = direction,
                                 .self_hosts = {},
                                 .peer_hosts = {},
                                 .dials = {}}});
        it = uses.end() - 1;
      }
      if (!self.host.empty()) it->second.self_hosts.insert(self.host);
      if (!peer.host.empty()) it->second.peer_hosts.insert(peer.host);
      it->second.dials.insert(l.dial_host);
    }
  }
  if (uses.empty()) return "";
  std::string out = "  presented by:\n";
  for (const auto& [key, u] : uses) {
    const std::string port = std::to_string(u.link->port);
    std::string line = "    - " + Where(u.self->component, u.self_hosts);
    if (u.direction == '=') {
      line += " to and from its peers " +
              Where(u.peer->component, u.peer_hosts) + " :" + port;
    } else if (u.direction == '<') {
      line +=
          " serving :" + port + " to " + Where(u.peer->component, u.peer_hosts);
    } else {
      std::string target = Where(u.peer->component, u.peer_hosts);
      if (u.dials.size() == 1)
        target = std::string(ComponentName(u.peer->component)) + " at " +
                 *u.dials.begin() + ":" + port;
      else
        target += " :" + port;
      line += " dialing " + target;
    }
    line += " — " + u.link->purpose + "; " +
            std::string(ComponentName(u.peer->component)) + " verifies it " +
            HowVerified(*u.peer) + "\n";
    out += line;
  }
  return out;
}

std::string Explainer::PlacementBlock(
    const std::vector<std::string>& files, const std::vector<std::string>& refs,
    const std::vector<const Phase*>& phases, NoFiles no_files,
    const std::vector<std::string>& gates) const {
  std::string out;
  if (!files.empty() || no_files != NoFiles::kOmitHeading)
    out += "  on the hosts:\n";
  if (files.empty() && no_files == NoFiles::kStaysInStateDir)
    out += "    - none: it stays in the state dir\n";
  for (const std::string& f : files) out += "    - " + f + "\n";
  if (!refs.empty()) {
    out += "  referenced by:\n";
    for (const std::string& r : refs) out += "    - " + r + "\n";
  }
  for (const Phase* p : phases)
    out += "  installed in: " + InstallLine(*p) + "\n";
  if (!gates.empty()) {
    out += "  checked by:\n";
    for (const std::string& g : gates) out += "    - " + g + "\n";
  }
  return out;
}

std::vector<std::string> Explainer::PkiGate() const {
  if (const Phase* p = PhaseWithGate(GateKind::kPkiValid))
    return {GateLine(*p)};
  return {};
}

std::vector<std::string> Explainer::Checks(const CertSpec& spec) const {
  std::vector<std::string> gates = PkiGate();
  for (const Link& l : links_) {
    for (bool as_server : {false, true}) {
      const Endpoint& self = as_server ? l.server : l.client;
      if (self.credential.cert != spec.name) continue;
      // In use: the gate of the phase that starts the presenting component;
      // hardway's own certificates are used by the gate of the server's phase.
      const Component c = self.component == Component::kHardway
                              ? l.server.component
                              : self.component;
      if (const Phase* p = StartingPhase(c)) AddUnique(gates, GateLine(*p));
    }
  }
  return gates;
}

std::string Explainer::Certificate(const CertSpec& spec) const {
  std::ostringstream o;
  o << "certificate " << spec.name << ": " << spec.purpose << "\n";
  o << "  subject:      CN=" << spec.cn;
  for (const std::string& org : spec.orgs) o << ", O=" << org;
  o << "; "
    << (spec.client_auth && spec.server_auth ? "client and server"
        : spec.server_auth                   ? "server"
                                             : "client")
    << " authentication\n";
  std::vector<std::string> sans = spec.dns_sans;
  sans.insert(sans.end(), spec.ip_sans.begin(), spec.ip_sans.end());
  if (!sans.empty()) {
    std::string all;
    for (const std::string& s : sans) all += (all.empty() ? "" : ", ") + s;
    o << "  SANs:         " << all << "\n";
  }
  o << "  signed by:    " << CaDisplayName(spec.ca) << " (pki/" << spec.ca
    << ".crt)\n";
  o << "  state dir:    pki/" << spec.name << ".crt and pki/" << spec.name
    << ".key; goes to " << spec.goes_to << "\n";
  o << Presenters(spec);

  std::vector<std::string> files, refs;
  std::vector<const Phase*> phases;
  Placements(
      {"state pki/" + spec.name + ".crt", "state pki/" + spec.name + ".key"},
      "", files, refs, phases);
  for (const KubeconfigSpec& k : kubeconfigs_) {
    if (k.cert != spec.name) continue;
    const std::string prefix = "inside kubeconfig " + k.name + " (user " +
                               k.user + ", server " + k.server + "): ";
    const size_t before = files.size();
    Placements({"state kubeconfigs/" + k.name + ".kubeconfig"}, prefix, files,
               refs, phases);
    if (files.size() == before)
      files.push_back(prefix + "stays in the state dir as kubeconfigs/" +
                      k.name + ".kubeconfig");
  }
  o << PlacementBlock(files, refs, phases, NoFiles::kStaysInStateDir,
                      Checks(spec));
  return o.str();
}

std::string Explainer::Authority(const CertSpec& spec) const {
  std::ostringstream o;
  o << "certificate authority " << spec.name;
  if (CaDisplayName(spec.name) != spec.name)
    o << " (" << CaDisplayName(spec.name) << ")";
  o << ": " << spec.purpose << "\n";
  o << "  subject:      CN=" << spec.cn << "\n";
  o << "  key:          pki/" << spec.name
    << ".key never leaves the state dir; pki/" << spec.name << ".crt goes to "
    << spec.goes_to << "\n";
  std::vector<std::pair<std::string, std::vector<std::string>>> signs;
  for (const CertSpec& s : table_) {
    if (s.ca != spec.name) continue;
    const std::string group = CertGroupName(s.name, s.host);
    auto it = std::find_if(signs.begin(), signs.end(),
                           [&](const auto& g) { return g.first == group; });
    if (it == signs.end()) {
      signs.push_back({group, {}});
      it = signs.end() - 1;
    }
    if (!s.host.empty()) it->second.push_back(s.host);
  }
  std::string signed_list;
  for (const auto& [group, hosts] : signs) {
    signed_list += (signed_list.empty() ? "" : ", ") + group;
    if (!hosts.empty()) signed_list += " (" + Names(hosts) + ")";
  }
  o << "  signs:        " << signed_list << "\n";

  // Who verifies whom with it: each side of each link that trusts it.
  struct Use {
    const Endpoint* verifier = nullptr;
    char direction = '<';  // '<' checks clients, '>' the server, '=' peers
    int port = 0;
    std::set<std::string> hosts;
    std::vector<std::string> peers;
  };
  std::vector<std::pair<std::string, Use>> uses;
  for (const Link& l : links_) {
    for (bool server_side : {true, false}) {
      const Endpoint& v = server_side ? l.server : l.client;
      const Endpoint& peer = server_side ? l.client : l.server;
      if (v.credential.trusts != spec.name) continue;
      const char direction = v.component == peer.component ? '='
                             : server_side                 ? '<'
                                                           : '>';
      const std::string key = std::string(ComponentName(v.component)) +
                              direction + std::to_string(l.port);
      auto it = std::find_if(uses.begin(), uses.end(),
                             [&](const auto& u) { return u.first == key; });
      if (it == uses.end()) {
        uses.push_back({key, Use{.verifier = &v,
                                 .direction = direction,
                                 .port = l.port,
                                 .hosts = {},
                                 .peers = {}}});
        it = uses.end() - 1;
      }
      if (!v.host.empty()) it->second.hosts.insert(v.host);
      AddUnique(it->second.peers, std::string(ComponentName(peer.component)));
    }
  }
  if (!uses.empty()) o << "  trusted by:\n";
  for (const auto& [key, u] : uses) {
    std::string peers;
    for (const std::string& p : u.peers)
      peers += (peers.empty() ? "" : ", ") + p;
    o << "    - " << Where(u.verifier->component, u.hosts) << " checks "
      << (u.direction == '='   ? "its peers "
          : u.direction == '<' ? "its clients "
                               : "the server ")
      << peers << " on :" << u.port << " " << HowVerified(*u.verifier) << "\n";
  }
  std::vector<std::string> files, refs;
  std::vector<const Phase*> phases;
  Placements({"state pki/" + spec.name + ".crt"}, "", files, refs, phases);
  o << PlacementBlock(files, refs, phases, NoFiles::kOmitHeading, PkiGate());
  return o.str();
}

std::string Explainer::KeyPair(const CertSpec& spec) const {
  std::ostringstream o;
  o << "key pair " << spec.name << ": " << spec.purpose
    << " (no certificate, no CA)\n";
  o << "  state dir:    pki/" << spec.name << ".key and pki/" << spec.name
    << ".pub; goes to " << spec.goes_to << "\n";
  std::vector<std::string> files, refs;
  std::vector<const Phase*> phases;
  Placements(
      {"state pki/" + spec.name + ".pub", "state pki/" + spec.name + ".key"},
      "", files, refs, phases);
  o << PlacementBlock(files, refs, phases, NoFiles::kHeadingOnly, PkiGate());
  return o.str();
}

std::string Explainer::ComponentText(Component c) const {
  std::ostringstream o;
  const std::string name(ComponentName(c));
  const Phase* start = StartingPhase(c);
  std::set<std::string> hosts;
  for (const Link& l : links_) {
    for (const Endpoint* e : {&l.client, &l.server})
      if (e->component == c && !e->host.empty()) hosts.insert(e->host);
  }
  if (c == Component::kHardway) {
    o << "component hardway: this machine; it checks the cluster through its "
         "gates with credentials that stay in the state dir\n";
  } else {
    o << "component " << name << ": systemd unit " << ComponentUnit(c)
      << ".service on " << Names(Ordered(hosts)) << "\n";
  }
  // Serves and dials, one line per kind of link.
  struct Side {
    std::string text;
    std::vector<std::string> peers;
    std::set<std::string> peer_hosts;
  };
  for (bool serving : {true, false}) {
    std::vector<std::pair<std::string, Side>> sides;
    for (const Link& l : links_) {
      const Endpoint& self = serving ? l.server : l.client;
      const Endpoint& peer = serving ? l.client : l.server;
      if (self.component != c) continue;
      const CertSpec* cert = FindSpec(table_, self.credential.cert);
      const std::string cert_name =
          cert ? CertGroupName(cert->name, cert->host) : self.credential.cert;
      const std::string key =
          std::to_string(l.port) + "|" + cert_name +
          (serving ? "" : "|" + std::string(ComponentName(peer.component)));
      auto it = std::find_if(sides.begin(), sides.end(),
                             [&](const auto& s) { return s.first == key; });
      if (it == sides.end()) {
        std::string text;
        if (serving) {
          text = ":" + std::to_string(l.port) + " with " + cert_name +
                 "; checks clients " + HowVerified(self);
        } else {
          text = ":" + std::to_string(l.port) + " with " + cert_name +
                 "; checks the server " + HowVerified(self) + " — " + l.purpose;
        }
        sides.push_back(
            {key, Side{.text = text, .peers = {}, .peer_hosts = {}}});
        it = sides.end() - 1;
      }
      AddUnique(it->second.peers, std::string(ComponentName(peer.component)));
      if (!peer.host.empty()) it->second.peer_hosts.insert(peer.host);
    }
    if (sides.empty()) continue;
    o << (serving ? "  serves:\n" : "  dials:\n");
    for (const auto& [key, s] : sides) {
      std::string peers;
      for (const std::string& p : s.peers)
        peers += (peers.empty() ? "" : ", ") + p;
      if (!serving && !s.peer_hosts.empty())
        peers += " on " + Names(Ordered(s.peer_hosts));
      o << "    - " << (serving ? "to " + peers + " on " : peers + " ")
        << s.text << "\n";
    }
  }
  if (c != Component::kHardway) {
    const std::string unit_file =
        "/etc/systemd/system/" + std::string(ComponentUnit(c)) + ".service";
    for (const Phase& p : plan_.phases) {
      const Step* render = nullptr;
      for (const Step& s : p.steps)
        if (s.kind == StepKind::kRender && s.dest == unit_file) render = &s;
      if (render) {
        o << "  unit file:    " << unit_file << ", rendered from "
          << render->source_label.substr(render->source_label.find(' ') + 1)
          << " in phase " << p.name << "\n";
        break;
      }
    }
  }
  if (start) {
    size_t watched = 0;
    for (const Step& s : start->steps)
      if (s.kind == StepKind::kSystemd && s.unit == ComponentUnit(c))
        watched = s.watch.size();
    o << "  started by:   phase " << start->name
      << " (systemd: enable and start; restart when one of its " << watched
      << " watched files changed)\n";
    o << "  checked by:   " << GateLine(*start) << "\n";
  }
  return o.str();
}

std::string Explainer::PhaseText(const Phase& phase) const {
  std::ostringstream o;
  o << "phase " << phase.name << ": " << phase.description << "\n";
  if (phase.local) {
    o << "  runs on:      this machine\n";
  } else {
    std::string roles;
    for (const std::string& r : phase.roles)
      roles += (roles.empty() ? "" : ", ") + r;
    o << "  runs on:      " << Names(phase.hosts) << " ("
      << (roles.empty() ? "every host" : "roles " + roles) << ")\n";
  }
  std::vector<std::string> before;
  for (const Phase& p : plan_.phases)
    if (std::find(p.needs.begin(), p.needs.end(), phase.name) != p.needs.end())
      before.push_back(p.name);
  o << "  after:        "
    << (phase.needs.empty() ? "nothing (starts at once)" : Names(phase.needs))
    << "\n";
  o << "  before:       " << (before.empty() ? "nothing" : Names(before))
    << "\n";
  if (phase.steps.empty()) {
    o << "  steps:        none on the hosts (the gate is the work)\n";
  } else {
    std::map<StepKind, size_t> counts;
    std::vector<std::string> descriptions;
    for (const Step& s : phase.steps) {
      ++counts[s.kind];
      std::string d = s.description;
      if (s.kind == StepKind::kRun && (d.empty() || d == "run")) {
        d = s.command.size() <= 60 ? s.command
                                   : s.command.substr(0, 57) + "...";
        d = "run `" + d + "`";
      }
      AddUnique(descriptions, d);
    }
    std::string kinds;
    for (const auto& [kind, n] : counts)
      kinds += (kinds.empty() ? "" : ", ") + std::to_string(n) + " " +
               std::string(StepKindName(kind));
    o << "  steps:        " << phase.steps.size() << " (" << kinds << ")";
    if (descriptions.size() <= 4) {
      std::string all;
      for (const std::string& d : descriptions)
        all += (all.empty() ? "" : "; ") + d;
      o << ": " << all;
    }
    o << "\n";
    std::vector<std::string> certs, configs;
    for (const Step& s : phase.steps) {
      if (s.kind != StepKind::kUpload) continue;
      if (s.source_label.starts_with("state pki/") &&
          s.source_label.ends_with(".crt")) {
        const std::string stem =
            s.source_label.substr(10, s.source_label.size() - 10 - 4);
        const CertSpec* spec = FindSpec(table_, stem);
        AddUnique(certs, spec ? CertGroupName(spec->name, spec->host) : stem);
      } else if (s.source_label.starts_with("state kubeconfigs/")) {
        std::string stem = s.source_label.substr(18);
        stem = stem.substr(0, stem.rfind(".kubeconfig"));
        std::string generic = stem;
        for (const KubeconfigSpec& k : kubeconfigs_)
          if (k.name == stem) generic = CertGroupName(k.name, k.host);
        AddUnique(configs, generic);
      }
    }
    if (!certs.empty()) {
      std::string all;
      for (const std::string& c : certs) all += (all.empty() ? "" : ", ") + c;
      o << "  certificates: " << all << "\n";
    }
    if (!configs.empty()) {
      std::string all;
      for (const std::string& c : configs) all += (all.empty() ? "" : ", ") + c;
      o << "  kubeconfigs:  " << all << "\n";
    }
    std::vector<std::string> starts;
    for (const Step& s : phase.steps)
      if (s.kind == StepKind::kSystemd) AddUnique(starts, s.unit);
    if (!starts.empty()) o << "  starts:       " << Names(starts) << "\n";
  }
  o << "  gate:         ";
  if (phase.gate.kind == GateKind::kNone) {
    o << "none\n";
  } else {
    o << GateKindName(phase.gate.kind) << " within "
      << FormatDuration(phase.gate.timeout) << ": " << phase.gate.description
      << "\n";
  }
  return o.str();
}

enum class What { kComponent, kPhase, kCert };

struct Named {
  std::string name;  // what people type
  What what;
  std::string target;  // component, phase or certificate name
};

std::vector<Named> AllNames(const Explainer& x, const Cluster& cluster,
                            const Plan& plan) {
  std::vector<Named> out;
  for (Component c : kComponents) {
    const std::string n(ComponentName(c));
    out.push_back({n, What::kComponent, n});
  }
  for (const Phase& p : plan.phases)
    out.push_back({p.name, What::kPhase, p.name});
  for (const CertSpec& s : x.table()) {
    out.push_back({s.name, What::kCert, s.name});
    if (CaDisplayName(s.name) != s.name)
      out.push_back({CaDisplayName(s.name), What::kCert, s.name});
    // By CN too ("system:node:node-0", "kube-apiserver" as pki.md names the
    // serving certificate), unless the CN is a host's name (etcd's).
    if (!s.cn.empty() && cluster.host(s.cn) == nullptr)
      out.push_back({s.cn, What::kCert, s.name});
  }
  for (const KubeconfigSpec& k : x.kubeconfigs()) {
    out.push_back({k.name, What::kCert, k.cert});
    out.push_back({k.name + ".kubeconfig", What::kCert, k.cert});
  }
  return out;
}

std::string_view WhatName(What what) {
  switch (what) {
    case What::kComponent:
      return "a component";
    case What::kPhase:
      return "a phase";
    case What::kCert:
      return "a certificate";
  }
  return "?";
}

}  // namespace

std::vector<std::string> ExplainableNames(const Cluster& cluster,
                                          const Plan& plan) {
  Explainer x(cluster, plan);
  std::vector<std::string> out;
  for (const Named& n : AllNames(x, cluster, plan)) AddUnique(out, n.name);
  return out;
}

Result<std::string> Explain(const Cluster& cluster, const Plan& plan,
                            std::string_view name) {
  Explainer x(cluster, plan);
  const std::vector<Named> names = AllNames(x, cluster, plan);
  std::vector<const Named*> found;
  for (const Named& n : names) {
    if (n.name != name) continue;
    const bool seen = std::any_of(found.begin(), found.end(), [&](auto* f) {
      return f->what == n.what && f->target == n.target;
    });
    if (!seen) found.push_back(&n);
  }
  if (found.empty()) {
    std::vector<std::string> all;
    for (const Named& n : names) AddUnique(all, n.name);
    const std::vector<std::string> close = ClosestMatches(name, all, 4);
    std::string hint;
    if (!close.empty()) {
      hint = "did you mean ";
      for (size_t i = 0; i < close.size(); ++i)
        hint += (i ? ", " : "") + ("'" + close[i] + "'");
      hint += "? ";
    }
    std::string components, phases;
    for (Component c : kComponents)
      components +=
          (components.empty() ? "" : ", ") + std::string(ComponentName(c));
    for (const Phase& p : plan.phases)
      phases += (phases.empty() ? "" : ", ") + p.name;
    hint +=
        "explain takes a certificate or kubeconfig (`hardway certs` lists "
        "them), a component (" +
        components + ") or a phase (" + phases + ")";
    return Fail(ErrorKind::kUsage,
                "nothing named '" + std::string(name) + "' in cluster " +
                    cluster.name(),
                std::string(name), hint);
  }
  std::string out;
  if (found.size() > 1) {
    out += std::string(name) + " names ";
    for (size_t i = 0; i < found.size(); ++i) {
      out += i == 0 ? "" : i + 1 == found.size() ? " and " : ", ";
      out += WhatName(found[i]->what);
      if (found[i]->what == What::kCert && found[i]->target != name)
        out += " (" + found[i]->target + ")";
    }
    out += ".\n\n";
  }
  for (size_t i = 0; i < found.size(); ++i) {
    if (i > 0) out += "\n";
    const Named& n = *found[i];
    switch (n.what) {
      case What::kComponent:
        for (Component c : kComponents)
          if (ComponentName(c) == n.target) out += x.ComponentText(c);
        break;
      case What::kPhase:
        out += x.PhaseText(*plan.phase(n.target));
        break;
      case What::kCert: {
        const CertSpec& spec = *FindSpec(x.table(), n.target);
        out += spec.kind == CertKind::kCa        ? x.Authority(spec)
               : spec.kind == CertKind::kKeyPair ? x.KeyPair(spec)
                                                 : x.Certificate(spec);
        break;
      }
    }
  }
  return out;
}

}  // namespace hardway
