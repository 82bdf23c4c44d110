#include "remote/recording_transport.h"

#include <gtest/gtest.h>

#include "remote/fault_transport.h"
#include "util/sha256.h"

namespace hardway {
namespace {

TEST(RecordingTransport, UploadsRecordAndSkipBySha) {
  auto log = std::make_shared<CallLog>();
  RecordingTransport t("h", nullptr, log);
  UploadRequest req{std::string("hello"), "/etc/app/x.conf",  0600,
                    "root:root",          Sha256Hex("hello"), 5};
  auto first = t.Upload(req, "");
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->changed);
  EXPECT_EQ(first->bytes_sent, 5u);
  EXPECT_TRUE(t.state().Exists("/etc/app"));
  auto shas = t.Sha256Of({"/etc/app/x.conf", "/missing"});
  ASSERT_TRUE(shas);
  EXPECT_EQ(shas->size(), 1u);
  auto second = t.Upload(req, shas->at("/etc/app/x.conf"));
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->changed);
  EXPECT_EQ(second->bytes_sent, 0u);
  auto calls = log->calls("h");
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].op, "upload");
  EXPECT_EQ(calls[1].paths,
            (std::vector<std::string>{"/etc/app/x.conf", "/missing"}));
  EXPECT_LT(calls[0].seq, calls[2].seq);
}

TEST(RecordingTransport, SystemctlModel) {
  RecordingTransport t("h");
  auto missing = t.Exec("systemctl start etcd.service");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->exit_code, 5);
  t.state().PutFile("/etc/systemd/system/etcd.service", "[Service]\n");
  auto r = t.Exec(
      "systemctl daemon-reload && systemctl enable etcd.service && "
      "systemctl start etcd.service");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(t.state().daemon_reloads, 1);
  // Like systemd: a changed unit file is not what runs until a reload.
  t.state().PutFile("/etc/systemd/system/etcd.service", "[Service]\nX=1\n");
  auto stale = t.Exec("systemctl show -p NeedDaemonReload etcd.service");
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->out, "NeedDaemonReload=yes\n");
  ASSERT_TRUE(t.Exec("systemctl restart etcd.service"));
  EXPECT_EQ(t.state().units["etcd"].stale_starts, 1);
  ASSERT_TRUE(t.Exec("systemctl daemon-reload"));
  stale = t.Exec("systemctl show -p NeedDaemonReload etcd.service");
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->out, "NeedDaemonReload=no\n");
  auto show = t.Exec(
      "systemctl show -p ActiveState,SubState,NRestarts,UnitFileState "
      "etcd.service");
  EXPECT_EQ(show->out,
            "ActiveState=active\nSubState=running\nNRestarts=0\nUnitFileState="
            "enabled\n");
  t.Exec("systemctl restart etcd");
  EXPECT_EQ(t.state().units["etcd"].restarts, 2);
  EXPECT_EQ(t.state().units["etcd"].stale_starts, 1);
  t.Exec("systemctl disable --now etcd.service");
  EXPECT_EQ(t.state().units["etcd"].active_state, "inactive");
}

TEST(RecordingTransport, ShellSubsetAndScripts) {
  RecordingTransport t("h");
  auto r = t.Exec(
      "mkdir -p /var/lib/hardway/pending-restart && touch "
      "/var/lib/hardway/pending-restart/etcd");
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_TRUE(t.state().Exists("/var/lib/hardway/pending-restart/etcd"));
  EXPECT_EQ(t.Exec("false && touch /a; touch /b")->exit_code, 0);
  EXPECT_FALSE(t.state().Exists("/a"));
  EXPECT_TRUE(t.state().Exists("/b"));
  EXPECT_EQ(t.Exec("ls -d /var/lib/hardway /nope 2>/dev/null")->out,
            "/var/lib/hardway\n");
  t.Exec("rm -rf /var/lib/hardway");
  EXPECT_FALSE(t.state().Exists("/var/lib/hardway/pending-restart/etcd"));
  t.state().Script("uname -m", {ExecResult{0, "x86_64\n", ""},
                                ExecResult{0, "aarch64\n", ""}});
  EXPECT_EQ(t.Exec("uname -m")->out, "x86_64\n");
  EXPECT_EQ(t.Exec("uname -m")->out, "aarch64\n");
  EXPECT_EQ(t.Exec("uname -m")->out, "aarch64\n");  // the last result repeats
  t.Exec("frobnicate --all");
  EXPECT_EQ(t.state().unknown_commands,
            std::vector<std::string>{"frobnicate --all"});
  EXPECT_FALSE(t.OpenTunnel("10.0.0.1", 2379));
}

TEST(SplitShellWords, Quotes) {
  EXPECT_EQ(
      SplitShellWords("awk -v self=1 '$NF != self' \"a b\""),
      (std::vector<std::string>{"awk", "-v", "self=1", "$NF != self", "a b"}));
}

TEST(FaultTransport, FailsMatchingCallsAfterSkip) {
  auto plan = std::make_shared<FaultPlan>();
  plan->Add(FaultRule{"exec", "boom", 1, 1, std::nullopt,
                      ExecResult{7, "", "injected"}});
  plan->Add(FaultRule{"upload", "/etc/x", 0, -1, std::nullopt, std::nullopt});
  FaultTransport t(std::make_unique<RecordingTransport>("h"), plan);
  EXPECT_EQ(t.Exec("boom")->exit_code, 0);  // skipped once
  EXPECT_EQ(t.Exec("boom")->exit_code, 7);  // then fails once
  EXPECT_EQ(t.Exec("boom")->exit_code, 0);
  auto up = t.Upload(
      UploadRequest{std::string("x"), "/etc/x", 0644, "root:root", "", 1});
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().kind, ErrorKind::kConnection);
  EXPECT_EQ(up.error().where, "h");
  EXPECT_EQ(plan->fired(), 2);
}

// A FaultTransport over a recording host where "say-a", "say-b" and "say-c"
// print their names and "fail" exits 3; `log` has the inner calls.
struct FaultOverSayingHost {
  std::shared_ptr<FaultPlan> plan = std::make_shared<FaultPlan>();
  std::shared_ptr<CallLog> log = std::make_shared<CallLog>();
  FaultTransport t{MakeInner(log), plan};

  // The inner "exec-many" calls since the last, each as its commands.
  std::vector<std::vector<std::string>> TakeBatches() {
    std::vector<std::vector<std::string>> out;
    for (const RecordedCall& c : log->calls())
      if (c.op == "exec-many") out.push_back(c.paths);
    log->Clear();
    return out;
  }

 private:
  static std::unique_ptr<Transport> MakeInner(std::shared_ptr<CallLog> log) {
    auto host = std::make_shared<FakeHost>();
    for (const char* c : {"say-a", "say-b", "say-c"})
      host->Script(c, ExecResult{0, std::string(c) + "\n", ""});
    host->Script("fail", ExecResult{3, "", "no\n"});
    return std::make_unique<RecordingTransport>("h", host, std::move(log));
  }
};

TEST(FaultTransport, ExecManyAnswersMatchingCommandsAndBatchesTheRest) {
  FaultOverSayingHost f;
  auto& plan = f.plan;
  FaultTransport& t = f.t;
  plan->Add(FaultRule{"exec", "boom", 0, -1, std::nullopt,
                      ExecResult{7, "", "injected"}});
  auto r = t.ExecMany({"say-a", "say-b", "boom", "say-c"});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[1].out, "say-b\n");
  EXPECT_EQ((*r)[2].exit_code, 7);
  EXPECT_EQ((*r)[3].out, "say-c\n");
  // The inner transport saw two batches, in order around the answered one.
  EXPECT_EQ(f.TakeBatches(), (std::vector<std::vector<std::string>>{
                                 {"say-a", "say-b"}, {"say-c"}}));
  // A rule that fails the call fails the batch.
  plan->Add(FaultRule{"exec", "lost", 0, -1,
                      Error{ErrorKind::kConnection, "gone", "h", {}},
                      std::nullopt});
  EXPECT_FALSE(t.ExecMany({"say-a", "lost"}));
}

TEST(FaultTransport, ExecUntilFailureStopsAtTheFirstFailureWhereverItComes) {
  FaultOverSayingHost f;
  auto& plan = f.plan;
  FaultTransport& t = f.t;
  plan->Add(FaultRule{"exec", "boom", 1, -1, std::nullopt,
                      ExecResult{7, "", "injected"}});
  auto batches = [&] { return f.TakeBatches(); };
  // All succeed: the commands no rule concerns in one inner call per run;
  // "boom" passes the first time (skip 1), alone.
  auto ok = t.ExecUntilFailure({"say-a", "say-b", "boom", "say-c"});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->size(), 4u);
  EXPECT_EQ(batches(), (std::vector<std::vector<std::string>>{
                           {"say-a", "say-b"}, {"say-c"}}));
  // The rule fires the second time: the batch ends there.
  auto fired = t.ExecUntilFailure({"say-a", "boom", "say-c"});
  ASSERT_TRUE(fired);
  ASSERT_EQ(fired->size(), 2u);
  EXPECT_EQ(fired->back().exit_code, 7);
  EXPECT_EQ(batches(), (std::vector<std::vector<std::string>>{{"say-a"}}));
  // A failure inside the inner batch ends it too; "boom" never runs.
  int before = plan->fired();
  auto inner = t.ExecUntilFailure({"say-a", "fail", "say-b", "boom"});
  ASSERT_TRUE(inner);
  ASSERT_EQ(inner->size(), 2u);
  EXPECT_EQ(inner->back().exit_code, 3);
  EXPECT_EQ(plan->fired(), before);
}

}  // namespace
}  // namespace hardway
