// `hardway validate`: runs the real binary on the example, a 3+5 inventory and
// bad ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "cli_test_util.h"

namespace {

using ::testing::HasSubstr;

using hardway::cli_test::CommandResult;
using hardway::cli_test::Hardway;

const std::string kData = HARDWAY_TEST_DATA;

TEST(ValidateCommandTest, PrintsTheResolvedExample) {
  CommandResult r =
      Hardway("validate -i " + kData + "/../../inventory/example.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cluster demo"));
  EXPECT_THAT(r.output, HasSubstr("https://10.240.0.10:6443"));
  EXPECT_THAT(r.output, HasSubstr("controller-0=https://10.240.0.10:2380"));
  EXPECT_THAT(
      r.output,
      HasSubstr("node-0           10.240.0.20     pod cidr 10.200.0.0/24"));
  EXPECT_THAT(
      r.output,
      HasSubstr("node-1           10.240.0.21     pod cidr 10.200.1.0/24"));
  EXPECT_THAT(r.output, HasSubstr("kubernetes service ip:  10.32.0.1"));
  EXPECT_THAT(r.output, HasSubstr("cluster dns ip:         10.32.0.10"));
}

TEST(ValidateCommandTest, ThreeControllersFiveWorkers) {
  CommandResult r = Hardway("validate -i " + kData + "/inventories/3c5w.yaml");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("  etcd (3)"));
  EXPECT_THAT(r.output, HasSubstr("  worker (5)"));
  EXPECT_THAT(
      r.output,
      HasSubstr("worker-4         10.240.0.24     pod cidr 10.200.4.0/24"));
}

TEST(ValidateCommandTest, PrintsEveryErrorAndFails) {
  CommandResult r =
      Hardway("validate -i " + kData + "/inventories/bad-many.yaml");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(
      r.output,
      HasSubstr("bad-many.yaml:4:3: unknown key 'servce_cidr' in cluster"));
  EXPECT_THAT(r.output, HasSubstr("hint: did you mean 'service_cidr'?"));
  EXPECT_THAT(r.output,
              HasSubstr("bad-many.yaml:15:51: unknown role \"wroker\""));
  EXPECT_THAT(r.output, HasSubstr("10 error(s) in"));
}

TEST(ValidateCommandTest, SyntaxErrorHasPosition) {
  CommandResult r =
      Hardway("validate -i " + kData + "/inventories/bad-syntax.yaml");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("bad-syntax.yaml:6:4: YAML syntax error"));
}

TEST(ValidateCommandTest, MissingInventoryIsAUsageError) {
  CommandResult r = Hardway("validate -i /nonexistent/inventory.yaml");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
