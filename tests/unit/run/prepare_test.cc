// The prepare phase of playbooks/bootstrap.yaml, built for a controller and a
// worker and run against recording hosts: the exact commands it sends, that a
// re-run on hosts where everything is in place changes nothing, and that a
// failure names the host and what is missing. The package step's shell is also
// run for real, against stub binaries on a private PATH.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "inventory/cluster.h"
#include "plan/plan_builder.h"
#include "remote/recording_transport.h"
#include "run/runner.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class Outcomes : public NullReporter {
 public:
  void StepFinished(const Step& s, const StepOutcome& o, size_t,
                    size_t) override {
    std::lock_guard lock(mu_);
    steps[s.id] = o;
  }
  void PhaseDone(const Phase& p, const PhaseOutcome& o) override {
    std::lock_guard lock(mu_);
    phases[p.name] = o;
  }
  std::map<std::string, StepOutcome> steps;
  std::map<std::string, PhaseOutcome> phases;

 private:
  std::mutex mu_;
};

// This process's scratch folder; PrepareTest::TearDown removes it.
fs::path TempRoot() {
  return fs::temp_directory_path() /
         ("hardway-prepare-test-" + std::to_string(getpid()));
}

fs::path TempDir(const std::string& name) {
  fs::path p = TempRoot() / name;
  fs::create_directories(p);
  return p;
}

class PrepareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path dir = TempDir("plan");
    auto inv = ParseInventory(
        "cluster: {name: prep}\n"
        "hosts:\n"
        "  - {name: controller-0, address: 10.240.0.10, roles: [etcd, "
        "controlplane]}\n"
        "  - {name: node-0, address: 10.240.0.20, roles: [worker]}\n",
        dir / "inventory.yaml");
    ASSERT_TRUE(inv.has_value());
    cluster_ = std::make_unique<Cluster>(Cluster::Resolve(*inv));
    topo_ = TopologyOf(*cluster_);
    PlanOptions options;
    options.state_dir = dir / "state";  // the prepare phase reads none of it
    options.resource_dir = HARDWAY_SOURCE_DIR;
    auto plan = BuildPlan(*cluster_, options);
    ASSERT_TRUE(plan.has_value()) << plan.error().ToString();
    plan_ = std::move(*plan);
    ASSERT_NE(plan_.phase("prepare"), nullptr);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(TempRoot(), ec);
  }

  FakeHost& Host(const std::string& name) {
    auto& h = hosts_[name];
    if (!h) h = std::make_shared<FakeHost>();
    return *h;
  }

  RunSummary Run(Outcomes& outcomes) {
    RunOptions options;
    options.only = "prepare";
    options.gate.topology = &topo_;
    options.gate.poll = std::chrono::milliseconds(10);
    options.gate.settle = std::chrono::milliseconds(0);
    Runner runner(
        [this](const std::string& h) -> Result<std::unique_ptr<Transport>> {
          Host(h);
          return std::unique_ptr<Transport>(
              std::make_unique<RecordingTransport>(h, hosts_[h], log_));
        },
        outcomes, options);
    return runner.Run(plan_);
  }

  // The prepare step of `host` whose description or command starts with
  // `what`.
  const Step& StepOf(const std::string& host, const std::string& what) {
    for (const Step& s : plan_.phase("prepare")->steps) {
      if (s.host == host &&
          (s.description.starts_with(what) || s.command.starts_with(what)))
        return s;
    }
    ADD_FAILURE() << "no step '" << what << "' on " << host;
    static const Step none;
    return none;
  }

  std::vector<const Step*> Checked(const std::string& host) {
    std::vector<const Step*> out;
    for (const Step& s : plan_.phase("prepare")->steps) {
      if (s.host == host && !s.check.empty()) out.push_back(&s);
    }
    return out;
  }

  // "op detail" of every call to `host`, in order.
  std::vector<std::string> Calls(const std::string& host) {
    std::vector<std::string> out;
    for (const RecordedCall& c : log_->calls(host)) {
      // Each command of a batch is recorded on its own right after it; these
      // tests are about the commands, runner_test about the round trips.
      if (c.op == "exec-many") continue;
      std::string detail = c.detail;
      for (const std::string& p : c.paths) {
        detail += (detail.empty() ? "" : " ") + p;
      }
      out.push_back(c.op + " " + detail);
    }
    return out;
  }

  // The host is not prepared: each check fails until its step's command ran.
  // A check is looked at once with all the phase's checks at its start; its
  // "missing" stands even after a file changed (the command is idempotent);
  // then it is asked once more after its command.
  void Unprepared(const std::string& host) {
    for (const Step& s : plan_.phase("prepare")->steps) {
      if (s.host != host || s.check.empty()) continue;
      Host(host).Script(s.check,
                        {ExecResult{1, "", s.description + " missing\n"},
                         ExecResult{0, "", ""}});
    }
  }

  std::unique_ptr<Cluster> cluster_;
  Topology topo_;
  Plan plan_;
  std::map<std::string, std::shared_ptr<FakeHost>> hosts_;
  std::shared_ptr<CallLog> log_ = std::make_shared<CallLog>();
};

TEST_F(PrepareTest, ComesBeforeDistributeOnEveryHostWithItsOwnGate) {
  const Phase& p = *plan_.phase("prepare");
  EXPECT_EQ(p.hosts, (std::vector<std::string>{"controller-0", "node-0"}));
  EXPECT_EQ(p.gate.kind, GateKind::kPrepared);
  EXPECT_THAT(plan_.phase("distribute")->needs, ::testing::Contains("prepare"));
  // The sysctl file moved here: no other phase writes or applies it.
  for (const Phase& other : plan_.phases) {
    if (other.name == "prepare") continue;
    for (const Step& s : other.steps) {
      EXPECT_NE(s.dest, "/etc/sysctl.d/99-kubernetes.conf") << s.id;
      EXPECT_THAT(s.command, Not(HasSubstr("sysctl"))) << s.id;
    }
  }
}

TEST_F(PrepareTest, ExactCommandsOnAWorkerAndAController) {
  Unprepared("node-0");
  Unprepared("controller-0");
  Outcomes first;
  RunSummary s = Run(first);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");

  const std::string modules = "/etc/modules-load.d/hardway.conf";
  const std::string sysctls = "/etc/sysctl.d/99-kubernetes.conf";
  auto checked = [](const Step& st) {
    // The first look said missing: the command runs, the check passes.
    return std::vector<std::string>{"exec " + st.command, "exec " + st.check};
  };
  auto expect = [&](const std::string& host,
                    const std::vector<std::string>& steps) {
    const Step& mkdir = StepOf(host, "mkdir -p /etc/modules-load.d");
    std::vector<std::string> want = {"sha256 " + modules + " " + sysctls};
    // Every check at the phase's start (one call over SSH)...
    want.push_back("exec " + mkdir.check);
    for (const std::string& what : steps) {
      want.push_back("exec " + StepOf(host, what).check);
    }
    // The folder (nothing changed before it: the first look decides), then
    // both files in one round trip.
    want.insert(want.end(), {"exec " + mkdir.command, "exec " + mkdir.check,
                             "upload-many " + modules + " " + sysctls,
                             "upload " + modules, "upload " + sysctls});
    // The uploads changed the host, but a "missing" still stands: each step
    // runs its command and checks once after it.
    for (const std::string& what : steps) {
      auto c = checked(StepOf(host, what));
      want.insert(want.end(), c.begin(), c.end());
    }
    // The gate: every check once more.
    want.push_back("exec " + mkdir.check);
    for (const std::string& what : steps) {
      want.push_back("exec " + StepOf(host, what).check);
    }
    EXPECT_EQ(Calls(host), want) << host;
  };
  expect("node-0", {"package kmod", "packages socat", "kernel modules",
                    "sysctls", "swap off"});
  expect("controller-0", {"package kmod", "kernel modules", "sysctls"});

  // What the commands say, literally where it matters.
  const Step& worker_packages = StepOf("node-0", "packages socat");
  EXPECT_THAT(worker_packages.check,
              HasSubstr("for p in socat conntrack ipset; do command -v $p "
                        ">/dev/null || m=\"$m $p\"; done;"));
  EXPECT_THAT(worker_packages.command,
              HasSubstr("$a install --no-install-recommends $m || { $a update "
                        "&& $a install --no-install-recommends $m; }"));
  EXPECT_THAT(StepOf("node-0", "package kmod").check,
              HasSubstr("for p in kmod;"));
  const Step& mods = StepOf("node-0", "kernel modules");
  EXPECT_THAT(mods.command,
              HasSubstr("{ [ -d /sys/module/overlay ] || grep -qw overlay "
                        "/proc/filesystems || modprobe overlay; } && { [ -d "
                        "/sys/module/br_netfilter ] || [ -d "
                        "/proc/sys/net/bridge ] || modprobe br_netfilter; }"));
  EXPECT_THAT(mods.check, Not(HasSubstr("modprobe")));
  EXPECT_EQ(StepOf("node-0", "sysctls").command,
            "/lib/systemd/systemd-sysctl " + sysctls);
  EXPECT_THAT(StepOf("node-0", "sysctls").check, HasSubstr(sysctls));
  // Swap: off now, and kept off after a reboot, for fstab swap and for what
  // systemd starts on its own (swap.target masked).
  const std::string fstab_swap =
      "'^[[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap(["
      "[:space:]]|$)'";
  EXPECT_EQ(StepOf("node-0", "swap off").command,
            "systemctl mask swap.target && "
            "u=$(systemctl list-units --type=swap --state=active --plain "
            "--no-legend | awk '{ print $1 }') && "
            "{ [ -z \"$u\" ] || systemctl stop $u; } && "
            "swapoff -a && "
            "if grep -qE " +
                fstab_swap +
                " /etc/fstab; then sed -i.hardway -E "
                "'/^[[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:"
                "space:]]+swap([[:space:]]|$)/s/^/# swap off for the kubelet "
                "(hardway): /' /etc/fstab; fi");
  // The check: one awk for /proc/swaps and fstab, the mask tested by the
  // shell (run for real in
  // SwapStepMasksSwapTargetStopsSwapUnitsAndIsIdempotent).
  const std::string& swap_check = StepOf("node-0", "swap off").check;
  EXPECT_THAT(swap_check, HasSubstr("getline l < \"/proc/swaps\""));
  EXPECT_THAT(swap_check, HasSubstr("getline l < \"/etc/fstab\""));
  EXPECT_THAT(swap_check,
              HasSubstr("u=/etc/systemd/system/swap.target; [ $u -ef "
                        "/dev/null ] || { [ -f $u ] && [ ! -s $u ]; }"));
  EXPECT_THAT(swap_check, Not(HasSubstr("systemctl")));
  // A controller runs no kubelet: no swap step, no worker packages.
  for (const std::string& call : Calls("controller-0")) {
    EXPECT_THAT(call, Not(HasSubstr("swap"))) << call;
    EXPECT_THAT(call, Not(HasSubstr("socat"))) << call;
  }
  // The rendered files.
  EXPECT_EQ(Host("node-0").files[modules].content,
            Host("controller-0").files[modules].content);
  EXPECT_THAT(Host("node-0").files[modules].content,
              HasSubstr("\noverlay\nbr_netfilter\n"));
  EXPECT_THAT(Host("node-0").files[sysctls].content,
              HasSubstr("net.ipv4.ip_forward = 1\n"));

  // Each checked step changed its host and says what was missing.
  // 5 checked steps on the worker, 3 on the controller, 2 uploads and the
  // folder each.
  EXPECT_EQ(first.phases["prepare"].changed, 5u + 3u + 2u * 3u);
  const StepOutcome& o = first.steps[StepOf("node-0", "kernel modules").id];
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.note, "done (was: kernel modules overlay, br_netfilter missing)");
}

TEST_F(PrepareTest, SecondRunOnPreparedHostsChangesNothing) {
  Unprepared("node-0");
  Unprepared("controller-0");
  Outcomes first;
  ASSERT_TRUE(Run(first).ok);
  log_->Clear();

  // Every check now passes (the scripted results repeat their last one).
  Outcomes second;
  RunSummary s = Run(second);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.steps_changed, 0u);
  EXPECT_EQ(s.bytes_uploaded, 0u);
  EXPECT_EQ(second.phases["prepare"].changed, 0u);
  for (const std::string host : {"node-0", "controller-0"}) {
    std::vector<std::string> want = {
        "sha256 /etc/modules-load.d/hardway.conf "
        "/etc/sysctl.d/99-kubernetes.conf",
    };
    // Every check once, at the phase's start; they all pass and nothing
    // changes, so neither the steps nor the gate ask again.
    for (const Step* st : Checked(host)) want.push_back("exec " + st->check);
    want.insert(want.end(), {"upload /etc/modules-load.d/hardway.conf",
                             "upload /etc/sysctl.d/99-kubernetes.conf"});
    EXPECT_EQ(Calls(host), want) << host;
    for (const Step* st : Checked(host)) {
      EXPECT_TRUE(second.steps[st->id].skipped) << st->id;
      EXPECT_EQ(second.steps[st->id].note, "already in place") << st->id;
    }
  }
  for (const RecordedCall& c : log_->calls()) {
    if (c.op == "upload") {
      EXPECT_EQ(c.bytes, 0u) << c.detail;
    }
  }
}

TEST_F(PrepareTest, AModuleThatCannotLoadNamesTheModuleAndTheHost) {
  const Step& mods = StepOf("node-0", "kernel modules");
  Host("node-0").Script(
      mods.check,
      ExecResult{1, "", "kernel modules not loaded: br_netfilter\n"});
  Host("node-0").Script(
      mods.command,
      ExecResult{1, "",
                 "modprobe: FATAL: Module br_netfilter not found in directory "
                 "/lib/modules/6.1.0-18-amd64\n"});
  Outcomes outcomes;
  RunSummary s = Run(outcomes);
  ASSERT_FALSE(s.ok);
  EXPECT_EQ(s.failed_phase, "prepare");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kStep);
  EXPECT_EQ(s.error->where, "node-0");
  EXPECT_THAT(
      s.error->message,
      HasSubstr("\"kernel modules overlay, br_netfilter\" exited with 1"));
  EXPECT_THAT(s.error->message, HasSubstr("Module br_netfilter not found"));
  // The steps after it do not run on that host; the controller finished.
  for (const std::string& call : Calls("node-0")) {
    EXPECT_THAT(call, Not(HasSubstr("systemd-sysctl"))) << call;
    EXPECT_THAT(call, Not(HasSubstr("swapoff"))) << call;
  }
  // The controller's sysctls were already in place.
  EXPECT_THAT(Calls("controller-0"),
              Not(::testing::Contains("exec /lib/systemd/systemd-sysctl "
                                      "/etc/sysctl.d/99-kubernetes.conf")));
  EXPECT_TRUE(outcomes.steps[StepOf("controller-0", "sysctls").id].skipped);
}

TEST_F(PrepareTest, ACommandThatDoesNotFixItsCheckFailsTheStep) {
  // Swap that a container may not turn off: swapoff "succeeds" on nothing.
  const Step& swap = StepOf("node-0", "swap off");
  Host("node-0").Script(swap.check, ExecResult{1, "", "swap on: /dev/sda2\n"});
  Outcomes outcomes;
  RunSummary s = Run(outcomes);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->where, "node-0");
  EXPECT_THAT(s.error->message,
              HasSubstr("\"swap off, and off after a reboot\" ran, but its "
                        "check still fails:\n  swap on: /dev/sda2"));
}

// --- the package step's shell, for real ------------------------------------

struct Shell {
  int code = -1;
  std::string out;
};

// Runs `script` with /bin/sh and PATH = `path` only, or `path` then
// `system_path` (stubs in `path` shadow the system's commands).
Shell RunShell(const std::string& script, const fs::path& path,
               const std::string& system_path = "") {
  fs::path file = path.parent_path() / "script.sh";
  std::ofstream(file) << script << "\n";
  std::string cmd = "PATH=" + path.string() +
                    (system_path.empty() ? "" : ":" + system_path) +
                    " /bin/sh " + file.string() + " 2>&1";
  Shell r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

void Stub(const fs::path& dir, const std::string& name,
          const std::string& body) {
  fs::path p = dir / name;
  std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
  ::chmod(p.c_str(), 0755);
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The sysctl check against this machine's own /proc/sys, with the file's path
// pointed at a test copy: comments, the "-" prefix, "k=v" without spaces, a key
// this kernel lacks and a wrong value.
TEST_F(PrepareTest, SysctlCheckComparesEveryKeyWithProcSys) {
  std::string check = StepOf("node-0", "sysctls").check;
  fs::path root = TempDir("sysctl");
  fs::path conf = root / "99-kubernetes.conf";
  const std::string path = "/etc/sysctl.d/99-kubernetes.conf";
  for (size_t at; (at = check.find(path)) != std::string::npos;)
    check.replace(at, path.size(), conf.string());
  auto current = [](const std::string& proc) {
    std::string v = ReadAll(proc);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  };
  std::string pid_max = current("/proc/sys/kernel/pid_max");
  std::string ostype = current("/proc/sys/kernel/ostype");
  std::ofstream(conf) << "# comment\n; another\n\nkernel.pid_max = " << pid_max
                      << "\n-kernel.ostype=" << ostype << "\n";
  Shell ok = RunShell(check, root, "/usr/bin:/bin");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(ok.out, "");

  std::ofstream(conf, std::ios::app) << "-kernel.no_such_key_hw = 1\n"
                                     << "kernel.ostype = Plan9\n";
  Shell bad = RunShell(check, root, "/usr/bin:/bin");
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.out,
            "sysctls not set: kernel.no_such_key_hw=absent (want 1) "
            "kernel.ostype=" +
                ostype + " (want Plan9)\n");
}

TEST_F(PrepareTest, PackageStepInstallsOnlyWhatIsMissing) {
  const Step& st = StepOf("node-0", "packages socat");
  fs::path root = TempDir("packages");
  fs::path bin = root / "bin";
  fs::create_directories(bin);
  Stub(bin, "socat", "exit 0");
  const std::string log = (root / "apt.log").string();

  // No apt-get: the error lists what to install.
  Shell check = RunShell(st.check, bin);
  EXPECT_EQ(check.code, 1);
  EXPECT_EQ(check.out, "packages missing: conntrack ipset\n");
  Shell none = RunShell(st.command, bin);
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.out,
              HasSubstr("packages missing: conntrack ipset (no apt-get"));

  // An apt-get whose lists are stale: the first install fails, update, then
  // the install works (and provides the commands). The stub uses chmod by its
  // full path; the step's script itself needs nothing but apt-get.
  std::string chmod =
      fs::exists("/usr/bin/chmod") ? "/usr/bin/chmod" : "/bin/chmod";
  const std::string updated = (root / "updated").string();
  Stub(bin, "apt-get",
       "echo \"$*\" >> " + log +
           "\n"
           "case \"$*\" in *update*) : > " +
           updated +
           "; exit 0;; esac\n"
           "[ -e " +
           updated +
           " ] || exit 100\n"
           "for p in conntrack ipset; do echo 'exit 0' > " +
           bin.string() + "/$p; " + chmod + " 755 " + bin.string() +
           "/$p; done");
  Shell installed = RunShell(st.command, bin);
  EXPECT_EQ(installed.code, 0) << installed.out;
  std::string calls = ReadAll(log);
  EXPECT_THAT(calls,
              HasSubstr("install --no-install-recommends conntrack ipset\n"));
  EXPECT_THAT(calls, HasSubstr(" update\n"));
  EXPECT_EQ(std::count(calls.begin(), calls.end(), '\n'), 3) << calls;
  EXPECT_EQ(RunShell(st.check, bin).code, 0);

  // Nothing missing: apt-get is not called at all.
  fs::remove(log);
  Shell again = RunShell(st.command, bin);
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_FALSE(fs::exists(log));
}

TEST_F(PrepareTest, PackageStepWithAnUnreachableMirrorSaysWhatToInstall) {
  const Step& st = StepOf("controller-0", "package kmod");
  fs::path root = TempDir("mirror");
  fs::path bin = root / "bin";
  fs::create_directories(bin);
  Stub(bin, "apt-get", "echo 'E: Unable to locate package kmod' >&2; exit 100");
  Shell r = RunShell(st.command, bin);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("E: Unable to locate package kmod"));
  EXPECT_THAT(r.out, HasSubstr("packages missing: kmod (apt-get could not "
                               "install them: is the mirror reachable?"));
}

// --- the swap step's shell, for real ----------------------------------------

// Replaces every `from` in `s` with `to`.
std::string ReplaceAll(std::string s, const std::string& from,
                       const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos;
       at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// The swap step against a fake host: /proc/swaps and /etc/fstab are files of
// the test's folder, systemctl and swapoff are stubs that log their arguments
// and change that state as the real ones would (a zram swap unit systemd
// started, an fstab swap file).
TEST_F(PrepareTest, SwapStepMasksSwapTargetStopsSwapUnitsAndIsIdempotent) {
  const Step& st = StepOf("node-0", "swap off");
  fs::path root = TempDir("swap");
  fs::path bin = root / "bin";
  fs::create_directories(bin);
  const fs::path swaps = root / "swaps", fstab = root / "fstab";
  const std::string masked = (root / "masked").string();
  const std::string header = "Filename\tType\tSize\tUsed\tPriority\n";
  auto on_host = [&](const std::string& script) {
    return ReplaceAll(
        ReplaceAll(ReplaceAll(script, "/proc/swaps", swaps.string()),
                   "/etc/fstab", fstab.string()),
        "/etc/systemd/system/swap.target", masked);
  };
  const std::string log = (root / "calls.log").string();
  // Real awk, grep and sed; stubs first.
  const std::string system_path = "/usr/bin:/bin";
  Stub(bin, "systemctl",
       "echo \"systemctl $*\" >> " + log +
           "\n"
           "case \"$*\" in\n"
           "  'mask swap.target') ln -sfn /dev/null " +
           masked +
           ";;\n"
           "  list-units*) grep -q zram0 " +
           swaps.string() +
           " && echo 'dev-zram0.swap loaded active active Compressed "
           "Swap';;\n"
           "  'stop dev-zram0.swap') printf '" +
           ReplaceAll(header, "\t", "\\t") + "' > " + swaps.string() +
           ";;\n"
           "  *) exit 1;;\n"
           "esac");
  Stub(bin, "swapoff",
       "echo \"swapoff $*\" >> " + log + "\nsed -i 2,\\$d " + swaps.string());

  std::ofstream(swaps) << header << "/dev/zram0\tpartition\t1000\t0\t100\n";
  const std::string fstab_text =
      "UUID=1234 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n";
  std::ofstream(fstab) << fstab_text;

  Shell before = RunShell(on_host(st.check), bin, system_path);
  EXPECT_EQ(before.code, 1);
  EXPECT_EQ(before.out, "swap on: /dev/zram0\n");

  Shell run = RunShell(on_host(st.command), bin, system_path);
  EXPECT_EQ(run.code, 0) << run.out;
  // Masked first, then the active unit stopped through systemd, then the
  // rest with swapoff.
  EXPECT_EQ(ReadAll(log),
            "systemctl mask swap.target\n"
            "systemctl list-units --type=swap --state=active --plain "
            "--no-legend\n"
            "systemctl stop dev-zram0.swap\n"
            "swapoff -a\n");
  EXPECT_EQ(ReadAll(fstab),
            "UUID=1234 / ext4 defaults 0 1\n"
            "# swap off for the kubelet (hardway): /swapfile none swap sw 0 "
            "0\n");
  EXPECT_EQ(ReadAll(fs::path(fstab.string() + ".hardway")), fstab_text);
  Shell after = RunShell(on_host(st.check), bin, system_path);
  EXPECT_EQ(after.code, 0) << after.out;

  // Again: nothing to stop, fstab not commented twice, still masked.
  fs::remove(log);
  Shell again = RunShell(on_host(st.command), bin, system_path);
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_THAT(ReadAll(log), Not(HasSubstr("stop")));
  EXPECT_EQ(ReadAll(fstab),
            "UUID=1234 / ext4 defaults 0 1\n"
            "# swap off for the kubelet (hardway): /swapfile none swap sw 0 "
            "0\n");
  EXPECT_EQ(RunShell(on_host(st.check), bin, system_path).code, 0);

  // Swap off and fstab clean, but swap.target not masked: systemd would
  // start its swap units at the next boot.
  fs::remove(masked);
  Shell unmasked = RunShell(on_host(st.check), bin, system_path);
  EXPECT_EQ(unmasked.code, 1);
  EXPECT_THAT(unmasked.out, HasSubstr("swap.target not masked"));
  // A unit file of its own is not a mask; an empty one is (as systemd sees
  // it).
  std::ofstream(masked) << "[Unit]\nDescription=Swap\n";
  EXPECT_EQ(RunShell(on_host(st.check), bin, system_path).code, 1);
  std::ofstream(masked, std::ios::trunc).close();
  EXPECT_EQ(RunShell(on_host(st.check), bin, system_path).code, 0);
  // A missing fstab reads as empty.
  fs::remove(fstab);
  EXPECT_EQ(RunShell(on_host(st.check), bin, system_path).code, 0);
}

}  // namespace
}  // namespace hardway
