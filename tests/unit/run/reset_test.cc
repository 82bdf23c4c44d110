#include "run/reset.h"

#include <gtest/gtest.h>

#include "remote/recording_transport.h"
#include "util/sha256.h"

namespace hardway {
namespace {

Step Make(StepKind kind, const std::string& host, const std::string& what) {
  Step s;
  s.phase = "p";
  s.host = host;
  s.kind = kind;
  s.id = "p/" + host + "/" + what;
  s.description = what;
  if (kind == StepKind::kRun) s.command = what;
  if (kind == StepKind::kSystemd) s.unit = what;
  if (kind == StepKind::kRender || kind == StepKind::kUpload) {
    s.dest = what;
    s.content = "x";
    s.sha256 = Sha256Hex("x");
  }
  return s;
}

Plan MakePlan() {
  Plan plan;
  Phase p{"p", "", {}, {}, false, {"a"}, {}, {}};
  p.steps = {
      Make(StepKind::kRun, "a", "mkdir -p /usr/local/bin /etc/kubernetes/pki"),
      Make(StepKind::kRun, "a", "install -d -m 0700 /var/lib/etcd"),
      Make(StepKind::kRender, "a", "/usr/local/bin/etcd"),
      Make(StepKind::kRender, "a", "/etc/kubernetes/pki/ca.crt"),
      Make(StepKind::kRender, "a", "/etc/systemd/system/etcd.service"),
      Make(StepKind::kSystemd, "a", "etcd")};
  p.steps[4].content =
      "ExecStart=/usr/local/bin/etcd --data-dir=/var/lib/etcd-data \\\n";
  plan.phases.push_back(p);
  return plan;
}

TEST(Reset, DerivedFromThePlan) {
  auto targets = BuildReset(MakePlan());
  ASSERT_EQ(targets.size(), 1u);
  const ResetTarget& t = targets[0];
  EXPECT_EQ(t.units, std::vector<std::string>{"etcd"});
  EXPECT_EQ(t.files.size(), 3u);
  // /usr/local/bin is a system folder: its files go, the folder stays.
  EXPECT_EQ(t.dirs, (std::vector<std::string>{
                        "/etc/kubernetes/pki", "/var/lib/etcd",
                        "/var/lib/etcd-data", "/var/lib/hardway"}));
  EXPECT_EQ(t.parents, std::vector<std::string>{"/etc/kubernetes"});
}

TEST(Reset, NeverSystemFolders) {
  for (const char* p :
       {"/", "/etc", "/usr/local/bin", "/var/lib", "/opt",
        "/etc/systemd/system", "/home/kube/../..", "relative/etcd"}) {
    EXPECT_FALSE(IsOurFolder(p)) << p;
  }
  for (const char* p : {"/var/lib/etcd", "/etc/kubernetes", "/opt/cni/bin",
                        "/var/lib/kubelet/"}) {
    EXPECT_TRUE(IsOurFolder(p)) << p;
  }
}

TEST(Reset, StopsRemovesAndIsSafeToRerun) {
  auto fake = std::make_shared<FakeHost>();
  for (const char* f :
       {"/usr/local/bin/etcd", "/etc/kubernetes/pki/ca.crt",
        "/etc/systemd/system/etcd.service", "/usr/local/bin/other-tool"}) {
    fake->PutFile(f, "x");
  }
  fake->dirs = {"/usr/local/bin", "/etc/kubernetes", "/etc/kubernetes/pki",
                "/var/lib/etcd"};
  fake->files["/var/lib/etcd/member/snap/db"] = FakeFile{};
  fake->units["etcd"] =
      FakeUnit{true, "active", "running", 0, 1, 0, false, "", 0};
  auto log = std::make_shared<CallLog>();
  TransportPool pool(
      [&](const std::string& h) -> Result<std::unique_ptr<Transport>> {
        return std::unique_ptr<Transport>(
            std::make_unique<RecordingTransport>(h, fake, log));
      });
  auto results = RunReset(BuildReset(MakePlan()), pool, 4);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_FALSE(results[0].error) << results[0].error->ToString();
  EXPECT_EQ(results[0].stopped, std::vector<std::string>{"etcd"});
  EXPECT_EQ(results[0].removed,
            (std::vector<std::string>{"/usr/local/bin/etcd",
                                      "/etc/kubernetes/pki/ca.crt",
                                      "/etc/systemd/system/etcd.service",
                                      "/etc/kubernetes/pki", "/var/lib/etcd"}));
  EXPECT_EQ(fake->units["etcd"].active_state, "inactive");
  EXPECT_FALSE(fake->units["etcd"].enabled);
  EXPECT_FALSE(fake->Exists("/var/lib/etcd/member/snap/db"));
  EXPECT_FALSE(fake->Exists("/etc/kubernetes"));  // left empty, so removed
  EXPECT_TRUE(fake->Exists("/usr/local/bin/other-tool"));
  EXPECT_TRUE(fake->Exists("/usr/local/bin"));
  EXPECT_GE(fake->daemon_reloads, 1);

  auto again = RunReset(BuildReset(MakePlan()), pool, 4);
  ASSERT_FALSE(again[0].error) << again[0].error->ToString();
  EXPECT_TRUE(again[0].stopped.empty());
  EXPECT_TRUE(again[0].removed.empty());
}

}  // namespace
}  // namespace hardway
