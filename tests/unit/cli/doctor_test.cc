// `hardway doctor`: the real binary on the example inventory, for what it
// decides before connecting to any host (an unknown --host, a state dir
// without PKI). Nothing here needs a cluster: doctor must stop before SSH.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "cli_test_util.h"

namespace {

using hardway::cli_test::CommandResult;
using hardway::cli_test::Hardway;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

const std::string kExample =
    std::string(HARDWAY_TEST_DATA) + "/../../inventory/example.yaml";

// A state dir of this test's own that does not exist yet.
fs::path NoState(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() /
      ("hardway-doctor-cli-" + std::to_string(getpid()) + "-" + name);
  fs::remove_all(dir);
  return dir;
}

TEST(DoctorCommandTest, UnknownHostIsAUsageErrorListingTheHosts) {
  const fs::path state = NoState("host");
  CommandResult r = Hardway("doctor -i " + kExample + " --state " +
                            state.string() + " --host node-9");
  EXPECT_EQ(r.exit_code, 2) << r.output;  // usage (docs/exit-codes.md)
  EXPECT_EQ(r.output,
            "hardway: --host node-9 is not a host of the inventory\n"
            "  hint: its hosts are controller-0, node-0, node-1\n");
  EXPECT_FALSE(fs::exists(state));  // read-only: not even the state dir
}

TEST(DoctorCommandTest, StateDirWithoutPkiSaysSoAndWhatToDo) {
  const fs::path state = NoState("pki");
  CommandResult r =
      Hardway("doctor -i " + kExample + " --state " + state.string());
  EXPECT_EQ(r.exit_code, 6) << r.output;  // pki (docs/exit-codes.md)
  EXPECT_THAT(r.output,
              HasSubstr("hardway: " + state.string() +
                        ": no PKI in the state dir\n  hint: doctor compares "
                        "the hosts with the state dir `up` deployed from; "
                        "pass --state or run `hardway up` first\n"));
  EXPECT_FALSE(fs::exists(state));  // doctor never makes one

  // A state dir that exists but holds no pki/ is the same.
  fs::create_directories(state);
  CommandResult empty =
      Hardway("doctor -i " + kExample + " --state " + state.string());
  EXPECT_EQ(empty.exit_code, 6) << empty.output;
  EXPECT_THAT(empty.output, HasSubstr("no PKI in the state dir"));
  // Nothing was looked at over SSH: no table, no finding.
  EXPECT_THAT(empty.output, Not(HasSubstr("CHECK")));
  EXPECT_TRUE(fs::is_empty(state));
  fs::remove_all(state);
}

}  // namespace
