// End-to-end: hardway brings a 3-controller + 2-worker cluster up on the nspawn testbed, and
// every claim is checked independently of hardway (etcdctl, kubectl, ssh). The scenarios run
// in order on one testbed because each builds on the cluster the previous one left:
// faults before the first up, an up killed after etcd, a no-op re-run, a one-component change,
// a bad apiserver flag, a changed host key, and finally reset.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iterator>
#include <map>
#include <set>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Cmd {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `command` with /bin/sh; the child's stderr joins stdout.
Cmd Sh(const std::string& command) {
  Cmd result;
  FILE* pipe = ::popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.out.append(buf, n);
  int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

const fs::path kWork = "/var/tmp/hardway-e2e";
const std::string kHardway = HARDWAY_BINARY;
const std::string kTestbed = HARDWAY_TESTBED;
const std::vector<std::string> kControllers = {"controller-0", "controller-1", "controller-2"};
const std::vector<std::string> kWorkers = {"node-0", "node-1"};

fs::path Inventory() { return kWork / "inventory.yaml"; }
fs::path State() { return kWork / "state"; }
fs::path Artifacts() { return kWork / "artifacts"; }
std::string Pki(const std::string& name) { return (State() / "pki" / name).string(); }

std::vector<std::string> AllHosts() {
  std::vector<std::string> all = kControllers;
  all.insert(all.end(), kWorkers.begin(), kWorkers.end());
  return all;
}

// A command inside a machine without going through its sshd (nsenter).
Cmd InMachine(const std::string& machine, const std::string& command) {
  return Sh(kTestbed + " exec " + machine + " /bin/sh -c " + Quote(command));
}

// A command over SSH with the testbed's key and strict host keys, independent of hardway.
Cmd OverSsh(const std::string& machine, const std::string& command) {
  return Sh(kTestbed + " ssh " + machine + " " + Quote(command));
}

std::string HardwayCmd(const std::string& verb, const std::string& extra = "") {
  return kHardway + " " + verb + " -i " + Inventory().string() + " --state " +
         State().string() + " " + extra;
}

struct RunResult {
  int code = -1;
  std::vector<json> events;
  std::string text;  // everything printed
  json summary;
  std::vector<json> Of(const std::string& event) const {
    std::vector<json> out;
    for (const json& e : events) {
      if (e.value("event", "") == event) out.push_back(e);
    }
    return out;
  }
};

RunResult ParseRun(const Cmd& cmd) {
  RunResult r;
  r.code = cmd.code;
  r.text = cmd.out;
  std::istringstream lines(cmd.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() != '{') continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) continue;
    r.events.push_back(j);
    if (j.value("event", "") == "summary") r.summary = j;
  }
  return r;
}

// The state dir's record of the last complete `up` (it turns on the survey).
bool LastUpRemembered() { return fs::exists(State() / "last-up.json"); }

RunResult Up(const std::string& extra = "") {
  return ParseRun(Sh(HardwayCmd("up", "--output json " + extra)));
}

// Units restarted in a run, as "host/unit".
std::vector<std::string> Restarted(const RunResult& run) {
  std::vector<std::string> out;
  for (const json& e : run.Of("step_finished")) {
    if (e.value("restarted", false)) {
      out.push_back(e.value("host", "") + "/" + e.value("unit", ""));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void WriteInventory(const std::string& extra_args_yaml) {
  std::string generated = Sh(kTestbed + " inventory").out;
  generated = generated.substr(0, generated.find('\n'));
  std::ifstream in(generated);
  std::string base((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The generated inventory has a "cluster:" section with only a name; extra_args go there.
  std::string text = std::regex_replace(base, std::regex("cluster:\n  name: testbed\n"),
                                        "cluster:\n  name: testbed\n" + extra_args_yaml);
  std::ofstream(Inventory()) << text;
}

class Environment : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the e2e tier needs root (CI runs as root)";
    fs::remove_all(State());
    fs::create_directories(Artifacts());
    Cmd artifacts = Sh(std::string(HARDWAY_ARTIFACTS_SCRIPT) + " " + Artifacts().string());
    ASSERT_EQ(artifacts.code, 0) << artifacts.out;
    // The stand-ins take the Kubernetes binaries' names in the artifacts folder.
    Cmd standins = Sh("cp -f " + std::string(HARDWAY_STANDINS_DIR) + "/* " +
                      Artifacts().string() + "/");
    ASSERT_EQ(standins.code, 0) << standins.out;
    // The manifest `up` verifies every artifact against before uploading.
    Cmd manifest = Sh("cd " + Artifacts().string() +
                      " && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > "
                      "SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS");
    ASSERT_EQ(manifest.code, 0) << manifest.out;
    auto start = std::chrono::steady_clock::now();
    Cmd up = Sh(kTestbed + " up 5 --controllers 3 --artifacts " + Artifacts().string());
    ASSERT_EQ(up.code, 0) << up.out;
    std::printf("testbed booted in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    WriteInventory("");
  }
  void TearDown() override {
    if (std::getenv("HARDWAY_E2E_KEEP")) return;
    Sh(kTestbed + " down");
  }
};

// --- faults before anything is installed ---------------------------------------------------

bool AnyHostHas(const std::string& path) {
  for (const std::string& h : AllHosts()) {
    if (OverSsh(h, "test -e " + path).code == 0) return true;
  }
  return false;
}

TEST(E2e, StoppedSshdIsNamedByPreflightAndNothingChanges) {
  ASSERT_EQ(InMachine("node-1", "systemctl stop ssh.service").code, 0);
  RunResult run = Up();
  EXPECT_EQ(run.code, 3) << run.text;  // connection error
  EXPECT_NE(run.text.find("node-1"), std::string::npos) << run.text;
  EXPECT_NE(run.text.find("10.213.0.14"), std::string::npos) << run.text;
  EXPECT_TRUE(run.Of("step_finished").empty() ||
              std::none_of(run.Of("step_finished").begin(), run.Of("step_finished").end(),
                           [](const json& e) { return e.value("changed", false); }))
      << run.text;
  ASSERT_EQ(InMachine("node-1", "systemctl start ssh.service").code, 0);
  EXPECT_FALSE(AnyHostHas("/usr/local/bin/etcd"));
}

TEST(E2e, CorruptedArtifactIsRefusedBeforeUpload) {
  fs::path etcd = Artifacts() / "etcd";
  fs::path saved = kWork / "etcd.good";
  fs::copy_file(etcd, saved, fs::copy_options::overwrite_existing);
  // Flip bytes in the middle: the ELF header still looks fine, only the checksum can tell.
  ASSERT_EQ(Sh("printf 'XXXXXXXX' | dd of=" + etcd.string() +
               " bs=1 seek=100000 conv=notrunc status=none")
                .code,
            0);
  RunResult run = Up();
  fs::copy_file(saved, etcd, fs::copy_options::overwrite_existing);
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.text.find("etcd"), std::string::npos) << run.text;
  EXPECT_NE(run.text.find("sha256"), std::string::npos) << run.text;
  EXPECT_FALSE(AnyHostHas("/usr/local/bin/etcd"));
}

// --- bring-up ------------------------------------------------------------------------------

TEST(E2e, UpKilledAfterEtcdThenNextUpPassesEveryGate) {
  // Start `up`, wait for the etcd phase to finish, kill it hard.
  std::string log = (kWork / "killed-up.jsonl").string();
  std::string cmd = HardwayCmd("up", "--output json") + " > " + log + " 2>&1";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  bool etcd_done = false;
  for (int i = 0; i < 1200 && !etcd_done; ++i) {
    ::usleep(100'000);
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"phase_done\"") != std::string::npos &&
          line.find("\"phase\":\"etcd\"") != std::string::npos) {
        etcd_done = true;
      }
    }
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(etcd_done) << Sh("cat " + log).out;

  RunResult run = Up();
  ASSERT_EQ(run.code, 0) << run.text;
  EXPECT_TRUE(run.summary.value("ok", false)) << run.text;
  EXPECT_TRUE(run.Of("gate_failed").empty()) << run.text;
  EXPECT_GE(run.Of("gate_passed").size(), 8u) << run.text;
  // A complete `up` is remembered: the next one surveys every host at once.
  EXPECT_TRUE(LastUpRemembered());
}

TEST(E2e, EtcdAnswersOnlyItsOwnCaOverMutualTls) {
  std::string endpoints = "https://10.213.0.10:2379,https://10.213.0.11:2379,https://10.213.0.12:2379";
  std::string etcdctl = "ETCDCTL_API=3 " + (Artifacts() / "etcdctl").string() +
                        " --endpoints " + endpoints + " --cacert " + Pki("etcd/ca.crt") +
                        " --dial-timeout 3s --command-timeout 5s";
  Cmd health = Sh(etcdctl + " --cert " + Pki("etcd/healthcheck-client.crt") + " --key " +
                  Pki("etcd/healthcheck-client.key") + " endpoint health");
  EXPECT_EQ(health.code, 0) << health.out;
  size_t healthy = 0;
  for (size_t pos = 0; (pos = health.out.find("is healthy", pos)) != std::string::npos; ++pos) {
    ++healthy;
  }
  EXPECT_EQ(healthy, 3u) << health.out;
  Cmd members = Sh(etcdctl + " --cert " + Pki("etcd/healthcheck-client.crt") + " --key " +
                   Pki("etcd/healthcheck-client.key") + " member list");
  EXPECT_EQ(members.code, 0) << members.out;
  for (const std::string& c : kControllers) {
    EXPECT_NE(members.out.find(c + ", https://"), std::string::npos) << members.out;
  }
  // The admin certificate is signed by the cluster CA, not etcd-ca: etcd must refuse it.
  Cmd wrong_ca = Sh(etcdctl + " --cert " + Pki("admin.crt") + " --key " + Pki("admin.key") +
                    " endpoint health");
  EXPECT_NE(wrong_ca.code, 0) << wrong_ca.out;
}

TEST(E2e, KubectlReachesApiserverAndForeignCaIsRefused) {
  std::string admin = (State() / "kubeconfigs" / "admin.kubeconfig").string();
  Cmd ready = Sh(std::string(HARDWAY_KUBECTL) + " --kubeconfig " + admin +
                 " --request-timeout 10s get --raw /readyz");
  EXPECT_EQ(ready.code, 0) << ready.out;
  EXPECT_EQ(ready.out, "ok") << ready.out;

  // A client certificate from a CA of our own, in an otherwise identical kubeconfig.
  fs::path own = kWork / "own-ca";
  fs::create_directories(own);
  std::string o = own.string();
  Cmd made = Sh("cd " + o +
                " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-keyout ca.key -out ca.crt -subj /CN=impostor-ca -days 2 "
                "&& openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-keyout admin.key -out admin.csr -subj /O=system:masters/CN=admin "
                "&& openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
                "-out admin.crt -days 1");
  ASSERT_EQ(made.code, 0) << made.out;
  std::string forged = o + "/admin.kubeconfig";
  ASSERT_EQ(Sh("cp " + admin + " " + forged + " && " + HARDWAY_KUBECTL + " --kubeconfig " +
               forged + " config set-credentials admin --embed-certs --client-certificate " +
               o + "/admin.crt --client-key " + o + "/admin.key")
                .code,
            0);
  Cmd refused = Sh(std::string(HARDWAY_KUBECTL) + " --kubeconfig " + forged +
                   " --request-timeout 10s get --raw /readyz");
  EXPECT_NE(refused.code, 0) << refused.out;
}

TEST(E2e, EveryUnitIsActiveOnEveryHost) {
  for (const std::string& c : kControllers) {
    Cmd active = OverSsh(c, "systemctl is-active etcd kube-apiserver kube-controller-manager "
                            "kube-scheduler");
    EXPECT_EQ(active.code, 0) << c << ":\n" << active.out;
  }
  for (const std::string& w : kWorkers) {
    Cmd active = OverSsh(w, "systemctl is-active containerd kubelet kube-proxy");
    EXPECT_EQ(active.code, 0) << w << ":\n" << active.out;
  }
}

// --- re-runs -------------------------------------------------------------------------------

TEST(E2e, RerunUploadsNothingAndRestartsNothing) {
  RunResult run = Up();
  ASSERT_EQ(run.code, 0) << run.text;
  EXPECT_EQ(run.summary.value("bytes_uploaded", -1), 0) << run.text;
  EXPECT_EQ(run.summary.value("units_restarted", -1), 0) << run.text;
  EXPECT_EQ(run.summary.value("steps_changed", -1), 0) << run.text;
  // Node preparation is checked before it acts: every check passes, nothing runs.
  std::vector<json> prepare;
  for (const json& e : run.Of("phase_done")) {
    if (e.value("phase", "") == "prepare") prepare.push_back(e);
  }
  ASSERT_EQ(prepare.size(), 1u) << run.text;
  EXPECT_EQ(prepare[0].value("changed", -1), 0) << run.text;
  EXPECT_GT(prepare[0].value("steps", 0), 0) << run.text;
}

TEST(E2e, EveryHostIsPreparedAndPersistsIt) {
  for (const std::string& h : AllHosts()) {
    Cmd files = OverSsh(h, "grep -qx br_netfilter /etc/modules-load.d/hardway.conf && "
                           "grep -q '^net.ipv4.ip_forward = 1$' /etc/sysctl.d/99-kubernetes.conf "
                           "&& cat /proc/sys/net/ipv4/ip_forward");
    EXPECT_EQ(files.code, 0) << h << ":\n" << files.out;
    EXPECT_EQ(files.out, "1\n") << h;
  }
}

TEST(E2e, SchedulerSettingRestartsOnlyTheScheduler) {
  WriteInventory("  extra_args:\n    kube-scheduler:\n      --v: \"3\"\n");
  RunResult run = Up();
  ASSERT_EQ(run.code, 0) << run.text;
  std::vector<std::string> expected;
  for (const std::string& c : kControllers) expected.push_back(c + "/kube-scheduler");
  EXPECT_EQ(Restarted(run), expected) << run.text;
  for (const std::string& c : kControllers) {
    EXPECT_EQ(OverSsh(c, "grep -q -- '--v=3' /etc/systemd/system/kube-scheduler.service").code,
              0);
  }
}

TEST(E2e, ApiserverFlagItLacksFailsItsGateWithTheJournal) {
  WriteInventory("  extra_args:\n    kube-scheduler:\n      --v: \"3\"\n"
                 "    kube-apiserver:\n      --no-such-flag: \"1\"\n");
  auto start = std::chrono::steady_clock::now();
  RunResult run = Up();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(run.code, 5) << run.text;  // gate failure
  ASSERT_FALSE(run.Of("gate_failed").empty()) << run.text;
  json failed = run.Of("gate_failed").front();
  EXPECT_EQ(failed.value("phase", ""), "kube-apiserver") << run.text;
  // It fails before its deadline: a crash-looping unit is not waited for.
  long timeout_ms = 0;
  for (const json& w : run.Of("gate_waiting")) {
    if (w.value("phase", "") == "kube-apiserver") timeout_ms = w.value("timeout_ms", 0L);
  }
  ASSERT_GT(timeout_ms, 0) << run.text;
  EXPECT_LT(failed.value("took_ms", 0L), timeout_ms / 2) << run.text;
  // The stand-in's own words, from the unit's journal.
  EXPECT_NE(run.text.find("unknown flag --no-such-flag"), std::string::npos) << run.text;
  std::printf("bad-flag run failed after %.1f s\n", took);
  EXPECT_FALSE(LastUpRemembered());  // the next `up` asks phase by phase

  // Repair: the same inventory without the bad flag converges again.
  WriteInventory("  extra_args:\n    kube-scheduler:\n      --v: \"3\"\n");
  RunResult repaired = Up();
  EXPECT_EQ(repaired.code, 0) << repaired.text;
  EXPECT_TRUE(LastUpRemembered());
}

TEST(E2e, RegeneratedHostKeyIsRefusedWithItsFingerprint) {
  ASSERT_EQ(InMachine("node-0", "mkdir -p /root/hostkeys && cp -a /etc/ssh/ssh_host_* "
                                "/root/hostkeys/ && rm -f /etc/ssh/ssh_host_* && ssh-keygen -A "
                                ">/dev/null && systemctl restart ssh.service")
                .code,
            0);
  Cmd fp = InMachine("node-0", "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub");
  ASSERT_EQ(fp.code, 0) << fp.out;
  std::smatch m;
  std::string fp_text = fp.out;
  ASSERT_TRUE(std::regex_search(fp_text, m, std::regex("SHA256:[A-Za-z0-9+/]+"))) << fp.out;
  RunResult run = Up();
  ASSERT_EQ(InMachine("node-0", "cp -a /root/hostkeys/ssh_host_* /etc/ssh/ && "
                                "systemctl restart ssh.service")
                .code,
            0);
  EXPECT_EQ(run.code, 3) << run.text;
  EXPECT_NE(run.text.find("node-0"), std::string::npos) << run.text;
  EXPECT_NE(run.text.find(m.str()), std::string::npos) << "expected " << m.str() << "\n"
                                                       << run.text;
}

// --- reset ---------------------------------------------------------------------------------

TEST(E2e, ResetLeavesNothingOfOurs) {
  // Every destination the plan installs, from the plan itself.
  Cmd plan = Sh(HardwayCmd("plan", "--output json"));
  ASSERT_EQ(plan.code, 0) << plan.out;
  json j = json::parse(plan.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << plan.out;
  std::map<std::string, std::set<std::string>> dests;
  for (const json& phase : j["phases"]) {
    for (const json& step : phase["steps"]) {
      if (step.contains("dest") && step.contains("host")) {
        dests[step["host"].get<std::string>()].insert(step["dest"].get<std::string>());
      }
    }
  }
  ASSERT_FALSE(dests.empty());

  Cmd reset = Sh(HardwayCmd("reset", "--yes"));
  ASSERT_EQ(reset.code, 0) << reset.out;
  EXPECT_FALSE(LastUpRemembered());
  for (const std::string& h : AllHosts()) {
    std::string paths = "/var/lib/etcd /var/lib/kubelet /var/lib/hardway";
    for (const std::string& d : dests[h]) paths += " " + d;
    Cmd left = OverSsh(h, "for p in " + paths + "; do [ -e \"$p\" ] && echo \"left: $p\"; done; "
                          "systemctl list-unit-files --no-legend 'etcd*' 'kube*' "
                          "'containerd*' | grep . && echo 'left: units'; true");
    EXPECT_EQ(left.out.find("left:"), std::string::npos) << h << ":\n" << left.out;
  }
  // Safe to re-run.
  Cmd again = Sh(HardwayCmd("reset", "--yes"));
  EXPECT_EQ(again.code, 0) << again.out;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "e2e: needs root\n");
    return 77;
  }
  std::signal(SIGPIPE, SIG_IGN);
  fs::create_directories(kWork);
  ::testing::AddGlobalTestEnvironment(new Environment);
  return RUN_ALL_TESTS();
}
