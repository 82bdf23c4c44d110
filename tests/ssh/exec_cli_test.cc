// `hardway exec` end to end: the real binary, an inventory file, three sshds on
// loopback addresses (127.0.0.2..4, so every host has its own address as the
// inventory requires).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sshd_fixture.h"

namespace hardway {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Sshd;
using testing::TempDir;

struct CliRun {
  int exit_code;
  std::string out;
};

CliRun Hardway(const std::string& args) {
  CliRun r;
  r.exit_code = testing::Shell(
      std::string(HARDWAY_BINARY) + " " + args + " 2>&1", &r.out);
  return r;
}

class ExecCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* roles[] = {"[etcd, controlplane]", "[worker]", "[worker]"};
    std::string yaml =
        "cluster:\n  name: exec-test\nssh:\n  user: root\n  identity_file: " +
        testing::TestClientKey().private_key.string() +
        "\n  agent: false\n  known_hosts: " + (dir_ / "known_hosts").string() +
        "\n  connect_timeout: 2s\nhosts:\n";
    for (int i = 0; i < 3; ++i) {
      std::string error;
      sshds_.push_back(Sshd::Start(&error, "127.0.0." + std::to_string(i + 2)));
      ASSERT_TRUE(sshds_.back()) << error;
      yaml += "  - name: node-" + std::to_string(i) +
              "\n    address: " + sshds_[i]->address() +
              "\n    roles: " + roles[i] + "\n    host_key: \"" +
              sshds_[i]->host_key() +
              "\"\n    ssh: {port: " + std::to_string(sshds_[i]->port()) +
              "}\n";
    }
    inventory_ = (dir_ / "inventory.yaml").string();
    std::ofstream(inventory_) << yaml;
  }
  TempDir dir_;
  std::vector<std::unique_ptr<Sshd>> sshds_;
  std::string inventory_;
};

TEST_F(ExecCli, RunsOnSelectedHostsWithPrefixedOutput) {
  CliRun all = Hardway("exec -i " + inventory_ +
                       " -- echo hello '&&' echo \\$SSH_CONNECTION");
  EXPECT_EQ(all.exit_code, 0) << all.out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(all.out, HasSubstr("node-" + std::to_string(i) + " | hello\n"))
        << all.out;
    // The command really ran on that host's sshd.
    EXPECT_THAT(all.out, HasSubstr(sshds_[i]->address() + " " +
                                   std::to_string(sshds_[i]->port()) + "\n"));
  }

  CliRun workers =
      Hardway("exec -i " + inventory_ + " --role worker -- hostname");
  EXPECT_EQ(workers.exit_code, 0) << workers.out;
  EXPECT_THAT(workers.out, Not(HasSubstr("node-0")));
  EXPECT_THAT(workers.out, HasSubstr("node-1 | "));
  EXPECT_THAT(workers.out, HasSubstr("node-2 | "));

  CliRun one = Hardway("exec -i " + inventory_ +
                       " --host node-2 -- 'echo out; echo err >&2; exit 4'");
  EXPECT_NE(one.exit_code, 0);
  EXPECT_THAT(one.out, HasSubstr("node-2 | out"));
  EXPECT_THAT(one.out, HasSubstr("node-2 | err"));
  EXPECT_THAT(one.out, HasSubstr("node-2 | exit 4"));
  EXPECT_THAT(one.out, Not(HasSubstr("node-1")));

  CliRun unknown = Hardway("exec -i " + inventory_ + " --host nope -- true");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.out, HasSubstr("no host named nope"));
}

// -v shows each remote call with its time on stderr; stdout keeps only what
// was asked for.
TEST_F(ExecCli, VerboseTracesRemoteCallsOnStderrOnly) {
  std::string err_file = (dir_ / "stderr").string();
  std::string out;
  int rc =
      testing::Shell(std::string(HARDWAY_BINARY) + " -v exec -i " + inventory_ +
                         " --host node-1 -- echo traced 2>" + err_file,
                     &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "node-1 | traced\n");
  std::ifstream in(err_file);
  std::string err((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  EXPECT_THAT(err, ContainsRegex("node-1: [0-9]+ ms: echo traced"));
}

TEST_F(ExecCli, UnreachableHostIsReportedAndFailsTheRun) {
  sshds_[1]->KillAll();
  CliRun r = Hardway("exec -i " + inventory_ + " -- echo ok");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("node-0 | ok"));
  EXPECT_THAT(r.out, HasSubstr("node-2 | ok"));
  EXPECT_THAT(r.out, HasSubstr("node-1 | error:"));
  EXPECT_THAT(r.out, HasSubstr("connection refused"));
  EXPECT_THAT(r.out, HasSubstr("1 could not be reached"));
}

}  // namespace
}  // namespace hardway

namespace hardway {
namespace {

// `hardway check` on hosts that have SSH but no cluster: every gate of the
// playbook runs, each host gets a row, the failing gates name the host and the
// missing unit, and the exit code is the gate failure's (5). Read-only: the
// hosts have no new files afterwards.
TEST_F(ExecCli, CheckRunsEveryGateAndNamesTheFailingHost) {
  CliRun table = Hardway("check -i " + inventory_ + " --timeout 1s");
  EXPECT_EQ(table.exit_code, 5) << table.out;
  EXPECT_THAT(table.out, HasSubstr("GATE"));
  for (const char* gate :
       {"preflight (preflight)", "pki (pki_valid)", "etcd (etcd_healthy)"}) {
    EXPECT_THAT(table.out, HasSubstr(gate)) << table.out;
  }
  // node-0 is the only etcd member: its row of the etcd gate fails.
  EXPECT_THAT(table.out,
              ::testing::ContainsRegex("etcd \\(etcd_healthy\\) +node-0 +FAIL"))
      << table.out;

  CliRun json =
      Hardway("check -i " + inventory_ + " --timeout 1s --output json");
  EXPECT_EQ(json.exit_code, 5) << json.out;
  int rows = 0, etcd_fail_node0 = 0;
  std::istringstream lines(json.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"event\":\"check\"") == std::string::npos) continue;
    ++rows;
    if (line.find("\"phase\":\"etcd\"") != std::string::npos &&
        line.find("\"host\":\"node-0\"") != std::string::npos &&
        line.find("\"ok\":false") != std::string::npos)
      ++etcd_fail_node0;
  }
  EXPECT_GE(rows, 3) << json.out;
  EXPECT_EQ(etcd_fail_node0, 1) << json.out;
  EXPECT_FALSE(std::filesystem::exists("/etc/hardway/pod-routes"));
}

}  // namespace
}  // namespace hardway
