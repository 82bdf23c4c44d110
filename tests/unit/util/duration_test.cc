#include "util/duration.h"

#include <gtest/gtest.h>

namespace hardway {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsGoStyle) {
  EXPECT_EQ(ParseDuration("10s"), milliseconds(10'000));
  EXPECT_EQ(ParseDuration("720h"), milliseconds(720LL * 3'600'000));
  EXPECT_EQ(ParseDuration("1h30m"), milliseconds(90LL * 60'000));
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
}

TEST(ParseDuration, RejectsGarbage) {
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("10"));
  EXPECT_FALSE(ParseDuration("ten seconds"));
  EXPECT_FALSE(ParseDuration("5y"));
  EXPECT_FALSE(ParseDuration("-5s"));
}

TEST(FormatDuration, ForPeople) {
  EXPECT_EQ(FormatDuration(milliseconds(800)), "800ms");
  EXPECT_EQ(FormatDuration(std::chrono::hours(76)), "3d 4h");
}

}  // namespace
}  // namespace hardway
