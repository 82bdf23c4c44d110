// The trust links against the plan they describe: every path a link names is a
// file the plan puts on that host from the state dir's matching certificate or
// kubeconfig, and the rendered unit or config of the component reads it. So
// links.cc cannot drift from the playbook.
#include "trust/links.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "../plan/plan_test_util.h"
#include "pki/cert_table.h"

namespace hardway {
namespace {

using testing::MakeCluster;
using testing::MustBuild;
namespace fs = std::filesystem;

[[maybe_unused]] auto* const kCleaner =
    ::testing::AddGlobalTestEnvironment(new testing::TempRootCleaner);

struct Fixture {
  Cluster cluster =
      MakeCluster(testing::ThreePlusTwoInventory("trust"), "trust");
  Plan plan = MustBuild(cluster);
  std::vector<Link> links = TrustLinks(cluster);

  const Step* Upload(const std::string& host, const std::string& dest) const {
    for (const Phase& p : plan.phases)
      for (const Step& s : p.steps)
        if (s.kind == StepKind::kUpload && s.host == host && s.dest == dest)
          return &s;
    return nullptr;
  }
  // Every rendered file of `host` joined: units and configs.
  std::string Rendered(const std::string& host) const {
    std::string all;
    for (const Phase& p : plan.phases)
      for (const Step& s : p.steps)
        if (s.kind == StepKind::kRender && s.host == host)
          all += s.content + "\n";
    return all;
  }
};

const Fixture& F() {
  static const Fixture f;
  return f;
}

TEST(TrustLinks, ThreeControllersTwoWorkersHaveExactlyTheseLinks) {
  std::multiset<std::string> labels;
  for (const Link& l : F().links)
    labels.insert(l.Label() + " :" + std::to_string(l.port));
  std::multiset<std::string> expected;
  const std::vector<std::string> cps = {"cp-0", "cp-1", "cp-2"},
                                 ws = {"w-0", "w-1"};
  for (auto& c : cps)
    for (auto& m : cps)
      expected.insert("kube-apiserver " + c + " → etcd " + m + " :2379");
  for (auto& a : cps)
    for (auto& b : cps)
      if (a != b) expected.insert("etcd " + a + " → etcd " + b + " :2380");
  for (auto& c : cps) {
    expected.insert("kube-controller-manager " + c + " → kube-apiserver " + c +
                    " :6443");
    expected.insert("kube-scheduler " + c + " → kube-apiserver " + c +
                    " :6443");
    expected.insert("hardway → etcd " + c + " :2379");
    expected.insert("hardway → kube-apiserver " + c + " :6443");
  }
  for (auto& w : ws) {
    // No api_endpoint: the first controller serves the API.
    expected.insert("kubelet " + w + " → kube-apiserver cp-0 :6443");
    expected.insert("kube-proxy " + w + " → kube-apiserver cp-0 :6443");
    for (auto& c : cps)
      expected.insert("kube-apiserver " + c + " → kubelet " + w + " :10250");
  }
  EXPECT_EQ(labels, expected);
}

TEST(TrustLinks, LoadBalancerEndpointHasNoServerHost) {
  Cluster c = MakeCluster(R"(cluster: {name: lb, api_endpoint: "10.0.0.99:443"}
hosts:
  - {name: cp-0, address: 10.0.0.10, roles: [etcd, controlplane]}
  - {name: w-0, address: 10.0.0.20, roles: [worker]}
)",
                          "trust-lb");
  int seen = 0;
  for (const Link& l : TrustLinks(c)) {
    if (l.client.component != Component::kKubelet) continue;
    ++seen;
    EXPECT_EQ(l.server.host, "");
    EXPECT_EQ(l.dial_host, "10.0.0.99");
    EXPECT_EQ(l.port, 443);
  }
  EXPECT_EQ(seen, 1);
}

// Each deployed credential: the plan uploads exactly that certificate (or
// kubeconfig) from the state dir to that path on that host, and the component's
// rendered files mention the path.
void ExpectDeployed(const Endpoint& e, const std::string& link) {
  SCOPED_TRACE(link + " " + std::string(ComponentName(e.component)) + " " +
               e.host);
  const Credential& c = e.credential;
  const auto table = CertificateTable(F().cluster);
  ASSERT_NE(FindSpec(table, c.cert), nullptr) << c.cert;
  if (e.component == Component::kHardway || e.host.empty()) return;
  const std::string rendered = F().Rendered(e.host);
  if (!c.kubeconfig.empty()) {
    const Step* s = F().Upload(e.host, c.cert_path);
    ASSERT_NE(s, nullptr) << c.cert_path;
    EXPECT_EQ(s->source_label,
              "state kubeconfigs/" + c.kubeconfig + ".kubeconfig");
    EXPECT_THAT(rendered, ::testing::HasSubstr(c.cert_path));
    return;
  }
  const std::pair<std::string, std::string> files[] = {
      {c.cert_path, "state pki/" + c.cert + ".crt"},
      {c.key_path, "state pki/" + c.cert + ".key"},
      {c.ca_path, "state pki/" + c.trusts + ".crt"}};
  for (const auto& [path, label] : files) {
    const Step* s = F().Upload(e.host, path);
    ASSERT_NE(s, nullptr) << path;
    EXPECT_EQ(s->source_label, label) << path;
    EXPECT_THAT(rendered, ::testing::HasSubstr(path));
  }
}

TEST(TrustLinks, EveryCredentialIsWhatThePlanDeploysAndTheUnitReads) {
  for (const Link& l : F().links) {
    ExpectDeployed(l.client, l.Label());
    ExpectDeployed(l.server, l.Label());
  }
}

TEST(TrustLinks, HardwayCredentialsAreInTheStateDir) {
  const fs::path state = testing::StateFor(F().cluster);
  for (const Link& l : F().links) {
    if (l.client.component != Component::kHardway) continue;
    EXPECT_TRUE(fs::exists(state / l.client.credential.cert_path)) << l.Label();
    EXPECT_TRUE(fs::exists(state / l.client.credential.ca_path)) << l.Label();
  }
}

TEST(TrustLinks, ServerCertificatesCoverTheNamesTheirClientsDial) {
  const auto table = CertificateTable(F().cluster);
  for (const Link& l : F().links) {
    const CertSpec* spec = FindSpec(table, l.server.credential.cert);
    ASSERT_NE(spec, nullptr);
    std::set<std::string> sans(spec->ip_sans.begin(), spec->ip_sans.end());
    sans.insert(spec->dns_sans.begin(), spec->dns_sans.end());
    EXPECT_TRUE(sans.contains(l.dial_host))
        << l.Label() << " dials " << l.dial_host;
  }
}

// The aggregation layer: kube-apiserver on each controller presents
// front-proxy-client as the plan deploys it and its unit reads it; the far
// side is nobody of ours, and it is no link doctor would dial.
TEST(TrustLinks, AggregationLinksPresentFrontProxyClientFromEachController) {
  const std::vector<Link> links = AggregationLinks(F().cluster);
  std::vector<std::string> labels;
  for (const Link& l : links) {
    labels.push_back(l.Label() + " :" + std::to_string(l.port));
    EXPECT_EQ(l.client.credential.cert, "front-proxy-client");
    EXPECT_EQ(l.client.credential.trusts, "");
    EXPECT_EQ(l.server.credential.cert, "");
    EXPECT_EQ(l.server.credential.trusts, "front-proxy-ca");
    EXPECT_EQ(l.server.host, "");
    const std::string rendered = F().Rendered(l.client.host);
    for (const std::pair<std::string, std::string> file :
         {std::pair{l.client.credential.cert_path,
                    "state pki/front-proxy-client.crt"},
          std::pair{l.client.credential.key_path,
                    "state pki/front-proxy-client.key"}}) {
      const Step* s = F().Upload(l.client.host, file.first);
      ASSERT_NE(s, nullptr) << file.first;
      EXPECT_EQ(s->source_label, file.second);
    }
    EXPECT_THAT(rendered,
                ::testing::HasSubstr("--proxy-client-cert-file=" +
                                     l.client.credential.cert_path + " "));
    EXPECT_THAT(rendered,
                ::testing::HasSubstr("--proxy-client-key-file=" +
                                     l.client.credential.key_path + " "));
  }
  EXPECT_EQ(labels, (std::vector<std::string>{
                        "kube-apiserver cp-0 → aggregated-apiserver :443",
                        "kube-apiserver cp-1 → aggregated-apiserver :443",
                        "kube-apiserver cp-2 → aggregated-apiserver :443"}));
  for (const Link& l : F().links)
    EXPECT_NE(l.server.component, Component::kAggregatedApiserver);
}

TEST(TrustLinks, KubeApiserverTrustsFrontProxyCaForRequestHeaders) {
  std::vector<std::string> hosts;
  for (const ClientCaTrust& t : RequestHeaderTrusts(F().cluster)) {
    hosts.push_back(t.host);
    EXPECT_EQ(t.component, Component::kApiserver);
    EXPECT_EQ(t.trusts, "front-proxy-ca");
    const Step* s = F().Upload(t.host, t.ca_path);
    ASSERT_NE(s, nullptr) << t.ca_path;
    EXPECT_EQ(s->source_label, "state pki/front-proxy-ca.crt");
    EXPECT_THAT(F().Rendered(t.host),
                ::testing::HasSubstr(
                    "--requestheader-client-ca-file=" + t.ca_path + " "));
  }
  EXPECT_EQ(hosts, (std::vector<std::string>{"cp-0", "cp-1", "cp-2"}));
}

}  // namespace
}  // namespace hardway
