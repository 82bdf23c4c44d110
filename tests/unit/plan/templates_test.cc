// The rendered config files parse as what their consumers read: YAML for the
// kubelet, kube-proxy, scheduler and RBAC manifests, JSON for CNI, TOML for
// containerd, sysctl.d syntax, ip -batch lines for the pod routes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "plan_test_util.h"

namespace hardway {
namespace {

using testing::MakeCluster;
using testing::MustBuild;

const Plan& BigPlan() {
  static const Plan p =
      MustBuild(MakeCluster(testing::kThreeByFive, "templates-big"));
  return p;
}

std::string Content(const std::string& host, const std::string& dest) {
  for (const Phase& p : BigPlan().phases) {
    for (const Step& s : p.steps) {
      if (s.host == host && s.dest == dest) return s.content;
    }
  }
  ADD_FAILURE() << "no " << dest << " on " << host;
  return {};
}

YAML::Node Yaml(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << e.what() << "\n" << text;
    return {};
  }
}

TEST(TemplatesTest, KubeletConfig) {
  YAML::Node k = Yaml(Content("w-2", "/var/lib/kubelet/kubelet-config.yaml"));
  EXPECT_EQ(k["kind"].as<std::string>(), "KubeletConfiguration");
  EXPECT_EQ(k["apiVersion"].as<std::string>(), "kubelet.config.k8s.io/v1beta1");
  EXPECT_EQ(k["podCIDR"].as<std::string>(), "10.200.2.0/24");
  EXPECT_EQ(k["clusterDomain"].as<std::string>(), "cluster.local");
  EXPECT_EQ(k["clusterDNS"][0].as<std::string>(), "10.32.0.10");
  EXPECT_EQ(k["authentication"]["anonymous"]["enabled"].as<bool>(), false);
  EXPECT_EQ(k["authentication"]["x509"]["clientCAFile"].as<std::string>(),
            "/etc/kubernetes/pki/ca.crt");
  EXPECT_EQ(k["authorization"]["mode"].as<std::string>(), "Webhook");
  EXPECT_EQ(k["cgroupDriver"].as<std::string>(), "systemd");
  EXPECT_EQ(k["tlsCertFile"].as<std::string>(),
            "/var/lib/kubelet/pki/kubelet.crt");
}

TEST(TemplatesTest, KubeProxyAndSchedulerConfig) {
  YAML::Node p =
      Yaml(Content("w-0", "/var/lib/kube-proxy/kube-proxy-config.yaml"));
  EXPECT_EQ(p["kind"].as<std::string>(), "KubeProxyConfiguration");
  EXPECT_EQ(p["clusterCIDR"].as<std::string>(), "10.200.0.0/16");
  EXPECT_EQ(p["clientConnection"]["kubeconfig"].as<std::string>(),
            "/var/lib/kube-proxy/kubeconfig");
  YAML::Node s = Yaml(Content("cp-0", "/etc/kubernetes/kube-scheduler.yaml"));
  EXPECT_EQ(s["kind"].as<std::string>(), "KubeSchedulerConfiguration");
  EXPECT_EQ(s["apiVersion"].as<std::string>(),
            "kubescheduler.config.k8s.io/v1");
  EXPECT_EQ(s["clientConnection"]["kubeconfig"].as<std::string>(),
            "/etc/kubernetes/scheduler.conf");
  EXPECT_TRUE(s["leaderElection"]["leaderElect"].as<bool>());
}

TEST(TemplatesTest, RbacManifestBindsTheApiserverKubeletClient) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(
        Content("cp-0", "/etc/kubernetes/rbac/kube-apiserver-to-kubelet.yaml"));
  } catch (const YAML::Exception& e) {
    FAIL() << e.what();
  }
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0]["kind"].as<std::string>(), "ClusterRole");
  EXPECT_EQ(docs[0]["metadata"]["name"].as<std::string>(),
            "system:kube-apiserver-to-kubelet");
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "ClusterRoleBinding");
  EXPECT_EQ(docs[1]["roleRef"]["name"].as<std::string>(),
            "system:kube-apiserver-to-kubelet");
  // The CN of pki/apiserver-kubelet-client.crt (pki.md).
  EXPECT_EQ(docs[1]["subjects"][0]["name"].as<std::string>(),
            "kube-apiserver-kubelet-client");
  EXPECT_EQ(docs[1]["subjects"][0]["kind"].as<std::string>(), "User");
}

TEST(TemplatesTest, CniConfigsAreJson) {
  auto bridge = nlohmann::json::parse(
      Content("w-4", "/etc/cni/net.d/10-bridge.conf"), nullptr,
      /*allow_exceptions=*/false);
  ASSERT_FALSE(bridge.is_discarded());
  EXPECT_EQ(bridge["type"], "bridge");
  EXPECT_EQ(bridge["ipam"]["type"], "host-local");
  EXPECT_EQ(bridge["ipam"]["ranges"][0][0]["subnet"], "10.200.4.0/24");
  auto lo = nlohmann::json::parse(
      Content("w-4", "/etc/cni/net.d/99-loopback.conf"), nullptr, false);
  ASSERT_FALSE(lo.is_discarded());
  EXPECT_EQ(lo["type"], "loopback");
}

// A small TOML check: tables, key = value with a string, bool or integer value,
// comments.
TEST(TemplatesTest, ContainerdConfigIsToml) {
  std::istringstream in(Content("w-1", "/etc/containerd/config.toml"));
  const std::regex table(R"(\s*\[[A-Za-z0-9_."-]+\]\s*)");
  const std::regex kv(
      R"re(\s*[A-Za-z0-9_]+\s*=\s*("[^"]*"|true|false|[0-9]+)\s*)re");
  std::string line;
  int keys = 0;
  bool systemd_cgroup = false;
  while (std::getline(in, line)) {
    if (line.empty() || line.find_first_not_of(" ") == std::string::npos ||
        line[line.find_first_not_of(" ")] == '#') {
      continue;
    }
    bool ok = std::regex_match(line, table) || std::regex_match(line, kv);
    EXPECT_TRUE(ok) << "not TOML: " << line;
    if (std::regex_match(line, kv)) ++keys;
    systemd_cgroup |= line.find("SystemdCgroup = true") != std::string::npos;
  }
  EXPECT_GT(keys, 4);
  EXPECT_TRUE(systemd_cgroup)
      << "must match the kubelet's cgroupDriver: systemd";
}

TEST(TemplatesTest, SysctlAndRoutesFiles) {
  std::istringstream sysctl(Content("w-0", "/etc/sysctl.d/99-kubernetes.conf"));
  const std::regex setting(R"(-?[a-z0-9_.-]+ = [0-9]+)");
  std::string line;
  while (std::getline(sysctl, line)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, setting)) << line;
  }
  std::istringstream routes(Content("cp-0", "/etc/hardway/pod-routes"));
  const std::regex route(
      R"(route replace 10\.200\.[0-4]\.0/24 via 10\.0\.0\.2[0-4])");
  int n = 0;
  while (std::getline(routes, line)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, route)) << line;
    ++n;
  }
  EXPECT_EQ(n, 5);
}

}  // namespace
}  // namespace hardway
