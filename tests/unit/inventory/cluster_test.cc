#include "inventory/cluster.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace hardway {
namespace {

std::vector<std::string> Names(const std::vector<const Host*>& hosts) {
  std::vector<std::string> out;
  for (const Host* h : hosts) out.push_back(h->name);
  return out;
}

Cluster Load(const std::string& text,
             const std::filesystem::path& path = "/srv/clusters/inv.yaml") {
  auto inv = ParseInventory(text, path);
  if (!inv) {
    for (const Error& e : inv.error()) ADD_FAILURE() << e.ToString();
    return Cluster::Resolve(Inventory{});
  }
  return Cluster::Resolve(*inv);
}

TEST(ClusterTest, ThreeControllersFiveWorkers) {
  auto inv = LoadInventory(std::filesystem::path(HARDWAY_TEST_DATA) /
                           "inventories/3c5w.yaml");
  ASSERT_TRUE(inv);
  Cluster c = Cluster::Resolve(*inv);
  EXPECT_EQ(c.name(), "three-five");
  EXPECT_EQ(c.hosts().size(), 8u);
  EXPECT_EQ(Names(c.hosts(Role::kEtcd)),
            (std::vector<std::string>{"controller-0", "controller-1",
                                      "controller-2"}));
  EXPECT_EQ(Names(c.etcd_members()), Names(c.hosts(Role::kEtcd)));
  EXPECT_EQ(Names(c.hosts(Role::kControlplane)), Names(c.hosts(Role::kEtcd)));
  EXPECT_EQ(Names(c.hosts(Role::kWorker)),
            (std::vector<std::string>{"worker-0", "worker-1", "worker-2",
                                      "worker-3", "worker-4"}));
  EXPECT_EQ(c.etcd_initial_cluster(),
            "controller-0=https://10.240.0.10:2380,controller-1=https://"
            "10.240.0.11:2380,"
            "controller-2=https://10.240.0.12:2380");
  EXPECT_EQ(c.etcd_client_urls(),
            "https://10.240.0.10:2379,https://10.240.0.11:2379,https://"
            "10.240.0.12:2379");
  EXPECT_EQ(c.api_host(), "10.240.0.10");
  EXPECT_EQ(c.api_port(), 6443);
  EXPECT_EQ(c.api_server_url(), "https://10.240.0.10:6443");
  EXPECT_EQ(c.kubernetes_service_ip().ToString(), "10.32.0.1");
  EXPECT_EQ(c.cluster_dns_ip().ToString(), "10.32.0.10");
  for (int i = 0; i < 5; ++i) {
    const Host* w = c.host("worker-" + std::to_string(i));
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->pod_cidr);
    EXPECT_EQ(w->pod_cidr->ToString(), "10.200." + std::to_string(i) + ".0/24");
  }
  for (const Host* h : c.hosts(Role::kControlplane))
    EXPECT_FALSE(h->pod_cidr) << h->name;
}

TEST(ClusterTest, HostLookupAndRoles) {
  Cluster c = Load(
      "cluster: {name: demo}\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane, worker], "
      "fqdn: c0.example.com}\n"
      "  - {name: w0, address: 10.0.0.2, roles: [worker]}\n");
  const Host* c0 = c.host("c0");
  ASSERT_NE(c0, nullptr);
  EXPECT_EQ(c0->address, "10.0.0.1");
  EXPECT_EQ(c0->fqdn, "c0.example.com");
  EXPECT_TRUE(c0->Has(Role::kEtcd));
  EXPECT_TRUE(c0->Has(Role::kControlplane));
  EXPECT_TRUE(c0->Has(Role::kWorker));
  const Host* w0 = c.host("w0");
  ASSERT_NE(w0, nullptr);
  EXPECT_FALSE(w0->Has(Role::kEtcd));
  EXPECT_EQ(c.host("nope"), nullptr);
  EXPECT_EQ(Names(c.hosts(Role::kWorker)),
            (std::vector<std::string>{"c0", "w0"}));
  EXPECT_EQ(c0->pod_cidr->ToString(),
            "10.200.0.0/24");  // a controller that also runs pods
  EXPECT_EQ(w0->pod_cidr->ToString(), "10.200.1.0/24");
}

TEST(ClusterTest, AutomaticPodCidrsSkipExplicitOnesInInventoryOrder) {
  Cluster c = Load(
      "cluster: {name: demo, pod_cidr: 10.200.0.0/16}\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane]}\n"
      "  - {name: w0, address: 10.0.0.2, roles: [worker]}\n"
      "  - {name: w1, address: 10.0.0.3, roles: [worker], pod_cidr: "
      "10.200.0.0/24}\n"
      "  - {name: w2, address: 10.0.0.4, roles: [worker]}\n"
      "  - {name: w3, address: 10.0.0.5, roles: [worker], pod_cidr: "
      "10.200.2.0/23}\n"
      "  - {name: w4, address: 10.0.0.6, roles: [worker]}\n");
  EXPECT_EQ(c.host("w0")->pod_cidr->ToString(), "10.200.1.0/24");
  EXPECT_EQ(c.host("w1")->pod_cidr->ToString(), "10.200.0.0/24");
  EXPECT_EQ(c.host("w2")->pod_cidr->ToString(),
            "10.200.4.0/24");  // .2 and .3 are w3's /23
  EXPECT_EQ(c.host("w3")->pod_cidr->ToString(), "10.200.2.0/23");
  EXPECT_EQ(c.host("w4")->pod_cidr->ToString(), "10.200.5.0/24");
  EXPECT_FALSE(c.host("c0")->pod_cidr);
}

TEST(ClusterTest, ApiEndpointFromInventory) {
  Cluster c = Load(
      "cluster: {name: demo, api_endpoint: \"lb.example.com:443\"}\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane]}\n");
  EXPECT_EQ(c.api_host(), "lb.example.com");
  EXPECT_EQ(c.api_port(), 443);
  EXPECT_EQ(c.api_server_url(), "https://lb.example.com:443");
}

TEST(ClusterTest, ApiEndpointDefaultsToFirstControlplaneHost) {
  Cluster c = Load(
      "cluster: {name: demo}\nhosts:\n"
      "  - {name: e0, address: 10.0.0.1, roles: [etcd]}\n"
      "  - {name: c0, address: 10.0.0.7, roles: [controlplane]}\n"
      "  - {name: c1, address: 10.0.0.8, roles: [controlplane]}\n");
  EXPECT_EQ(c.api_server_url(), "https://10.0.0.7:6443");
  EXPECT_EQ(c.etcd_initial_cluster(), "e0=https://10.0.0.1:2380");
}

TEST(ClusterTest, ServiceAddresses) {
  Cluster c = Load(
      "cluster: {name: demo, service_cidr: 10.96.0.0/12}\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane]}\n");
  EXPECT_EQ(c.kubernetes_service_ip().ToString(), "10.96.0.1");
  EXPECT_EQ(c.cluster_dns_ip().ToString(), "10.96.0.10");
}

TEST(ClusterTest, LocalPathsResolveAgainstTheInventoryFolder) {
  ASSERT_EQ(setenv("HOME", "/home/op", 1), 0);
  Cluster c = Load(
      "cluster: {name: demo}\n"
      "ssh: {identity_file: keys/id_ed25519, known_hosts: ../known_hosts,\n"
      "      bastion: {address: 203.0.113.5, identity_file: ~/.ssh/jump}}\n"
      "artifacts: {dir: ./bin}\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane]}\n"
      "  - {name: w0, address: 10.0.0.2, roles: [worker], ssh: {identity_file: "
      "/etc/hw/key}}\n");
  EXPECT_EQ(c.base_dir(), "/srv/clusters");
  EXPECT_EQ(c.artifacts_dir(), "/srv/clusters/bin");
  EXPECT_EQ(c.default_state_dir(), "/srv/clusters/state/demo");
  const Host* c0 = c.host("c0");
  EXPECT_EQ(c0->ssh.identity_file, "/srv/clusters/keys/id_ed25519");
  EXPECT_EQ(c0->ssh.known_hosts, "/srv/known_hosts");
  ASSERT_TRUE(c0->ssh.bastion);
  EXPECT_EQ(c0->ssh.bastion->identity_file, "/home/op/.ssh/jump");
  EXPECT_EQ(c.host("w0")->ssh.identity_file, "/etc/hw/key");
  EXPECT_EQ(c.inventory().ssh.identity_file, "/srv/clusters/keys/id_ed25519");
}

TEST(ClusterTest, DefaultsResolve) {
  ASSERT_EQ(setenv("HOME", "/home/op", 1), 0);
  Cluster c = Load(
      "cluster: {name: demo}\nhosts:\n  - {name: c0, address: 10.0.0.1, roles: "
      "[etcd, controlplane]}\n");
  EXPECT_EQ(c.artifacts_dir(), "/srv/clusters/artifacts");
  EXPECT_EQ(c.host("c0")->ssh.identity_file, "/home/op/.ssh/id_ed25519");
  EXPECT_EQ(c.host("c0")->ssh.known_hosts, "/home/op/.ssh/known_hosts");
  EXPECT_FALSE(c.host("c0")->ssh.bastion);
}

TEST(ClusterTest, RelativeInventoryPathIsMadeAbsolute) {
  Cluster c = Load(
      "cluster: {name: demo}\nhosts:\n  - {name: c0, address: 10.0.0.1, roles: "
      "[etcd, controlplane]}\n",
      "inv.yaml");
  EXPECT_EQ(c.base_dir(), std::filesystem::current_path().lexically_normal());
  EXPECT_EQ(c.default_state_dir(),
            std::filesystem::current_path() / "state" / "demo");
}

TEST(ClusterTest, ResolvesAnInventoryBuiltInCode) {
  // Other modules' tests build inventories directly; Resolve must allocate for
  // them too.
  Inventory inv;
  inv.path = "/tmp/x/inv.yaml";
  inv.cluster.name = "code";
  HostSpec c0;
  c0.name = "c0";
  c0.address = "10.0.0.1";
  c0.roles = {Role::kEtcd, Role::kControlplane};
  HostSpec w0;
  w0.name = "w0";
  w0.address = "10.0.0.2";
  w0.roles = {Role::kWorker};
  inv.hosts = {c0, w0, w0};
  inv.hosts[2].name = "w1";
  inv.hosts[2].address = "10.0.0.3";
  Cluster c = Cluster::Resolve(inv);
  EXPECT_EQ(c.api_server_url(), "https://10.0.0.1:6443");
  EXPECT_EQ(c.host("w0")->pod_cidr->ToString(), "10.200.0.0/24");
  EXPECT_EQ(c.host("w1")->pod_cidr->ToString(), "10.200.1.0/24");
  EXPECT_EQ(c.default_state_dir(), "/tmp/x/state/code");
}

}  // namespace
}  // namespace hardway
