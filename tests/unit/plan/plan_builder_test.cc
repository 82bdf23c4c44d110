#include "plan/plan_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>

#include "plan_test_util.h"
#include "util/sha256.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using testing::MakeCluster;
using testing::MustBuild;
using testing::StateFor;
namespace fs = std::filesystem;

[[maybe_unused]] auto* const kCleaner =
    ::testing::AddGlobalTestEnvironment(new testing::TempRootCleaner);

const Cluster& Big() {
  static const Cluster c = MakeCluster(testing::kThreeByFive, "builder-big");
  return c;
}

const Plan& BigPlan() {
  static const Plan p = MustBuild(Big());
  return p;
}

size_t PhaseIndex(const Plan& plan, const std::string& name) {
  for (size_t i = 0; i < plan.phases.size(); ++i) {
    if (plan.phases[i].name == name) return i;
  }
  ADD_FAILURE() << "no phase " << name;
  return 0;
}

const Step* Find(const Plan& plan, const std::string& host,
                 const std::string& dest) {
  for (const Phase& p : plan.phases) {
    for (const Step& s : p.steps) {
      if (s.host == host && s.dest == dest) return &s;
    }
  }
  return nullptr;
}

const Step* FindSystemd(const Plan& plan, const std::string& host,
                        const std::string& unit) {
  for (const Phase& p : plan.phases) {
    for (const Step& s : p.steps) {
      if (s.host == host && s.kind == StepKind::kSystemd && s.unit == unit)
        return &s;
    }
  }
  return nullptr;
}

TEST(PlanBuilderTest, BringUpOrderEtcdApiserverControllersKubelet) {
  const Plan& plan = BigPlan();
  size_t etcd = PhaseIndex(plan, "etcd");
  size_t api = PhaseIndex(plan, "kube-apiserver");
  // controller-manager and scheduler start together (one phase, one gate).
  size_t controllers = PhaseIndex(plan, "controller-manager-scheduler");
  size_t workers = PhaseIndex(plan, "workers");
  EXPECT_LT(PhaseIndex(plan, "distribute"), etcd);
  EXPECT_LT(etcd, api);
  EXPECT_LT(api, controllers);
  EXPECT_LT(controllers, workers);
  EXPECT_LT(PhaseIndex(plan, "rbac"), workers);
  EXPECT_LT(workers, PhaseIndex(plan, "pod-routes"));
  // Each phase comes after every phase it needs.
  for (size_t i = 0; i < plan.phases.size(); ++i) {
    for (const std::string& need : plan.phases[i].needs) {
      EXPECT_LT(PhaseIndex(plan, need), i)
          << plan.phases[i].name << " needs " << need;
    }
  }
  // And the units start in that order.
  ASSERT_NE(FindSystemd(plan, "cp-0", "etcd"), nullptr);
  EXPECT_EQ(FindSystemd(plan, "cp-0", "etcd")->phase, "etcd");
  EXPECT_EQ(FindSystemd(plan, "cp-0", "kube-apiserver")->phase,
            "kube-apiserver");
  EXPECT_EQ(FindSystemd(plan, "cp-0", "kube-controller-manager")->phase,
            "controller-manager-scheduler");
  EXPECT_EQ(FindSystemd(plan, "cp-0", "kube-scheduler")->phase,
            "controller-manager-scheduler");
  EXPECT_EQ(FindSystemd(plan, "w-0", "kubelet")->phase, "workers");
}

TEST(PlanBuilderTest, HostsByRole) {
  const Plan& plan = BigPlan();
  using ::testing::ElementsAre;
  EXPECT_THAT(plan.phase("etcd")->hosts, ElementsAre("cp-0", "cp-1", "cp-2"));
  EXPECT_THAT(plan.phase("workers")->hosts,
              ElementsAre("w-0", "w-1", "w-2", "w-3", "w-4"));
  EXPECT_EQ(plan.phase("distribute")->hosts.size(), 8u);
  EXPECT_TRUE(plan.phase("pki")->local);
  EXPECT_TRUE(plan.phase("pki")->hosts.empty());
  // hardway applies the RBAC manifest through the API: no step on the hosts,
  // but the manifest is rendered on every controller, where the runner reads it
  // from.
  EXPECT_TRUE(plan.phase("rbac")->steps.empty());
  EXPECT_NE(
      Find(plan, "cp-2", "/etc/kubernetes/rbac/kube-apiserver-to-kubelet.yaml"),
      nullptr);
  // Nothing the hosts do not need: no kubectl, no admin kubeconfig.
  EXPECT_EQ(Find(plan, "cp-0", "/usr/local/bin/kubectl"), nullptr);
  EXPECT_EQ(Find(plan, "cp-0", "/etc/kubernetes/admin.conf"), nullptr);
  // Workers get no etcd, controllers no kubelet.
  EXPECT_EQ(Find(plan, "w-0", "/usr/local/bin/etcd"), nullptr);
  EXPECT_EQ(Find(plan, "cp-0", "/usr/local/bin/kubelet"), nullptr);
  EXPECT_EQ(FindSystemd(plan, "w-0", "etcd"), nullptr);
  // Steps of a phase are grouped by host.
  const Phase& dist = *plan.phase("distribute");
  std::vector<std::string> seen;
  for (const Step& s : dist.steps) {
    if (seen.empty() || seen.back() != s.host) seen.push_back(s.host);
  }
  EXPECT_EQ(seen, dist.hosts);
}

TEST(PlanBuilderTest, StateFilesCarrySizeHashAndSecrecy) {
  const Plan& plan = BigPlan();
  const fs::path state = StateFor(Big());

  const Step* cert = Find(plan, "w-1", "/var/lib/kubelet/pki/kubelet.crt");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->source, (state / "pki/kubelet-w-1.crt").string());
  EXPECT_EQ(cert->source_label, "state pki/kubelet-w-1.crt");
  EXPECT_FALSE(cert->missing);
  EXPECT_FALSE(cert->secret);
  EXPECT_EQ(cert->mode, 0644u);
  EXPECT_EQ(cert->size, fs::file_size(cert->source));
  EXPECT_EQ(cert->sha256, *Sha256File(cert->source));

  const Step* key = Find(plan, "w-1", "/var/lib/kubelet/pki/kubelet.key");
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(key->secret);
  EXPECT_EQ(key->secret_kind, "private key");
  EXPECT_EQ(key->mode, 0600u);
  EXPECT_EQ(key->sha256, *Sha256File(state / "pki/kubelet-w-1.key"));

  const Step* kubeconfig = Find(plan, "w-2", "/etc/kubernetes/kubelet.conf");
  ASSERT_NE(kubeconfig, nullptr);
  EXPECT_EQ(kubeconfig->source_label,
            "state kubeconfigs/kubelet-w-2.kubeconfig");
  EXPECT_EQ(kubeconfig->secret_kind, "kubeconfig");
  EXPECT_EQ(kubeconfig->mode, 0600u);

  const Step* enc =
      Find(plan, "cp-2", "/etc/kubernetes/encryption-config.yaml");
  ASSERT_NE(enc, nullptr);
  EXPECT_EQ(enc->secret_kind, "encryption key");
  EXPECT_EQ(enc->mode, 0600u);

  const Step* sa_pub = Find(plan, "cp-0", "/etc/kubernetes/pki/sa.pub");
  ASSERT_NE(sa_pub, nullptr);
  EXPECT_FALSE(sa_pub->secret);
  const Step* sa_key = Find(plan, "cp-0", "/etc/kubernetes/pki/sa.key");
  ASSERT_NE(sa_key, nullptr);
  EXPECT_TRUE(sa_key->secret);

  // Every member gets its own etcd certificates.
  EXPECT_EQ(
      Find(plan, "cp-2", "/etc/kubernetes/pki/etcd/peer.key")->source_label,
      "state pki/etcd/peer-cp-2.key");
  // CA private keys never leave the state dir.
  for (const Phase& p : plan.phases) {
    for (const Step& s : p.steps) {
      EXPECT_FALSE(s.source_label.ends_with("ca.key")) << s.id;
      if (s.source_label.starts_with("state ")) {
        EXPECT_FALSE(s.missing) << s.id << " " << s.source;
      }
    }
  }
}

TEST(PlanBuilderTest, MissingArtifactsAreMarkedAndPresentOnesHashed) {
  Cluster c = MakeCluster(R"(cluster: {name: arts}
hosts:
  - {name: cp-0, address: 10.0.0.10, roles: [etcd, controlplane, worker]}
)",
                          "arts");
  fs::path dir = c.artifacts_dir();
  fs::create_directories(dir);
  std::ofstream(dir / "etcd") << "not really etcd\n";
  // Bigger than one read buffer (256 KiB), and not a multiple of it: the
  // streamed path.
  std::string big(700 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131);
  std::ofstream(dir / "etcdctl", std::ios::binary) << big;
  Plan plan = MustBuild(c);
  const Step* etcdctl = Find(plan, "cp-0", "/usr/local/bin/etcdctl");
  ASSERT_NE(etcdctl, nullptr);
  EXPECT_FALSE(etcdctl->missing);
  EXPECT_EQ(etcdctl->size, big.size());
  EXPECT_EQ(etcdctl->sha256, Sha256Hex(big));
  const Step* etcd = Find(plan, "cp-0", "/usr/local/bin/etcd");
  ASSERT_NE(etcd, nullptr);
  EXPECT_FALSE(etcd->missing);
  EXPECT_EQ(etcd->size, 16u);
  EXPECT_EQ(etcd->sha256, Sha256Hex("not really etcd\n"));
  EXPECT_EQ(etcd->mode, 0755u);
  EXPECT_EQ(etcd->source_label, "artifact etcd");
  const Step* kubelet = Find(plan, "cp-0", "/usr/local/bin/kubelet");
  ASSERT_NE(kubelet, nullptr);
  EXPECT_TRUE(kubelet->missing);
  EXPECT_EQ(kubelet->size, 0u);
  EXPECT_TRUE(kubelet->sha256.empty());
  // One host with every role: each file written once, all units present.
  for (const char* unit :
       {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
        "containerd", "kubelet", "kube-proxy"}) {
    EXPECT_NE(FindSystemd(plan, "cp-0", unit), nullptr) << unit;
  }
}

TEST(PlanBuilderTest, HostsOfTwoArchitecturesTakeArtifactsFromTheirFolder) {
  Cluster c = MakeCluster(R"(cluster: {name: arches}
hosts:
  - {name: cp-0, address: 10.0.0.10, roles: [etcd, controlplane, worker]}
  - {name: w-0, address: 10.0.0.20, roles: [worker], arch: arm64}
)",
                          "arches");
  fs::path dir = c.artifacts_dir();
  fs::create_directories(dir / "arm64");
  std::ofstream(dir / "arm64" / "kubelet") << "arm64 kubelet\n";
  Plan plan = MustBuild(c);
  const Step* arm = Find(plan, "w-0", "/usr/local/bin/kubelet");
  ASSERT_NE(arm, nullptr);
  EXPECT_EQ(arm->source, (dir / "arm64" / "kubelet").string());
  EXPECT_FALSE(arm->missing);
  EXPECT_EQ(arm->sha256, Sha256Hex("arm64 kubelet\n"));
  const Step* amd = Find(plan, "cp-0", "/usr/local/bin/kubelet");
  ASSERT_NE(amd, nullptr);
  EXPECT_EQ(amd->source, (dir / "amd64" / "kubelet").string());
  EXPECT_TRUE(amd->missing);
}

TEST(PlanBuilderTest, RenderedFilesAreRenderedPerHost) {
  const Plan& plan = BigPlan();
  const Step* etcd = Find(plan, "cp-1", "/etc/systemd/system/etcd.service");
  ASSERT_NE(etcd, nullptr);
  EXPECT_EQ(etcd->kind, StepKind::kRender);
  EXPECT_EQ(etcd->source_label, "template units/etcd.service");
  EXPECT_THAT(etcd->content, HasSubstr("--name=cp-1 \\\n"));
  EXPECT_THAT(etcd->content,
              HasSubstr("--listen-peer-urls=https://10.0.0.11:2380 \\\n"));
  EXPECT_THAT(
      etcd->content,
      HasSubstr("--initial-cluster=cp-0=https://10.0.0.10:2380,cp-1=https://"
                "10.0.0.11:2380,cp-2=https://10.0.0.12:2380 \\\n"));
  EXPECT_EQ(etcd->size, etcd->content.size());
  EXPECT_EQ(etcd->sha256, Sha256Hex(etcd->content));

  const Step* bridge = Find(plan, "w-3", "/etc/cni/net.d/10-bridge.conf");
  ASSERT_NE(bridge, nullptr);
  EXPECT_THAT(bridge->content, HasSubstr("\"subnet\": \"10.200.3.0/24\""));

  // Host-independent files are identical everywhere.
  const Step* a = Find(plan, "w-0", "/etc/containerd/config.toml");
  const Step* b = Find(plan, "w-4", "/etc/containerd/config.toml");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->sha256, b->sha256);
  EXPECT_EQ(a->content, b->content);

  const Step* api =
      Find(plan, "cp-0", "/etc/systemd/system/kube-apiserver.service");
  ASSERT_NE(api, nullptr);
  EXPECT_THAT(api->content,
              HasSubstr("--service-cluster-ip-range=10.32.0.0/24 \\\n"));
  EXPECT_THAT(api->content,
              HasSubstr("--etcd-servers=https://10.0.0.10:2379,https://"
                        "10.0.0.11:2379,https://10.0.0.12:2379 \\\n"));
  EXPECT_THAT(api->content, HasSubstr("--v=2 \\\n  --audit-log-maxage=30\n"));
  const Step* kubelet =
      Find(plan, "w-0", "/etc/systemd/system/kubelet.service");
  EXPECT_THAT(kubelet->content, HasSubstr("--v=2 \\\n  --v=4\n"));
}

// `hardway plan` builds without render contents; everything it prints (every
// field but content) is the same as in the plan `up` runs.
TEST(PlanBuilderTest, PlanWithoutRenderedContentDiffersOnlyInContent) {
  PlanOptions options;
  options.state_dir = StateFor(Big());
  options.keep_rendered_content = false;
  auto lean = BuildPlan(Big(), options);
  ASSERT_TRUE(lean) << lean.error().ToString();
  const Plan& full = BigPlan();
  ASSERT_EQ(lean->phases.size(), full.phases.size());
  size_t renders = 0;
  for (size_t p = 0; p < full.phases.size(); ++p) {
    ASSERT_EQ(lean->phases[p].steps.size(), full.phases[p].steps.size());
    for (size_t i = 0; i < full.phases[p].steps.size(); ++i) {
      const Step& a = full.phases[p].steps[i];
      Step b = lean->phases[p].steps[i];
      SCOPED_TRACE(a.id);
      if (a.kind == StepKind::kRender) {
        ++renders;
        EXPECT_FALSE(a.content.empty());
        EXPECT_TRUE(b.content.empty());
        EXPECT_EQ(b.size, a.content.size());
        EXPECT_EQ(b.sha256, Sha256Hex(a.content));
        b.content = a.content;
      }
      EXPECT_EQ(b.id, a.id);
      EXPECT_EQ(b.source, a.source);
      EXPECT_EQ(b.dest, a.dest);
      EXPECT_EQ(b.size, a.size);
      EXPECT_EQ(b.sha256, a.sha256);
      EXPECT_EQ(b.missing, a.missing);
      EXPECT_EQ(b.mode, a.mode);
      EXPECT_EQ(b.secret_kind, a.secret_kind);
      EXPECT_EQ(b.command, a.command);
      EXPECT_EQ(b.content, a.content);
    }
  }
  EXPECT_GT(renders, 0u);
}

TEST(PlanBuilderTest, CommandsAreRenderedAndIdempotent) {
  const Plan& plan = BigPlan();
  const Phase& routes = *plan.phase("pod-routes");
  ASSERT_EQ(routes.steps.size(), 8u);
  EXPECT_EQ(routes.steps[3].host, "w-0");
  EXPECT_EQ(routes.steps[3].command,
            "awk -v self=10.0.0.20 '$NF != self' /etc/hardway/pod-routes | ip "
            "-batch -");
  const Step* file = Find(plan, "cp-0", "/etc/hardway/pod-routes");
  ASSERT_NE(file, nullptr);
  EXPECT_THAT(file->content,
              HasSubstr("route replace 10.200.4.0/24 via 10.0.0.24\n"));
  for (const Phase& p : plan.phases) {
    for (const Step& s : p.steps) {
      if (s.kind != StepKind::kRun) continue;
      EXPECT_EQ(s.command.find(">>"), std::string::npos) << s.command;
      EXPECT_EQ(s.command.find("route add"), std::string::npos) << s.command;
      EXPECT_EQ(s.command.find("{{"), std::string::npos) << s.command;
      if (s.command.starts_with("mkdir ")) {
        EXPECT_THAT(s.command, HasSubstr("mkdir -p ")) << s.command;
      }
    }
  }
  // The etcd data dir is private.
  bool etcd_dir = false;
  for (const Step& s : plan.phase("etcd")->steps) {
    etcd_dir |=
        s.host == "cp-0" && s.command == "install -d -m 0700 /var/lib/etcd";
  }
  EXPECT_TRUE(etcd_dir);
}

TEST(PlanBuilderTest, StepIdsAreUnique) {
  std::set<std::string> ids;
  for (const Phase& p : BigPlan().phases) {
    for (const Step& s : p.steps) {
      EXPECT_TRUE(ids.insert(s.id).second) << "duplicate id " << s.id;
      EXPECT_EQ(s.phase, p.name);
    }
  }
}

// Uploads replace files atomically in their folder but create no folders: every
// folder must exist on a fresh Debian host or be made by an earlier mkdir on
// that host.
TEST(PlanBuilderTest, EveryDestFolderExistsBeforeTheUpload) {
  const std::set<std::string> on_debian = {"/etc/systemd/system",
                                           "/etc/sysctl.d", "/usr/local/bin",
                                           "/usr/local/sbin"};
  std::map<std::string, std::set<std::string>> made;  // host -> folders
  for (const Phase& p : BigPlan().phases) {
    for (const Step& s : p.steps) {
      if (s.kind == StepKind::kRun && (s.command.starts_with("mkdir -p ") ||
                                       s.command.starts_with("install -d "))) {
        std::istringstream words(s.command);
        std::string w;
        while (words >> w) {
          // mkdir -p makes the parents too.
          for (fs::path d = w; w.starts_with("/") && d != "/";
               d = d.parent_path()) {
            made[s.host].insert(d.string());
          }
        }
      }
      if (s.kind == StepKind::kUpload || s.kind == StepKind::kRender) {
        std::string folder = fs::path(s.dest).parent_path().string();
        EXPECT_TRUE(on_debian.contains(folder) || made[s.host].contains(folder))
            << s.id << ": nothing makes " << folder << " first";
      }
    }
  }
}

// Every absolute path a unit or config file points at is written by the plan on
// that host, so a renamed file cannot leave a component pointing at nothing.
TEST(PlanBuilderTest, EveryFileAUnitOrConfigNamesIsUploadedToThatHost) {
  // Made at run time or by the OS, not uploaded.
  const std::set<std::string> not_uploaded = {
      "/var/lib/etcd",
      "/etc/resolv.conf",
      "/var/run/containerd/containerd.sock",
      "/opt/cni/bin",
      "/etc/cni/net.d",
      "/sbin/modprobe"};
  const std::regex path_re(
      R"((/(?:etc|var|usr|opt|sbin|lib)/[A-Za-z0-9_./-]+))");
  for (const Phase& p : BigPlan().phases) {
    for (const Step& s : p.steps) {
      if (s.kind != StepKind::kRender) continue;
      if (s.dest == "/etc/hardway/pod-routes") continue;
      std::set<std::string> dests;
      for (const Phase& q : BigPlan().phases) {
        for (const Step& t : q.steps) {
          if (t.host == s.host && !t.dest.empty()) dests.insert(t.dest);
        }
      }
      std::istringstream lines(s.content);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.starts_with("#") || line.starts_with("Documentation="))
          continue;
        for (auto it = std::sregex_iterator(line.begin(), line.end(), path_re);
             it != std::sregex_iterator(); ++it) {
          std::string path = (*it)[1];
          if (not_uploaded.contains(path)) continue;
          EXPECT_TRUE(dests.contains(path))
              << s.dest << " on " << s.host << " names " << path
              << ", which no step writes";
        }
      }
    }
  }
}

// ---- errors ----

Result<Plan> BuildWith(const std::string& playbook_text) {
  auto book = ParsePlaybook(playbook_text, "book.yaml");
  EXPECT_TRUE(book.has_value()) << book.error().ToString();
  PlanOptions options;
  options.state_dir = StateFor(Big());
  return BuildPlan(*book, Big(), options);
}

TEST(PlanBuilderTest, WatchOfAFileNoStepWritesIsAnError) {
  auto plan = BuildWith(R"(phases:
  - name: a
    roles: [etcd]
    gate: {kind: unit_active}
    steps:
      - render: {template: units/etcd.service, dest: /etc/systemd/system/etcd.service}
      - systemd: {unit: etcd, watch: [/etc/systemd/system/etcd.service, /usr/bin/etcdd]}
)");
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().where, "book.yaml:7");
  EXPECT_THAT(plan.error().message, HasSubstr("watches /usr/bin/etcdd"));
}

TEST(PlanBuilderTest, TwoStepsWritingOneFileIsAnError) {
  auto plan = BuildWith(R"(phases:
  - name: a
    gate: {kind: files_present}
    steps:
      - upload: {state: pki/ca.crt, dest: /etc/ca.crt}
      - upload: {state: pki/etcd/ca.crt, dest: /etc/ca.crt}
)");
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().where, "book.yaml:6");
  EXPECT_THAT(plan.error().message,
              HasSubstr("two steps write /etc/ca.crt on cp-0"));
}

TEST(PlanBuilderTest, SecretWithAWideModeIsAnError) {
  auto plan = BuildWith(R"(phases:
  - name: a
    gate: {kind: files_present}
    steps:
      - upload: {state: pki/ca.crt, dest: /etc/ca.crt}
      - upload: {state: pki/admin.key, dest: /etc/admin.key, mode: "0644"}
)");
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().where, "book.yaml:6");
  EXPECT_THAT(
      plan.error().message,
      HasSubstr("is a private key but would be uploaded with mode 0644"));
}

TEST(PlanBuilderTest, MissingTemplateIsAnError) {
  auto plan = BuildWith(R"(phases:
  - name: a
    gate: {kind: files_present}
    steps:
      - render: {template: units/etdc.service, dest: /x}
)");
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().where, "book.yaml:5");
  EXPECT_THAT(plan.error().message,
              HasSubstr("template units/etdc.service not found"));
}

TEST(PlanBuilderTest, PodCidrTemplateOnEveryHostIsAnError) {
  auto plan = BuildWith(R"(phases:
  - name: a
    gate: {kind: files_present}
    steps:
      - render: {template: playbooks/templates/10-bridge.conf, dest: /x}
)");
  ASSERT_FALSE(plan.has_value());
  EXPECT_THAT(plan.error().message, HasSubstr("cp-0 has no pod CIDR"));
  EXPECT_THAT(plan.error().where, HasSubstr("book.yaml:5"));
}

TEST(PlanBuilderTest, OnceRunsOnTheFirstHostOfThePhaseAndRolesFilter) {
  auto plan = BuildWith(R"(phases:
  - name: a
    roles: [worker]
    gate: {kind: files_present}
    steps:
      - run: "echo first {{host.name}}"
        once: true
      - run: "echo all {{host.name}}"
      - run: "echo never"
        roles: [etcd]
)");
  ASSERT_TRUE(plan.has_value()) << plan.error().ToString();
  std::vector<std::string> commands;
  for (const Step& s : plan->phases[0].steps) commands.push_back(s.command);
  EXPECT_THAT(commands, ::testing::ElementsAre("echo first w-0", "echo all w-0",
                                               "echo all w-1", "echo all w-2",
                                               "echo all w-3", "echo all w-4"));
}

TEST(PlanBuilderTest, UnknownVariableInACommandIsAnError) {
  auto plan = BuildWith(R"(phases:
  - name: a
    gate: {kind: files_present}
    steps:
      - run: "echo {{host.nam}}"
)");
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().where, "book.yaml:5");
  EXPECT_THAT(plan.error().message, HasSubstr("unknown variable 'host.nam'"));
}

}  // namespace
}  // namespace hardway
