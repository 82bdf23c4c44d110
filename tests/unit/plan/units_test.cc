// Every flag of every rendered unit exists for its component and is not
// deprecated: the Kubernetes components (and the testbed's stand-ins) refuse
// unknown flags, so a typo or a flag from another version would stop the
// cluster at start-up instead of here.
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "plan_test_util.h"

namespace hardway {
namespace {

using testing::MakeCluster;
using testing::MustBuild;
namespace fs = std::filesystem;

struct FlagInfo {
  bool deprecated = false;
};
using FlagTable = std::map<std::string, FlagInfo>;

// Flags that Kubernetes v1.32 (hardway's default) has but the newer reference
// pages dropped. Each entry needs its reason. Empty today: every flag the units
// use is on the pages.
const std::map<std::string, std::set<std::string>> kV132AllowList = {};

// containerd's flags are not in the reference lists; `containerd --help` of
// Debian bookworm's containerd 1.6 shows --config/-c, --log-level/-l,
// --address/-a, --root, --state.
const std::set<std::string> kContainerdFlags = {"config", "log-level",
                                                "address", "root", "state"};

fs::path FlagsDir() { return fs::path(HARDWAY_TEST_DATA) / "k8s-flags"; }

FlagTable LoadTsv(const std::string& component) {
  std::ifstream in(FlagsDir() / (component + ".tsv"));
  EXPECT_TRUE(in.good()) << component;
  FlagTable table;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    EXPECT_GE(cols.size(), 3u) << line;
    if (cols.size() >= 3) table[cols[0]] = FlagInfo{cols[2] == "yes"};
  }
  for (const auto& [c, flags] : kV132AllowList) {
    if (c == component) {
      for (const std::string& f : flags) table[f] = FlagInfo{};
    }
  }
  return table;
}

FlagTable LoadEtcd() {
  std::ifstream in(FlagsDir() / "etcd-3.4.txt");
  EXPECT_TRUE(in.good());
  FlagTable table;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("--")) table[line.substr(2)] = FlagInfo{};
  }
  // Deprecated per etcd 3.4's own help text.
  table["debug"].deprecated = true;
  table["log-package-levels"].deprecated = true;
  return table;
}

// The words of the unit's ExecStart= (continuation lines joined; "..." quoting
// as systemd).
std::vector<std::string> ExecStart(const std::string& unit) {
  std::string joined;
  std::istringstream lines(unit);
  std::string line;
  bool in_exec = false;
  while (std::getline(lines, line)) {
    if (!in_exec && line.starts_with("ExecStart=")) {
      in_exec = true;
      line = line.substr(10);
    }
    if (!in_exec) continue;
    bool more = !line.empty() && line.back() == '\\';
    if (more) line.pop_back();
    joined += line + " ";
    if (!more) break;
  }
  std::vector<std::string> words;
  std::string word;
  bool quoted = false, have = false;
  for (size_t i = 0; i < joined.size(); ++i) {
    char c = joined[i];
    if (c == '"') {
      quoted = !quoted;
      have = true;
    } else if (c == '\\' && quoted && i + 1 < joined.size()) {
      word += joined[++i];
    } else if ((c == ' ' || c == '\t') && !quoted) {
      if (have) words.push_back(word);
      word.clear();
      have = false;
    } else {
      word += c;
      have = true;
    }
  }
  EXPECT_FALSE(quoted) << "unbalanced quote in ExecStart";
  return words;
}

void CheckUnit(const std::string& host, const std::string& unit_text,
               std::set<std::string>* seen_components) {
  std::vector<std::string> words = ExecStart(unit_text);
  ASSERT_FALSE(words.empty()) << "no ExecStart on " << host;
  const std::string binary = words[0];
  ASSERT_TRUE(binary.starts_with("/usr/local/bin/")) << binary;
  const std::string component = fs::path(binary).filename();
  seen_components->insert(component);
  FlagTable table;
  if (component == "etcd") {
    table = LoadEtcd();
  } else if (component == "containerd") {
    for (const std::string& f : kContainerdFlags) table[f] = FlagInfo{};
  } else {
    table = LoadTsv(component);
  }
  std::set<std::string> used;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    ASSERT_TRUE(w.starts_with("--"))
        << component << " on " << host << ": stray argument '" << w
        << "' (flags are written --flag=value)";
    std::string name =
        w.substr(2, w.find('=') == std::string::npos ? std::string::npos
                                                     : w.find('=') - 2);
    if (component == "containerd" && w.find('=') == std::string::npos)
      ++i;  // --config PATH
    auto it = table.find(name);
    EXPECT_NE(it, table.end())
        << component << " on " << host << ": unknown flag --" << name;
    if (it != table.end()) {
      EXPECT_FALSE(it->second.deprecated)
          << component << " on " << host << ": --" << name
          << " is deprecated; set it in the component's config file";
    }
    // A flag given twice is a mistake in the unit itself (extra_args are
    // appended on purpose and may repeat one, as --v below).
    if (component != "kubelet" || name != "v") {
      EXPECT_TRUE(used.insert(name).second)
          << component << ": --" << name << " twice";
    }
  }
}

void CheckAllUnits(const Plan& plan) {
  std::set<std::string> components;
  size_t units = 0;
  for (const Phase& p : plan.phases) {
    for (const Step& s : p.steps) {
      if (s.kind != StepKind::kRender ||
          !s.dest.starts_with("/etc/systemd/system/"))
        continue;
      ++units;
      SCOPED_TRACE(s.id);
      CheckUnit(s.host, s.content, &components);
    }
  }
  EXPECT_GT(units, 0u);
  EXPECT_EQ(components,
            (std::set<std::string>{"etcd", "kube-apiserver",
                                   "kube-controller-manager", "kube-scheduler",
                                   "containerd", "kubelet", "kube-proxy"}));
}

TEST(UnitsTest, EveryFlagIsKnownAndNotDeprecatedThreeControllersFiveWorkers) {
  CheckAllUnits(MustBuild(MakeCluster(testing::kThreeByFive, "units-big")));
}

TEST(UnitsTest, EveryFlagIsKnownAndNotDeprecatedExampleInventory) {
  CheckAllUnits(
      MustBuild(MakeCluster(testing::ExampleInventoryText(), "units-example")));
}

// The checker itself must catch a bad flag, or the tests above prove nothing.
TEST(UnitsTest, CheckerRejectsUnknownAndDeprecatedFlags) {
  std::set<std::string> seen;
  EXPECT_NONFATAL_FAILURE(
      CheckUnit("h",
                "ExecStart=/usr/local/bin/kube-apiserver \\\n"
                "  --etcd-server=https://x:2379\n",
                &seen),
      "unknown flag --etcd-server");
  EXPECT_NONFATAL_FAILURE(
      CheckUnit("h",
                "ExecStart=/usr/local/bin/kube-scheduler \\\n"
                "  --kubeconfig=/etc/kubernetes/scheduler.conf\n",
                &seen),
      "--kubeconfig is deprecated");
  EXPECT_NONFATAL_FAILURE(
      CheckUnit("h", "ExecStart=/usr/local/bin/etcd --peer-ca-file=/x\n",
                &seen),
      "unknown flag --peer-ca-file");
  EXPECT_NONFATAL_FAILURE(
      CheckUnit("h", "ExecStart=/usr/local/bin/kubelet --register-node=true\n",
                &seen),
      "--register-node is deprecated");
  EXPECT_EQ(ExecStart("ExecStart=/bin/x \\\n  \"--a=b c\" \\\n  --d\n"),
            (std::vector<std::string>{"/bin/x", "--a=b c", "--d"}));
}

// What pki.md says the hard way got wrong, checked on the rendered units.
TEST(UnitsTest, HardWayDefectsAreFixed) {
  Plan plan = MustBuild(MakeCluster(testing::kThreeByFive, "units-big"));
  std::string api, etcd;
  for (const Step& s : plan.phase("distribute")->steps) {
    if (s.host != "cp-1") continue;
    if (s.dest == "/etc/systemd/system/kube-apiserver.service") api = s.content;
    if (s.dest == "/etc/systemd/system/etcd.service") etcd = s.content;
  }
  using ::testing::HasSubstr;
  EXPECT_THAT(api, HasSubstr("--service-cluster-ip-range=10.32.0.0/24"));
  EXPECT_THAT(api, HasSubstr("--authorization-mode=Node,RBAC"));
  EXPECT_THAT(api, HasSubstr("--encryption-provider-config=/etc/kubernetes/"
                             "encryption-config.yaml"));
  EXPECT_THAT(
      api,
      HasSubstr(
          "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt"));
  EXPECT_THAT(api, HasSubstr("--advertise-address=10.0.0.11"));
  EXPECT_THAT(api, ::testing::Not(HasSubstr("http://")));
  // etcd: TLS everywhere, client and peer certificates required.
  EXPECT_THAT(etcd, HasSubstr("--client-cert-auth=true"));
  EXPECT_THAT(etcd, HasSubstr("--peer-client-cert-auth=true"));
  EXPECT_THAT(etcd, HasSubstr("--listen-client-urls=https://"
                              "10.0.0.11:2379,https://127.0.0.1:2379"));
  std::vector<std::string> words = ExecStart(etcd);
  for (const std::string& w : words) {
    // Only the metrics listener is plain HTTP, and only on loopback.
    if (w.find("http://") != std::string::npos) {
      EXPECT_EQ(w, "--listen-metrics-urls=http://127.0.0.1:2381");
    }
  }
}

}  // namespace
}  // namespace hardway
