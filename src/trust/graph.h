// Pictures of the cluster for people: `hardway graph`. A graph is built as a
// plain node/edge list first (what the tests pin), then written as Graphviz DOT
// or Mermaid text; `dot -Tsvg` turns DOT into SVG.
//
// The trust view is derived from TrustLinks and AggregationLinks (who dials
// whom with which credential), RequestHeaderTrusts and the certificate table
// (who signs what); the startup view from
// the plan's phases (needs and gates). Neither spells out a fact of its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inventory/cluster.h"
#include "plan/plan.h"
#include "util/error.h"

namespace hardway {

enum class NodeKind {
  kCa,         // a certificate authority of the table
  kCert,       // a leaf certificate; per-host ones grouped ("kubelet-<host>")
  kComponent,  // a component kind with the hosts it runs on ("etcd ×3")
  kPhase,      // a phase of the plan
};

enum class EdgeKind {
  kSigns,     // CA -> certificate
  kPresents,  // component -> certificate it shows the other side
  kTrusts,    // component -> CA it verifies the other side against
  kDials,     // client component -> server component: one mutual-TLS link
              // kind
  kNeeds,     // phase -> phase that needs it (startup order)
};

std::string_view NodeKindName(NodeKind kind);  // "ca", "cert", ...
std::string_view EdgeKindName(EdgeKind kind);  // "signs", "presents", ...

struct GraphNode {
  std::string id;     // unique: "ca:etcd/ca", "cert:kubelet-<host>",
                      // "component:etcd", "phase:etcd"
  std::string label;  // lines separated by '\n'
  NodeKind kind = NodeKind::kCert;
  std::string ca;  // the CA this node belongs to (stem), for its colour; ""
                   // for none
};

struct GraphEdge {
  std::string from;  // node ids
  std::string to;
  EdgeKind kind = EdgeKind::kSigns;
  std::string label;  // parts separated by " · "; may be empty
  std::string ca;     // colour: the CA this edge is about; "" for none
};

struct Graph {
  std::string name;     // "trust", "startup"
  std::string caption;  // one line under the picture (legend)
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;

  const GraphNode* node(std::string_view id) const;  // nullptr when unknown
};

// "etcd-ca" for "etcd/ca": the CA names of pki.md.
std::string CaDisplayName(std::string_view stem);

// A per-host certificate's name (or CN) with its host replaced:
// ("etcd/server-cp-0", "cp-0") -> "etcd/server-<host>"; unchanged when `host`
// is empty.
std::string CertGroupName(std::string_view name, std::string_view host);

// CAs, the leaf certificates they sign, the component kinds that present them
// and the CAs each component verifies its peers against, and one kDials edge
// per kind of link (client kind, server kind, port, client certificate),
// labelled "mTLS :2379 · client cert apiserver-etcd-client · etcd verifies with
// etcd-ca". Per-host certificates are one node ("etcd/server-<host>") listing
// the hosts. The aggregation layer is drawn too: kube-apiserver presents
// front-proxy-client to an "aggregated-apiserver" component (not deployed by
// hardway) that verifies it with front-proxy-ca, which kube-apiserver trusts
// for request headers.
Graph TrustGraph(const Cluster& cluster);

// The phases as a DAG: one node per phase with its hosts and gate, one kNeeds
// edge per entry of Phase::needs.
Graph StartupGraph(const Plan& plan);

// Graphviz DOT: one colour per CA; CAs, certificates and components in
// columns left to right (trust view), phases top to bottom (startup view).
std::string ToDot(const Graph& graph);
// Mermaid flowchart with the same nodes, edges and colours.
std::string ToMermaid(const Graph& graph);

// The `dot` program on $PATH; "" when Graphviz is not installed.
std::string FindDot();
// Pipes `dot_text` through `dot -Tsvg`. Errors carry dot's stderr.
Result<std::string> DotToSvg(const std::string& dot_text,
                             const std::string& dot_program);

}  // namespace hardway
