#include "util/suggest.h"

#include <gtest/gtest.h>

namespace hardway {
namespace {

TEST(EditDistanceTest, CountsTranspositionAsOneEdit) {
  EXPECT_EQ(EditDistance("pod_cdir", "pod_cidr"), 1u);
  EXPECT_EQ(EditDistance("etcd", "etcd"), 0u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kubelet", "kublet"), 1u);
}

TEST(ClosestMatchesTest, TyposFirstThenContainingBestFirst) {
  const std::vector<std::string> names = {
      "etcd", "kubelet-node-0", "kubelet-node-1", "kubelet", "kube-proxy"};
  EXPECT_EQ(ClosestMatches("kublet", names),
            (std::vector<std::string>{"kubelet"}));
  EXPECT_EQ(ClosestMatches("node-0", names),
            (std::vector<std::string>{"kubelet-node-0"}));
  EXPECT_EQ(ClosestMatches("ETDC", names), (std::vector<std::string>{"etcd"}));
  EXPECT_EQ(ClosestMatches("kubelet-node-2", names),
            (std::vector<std::string>{"kubelet-node-0", "kubelet-node-1"}));
  EXPECT_EQ(ClosestMatches("kube", names, 2),
            (std::vector<std::string>{"kubelet-node-0", "kubelet-node-1"}));
  EXPECT_TRUE(ClosestMatches("zookeeper", names).empty());
}

}  // namespace
}  // namespace hardway
