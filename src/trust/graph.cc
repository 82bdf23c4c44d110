#include "trust/graph.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "pki/cert_table.h"
#include "trust/links.h"
#include "util/duration.h"

extern char** environ;

namespace hardway {

namespace {

// Hosts in a label: all of them when few, else the first three and a count.
std::string HostList(const std::vector<std::string>& hosts) {
  std::string out;
  const size_t shown = hosts.size() <= 4 ? hosts.size() : 3;
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + hosts[i];
  if (shown < hosts.size())
    out += ", … (" + std::to_string(hosts.size()) + " hosts)";
  return out;
}

std::string Generic(const std::string& text, const std::string& host) {
  return CertGroupName(text, host);
}

// Greedy word wrap into lines of at most `width` characters (longer words stay
// whole).
std::string Wrap(const std::string& text, size_t width) {
  std::string out;
  size_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(pos, end - pos);
    if (line > 0 && line + 1 + word.size() > width) {
      out += '\n';
      line = 0;
    } else if (line > 0) {
      out += ' ';
      ++line;
    }
    out += word;
    line += word.size();
    pos = end + 1;
  }
  return out;
}

// Adds an edge unless one with the same ends and kind exists.
void AddEdge(std::vector<GraphEdge>& edges, GraphEdge edge) {
  for (const GraphEdge& e : edges) {
    if (e.from == edge.from && e.to == edge.to && e.kind == edge.kind) return;
  }
  edges.push_back(std::move(edge));
}

constexpr Component kComponentOrder[] = {Component::kEtcd,
                                         Component::kApiserver,
                                         Component::kControllerManager,
                                         Component::kScheduler,
                                         Component::kKubelet,
                                         Component::kKubeProxy,
                                         Component::kHardway,
                                         Component::kAggregatedApiserver};

std::string ComponentId(Component c) {
  return "component:" + std::string(ComponentName(c));
}

}  // namespace

std::string_view NodeKindName(NodeKind kind) {
  switch (kind) {
    case NodeKind::kCa:
      return "ca";
    case NodeKind::kCert:
      return "cert";
    case NodeKind::kComponent:
      return "component";
    case NodeKind::kPhase:
      return "phase";
  }
  return "?";
}

std::string_view EdgeKindName(EdgeKind kind) {
  switch (kind) {
    case EdgeKind::kSigns:
      return "signs";
    case EdgeKind::kPresents:
      return "presents";
    case EdgeKind::kTrusts:
      return "trusts";
    case EdgeKind::kDials:
      return "dials";
    case EdgeKind::kNeeds:
      return "needs";
  }
  return "?";
}

const GraphNode* Graph::node(std::string_view id) const {
  for (const GraphNode& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::string CaDisplayName(std::string_view stem) {
  std::string out(stem);
  std::replace(out.begin(), out.end(), '/', '-');
  return out;
}

std::string CertGroupName(std::string_view name, std::string_view host) {
  std::string text(name);
  if (host.empty()) return text;
  const size_t at = text.rfind(host);
  if (at == std::string::npos) return text;
  return text.substr(0, at) + "<host>" + text.substr(at + host.size());
}

Graph TrustGraph(const Cluster& cluster) {
  Graph g;
  g.name = "trust";
  g.caption =
      "solid: a CA signs a certificate · dotted: a component presents its "
      "certificate · dashed: a component verifies the other side against "
      "that CA · bold: a mutual-TLS connection, client → server";
  const std::vector<CertSpec> table = CertificateTable(cluster);
  // The cluster's own links, then the aggregation layer's (front-proxy-client
  // to servers hardway does not deploy).
  std::vector<Link> links = TrustLinks(cluster);
  for (Link& l : AggregationLinks(cluster)) links.push_back(std::move(l));

  // Certificates: per-host ones grouped under their generic name.
  std::map<std::string, std::string> generic;   // cert name -> group name
  std::map<std::string, std::string> group_of;  // cert name -> node id
  std::map<std::string, std::vector<std::string>> hosts_of;  // node id -> hosts
  std::vector<GraphEdge> signs;
  for (const CertSpec& s : table) {
    if (s.kind == CertKind::kCa) {
      g.nodes.push_back(
          GraphNode{.id = "ca:" + s.name,
                    .label = CaDisplayName(s.name) + "\nCN=" + s.cn,
                    .kind = NodeKind::kCa,
                    .ca = s.name});
      continue;
    }
    if (s.kind != CertKind::kLeaf) continue;  // the SA key pair is no cert
    const std::string id = "cert:" + Generic(s.name, s.host);
    generic[s.name] = Generic(s.name, s.host);
    group_of[s.name] = id;
    if (!s.host.empty()) hosts_of[id].push_back(s.host);
    if (g.node(id) == nullptr) {
      std::string subject = "CN=" + Generic(s.cn, s.host);
      for (const std::string& o : s.orgs) subject += ", O=" + o;
      g.nodes.push_back(
          GraphNode{.id = id,
                    .label = Generic(s.name, s.host) + "\n" + subject,
                    .kind = NodeKind::kCert,
                    .ca = s.ca});
    }
    AddEdge(signs, GraphEdge{.from = "ca:" + s.ca,
                             .to = id,
                             .kind = EdgeKind::kSigns,
                             .label = "",
                             .ca = s.ca});
  }
  for (GraphNode& n : g.nodes) {
    auto it = hosts_of.find(n.id);
    if (it == hosts_of.end()) continue;
    const size_t nl = n.label.find('\n');
    const std::string count =
        it->second.size() > 1 ? " ×" + std::to_string(it->second.size()) : "";
    n.label = n.label.substr(0, nl) + count + "\n" + HostList(it->second) +
              n.label.substr(nl);
  }

  // Components: the hosts each kind runs on, in inventory order.
  std::map<Component, std::set<std::string>> runs_on;
  for (const Link& l : links) {
    for (const Endpoint* e : {&l.client, &l.server}) {
      auto& hosts = runs_on[e->component];
      if (!e->host.empty()) hosts.insert(e->host);
    }
  }
  for (Component c : kComponentOrder) {
    auto it = runs_on.find(c);
    if (it == runs_on.end()) continue;
    std::string label(ComponentName(c));
    if (c == Component::kHardway) {
      label += "\n(this machine)";
    } else if (c == Component::kAggregatedApiserver) {
      label += "\n(behind an APIService;\nnot deployed by hardway)";
    } else {
      std::vector<std::string> hosts;
      for (const Host& h : cluster.hosts()) {
        if (it->second.contains(h.name)) hosts.push_back(h.name);
      }
      if (hosts.size() > 1) label += " ×" + std::to_string(hosts.size());
      label += "\n" + HostList(hosts);
    }
    g.nodes.push_back(GraphNode{.id = ComponentId(c),
                                .label = label,
                                .kind = NodeKind::kComponent,
                                .ca = ""});
  }

  // Presents and trusts per side, one dials edge per kind of link.
  std::vector<GraphEdge> presents, trusts, dials;
  struct DialGroup {
    std::set<std::string> dial_hosts;
    const Link* first = nullptr;
  };
  std::vector<std::pair<std::string, DialGroup>> groups;  // in link order
  for (const Link& l : links) {
    for (const Endpoint* e : {&l.client, &l.server}) {
      // An aggregated API server's certificate is not ours, and
      // kube-apiserver checks it against no CA of ours.
      if (!e->credential.cert.empty()) {
        const std::string& cert_id = group_of.at(e->credential.cert);
        AddEdge(presents, GraphEdge{.from = ComponentId(e->component),
                                    .to = cert_id,
                                    .kind = EdgeKind::kPresents,
                                    .label = "",
                                    .ca = g.node(cert_id)->ca});
      }
      if (!e->credential.trusts.empty()) {
        AddEdge(trusts, GraphEdge{.from = ComponentId(e->component),
                                  .to = "ca:" + e->credential.trusts,
                                  .kind = EdgeKind::kTrusts,
                                  .label = "",
                                  .ca = e->credential.trusts});
      }
    }
    const std::string key = ComponentId(l.client.component) + "|" +
                            ComponentId(l.server.component) + "|" +
                            std::to_string(l.port) + "|" +
                            group_of.at(l.client.credential.cert) + "|" +
                            l.server.credential.trusts;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) {
      groups.push_back({key, DialGroup{.dial_hosts = {}, .first = &l}});
      it = groups.end() - 1;
    }
    it->second.dial_hosts.insert(l.dial_host);
  }
  for (const ClientCaTrust& t : RequestHeaderTrusts(cluster)) {
    AddEdge(trusts, GraphEdge{.from = ComponentId(t.component),
                              .to = "ca:" + t.trusts,
                              .kind = EdgeKind::kTrusts,
                              .label = "",
                              .ca = t.trusts});
  }
  for (const auto& [key, group] : groups) {
    const Link& l = *group.first;
    const std::string where =
        group.dial_hosts.size() == 1 ? *group.dial_hosts.begin() : "";
    dials.push_back(GraphEdge{
        .from = ComponentId(l.client.component),
        .to = ComponentId(l.server.component),
        .kind = EdgeKind::kDials,
        .label = "mTLS " + where + ":" + std::to_string(l.port) +
                 " · client cert " + generic.at(l.client.credential.cert) +
                 " · " + std::string(ComponentName(l.server.component)) +
                 " verifies with " + CaDisplayName(l.server.credential.trusts),
        .ca = l.server.credential.trusts});
  }
  for (auto* list : {&signs, &presents, &trusts, &dials})
    g.edges.insert(g.edges.end(), list->begin(), list->end());
  return g;
}

Graph StartupGraph(const Plan& plan) {
  Graph g;
  g.name = "startup";
  g.caption =
      "a phase starts when every phase it needs has passed its gate; hosts of "
      "a phase run in parallel";
  for (const Phase& p : plan.phases) {
    std::string label = p.name + "\n";
    label += p.local ? "on this machine" : "on " + HostList(p.hosts);
    if (p.gate.kind != GateKind::kNone) {
      label += "\ngate " + std::string(GateKindName(p.gate.kind)) + ", " +
               FormatDuration(p.gate.timeout);
      if (!p.gate.description.empty())
        label += "\n" + Wrap(p.gate.description, 40);
    }
    g.nodes.push_back(GraphNode{.id = "phase:" + p.name,
                                .label = label,
                                .kind = NodeKind::kPhase,
                                .ca = ""});
    for (const std::string& need : p.needs) {
      g.edges.push_back(GraphEdge{.from = "phase:" + need,
                                  .to = "phase:" + p.name,
                                  .kind = EdgeKind::kNeeds,
                                  .label = "",
                                  .ca = ""});
    }
  }
  return g;
}

namespace {

struct Colour {
  const char* line;
  const char* fill;
};
constexpr Colour kPalette[] = {{"#1f6fb4", "#dceaf7"},
                               {"#b03a2e", "#f6dedb"},
                               {"#2e8540", "#dcf0e0"},
                               {"#7d3c98", "#ecdff2"},
                               {"#b9770e", "#f8ecd6"}};
constexpr Colour kNeutral = {"#555555", "#f2f2f2"};

// CA stem -> colour, in the order the CAs appear.
std::map<std::string, Colour> CaColours(const Graph& graph) {
  std::map<std::string, Colour> colours;
  size_t next = 0;
  for (const GraphNode& n : graph.nodes) {
    if (n.kind != NodeKind::kCa || colours.contains(n.ca)) continue;
    colours[n.ca] = kPalette[next++ % std::size(kPalette)];
  }
  return colours;
}

Colour ColourOf(const std::map<std::string, Colour>& colours,
                const std::string& ca) {
  auto it = colours.find(ca);
  return it == colours.end() ? kNeutral : it->second;
}

std::string DotQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ReplaceAll(std::string text, std::string_view from,
                       std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

std::string ToDot(const Graph& graph) {
  const auto colours = CaColours(graph);
  const bool trust = graph.name == "trust";
  std::string out;
  out += "// hardway graph --view " + graph.name +
         " (generated; regenerate, do not edit)\n";
  out += "digraph " + DotQuote(graph.name) + " {\n";
  out += std::string("  graph [rankdir=") + (trust ? "LR" : "TB") +
         ", fontname=\"Helvetica\", fontsize=11, labelloc=b, nodesep=0.25, "
         "ranksep=" +
         (trust ? "1.1" : "0.45") + ", label=" + DotQuote(graph.caption) +
         "];\n";
  out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  for (NodeKind kind : {NodeKind::kCa, NodeKind::kCert, NodeKind::kComponent,
                        NodeKind::kPhase}) {
    std::vector<const GraphNode*> of_kind;
    for (const GraphNode& n : graph.nodes) {
      if (n.kind == kind) of_kind.push_back(&n);
    }
    if (of_kind.empty()) continue;
    out += "\n  // " + std::string(NodeKindName(kind)) + "\n";
    for (const GraphNode* n : of_kind) {
      const Colour c = ColourOf(colours, n->ca);
      std::string attrs;
      switch (kind) {
        case NodeKind::kCa:
          attrs = std::string(
                      "shape=box, style=\"filled,bold\", penwidth=2, "
                      "color=\"") +
                  c.line + "\", fillcolor=\"" + c.fill + "\"";
          break;
        case NodeKind::kCert:
          attrs = std::string("shape=note, style=filled, color=\"") + c.line +
                  "\", fillcolor=\"white\"";
          break;
        case NodeKind::kComponent:
          attrs = std::string("shape=box, style=\"rounded,filled\", color=\"") +
                  kNeutral.line + "\", fillcolor=\"" + kNeutral.fill + "\"";
          break;
        case NodeKind::kPhase:
          attrs = std::string("shape=box, style=\"rounded,filled\", color=\"") +
                  kNeutral.line + "\", fillcolor=\"" + kNeutral.fill + "\"";
          break;
      }
      out += "  " + DotQuote(n->id) + " [label=" + DotQuote(n->label) + ", " +
             attrs + "];\n";
    }
    // The trust view in columns: CAs, then their certificates; the components
    // right of those, placed by who dials whom.
    if (trust && (kind == NodeKind::kCa || kind == NodeKind::kCert)) {
      out += "  {rank=same;";
      for (const GraphNode* n : of_kind) out += " " + DotQuote(n->id) + ";";
      out += "}\n";
    }
  }
  out += "\n";
  for (const GraphEdge& e : graph.edges) {
    const Colour c = ColourOf(colours, e.ca);
    std::string attrs = std::string("color=\"") + c.line + "\"";
    std::string from = e.from, to = e.to;
    switch (e.kind) {
      case EdgeKind::kSigns:
      case EdgeKind::kNeeds:
        break;
      case EdgeKind::kPresents:
        // Drawn from the certificate's column back to the component's.
        std::swap(from, to);
        attrs += ", style=dotted, dir=back, arrowtail=odot";
        break;
      case EdgeKind::kTrusts:
        // Light: the dials labels say the same for each connection.
        std::swap(from, to);
        attrs = std::string("color=\"") + c.line +
                "80\", style=dashed, dir=back, arrowtail=empty, "
                "constraint=false";
        break;
      case EdgeKind::kDials:
        attrs += ", style=bold, penwidth=1.6, fontcolor=\"" +
                 std::string(c.line) + "\"";
        break;
    }
    if (!e.label.empty())
      attrs += ", label=" + DotQuote(ReplaceAll(e.label, " · ", "\n"));
    out +=
        "  " + DotQuote(from) + " -> " + DotQuote(to) + " [" + attrs + "];\n";
  }
  out += "}\n";
  return out;
}

namespace {

// Mermaid node ids: letters, digits and '_' only.
std::string MermaidId(std::string_view id) {
  std::string out;
  for (char c : id)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

// Label text in a quoted Mermaid label: entity codes for the characters that
// end or confuse it, <br/> between lines.
std::string MermaidText(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '<':
        out += "#60;";
        break;
      case '>':
        out += "#62;";
        break;
      case '\n':
        out += "<br/>";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string ToMermaid(const Graph& graph) {
  const auto colours = CaColours(graph);
  std::map<std::string, std::string> ids;  // node id -> Mermaid id
  std::set<std::string> used;
  for (const GraphNode& n : graph.nodes) {
    std::string id = MermaidId(n.id);
    while (used.contains(id)) id += "_";
    used.insert(id);
    ids[n.id] = id;
  }
  std::string out;
  out += "%% hardway graph --view " + graph.name +
         " (generated; regenerate, do not edit)\n";
  out +=
      std::string("flowchart ") + (graph.name == "trust" ? "LR" : "TB") + "\n";
  std::map<std::string, std::vector<std::string>> classes;  // class -> ids
  std::map<std::string, std::string> class_style;
  for (const GraphNode& n : graph.nodes) {
    const std::string id = ids.at(n.id);
    const std::string text = "\"" + MermaidText(n.label) + "\"";
    const Colour c = ColourOf(colours, n.ca);
    std::string cls;
    switch (n.kind) {
      case NodeKind::kCa:
        out += "  " + id + "[[" + text + "]]\n";
        cls = "ca_" + MermaidId(n.ca);
        class_style[cls] = std::string("fill:") + c.fill + ",stroke:" + c.line +
                           ",stroke-width:2px";
        break;
      case NodeKind::kCert:
        out += "  " + id + "[" + text + "]\n";
        cls = "cert_" + MermaidId(n.ca);
        class_style[cls] = std::string("fill:#ffffff,stroke:") + c.line;
        break;
      case NodeKind::kComponent:
      case NodeKind::kPhase:
        out += "  " + id + "(" + text + ")\n";
        cls = std::string(NodeKindName(n.kind));
        class_style[cls] =
            std::string("fill:") + kNeutral.fill + ",stroke:" + kNeutral.line;
        break;
    }
    classes[cls].push_back(id);
  }
  std::map<std::string, std::vector<size_t>> link_colours;  // colour -> index
  for (size_t i = 0; i < graph.edges.size(); ++i) {
    const GraphEdge& e = graph.edges[i];
    const char* arrow = "-->";
    switch (e.kind) {
      case EdgeKind::kSigns:
      case EdgeKind::kNeeds:
        break;
      case EdgeKind::kPresents:
        arrow = "-.->";
        break;
      case EdgeKind::kTrusts:
        arrow = "-.-o";
        break;
      case EdgeKind::kDials:
        arrow = "==>";
        break;
    }
    out += "  " + ids.at(e.from) + " " + arrow;
    if (!e.label.empty()) out += "|\"" + MermaidText(e.label) + "\"|";
    out += " " + ids.at(e.to) + "\n";
    link_colours[ColourOf(colours, e.ca).line].push_back(i);
  }
  for (const auto& [cls, style] : class_style)
    out += "  classDef " + cls + " " + style + "\n";
  for (const auto& [cls, members] : classes) {
    out += "  class ";
    for (size_t i = 0; i < members.size(); ++i)
      out += (i ? "," : "") + members[i];
    out += " " + cls + "\n";
  }
  for (const auto& [colour, indices] : link_colours) {
    out += "  linkStyle ";
    for (size_t i = 0; i < indices.size(); ++i)
      out += (i ? "," : "") + std::to_string(indices[i]);
    out += " stroke:" + colour + "\n";
  }
  return out;
}

std::string FindDot() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::string_view rest(path);
  while (true) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    if (!dir.empty()) {
      const std::string candidate = dir + "/dot";
      if (access(candidate.c_str(), X_OK) == 0 &&
          std::filesystem::is_regular_file(candidate))
        return candidate;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return "";
}

Result<std::string> DotToSvg(const std::string& dot_text,
                             const std::string& dot_program) {
  auto fail = [&](const std::string& what) {
    return Fail(ErrorKind::kInternal, what, dot_program,
                "try --format dot, or check the Graphviz installation "
                "(Debian: apt-get install graphviz)");
  };
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return fail(std::strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return fail(std::strerror(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return fail(std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::string arg0 = "dot", arg1 = "-Tsvg";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int spawned =
      posix_spawn(&pid, dot_program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  for (int fd : {in[0], out[1], err[1]}) close(fd);
  if (spawned != 0) {
    for (int fd : {in[1], out[0], err[0]}) close(fd);
    return fail(std::string("cannot run it: ") + std::strerror(spawned));
  }
  // Feed stdin from a thread so that a large output cannot deadlock us; a dot
  // that exits early makes the write fail with EPIPE, not kill hardway.
  std::thread writer([&dot_text, fd = in[1]] {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    size_t done = 0;
    while (done < dot_text.size()) {
      const ssize_t n =
          write(fd, dot_text.data() + done, dot_text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fd);
  });
  std::string svg, errors;
  pollfd fds[2] = {{.fd = out[0], .events = POLLIN, .revents = 0},
                   {.fd = err[0], .events = POLLIN, .revents = 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? svg : errors).append(buf, static_cast<size_t>(n));
    }
  }
  for (const pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  writer.join();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!errors.empty() && errors.back() == '\n') errors.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how =
        WIFEXITED(status)
            ? "exit " + std::to_string(WEXITSTATUS(status))
            : "killed by signal " + std::to_string(WTERMSIG(status));
    return fail("dot -Tsvg failed (" + how + ")" +
                (errors.empty() ? "" : ": " + errors));
  }
  return svg;
}

}  // namespace hardway
