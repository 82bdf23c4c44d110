#include "inventory/pod_cidr.h"

#include <gtest/gtest.h>

namespace hardway::inventory_internal {
namespace {

std::optional<Cidr> C(const char* text) { return *Cidr::Parse(text); }

std::vector<std::string> Strings(
    const std::vector<std::optional<Cidr>>& cidrs) {
  std::vector<std::string> out;
  for (const auto& c : cidrs) out.push_back(c ? c->ToString() : "-");
  return out;
}

TEST(PodCidrTest, HandsOutConsecutiveBlocks) {
  auto got = AllocatePodCidrs(*C("10.200.0.0/16"),
                              {std::nullopt, std::nullopt, std::nullopt});
  EXPECT_EQ(Strings(got),
            (std::vector<std::string>{"10.200.0.0/24", "10.200.1.0/24",
                                      "10.200.2.0/24"}));
}

TEST(PodCidrTest, KeepsAndAvoidsExplicitBlocks) {
  auto got = AllocatePodCidrs(
      *C("10.200.0.0/16"),
      {std::nullopt, C("10.200.0.0/24"), std::nullopt, C("10.200.1.0/25")});
  EXPECT_EQ(Strings(got),
            (std::vector<std::string>{"10.200.2.0/24", "10.200.0.0/24",
                                      "10.200.3.0/24", "10.200.1.0/25"}));
}

TEST(PodCidrTest, RunsOut) {
  auto got = AllocatePodCidrs(*C("10.200.0.0/23"),
                              {std::nullopt, std::nullopt, std::nullopt});
  EXPECT_EQ(Strings(got),
            (std::vector<std::string>{"10.200.0.0/24", "10.200.1.0/24", "-"}));
  EXPECT_EQ(Strings(AllocatePodCidrs(*C("10.200.0.0/25"), {std::nullopt})),
            std::vector<std::string>{"-"});
}

TEST(PodCidrTest, IsDeterministic) {
  std::vector<std::optional<Cidr>> wanted = {std::nullopt, C("10.200.5.0/24"),
                                             std::nullopt};
  EXPECT_EQ(Strings(AllocatePodCidrs(*C("10.200.0.0/16"), wanted)),
            Strings(AllocatePodCidrs(*C("10.200.0.0/16"), wanted)));
}

TEST(PodCidrTest, ThousandWorkersIsFast) {
  std::vector<std::optional<Cidr>> wanted(1000);
  auto got = AllocatePodCidrs(*C("10.0.0.0/8"), wanted);
  EXPECT_EQ(got.back()->ToString(), "10.3.231.0/24");  // 999 = 3 * 256 + 231
}

}  // namespace
}  // namespace hardway::inventory_internal
