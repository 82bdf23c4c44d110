// The trust and startup graphs: every node and edge of a 3 + 2 cluster pinned,
// the DOT that Graphviz must accept, the Mermaid lines, and the pictures in
// docs/ that must be what this code draws for inventory/example.yaml.
#include "trust/graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include "../plan/plan_test_util.h"
#include "util/files.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using testing::MakeCluster;
namespace fs = std::filesystem;

[[maybe_unused]] auto* const kCleaner =
    ::testing::AddGlobalTestEnvironment(new testing::TempRootCleaner);

const Cluster& ThreePlusTwo() {
  static const Cluster c =
      MakeCluster(testing::ThreePlusTwoInventory("graph"), "graph");
  return c;
}

// A plan without any PKI: a state dir that does not exist.
Plan PlanWithoutPki(const Cluster& cluster) {
  PlanOptions options;
  options.state_dir = testing::TempRoot() / "no-such-state";
  auto plan = BuildPlan(cluster, options);
  EXPECT_TRUE(plan.has_value()) << plan.error().ToString();
  EXPECT_FALSE(fs::exists(options.state_dir));
  return plan.value_or(Plan{});
}

std::string EdgeText(const GraphEdge& e) {
  return std::string(EdgeKindName(e.kind)) + " " + e.from + " -> " + e.to +
         (e.label.empty() ? "" : " [" + e.label + "]");
}

TEST(TrustGraphTest, ThreeControllersTwoWorkersHaveExactlyTheseEdges) {
  const Graph g = TrustGraph(ThreePlusTwo());
  std::multiset<std::string> got;
  for (const GraphEdge& e : g.edges) got.insert(EdgeText(e));
  const std::multiset<std::string> want = {
      // signs
      "signs ca:ca -> cert:admin",
      "signs ca:ca -> cert:kubelet-<host>",
      "signs ca:ca -> cert:kube-proxy",
      "signs ca:ca -> cert:kube-controller-manager",
      "signs ca:ca -> cert:kube-scheduler",
      "signs ca:ca -> cert:apiserver",
      "signs ca:ca -> cert:apiserver-kubelet-client",
      "signs ca:front-proxy-ca -> cert:front-proxy-client",
      "signs ca:etcd/ca -> cert:etcd/server-<host>",
      "signs ca:etcd/ca -> cert:etcd/peer-<host>",
      "signs ca:etcd/ca -> cert:apiserver-etcd-client",
      "signs ca:etcd/ca -> cert:etcd/healthcheck-client",
      // presents
      "presents component:kube-apiserver -> cert:apiserver-etcd-client",
      "presents component:kube-apiserver -> cert:apiserver",
      "presents component:kube-apiserver -> cert:apiserver-kubelet-client",
      "presents component:etcd -> cert:etcd/server-<host>",
      "presents component:etcd -> cert:etcd/peer-<host>",
      "presents component:kube-controller-manager -> "
      "cert:kube-controller-manager",
      "presents component:kube-scheduler -> cert:kube-scheduler",
      "presents component:kubelet -> cert:kubelet-<host>",
      "presents component:kube-proxy -> cert:kube-proxy",
      "presents component:hardway -> cert:etcd/healthcheck-client",
      "presents component:hardway -> cert:admin",
      "presents component:kube-apiserver -> cert:front-proxy-client",
      // trusts
      "trusts component:kube-apiserver -> ca:etcd/ca",
      "trusts component:kube-apiserver -> ca:ca",
      "trusts component:etcd -> ca:etcd/ca",
      "trusts component:kube-controller-manager -> ca:ca",
      "trusts component:kube-scheduler -> ca:ca",
      "trusts component:kubelet -> ca:ca",
      "trusts component:kube-proxy -> ca:ca",
      "trusts component:hardway -> ca:etcd/ca",
      "trusts component:hardway -> ca:ca",
      "trusts component:aggregated-apiserver -> ca:front-proxy-ca",
      "trusts component:kube-apiserver -> ca:front-proxy-ca",
      // dials
      "dials component:kube-apiserver -> component:etcd [mTLS :2379 · client "
      "cert apiserver-etcd-client · etcd verifies with etcd-ca]",
      "dials component:etcd -> component:etcd [mTLS :2380 · client cert "
      "etcd/peer-<host> · etcd verifies with etcd-ca]",
      "dials component:kube-controller-manager -> component:kube-apiserver "
      "[mTLS 127.0.0.1:6443 · client cert kube-controller-manager · "
      "kube-apiserver verifies with ca]",
      "dials component:kube-scheduler -> component:kube-apiserver [mTLS "
      "127.0.0.1:6443 · client cert kube-scheduler · kube-apiserver verifies "
      "with ca]",
      "dials component:kubelet -> component:kube-apiserver [mTLS "
      "10.0.0.10:6443 · client cert kubelet-<host> · kube-apiserver verifies "
      "with ca]",
      "dials component:kube-proxy -> component:kube-apiserver [mTLS "
      "10.0.0.10:6443 · client cert kube-proxy · kube-apiserver verifies with "
      "ca]",
      "dials component:kube-apiserver -> component:kubelet [mTLS :10250 · "
      "client cert apiserver-kubelet-client · kubelet verifies with ca]",
      "dials component:hardway -> component:etcd [mTLS :2379 · client cert "
      "etcd/healthcheck-client · etcd verifies with etcd-ca]",
      "dials component:hardway -> component:kube-apiserver [mTLS :6443 · "
      "client cert admin · kube-apiserver verifies with ca]",
      "dials component:kube-apiserver -> component:aggregated-apiserver [mTLS "
      ":443 · client cert front-proxy-client · aggregated-apiserver verifies "
      "with front-proxy-ca]",
  };
  EXPECT_EQ(got, want);
}

TEST(TrustGraphTest, NodesNameTheirHostsAndEveryEdgeEndIsANode) {
  const Graph g = TrustGraph(ThreePlusTwo());
  std::map<std::string, std::string> labels;
  for (const GraphNode& n : g.nodes) {
    EXPECT_TRUE(labels.emplace(n.id, n.label).second) << "duplicate " << n.id;
  }
  EXPECT_EQ(labels.size(), 3u + 12u + 8u);
  EXPECT_EQ(labels["ca:etcd/ca"], "etcd-ca\nCN=etcd-ca");
  EXPECT_EQ(labels["ca:ca"], "ca\nCN=kubernetes-ca");
  EXPECT_EQ(labels["cert:kubelet-<host>"],
            "kubelet-<host> ×2\nw-0, w-1\nCN=system:node:<host>, "
            "O=system:nodes");
  EXPECT_EQ(labels["cert:etcd/server-<host>"],
            "etcd/server-<host> ×3\ncp-0, cp-1, cp-2\nCN=<host>");
  EXPECT_EQ(labels["cert:apiserver"], "apiserver\nCN=kube-apiserver");
  EXPECT_EQ(labels["component:etcd"], "etcd ×3\ncp-0, cp-1, cp-2");
  EXPECT_EQ(labels["component:kubelet"], "kubelet ×2\nw-0, w-1");
  EXPECT_EQ(labels["component:hardway"], "hardway\n(this machine)");
  EXPECT_EQ(labels["component:aggregated-apiserver"],
            "aggregated-apiserver\n(behind an APIService;\nnot deployed by "
            "hardway)");
  for (const GraphEdge& e : g.edges) {
    EXPECT_TRUE(labels.contains(e.from)) << EdgeText(e);
    EXPECT_TRUE(labels.contains(e.to)) << EdgeText(e);
  }
  // Colours follow the CA: the etcd certificates and etcd's links are
  // etcd/ca's.
  EXPECT_EQ(g.node("cert:etcd/peer-<host>")->ca, "etcd/ca");
  for (const GraphEdge& e : g.edges) {
    if (e.kind == EdgeKind::kDials && e.to == "component:etcd") {
      EXPECT_EQ(e.ca, "etcd/ca") << EdgeText(e);
    }
  }
}

TEST(TrustGraphTest, ManyHostsAreCountedNotListed) {
  const Cluster c = MakeCluster(testing::kThreeByFive, "graph-big");
  const Graph g = TrustGraph(c);
  EXPECT_EQ(g.node("component:kubelet")->label,
            "kubelet ×5\nw-0, w-1, w-2, … (5 hosts)");
  EXPECT_EQ(g.edges.size(), 45u);  // grouped: as many as for 3 + 2
}

TEST(StartupGraphTest, EdgesAreThePhaseNeeds) {
  const Plan plan = PlanWithoutPki(ThreePlusTwo());
  const Graph g = StartupGraph(plan);
  std::set<std::string> got, want;
  for (const GraphEdge& e : g.edges) {
    EXPECT_EQ(e.kind, EdgeKind::kNeeds);
    got.insert(e.from + " -> " + e.to);
  }
  for (const Phase& p : plan.phases)
    for (const std::string& need : p.needs)
      want.insert("phase:" + need + " -> phase:" + p.name);
  EXPECT_EQ(got, want);
  EXPECT_EQ(g.edges.size(), want.size());
  EXPECT_TRUE(got.contains("phase:pki -> phase:distribute"));
  EXPECT_TRUE(got.contains("phase:kube-apiserver -> phase:rbac"));
  ASSERT_EQ(g.nodes.size(), plan.phases.size());
  EXPECT_EQ(g.node("phase:etcd")->label,
            "etcd\non cp-0, cp-1, cp-2\ngate etcd_healthy, 2m 0s\n/health true "
            "over mTLS on every member\nand the member list has all members\n"
            "started");
  EXPECT_THAT(g.node("phase:pki")->label,
              ::testing::StartsWith("pki\non this machine\ngate pki_valid, "
                                    "10s\n"));
}

TEST(GraphDotTest, GraphvizDrawsEveryNodeAndEdge) {
  const std::string dot_program = FindDot();
  ASSERT_FALSE(dot_program.empty())
      << "Graphviz `dot` is not on PATH; scripts/install-deps.sh installs "
         "Debian's graphviz";
  for (const Graph& g : {TrustGraph(ThreePlusTwo()),
                         StartupGraph(PlanWithoutPki(ThreePlusTwo()))}) {
    SCOPED_TRACE(g.name);
    const std::string dot = ToDot(g);
    auto svg = DotToSvg(dot, dot_program);
    ASSERT_TRUE(svg.has_value()) << svg.error().ToString() << "\n" << dot;
    // Graphviz writes one <g class="node"> per node and one <g class="edge">
    // per edge, titled with the node's id.
    const auto count = [&](const std::string& needle) {
      size_t n = 0;
      for (size_t at = svg->find(needle); at != std::string::npos;
           at = svg->find(needle, at + 1))
        ++n;
      return n;
    };
    EXPECT_EQ(count("class=\"node\""), g.nodes.size());
    EXPECT_EQ(count("class=\"edge\""), g.edges.size());
    for (const GraphNode& n : g.nodes) {
      std::string title = n.id;
      title = std::regex_replace(title, std::regex("<"), "&lt;");
      title = std::regex_replace(title, std::regex(">"), "&gt;");
      title = std::regex_replace(title, std::regex("-"), "&#45;");
      EXPECT_THAT(*svg, HasSubstr("<title>" + title + "</title>"));
    }
  }
}

TEST(GraphDotTest, BrokenDotFailsWithGraphvizMessage) {
  const std::string dot_program = FindDot();
  ASSERT_FALSE(dot_program.empty());
  auto svg = DotToSvg("digraph { a -> ", dot_program);
  ASSERT_FALSE(svg.has_value());
  EXPECT_THAT(svg.error().message, HasSubstr("dot -Tsvg failed (exit 1)"));
  EXPECT_THAT(svg.error().message, HasSubstr("syntax error"));
}

TEST(GraphDotTest, EdgesAreColouredByTheirCa) {
  const std::string dot = ToDot(TrustGraph(ThreePlusTwo()));
  // ca is the first CA (blue), etcd/ca the third (green).
  EXPECT_THAT(dot,
              HasSubstr("\"ca:ca\" -> \"cert:admin\" [color=\"#1f6fb4\"]"));
  EXPECT_THAT(dot, HasSubstr("\"component:kube-apiserver\" -> "
                             "\"component:etcd\" [color=\"#2e8540\", "
                             "style=bold, penwidth=1.6, fontcolor=\"#2e8540\", "
                             "label=\"mTLS :2379\\nclient cert "
                             "apiserver-etcd-client\\netcd verifies with "
                             "etcd-ca\"];"));
  // Presents is drawn from the certificate back to the component.
  EXPECT_THAT(dot, HasSubstr("\"cert:kubelet-<host>\" -> \"component:kubelet\" "
                             "[color=\"#1f6fb4\", style=dotted, dir=back"));
}

TEST(GraphMermaidTest, HasTheNodesEdgesAndStyles) {
  const Graph g = TrustGraph(ThreePlusTwo());
  const std::string text = ToMermaid(g);
  EXPECT_THAT(text, HasSubstr("\nflowchart LR\n"));
  EXPECT_THAT(text,
              HasSubstr("\n  ca_etcd_ca[[\"etcd-ca<br/>CN=etcd-ca\"]]\n"));
  EXPECT_THAT(text,
              HasSubstr("\n  cert_kubelet__host_[\"kubelet-#60;host#62; "
                        "×2<br/>w-0, w-1<br/>CN=system:node:#60;host#62;, "
                        "O=system:nodes\"]\n"));
  EXPECT_THAT(text, HasSubstr("\n  component_etcd(\"etcd ×3<br/>cp-0, cp-1, "
                              "cp-2\")\n"));
  EXPECT_THAT(text, HasSubstr("\n  ca_ca --> cert_admin\n"));
  EXPECT_THAT(text, HasSubstr("\n  component_kubelet -.-> "
                              "cert_kubelet__host_\n"));
  EXPECT_THAT(text, HasSubstr("\n  component_kubelet -.-o ca_ca\n"));
  EXPECT_THAT(text,
              HasSubstr("\n  component_kube_apiserver ==>|\"mTLS :2379 · "
                        "client cert apiserver-etcd-client · etcd verifies "
                        "with etcd-ca\"| component_etcd\n"));
  EXPECT_THAT(text, HasSubstr("\n  classDef ca_etcd_ca fill:#dcf0e0,stroke:"
                              "#2e8540,stroke-width:2px\n"));
  // One line per edge, and every edge index styled exactly once.
  const std::regex edge_line(R"(\n  \w+ (-->|-\.->|-\.-o|==>)[ |])");
  EXPECT_EQ(static_cast<size_t>(std::distance(
                std::sregex_iterator(text.begin(), text.end(), edge_line),
                std::sregex_iterator())),
            g.edges.size());
  std::multiset<int> styled;
  const std::regex link_style(R"(\n  linkStyle ([0-9,]+) stroke:#)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), link_style);
       it != std::sregex_iterator(); ++it) {
    std::stringstream list((*it)[1].str());
    std::string index;
    while (std::getline(list, index, ',')) styled.insert(std::stoi(index));
  }
  std::multiset<int> all;
  for (size_t i = 0; i < g.edges.size(); ++i) all.insert(static_cast<int>(i));
  EXPECT_EQ(styled, all);
}

TEST(GraphMermaidTest, StartupIsTopToBottom) {
  const std::string text =
      ToMermaid(StartupGraph(PlanWithoutPki(ThreePlusTwo())));
  EXPECT_THAT(text, HasSubstr("\nflowchart TB\n"));
  EXPECT_THAT(text, HasSubstr("\n  phase_etcd --> phase_kube_apiserver\n"));
  EXPECT_THAT(text, HasSubstr("\n  phase_pod_routes(\"pod-routes<br/>on cp-0, "
                              "cp-1, cp-2, … (5 hosts)<br/>gate pod_routes, "
                              "30s"));
}

// docs/trust.* and docs/startup.* are what this code draws for the example
// inventory; regenerate with HARDWAY_UPDATE_GOLDEN=1 (which also redraws the
// SVGs with the installed Graphviz).
TEST(GraphDocsTest, CommittedPicturesAreCurrent) {
  const Cluster example =
      MakeCluster(testing::ExampleInventoryText(), "example");
  const fs::path docs = fs::path(HARDWAY_SOURCE_DIR) / "docs";
  const bool update = [] {
    const char* u = std::getenv("HARDWAY_UPDATE_GOLDEN");
    return u != nullptr && std::string(u) == "1";
  }();
  for (const Graph& g :
       {TrustGraph(example), StartupGraph(PlanWithoutPki(example))}) {
    SCOPED_TRACE(g.name);
    const std::pair<std::string, std::string> files[] = {
        {g.name + ".dot", ToDot(g)}, {g.name + ".mmd", ToMermaid(g)}};
    for (const auto& [file, text] : files) {
      if (update) {
        ASSERT_TRUE(
            WriteFileAtomic(docs / file, text, fs::perms(0644)).has_value());
      }
      auto want = ReadFile(docs / file);
      ASSERT_TRUE(want.has_value())
          << docs / file << " missing; run with HARDWAY_UPDATE_GOLDEN=1";
      EXPECT_EQ(text, *want)
          << "docs/" << file
          << " is stale; regenerate with "
             "HARDWAY_UPDATE_GOLDEN=1 ctest -R GraphDocs and review the diff";
    }
    const fs::path svg_path = docs / (g.name + ".svg");
    if (update) {
      auto svg = DotToSvg(ToDot(g), FindDot());
      ASSERT_TRUE(svg.has_value()) << svg.error().ToString();
      ASSERT_TRUE(WriteFileAtomic(svg_path, *svg, fs::perms(0644)).has_value());
    }
    // The SVG (whose bytes depend on the Graphviz version) draws the same
    // nodes: each one's id is a <title>.
    auto svg = ReadFile(svg_path);
    ASSERT_TRUE(svg.has_value()) << svg_path << " missing";
    for (const GraphNode& n : g.nodes) {
      std::string title = std::regex_replace(n.id, std::regex("-"), "&#45;");
      title = std::regex_replace(title, std::regex("<"), "&lt;");
      title = std::regex_replace(title, std::regex(">"), "&gt;");
      EXPECT_THAT(*svg, HasSubstr("<title>" + title + "</title>"))
          << "docs/" << g.name << ".svg is stale";
    }
  }
}

}  // namespace
}  // namespace hardway
