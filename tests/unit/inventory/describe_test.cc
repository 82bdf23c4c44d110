#include "inventory/describe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hardway {
namespace {

using ::testing::HasSubstr;

TEST(DescribeTest, ShowsTheResolvedCluster) {
  auto inv = ParseInventory(
      "cluster: {name: demo, extra_sans: [k8s.example.com], extra_args: "
      "{kubelet: {v: \"2\"}}}\n"
      "ssh: {bastion: {address: 203.0.113.5, user: jump}}\n"
      "hosts:\n"
      "  - {name: controller-0, address: 10.240.0.10, roles: [etcd, "
      "controlplane]}\n"
      "  - {name: node-0, address: 10.240.0.20, roles: [worker], ssh: {user: "
      "debian, port: 2222}}\n"
      "  - {name: node-1, address: 10.240.0.21, roles: [worker], host_key: "
      "ssh-ed25519 AAAA,\n"
      "     ssh: {bastion: ~}}\n",
      "/srv/inv.yaml");
  ASSERT_TRUE(inv);
  std::string text = DescribeCluster(Cluster::Resolve(*inv));
  EXPECT_THAT(text, HasSubstr("cluster demo\n"));
  EXPECT_THAT(text,
              HasSubstr("api endpoint:           https://10.240.0.10:6443 "
                        "(first controlplane host)\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "etcd initial cluster:   controller-0=https://10.240.0.10:2380\n"));
  EXPECT_THAT(text, HasSubstr("service cidr:           10.32.0.0/24\n"));
  EXPECT_THAT(text, HasSubstr("kubernetes service ip:  10.32.0.1\n"));
  EXPECT_THAT(text, HasSubstr("cluster dns ip:         10.32.0.10\n"));
  EXPECT_THAT(text, HasSubstr("extra sans:             k8s.example.com\n"));
  EXPECT_THAT(text, HasSubstr("extra args kubelet:     --v=2\n"));
  EXPECT_THAT(text,
              HasSubstr("  etcd (1)\n    controller-0     10.240.0.10\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "  worker (2)\n    node-0           10.240.0.20     pod cidr "
          "10.200.0.0/24\n"
          "    node-1           10.240.0.21     pod cidr 10.200.1.0/24\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "node-0           debian@10.240.0.20:2222 via jump@203.0.113.5\n"));
  EXPECT_THAT(
      text, HasSubstr("node-1           root@10.240.0.21 (host key pinned)\n"));
  EXPECT_THAT(text, HasSubstr("state (default):        /srv/state/demo\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("AAAA")));
}

}  // namespace
}  // namespace hardway
