#include "plan/plan_printer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include "plan_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using testing::MakeCluster;
using testing::MustBuild;
using ::testing::Not;
using testing::StateFor;
namespace fs = std::filesystem;

const Cluster& Example() {
  static const Cluster c =
      MakeCluster(testing::ExampleInventoryText(), "printer-example");
  return c;
}

const Plan& ExamplePlan() {
  static const Plan p = MustBuild(Example());
  return p;
}

// Keys are random, so the size and hash of every generated file (certificates,
// keys, kubeconfigs, encryption config) differ per run; everything else is
// deterministic. std::regex (ECMAScript), not gtest's POSIX ContainsRegex: \n
// and friends work.
MATCHER_P(HasLine, pattern, "has a line matching " + std::string(pattern)) {
  return std::regex_search(arg, std::regex(std::string(pattern)));
}

std::string Normalize(const std::string& text) {
  static const std::regex generated(
      R"((-> \S+  (?:<[^>]+>|[0-7]{4}) \S+  )[0-9.]+ (?:B|KiB|MiB)  sha256 [0-9a-f]{12})");
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("] ") != std::string::npos &&
        line.find(" state ") != std::string::npos) {
      line =
          std::regex_replace(line, generated, "$1<size>  sha256 <generated>");
    }
    out += line + "\n";
  }
  return out;
}

TEST(PlanPrinterTest, GoldenDryRunOfTheExampleInventory) {
  auto text = FormatPlanText(ExamplePlan());
  ASSERT_TRUE(text.has_value()) << text.error().ToString();
  const std::string got = Normalize(*text);
  EXPECT_THAT(got, Not(HasSubstr("] state"))) << "normalisation missed a line";
  const fs::path golden =
      fs::path(HARDWAY_TEST_DATA) / "golden" / "plan-example.txt";
  if (const char* update = std::getenv("HARDWAY_UPDATE_GOLDEN");
      update && *update == '1') {
    std::ofstream(golden) << got;
    GTEST_SKIP() << "wrote " << golden;
  }
  auto want = ReadFile(golden);
  ASSERT_TRUE(want.has_value())
      << golden << " missing; run with HARDWAY_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, *want)
      << "the dry run changed; if on purpose, regenerate with "
         "HARDWAY_UPDATE_GOLDEN=1 and review the diff";
}

TEST(PlanPrinterTest, StepLinesShowSourceDestModeOwnerSizeAndHash) {
  std::string text = *FormatPlanText(ExamplePlan());
  EXPECT_THAT(text, HasSubstr("plan for cluster demo: 10 phases, 3 hosts, "));
  EXPECT_THAT(
      text,
      HasLine(
          R"(\] controller-0 upload  state pki/apiserver.key -> )"
          R"(/etc/kubernetes/pki/apiserver.key  <private key, 0600> root:root  )"
          R"([0-9]+ B  sha256 [0-9a-f]{12}\n)"));
  EXPECT_THAT(
      text,
      HasLine(
          R"(\] node-0       upload  state kubeconfigs/kubelet-node-0.kubeconfig -> )"
          R"(/etc/kubernetes/kubelet.conf  <kubeconfig, 0600> root:root)"));
  EXPECT_THAT(text, HasLine(R"(<encryption key, 0600> root:root)"));
  EXPECT_THAT(
      text,
      HasSubstr("upload  artifact etcd -> /usr/local/bin/etcd  0755 root:root  "
                "MISSING\n"));
  EXPECT_THAT(
      text,
      HasLine(
          R"(render  template units/etcd.service -> /etc/systemd/system/etcd.service  )"
          R"(0644 root:root  [0-9]+ B  sha256 [0-9a-f]{12}\n)"));
  EXPECT_THAT(text, HasSubstr("run     install -d -m 0700 /var/lib/etcd  "
                              "[unless: test \"$(stat -c %a /var/lib/etcd "
                              "2>/dev/null)\" = 700]\n"));
  // A checked run step shows its check: what decides whether it runs.
  EXPECT_THAT(
      text,
      HasLine(
          R"(\] node-0       run     /lib/systemd/systemd-sysctl )"
          R"(/etc/sysctl.d/99-kubernetes.conf  \[unless: awk .*\]\n)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "systemd etcd.service: enable, start (daemon-reload if its unit file "
          "changed); restart if "
          "changed: /usr/local/bin/etcd "));
  EXPECT_THAT(text, HasSubstr("\nphase 5/10 etcd: "));
  EXPECT_THAT(
      text, HasSubstr("  needs: distribute\n  hosts: controller-0 (role etcd)\n"
                      "  gate:  etcd_healthy, timeout 2m"));
  EXPECT_THAT(text, HasSubstr("warning: "));
}

TEST(PlanPrinterTest, SecretsNeverAppear) {
  const fs::path state = StateFor(Example());
  auto text = FormatPlanText(ExamplePlan());
  auto json = PlanToJson(ExamplePlan());
  ASSERT_TRUE(text && json);
  const std::string dumped = json->dump();
  for (const std::string* out :
       std::vector<const std::string*>{&*text, &dumped}) {
    EXPECT_THAT(*out, Not(HasSubstr("PRIVATE KEY")));
    EXPECT_THAT(*out, Not(HasSubstr("client-key-data")));
    EXPECT_THAT(*out, Not(HasSubstr("secret:")));
  }
  // The encryption key itself.
  auto enc = ReadFile(state / "encryption-config.yaml");
  ASSERT_TRUE(enc.has_value());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      *enc, m, std::regex(R"re(secret:\s*"?([A-Za-z0-9+/=]{40,}))re")))
      << "no key in the encryption config?";
  const std::string key = m[1];
  EXPECT_THAT(*text, Not(HasSubstr(key)));
  EXPECT_THAT(dumped, Not(HasSubstr(key)));
  // A line of a private key's body.
  auto pem = ReadFile(state / "pki/apiserver.key");
  ASSERT_TRUE(pem.has_value());
  std::string body = pem->substr(pem->find('\n') + 1, 40);
  EXPECT_THAT(*text, Not(HasSubstr(body)));
  EXPECT_THAT(dumped, Not(HasSubstr(body)));
  // And no rendered content at all in JSON (it is not needed to review the
  // plan).
  EXPECT_THAT(dumped, Not(HasSubstr("[Service]")));
}

TEST(PlanPrinterTest, PhaseFilterShowsOnePhaseWithGlobalNumbers) {
  auto text = FormatPlanText(ExamplePlan(), "etcd");
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(*text, HasSubstr("phase 5/10 etcd"));
  EXPECT_THAT(*text, Not(HasSubstr("phase 4/10")));
  EXPECT_THAT(*text, Not(HasSubstr("kube-apiserver.service")));
  size_t before = 0;
  for (const Phase& p : ExamplePlan().phases) {
    if (p.name == "etcd") break;
    before += p.steps.size();
  }
  const std::string total = std::to_string(ExamplePlan().step_count());
  std::string first = std::to_string(before + 1);
  first = std::string(total.size() - first.size(), ' ') + first;
  EXPECT_THAT(*text, HasSubstr("[" + first + "/" + total + "] controller-0"));

  auto json = PlanToJson(ExamplePlan(), "etcd");
  ASSERT_TRUE(json.has_value());
  ASSERT_EQ((*json)["phases"].size(), 1u);
  EXPECT_EQ((*json)["phases"][0]["name"], "etcd");
  EXPECT_EQ((*json)["phases"][0]["steps"][0]["number"], before + 1);

  auto bad = FormatPlanText(ExamplePlan(), "etdc");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::kUsage);
  EXPECT_THAT(bad.error().message, HasSubstr("no phase named 'etdc'"));
  EXPECT_THAT(bad.error().hint,
              HasSubstr("preflight, pki, prepare, distribute, etcd"));
  EXPECT_FALSE(PlanToJson(ExamplePlan(), "etdc").has_value());
}

TEST(PlanPrinterTest, JsonParsesAndMatchesThePlan) {
  auto json = PlanToJson(ExamplePlan());
  ASSERT_TRUE(json.has_value());
  auto parsed = nlohmann::json::parse(json->dump(2), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  EXPECT_EQ(parsed["cluster"], "demo");
  EXPECT_EQ(parsed["step_count"], ExamplePlan().step_count());
  ASSERT_EQ(parsed["phases"].size(), ExamplePlan().phases.size());
  size_t steps = 0;
  for (const auto& p : parsed["phases"]) steps += p["steps"].size();
  EXPECT_EQ(steps, ExamplePlan().step_count());
  const auto& etcd = parsed["phases"][4];
  EXPECT_EQ(etcd["name"], "etcd");
  EXPECT_EQ(etcd["needs"], nlohmann::json::array({"distribute"}));
  EXPECT_EQ(etcd["gate"]["kind"], "etcd_healthy");
  EXPECT_EQ(etcd["gate"]["timeout_ms"], 120000);
  bool saw_key = false;
  for (const auto& s : parsed["phases"][3]["steps"]) {
    if (s["dest"] == "/etc/kubernetes/pki/apiserver.key") {
      saw_key = true;
      EXPECT_EQ(s["secret"], true);
      EXPECT_EQ(s["secret_kind"], "private key");
      EXPECT_EQ(s["mode"], "0600");
      EXPECT_EQ(s["sha256"].get<std::string>().size(), 64u);
      EXPECT_EQ(s["source"], "state pki/apiserver.key");
    }
  }
  EXPECT_TRUE(saw_key);
  const auto& prepare = parsed["phases"][2];
  EXPECT_EQ(prepare["name"], "prepare");
  EXPECT_EQ(prepare["gate"]["kind"], "prepared");
  size_t checked = 0;
  for (const auto& s : prepare["steps"]) {
    if (!s.contains("check")) continue;
    ++checked;
    EXPECT_EQ(s["kind"], "run");
    EXPECT_FALSE(s["check"].get<std::string>().empty());
  }
  // The controller: its folder, kmod, modules, sysctls; each of the two
  // workers also packages and swap.
  EXPECT_EQ(checked, 4u + 6u + 6u);
}

TEST(PlanPrinterTest, Sizes) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(10239), "10239 B");
  EXPECT_EQ(FormatSize(10240), "10.0 KiB");
  EXPECT_EQ(FormatSize(23 * 1024 * 1024 + 100 * 1024), "23.1 MiB");
  EXPECT_EQ(FormatMode(0755), "0755");
  EXPECT_EQ(FormatMode(0600), "0600");
}

}  // namespace
}  // namespace hardway
