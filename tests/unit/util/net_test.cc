#include "util/net.h"

#include <gtest/gtest.h>

namespace hardway {
namespace {

TEST(Ipv4Test, ParsesDottedQuads) {
  auto ip = Ipv4::Parse("10.240.0.10");
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->value, (10u << 24) | (240u << 16) | 10u);
  EXPECT_EQ(ip->ToString(), "10.240.0.10");
  EXPECT_EQ(Ipv4::Parse("0.0.0.0")->value, 0u);
  EXPECT_EQ(Ipv4::Parse("255.255.255.255")->value, 0xffffffffu);
}

TEST(Ipv4Test, RejectsMalformed) {
  for (const char* bad :
       {"", "10.240.0", "10.240.0.10.1", "256.0.0.1", "10.240.0.-1", "10..0.1",
        "10.240.0.10 ", " 10.240.0.10", "a.b.c.d", "010.0.0.1", "10.0.0.1/24",
        "fe80::1", "1.2.3.4.", "+1.2.3.4", "99999999999.1.1.1"}) {
    EXPECT_FALSE(Ipv4::Parse(bad)) << bad;
  }
}

TEST(Ipv4Test, Orders) {
  EXPECT_LT(*Ipv4::Parse("10.0.0.9"), *Ipv4::Parse("10.0.0.10"));
  EXPECT_EQ(*Ipv4::Parse("10.0.0.9"), *Ipv4::Parse("10.0.0.9"));
}

TEST(CidrTest, ParsesAndPrints) {
  auto c = Cidr::Parse("10.200.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix, 16);
  EXPECT_EQ(c->network.ToString(), "10.200.0.0");
  EXPECT_EQ(c->ToString(), "10.200.0.0/16");
  EXPECT_EQ(c->size(), 65536u);
  EXPECT_EQ(Cidr::Parse("0.0.0.0/0")->size(), uint64_t{1} << 32);
  EXPECT_EQ(Cidr::Parse("10.0.0.7/32")->size(), 1u);
}

TEST(CidrTest, RejectsHostBitsAndBadPrefixes) {
  for (const char* bad : {"10.200.0.1/16", "10.200.0.0/33", "10.200.0.0/-1",
                          "10.200.0.0/", "10.200.0.0", "/16", "10.200.0.0/16/1",
                          "10.200.0.0/016", "x/16", "10.32.0.128/24"}) {
    EXPECT_FALSE(Cidr::Parse(bad)) << bad;
  }
}

TEST(CidrTest, ContainsAddresses) {
  auto c = *Cidr::Parse("10.32.0.0/24");
  EXPECT_TRUE(c.Contains(*Ipv4::Parse("10.32.0.0")));
  EXPECT_TRUE(c.Contains(*Ipv4::Parse("10.32.0.255")));
  EXPECT_FALSE(c.Contains(*Ipv4::Parse("10.32.1.0")));
  EXPECT_FALSE(c.Contains(*Ipv4::Parse("10.31.255.255")));
  EXPECT_TRUE(Cidr::Parse("0.0.0.0/0")->Contains(*Ipv4::Parse("203.0.113.5")));
}

TEST(CidrTest, ContainsBlocks) {
  auto big = *Cidr::Parse("10.200.0.0/16");
  EXPECT_TRUE(big.Contains(*Cidr::Parse("10.200.7.0/24")));
  EXPECT_TRUE(big.Contains(big));
  EXPECT_FALSE(big.Contains(*Cidr::Parse("10.0.0.0/8")));
  EXPECT_FALSE(big.Contains(*Cidr::Parse("10.201.0.0/24")));
}

TEST(CidrTest, Overlaps) {
  auto a = *Cidr::Parse("10.200.0.0/16");
  EXPECT_TRUE(a.Overlaps(*Cidr::Parse("10.0.0.0/8")));
  EXPECT_TRUE(Cidr::Parse("10.0.0.0/8")->Overlaps(a));
  EXPECT_TRUE(a.Overlaps(*Cidr::Parse("10.200.255.0/24")));
  EXPECT_FALSE(a.Overlaps(*Cidr::Parse("10.32.0.0/24")));
  EXPECT_FALSE(
      Cidr::Parse("10.200.0.0/24")->Overlaps(*Cidr::Parse("10.200.1.0/24")));
}

TEST(CidrTest, NthAddress) {
  auto c = *Cidr::Parse("10.32.0.0/24");
  EXPECT_EQ(c.Nth(0).ToString(), "10.32.0.0");
  EXPECT_EQ(c.Nth(1).ToString(), "10.32.0.1");
  EXPECT_EQ(c.Nth(10).ToString(), "10.32.0.10");
  EXPECT_EQ(c.Nth(255).ToString(), "10.32.0.255");
}

TEST(CidrTest, Subnets) {
  auto c = *Cidr::Parse("10.200.0.0/16");
  EXPECT_EQ(c.Subnet(24, 0)->ToString(), "10.200.0.0/24");
  EXPECT_EQ(c.Subnet(24, 1)->ToString(), "10.200.1.0/24");
  EXPECT_EQ(c.Subnet(24, 255)->ToString(), "10.200.255.0/24");
  EXPECT_FALSE(c.Subnet(24, 256));
  EXPECT_EQ(c.Subnet(16, 0)->ToString(), "10.200.0.0/16");
  EXPECT_FALSE(c.Subnet(16, 1));
  EXPECT_FALSE(c.Subnet(8, 0));   // larger than the block
  EXPECT_FALSE(c.Subnet(33, 0));  // not a prefix
  EXPECT_EQ(Cidr::Parse("0.0.0.0/0")->Subnet(1, 1)->ToString(), "128.0.0.0/1");
  EXPECT_EQ(Cidr::Parse("10.0.0.0/8")->Subnet(32, 5)->ToString(),
            "10.0.0.5/32");
}

}  // namespace
}  // namespace hardway
