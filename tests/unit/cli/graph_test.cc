// `hardway graph` and `hardway explain`: the real binary on the example and
// the 3+5 inventory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "cli_test_util.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `prefix HARDWAY_BINARY args`, with stdout and stderr apart.
CommandResult Hardway(const std::string& args, const std::string& prefix = "") {
  const fs::path err_file =
      fs::temp_directory_path() /
      ("hardway-graph-cli-" + std::to_string(getpid()) + ".err");
  hardway::cli_test::CommandResult ran =
      hardway::cli_test::RunCommand(prefix + " " + std::string(HARDWAY_BINARY) +
                                    " " + args + " 2>" + err_file.string());
  CommandResult run;
  run.exit_code = ran.exit_code;
  run.out = std::move(ran.output);
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  run.err = err.str();
  fs::remove(err_file);
  return run;
}

const std::string kData = HARDWAY_TEST_DATA;
const std::string kExample = kData + "/../../inventory/example.yaml";
const std::string kBig = kData + "/inventories/3c5w.yaml";

TEST(GraphCommandTest, TrustViewAsDot) {
  CommandResult r = Hardway("graph --format dot -i " + kExample);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("digraph \"trust\" {"));
  EXPECT_THAT(r.out, HasSubstr("\"component:kubelet\" -> "
                               "\"component:kube-apiserver\""));
  EXPECT_THAT(r.out, HasSubstr("label=\"mTLS 10.240.0.10:6443\\nclient cert "
                               "kubelet-<host>\\nkube-apiserver verifies "
                               "with ca\""));
  EXPECT_EQ(r.err, "");  // the format was chosen: nothing to say
}

TEST(GraphCommandTest, StartupViewAsMermaid) {
  CommandResult r = Hardway("graph --format mermaid --view startup -i " + kBig);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nflowchart TB\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  phase_etcd --> phase_kube_apiserver\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  phase_distribute(\"distribute<br/>on "
                               "controller-0, controller-1, controller-2, … "
                               "(8 hosts)<br/>gate files_present"));
  // The startup view builds the plan but makes no state dir.
  EXPECT_FALSE(fs::exists(kData + "/inventories/state"));
}

TEST(GraphCommandTest, SvgByDefaultWhenGraphvizIsInstalledToAFile) {
  const fs::path out = fs::temp_directory_path() /
                       ("hardway-graph-" + std::to_string(getpid()) + ".svg");
  CommandResult r = Hardway("graph -i " + kExample + " -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("hardway: writing svg (through "));
  EXPECT_EQ(r.out, "");
  std::ifstream in(out);
  std::stringstream svg;
  svg << in.rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("<svg"));
  EXPECT_THAT(svg.str(), HasSubstr("<title>component:etcd</title>"));
  fs::remove(out);
}

TEST(GraphCommandTest, WithoutGraphviz) {
  // No dot on PATH: DOT text by default, said on stderr; SVG refused.
  CommandResult text =
      Hardway("graph -i " + kExample, "PATH=/nonexistent-hardway-test");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("digraph \"trust\" {"));
  EXPECT_THAT(text.err,
              HasSubstr("writing dot (Graphviz `dot` is not installed"));
  CommandResult svg = Hardway("graph --format svg -i " + kExample,
                              "PATH=/nonexistent-hardway-test");
  EXPECT_EQ(svg.exit_code, 2) << svg.err;
  EXPECT_EQ(svg.out, "");
  EXPECT_THAT(svg.err, HasSubstr("--format svg needs Graphviz's `dot`"));
  EXPECT_THAT(svg.err, HasSubstr("install Debian's graphviz"));
}

TEST(GraphCommandTest, BadViewIsAUsageError) {
  CommandResult r = Hardway("graph --view network -i " + kExample);
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(ExplainCommandTest, CertificateOfTheExampleByDefault) {
  CommandResult r = Hardway("explain kubelet-node-0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("(hardway's example inventory "));
  EXPECT_THAT(r.out,
              HasSubstr("/inventory/example.yaml; pass -i FILE for "
                        "your cluster)\n\ncertificate kubelet-node-0: "));
  EXPECT_THAT(r.out, HasSubstr("  SANs:         node-0, node-0.example.com, "
                               "10.240.0.20\n"));
  EXPECT_FALSE(fs::exists(kData + "/../../inventory/state/demo"));
}

TEST(ExplainCommandTest, WithAnInventory) {
  CommandResult r = Hardway("explain etcd/server-controller-2 -i " + kBig);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("certificate etcd/server-controller-2: "));
  EXPECT_THAT(r.out, HasSubstr("to kube-apiserver on controller-0, "
                               "controller-1, controller-2"));
  EXPECT_FALSE(fs::exists(kData + "/inventories/state"));
}

TEST(ExplainCommandTest, UnknownNameIsAUsageErrorWithSuggestions) {
  CommandResult r = Hardway("explain kube-apiservr");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err,
              HasSubstr("nothing named 'kube-apiservr' in cluster demo"));
  EXPECT_THAT(r.err, HasSubstr("did you mean 'kube-apiserver'?"));
}

}  // namespace
