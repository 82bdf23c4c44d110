#include "pki/cert_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pki_test_util.h"

namespace hardway {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using testing::InventoryYaml;
using ::testing::IsEmpty;
using testing::MakeCluster;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

TEST(CertTable, ListsExactlyTheFilesOfTheStateDirContract) {
  Cluster cluster = MakeCluster(InventoryYaml());
  std::vector<std::string> names;
  for (const CertSpec& s : CertificateTable(cluster)) names.push_back(s.name);
  EXPECT_THAT(
      names,
      ElementsAre("ca", "front-proxy-ca", "etcd/ca", "sa", "admin",
                  "kubelet-node-0", "kubelet-node-1", "kube-proxy",
                  "kube-controller-manager", "kube-scheduler", "apiserver",
                  "apiserver-kubelet-client", "front-proxy-client",
                  "etcd/server-controller-0", "etcd/peer-controller-0",
                  "etcd/server-controller-1", "etcd/peer-controller-1",
                  "etcd/server-controller-2", "etcd/peer-controller-2",
                  "apiserver-etcd-client", "etcd/healthcheck-client"));
}

TEST(CertTable, SubjectsAndUsagesFollowPkiMd) {
  Cluster cluster = MakeCluster(InventoryYaml());
  auto table = CertificateTable(cluster);
  const CertSpec* admin = FindSpec(table, "admin");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->cn, "admin");
  EXPECT_THAT(admin->orgs, ElementsAre("system:masters"));
  EXPECT_TRUE(admin->client_auth);
  EXPECT_FALSE(admin->server_auth);

  const CertSpec* kubelet = FindSpec(table, "kubelet-node-0");
  ASSERT_NE(kubelet, nullptr);
  EXPECT_EQ(kubelet->cn, "system:node:node-0");
  EXPECT_THAT(kubelet->orgs, ElementsAre("system:nodes"));
  EXPECT_TRUE(kubelet->client_auth && kubelet->server_auth);
  EXPECT_THAT(kubelet->dns_sans, ElementsAre("node-0", "node-0.example.com"));
  EXPECT_THAT(kubelet->ip_sans, ElementsAre("10.240.0.20"));
  EXPECT_EQ(kubelet->host, "node-0");

  // The hard way's typo (O=system:system:kube-scheduler) is not copied: no O at
  // all.
  const CertSpec* scheduler = FindSpec(table, "kube-scheduler");
  ASSERT_NE(scheduler, nullptr);
  EXPECT_THAT(scheduler->orgs, IsEmpty());
  EXPECT_EQ(FindSpec(table, "kube-proxy")->orgs,
            std::vector<std::string>{"system:node-proxier"});

  EXPECT_EQ(FindSpec(table, "front-proxy-client")->ca, "front-proxy-ca");
  EXPECT_EQ(FindSpec(table, "apiserver-etcd-client")->ca, "etcd/ca");
  EXPECT_EQ(FindSpec(table, "etcd/healthcheck-client")->cn,
            "hardway-etcd-healthcheck");
  EXPECT_EQ(FindSpec(table, "apiserver-kubelet-client")->cn,
            "kube-apiserver-kubelet-client");
  EXPECT_EQ(FindSpec(table, "etcd/ca")->kind, CertKind::kCa);
  EXPECT_EQ(FindSpec(table, "sa")->kind, CertKind::kKeyPair);
  EXPECT_EQ(FindSpec(table, "nope"), nullptr);
}

TEST(CertTable, ApiserverSansCoverEveryWayToReachIt) {
  Cluster cluster = MakeCluster(InventoryYaml());
  auto table = CertificateTable(cluster);
  const CertSpec* api = FindSpec(table, "apiserver");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->cn, "kube-apiserver");
  EXPECT_TRUE(api->server_auth);
  EXPECT_FALSE(api->client_auth);
  EXPECT_THAT(api->ip_sans, UnorderedElementsAre(
                                "127.0.0.1", "10.32.0.1", "10.240.0.10",
                                "10.240.0.11", "10.240.0.12", "203.0.113.10"));
  EXPECT_THAT(api->dns_sans,
              UnorderedElementsAre(
                  "controller-0", "controller-1", "controller-2", "kubernetes",
                  "kubernetes.default", "kubernetes.default.svc",
                  "kubernetes.default.svc.cluster.local", "k8s.example.com"));
  // The hard way's wrong name must not come back.
  EXPECT_THAT(api->dns_sans, Not(Contains("kubernetes.svc.cluster.local")));
}

TEST(CertTable, EtcdServerAndPeerSans) {
  Cluster cluster = MakeCluster(InventoryYaml());
  auto table = CertificateTable(cluster);
  const CertSpec* server = FindSpec(table, "etcd/server-controller-1");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->cn, "controller-1");
  EXPECT_THAT(server->dns_sans, ElementsAre("controller-1", "localhost"));
  EXPECT_THAT(server->ip_sans, ElementsAre("10.240.0.11", "127.0.0.1"));
  const CertSpec* peer = FindSpec(table, "etcd/peer-controller-1");
  EXPECT_THAT(peer->dns_sans, ElementsAre("controller-1"));
  EXPECT_THAT(peer->ip_sans, ElementsAre("10.240.0.11"));
  EXPECT_TRUE(peer->client_auth && peer->server_auth);
}

TEST(CertTable, LoadBalancerEndpointJoinsApiserverSans) {
  std::string yaml = InventoryYaml();
  yaml.replace(yaml.find("  name: test\n"), 12,
               "  name: test\n  api_endpoint: 10.240.0.100:443");
  Cluster cluster = MakeCluster(yaml);
  auto table = CertificateTable(cluster);
  const CertSpec* api = FindSpec(table, "apiserver");
  EXPECT_THAT(api->ip_sans, Contains("10.240.0.100"));
  auto kubeconfigs = KubeconfigTable(cluster);
  EXPECT_EQ(kubeconfigs[0].server, "https://10.240.0.100:443");
}

TEST(CertTable, KubeconfigServersAndUsers) {
  Cluster cluster = MakeCluster(InventoryYaml());
  auto k = KubeconfigTable(cluster);
  ASSERT_EQ(k.size(), 6u);
  EXPECT_EQ(k[0].name, "admin");
  EXPECT_EQ(k[0].server, "https://10.240.0.10:6443");
  EXPECT_EQ(k[1].user, "system:kube-controller-manager");
  EXPECT_EQ(k[1].server, "https://127.0.0.1:6443");
  EXPECT_EQ(k[2].user, "system:kube-scheduler");
  EXPECT_EQ(k[2].server, "https://127.0.0.1:6443");
  EXPECT_EQ(k[3].user, "system:kube-proxy");
  EXPECT_EQ(k[3].server, "https://10.240.0.10:6443");
  EXPECT_EQ(k[4].name, "kubelet-node-0");
  EXPECT_EQ(k[4].user, "system:node:node-0");
  EXPECT_EQ(k[5].host, "node-1");
  EXPECT_EQ(KubeconfigPath("/s", k[4]),
            "/s/kubeconfigs/kubelet-node-0.kubeconfig");
  auto table = CertificateTable(cluster);
  EXPECT_EQ(CertPath("/s", *FindSpec(table, "etcd/ca")), "/s/pki/etcd/ca.crt");
  EXPECT_EQ(CertPath("/s", *FindSpec(table, "sa")), "/s/pki/sa.pub");
  EXPECT_EQ(KeyPath("/s", *FindSpec(table, "sa")), "/s/pki/sa.key");
}

}  // namespace
}  // namespace hardway
