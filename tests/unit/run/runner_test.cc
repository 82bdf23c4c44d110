#include "run/runner.h"

#include <gtest/gtest.h>

#include <sstream>

#include "remote/fault_transport.h"
#include "remote/recording_transport.h"
#include "util/sha256.h"

namespace hardway {
namespace {

// Records every reporter event with one global order, to check barriers and
// outcomes.
class EventLog : public Reporter {
 public:
  struct Event {
    std::string type, phase, host, step;
    StepOutcome outcome;
  };
  std::function<void(const Step&)> on_step_started;

  void PhaseStarted(const Phase& p) override {
    Add({"phase_started", p.name, "", "", {}});
  }
  void StepStarted(const Step& s, size_t, size_t) override {
    Add({"step_started", s.phase, s.host, s.id, {}});
    if (on_step_started) on_step_started(s);
  }
  void StepFinished(const Step& s, const StepOutcome& o, size_t,
                    size_t) override {
    Add({"step_finished", s.phase, s.host, s.id, o});
  }
  void GateWaiting(const Phase& p) override {
    Add({"gate_waiting", p.name, "", "", {}});
  }
  void GatePassed(const Phase& p, const GateReport&) override {
    Add({"gate_passed", p.name, "", "", {}});
  }
  void GateFailed(const Phase& p, const GateReport& r) override {
    Add({"gate_failed", p.name, "", "", {}});
    std::lock_guard lock(mu);
    failed_gate = r;
  }
  void PhaseDone(const Phase& p, const PhaseOutcome&) override {
    Add({"phase_done", p.name, "", "", {}});
  }
  void Summary(const RunSummary&) override {}

  std::vector<Event> events() {
    std::lock_guard lock(mu);
    return events_;
  }
  std::vector<Event> Of(const std::string& type) {
    std::vector<Event> out;
    for (const Event& e : events()) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }
  std::optional<GateReport> failed_gate;

 private:
  void Add(Event e) {
    std::lock_guard lock(mu);
    events_.push_back(std::move(e));
  }
  std::mutex mu;
  std::vector<Event> events_;
};

Step Render(const std::string& phase, const std::string& host,
            const std::string& dest, const std::string& content) {
  Step s;
  s.phase = phase;
  s.host = host;
  s.kind = StepKind::kRender;
  s.id = phase + "/" + host + "/render-" + dest;
  s.description = "render " + dest;
  s.dest = dest;
  s.content = content;
  s.size = content.size();
  s.sha256 = Sha256Hex(content);
  return s;
}

Step RunStep(const std::string& phase, const std::string& host,
             const std::string& command) {
  Step s;
  s.phase = phase;
  s.host = host;
  s.kind = StepKind::kRun;
  s.id = phase + "/" + host + "/run-" + command;
  s.description = command;
  s.command = command;
  return s;
}

Step Systemd(const std::string& phase, const std::string& host,
             const std::string& unit, std::vector<std::string> watch) {
  Step s;
  s.phase = phase;
  s.host = host;
  s.kind = StepKind::kSystemd;
  s.id = phase + "/" + host + "/systemd-" + unit;
  s.description = "start " + unit;
  s.unit = unit;
  s.watch = std::move(watch);
  return s;
}

// distribute (files + unit file) -> start (systemd, watching the config) ->
// finish (a command).
Plan MakePlan(const std::vector<std::string>& hosts,
              const std::string& config = "port=1\n",
              const std::string& other = "unwatched\n") {
  Plan plan;
  plan.cluster = "test";
  Phase distribute{"distribute", "files", {}, {}, false, hosts, {}, {}};
  Phase start{"start", "units", {"distribute"}, {}, false, hosts, {}, {}};
  Phase finish{"finish", "last", {"start"}, {}, false, hosts, {}, {}};
  for (const std::string& h : hosts) {
    distribute.steps.push_back(RunStep("distribute", h, "mkdir -p /etc/app"));
    distribute.steps.push_back(
        Render("distribute", h, "/etc/app/app.conf", config));
    distribute.steps.push_back(
        Render("distribute", h, "/etc/app/other.conf", other));
    distribute.steps.push_back(Render("distribute", h,
                                      "/etc/systemd/system/app.service",
                                      "[Service]\nExecStart=/app\n"));
    start.steps.push_back(Systemd("start", h, "app", {"/etc/app/app.conf"}));
    finish.steps.push_back(RunStep("finish", h, "true"));
  }
  plan.phases = {distribute, start, finish};
  return plan;
}

class RunnerTest : public ::testing::Test {
 protected:
  std::map<std::string, std::shared_ptr<FakeHost>> hosts_;
  std::shared_ptr<CallLog> log_ = std::make_shared<CallLog>();
  std::shared_ptr<FaultPlan> faults_ = std::make_shared<FaultPlan>();

  FakeHost& Host(const std::string& name) {
    auto& h = hosts_[name];
    if (!h) h = std::make_shared<FakeHost>();
    return *h;
  }

  TransportFactory Factory() {
    return
        [this](const std::string& host) -> Result<std::unique_ptr<Transport>> {
          Host(host);
          auto inner =
              std::make_unique<RecordingTransport>(host, hosts_[host], log_);
          return std::unique_ptr<Transport>(
              std::make_unique<FaultTransport>(std::move(inner), faults_));
        };
  }

  RunSummary RunPlan(const Plan& plan, EventLog& events,
                     RunOptions options = {}) {
    Runner runner(Factory(), events, std::move(options));
    return runner.Run(plan);
  }
};

TEST_F(RunnerTest, PhasesRunInOrderWithBarriers) {
  Plan plan = MakePlan({"a", "b", "c"});
  // A slow host: without a barrier, the fast hosts would start "start" before
  // it is done.
  Host("b").exec_delay = std::chrono::milliseconds(30);
  EventLog events;
  RunSummary s = RunPlan(plan, events);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.phases_run, 3u);
  EXPECT_EQ(s.steps_run, plan.step_count());

  auto all = events.events();
  auto last_finish = [&](const std::string& phase) {
    size_t idx = 0;
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].type == "step_finished" && all[i].phase == phase) idx = i;
    return idx;
  };
  auto first_start = [&](const std::string& phase) {
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].type == "step_started" && all[i].phase == phase) return i;
    return all.size();
  };
  EXPECT_LT(last_finish("distribute"), first_start("start"));
  EXPECT_LT(last_finish("start"), first_start("finish"));

  // Within a host, steps run in plan order.
  std::vector<std::string> a_steps;
  for (const auto& e : events.Of("step_started"))
    if (e.host == "a") a_steps.push_back(e.step);
  std::vector<std::string> want;
  for (const Phase& p : plan.phases)
    for (const Step& st : p.steps)
      if (st.host == "a") want.push_back(st.id);
  EXPECT_EQ(a_steps, want);
}

TEST_F(RunnerTest, FirstRunUploadsAndStartsThenRerunChangesNothing) {
  Plan plan = MakePlan({"a", "b"});
  EventLog first;
  RunSummary s1 = RunPlan(plan, first);
  ASSERT_TRUE(s1.ok) << (s1.error ? s1.error->ToString() : "");
  uint64_t want_bytes = 0;
  for (const Step& st : plan.phases[0].steps) want_bytes += st.size;
  EXPECT_EQ(s1.bytes_uploaded, want_bytes);
  EXPECT_EQ(s1.units_started, 2);
  EXPECT_EQ(s1.units_restarted, 0);
  for (const char* h : {"a", "b"}) {
    EXPECT_EQ(Host(h).units["app"].active_state, "active");
    EXPECT_TRUE(Host(h).units["app"].enabled);
    EXPECT_EQ(Host(h).units["app"].starts, 1);
    EXPECT_FALSE(Host(h).Exists("/var/lib/hardway/pending-restart/app")) << h;
  }

  log_->Clear();
  EventLog second;
  RunSummary s2 = RunPlan(plan, second);
  ASSERT_TRUE(s2.ok);
  EXPECT_EQ(s2.bytes_uploaded, 0u);
  EXPECT_EQ(s2.units_restarted, 0);
  EXPECT_EQ(s2.units_started, 0);
  EXPECT_EQ(s2.steps_changed, 0u);
  EXPECT_EQ(Host("a").units["app"].restarts, 0);
  // One Sha256Of per host for the distribute phase; the start phase has no
  // files and asks for its marker with `test -e` in its batch, and reads the
  // unit's state there too (the systemd step asks nothing more).
  int sha_calls = 0, marker_tests = 0, unit_states = 0;
  for (const RecordedCall& c : log_->calls("a")) {
    if (c.op == "sha256") ++sha_calls;
    if (c.op == "upload") {
      EXPECT_EQ(c.bytes, 0u) << c.detail;
    }
    if (c.op != "exec") continue;
    if (c.detail == "test -e /var/lib/hardway/pending-restart/app") {
      ++marker_tests;
      continue;
    }
    unit_states += c.detail.starts_with("cat /proc/uptime; systemctl show");
    EXPECT_EQ(c.detail.find(" restart "), std::string::npos) << c.detail;
  }
  EXPECT_EQ(sha_calls, 1);
  EXPECT_EQ(marker_tests, 1);
  EXPECT_EQ(unit_states, 1);  // in the batch only
}

TEST_F(RunnerTest, RestartsOnlyWhenAWatchedFileChanged) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(MakePlan({"a"}), e1).ok);

  // An unwatched file changes: uploaded, no restart.
  EventLog e2;
  RunSummary s2 = RunPlan(MakePlan({"a"}, "port=1\n", "changed\n"), e2);
  ASSERT_TRUE(s2.ok);
  EXPECT_EQ(s2.bytes_uploaded, std::string("changed\n").size());
  EXPECT_EQ(s2.units_restarted, 0);
  EXPECT_EQ(Host("a").units["app"].restarts, 0);

  // The watched config changes: restarted once.
  EventLog e3;
  RunSummary s3 = RunPlan(MakePlan({"a"}, "port=2\n", "changed\n"), e3);
  ASSERT_TRUE(s3.ok);
  EXPECT_EQ(s3.units_restarted, 1);
  EXPECT_EQ(Host("a").units["app"].restarts, 1);
  // The unit file itself never changed: systemd loaded it on first use, and no
  // run paid for a daemon-reload.
  EXPECT_EQ(Host("a").daemon_reloads, 0);
  EXPECT_EQ(Host("a").units["app"].stale_starts, 0);
  EXPECT_FALSE(Host("a").Exists("/var/lib/hardway/pending-restart/app"));
}

TEST_F(RunnerTest, UnitFileChangeRestartsEvenWhenNotInWatch) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(MakePlan({"a"}), e1).ok);
  Plan plan = MakePlan({"a"});
  for (Step& st : plan.phases[0].steps) {
    if (st.dest == "/etc/systemd/system/app.service") {
      st.content = "[Service]\nExecStart=/app --new-flag\n";
      st.sha256 = Sha256Hex(st.content);
    }
  }
  int reloads_before = Host("a").daemon_reloads;
  EventLog e2;
  RunSummary s = RunPlan(plan, e2);
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.units_restarted, 1);
  // systemd saw NeedDaemonReload=yes, so the restart came after exactly one
  // reload and ran the new definition.
  EXPECT_EQ(Host("a").daemon_reloads, reloads_before + 1);
  EXPECT_EQ(Host("a").units["app"].stale_starts, 0);
}

// Two units whose files change in one phase, started by two systemd steps of
// the next.
Plan TwoUnitsPlan(const std::string& flag) {
  Plan plan;
  plan.cluster = "test";
  Phase distribute{"distribute", "files", {}, {}, false, {"a"}, {}, {}};
  Phase start{"start", "units", {"distribute"}, {}, false, {"a"}, {}, {}};
  for (const char* unit : {"app", "web"}) {
    distribute.steps.push_back(
        Render("distribute", "a",
               std::string("/etc/systemd/system/") + unit + ".service",
               "[Service]\nExecStart=/" + std::string(unit) + flag + "\n"));
    start.steps.push_back(Systemd("start", "a", unit, {}));
  }
  plan.phases = {distribute, start};
  return plan;
}

TEST_F(RunnerTest, StartingOneUnitLeavesThePhasesLookAtTheNextOneStanding) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(TwoUnitsPlan(""), e1).ok);
  int reloads_before = Host("a").daemon_reloads;
  log_->Clear();
  EventLog e2;
  RunSummary s = RunPlan(TwoUnitsPlan(" --new-flag"), e2);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.units_restarted, 2);
  // The phase's look said both need a daemon-reload; the first step's reload
  // loaded both, so the second restarts without another and without asking
  // systemd again.
  EXPECT_EQ(Host("a").daemon_reloads, reloads_before + 1);
  EXPECT_EQ(Host("a").units["web"].stale_starts, 0);
  EXPECT_EQ(Host("a").units["app"].stale_starts, 0);
  bool started = false;
  int asked_after_first_start = 0;
  for (const RecordedCall& c : log_->calls("a")) {
    if (c.op != "exec") continue;
    if (started)
      asked_after_first_start +=
          c.detail.find("systemctl show") != std::string::npos;
    started = started || c.detail.find("restart app") != std::string::npos;
  }
  EXPECT_TRUE(started);
  EXPECT_EQ(asked_after_first_start, 0);
}

TEST_F(RunnerTest, AUnitFileWrittenInTheSamePhaseIsAskedAboutAgain) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(TwoUnitsPlan(""), e1).ok);
  // The same phase writes the unit file and then starts the unit: the look
  // from before the write is stale, so systemd is asked again.
  Plan plan = TwoUnitsPlan(" --new-flag");
  Phase one{"one", "files and units", {}, {}, false, {"a"}, {}, {}};
  one.steps = {plan.phases[0].steps[0], plan.phases[1].steps[0]};
  for (Step& st : one.steps) st.phase = "one";
  plan.phases = {one};
  int reloads_before = Host("a").daemon_reloads;
  EventLog e2;
  RunSummary s = RunPlan(plan, e2);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.units_restarted, 1);
  EXPECT_EQ(Host("a").daemon_reloads, reloads_before + 1);
  EXPECT_EQ(Host("a").units["app"].stale_starts, 0);
}

TEST_F(RunnerTest, ConsecutiveUnitStepsStartTogetherInOneCommand) {
  EventLog e;
  RunSummary s = RunPlan(TwoUnitsPlan(""), e);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.units_started, 2);
  std::vector<std::string> starting;
  for (const RecordedCall& c : log_->calls("a")) {
    if (c.op == "exec" &&
        c.detail.find("systemctl enable") != std::string::npos)
      starting.push_back(c.detail);
  }
  ASSERT_EQ(starting.size(), 1u);
  EXPECT_NE(starting[0].find("systemctl start app.service web.service"),
            std::string::npos)
      << starting[0];
  // Each step still reports its own outcome.
  int started = 0;
  for (const auto& ev : e.Of("step_finished"))
    started += ev.phase == "start" && ev.outcome.started;
  EXPECT_EQ(started, 2);
  EXPECT_EQ(Host("a").units["app"].active_state, "active");
  EXPECT_EQ(Host("a").units["web"].active_state, "active");
}

TEST_F(RunnerTest, TheUnitThatSystemctlNamesIsTheStepThatFails) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(TwoUnitsPlan(""), e1).ok);
  // app runs but is no longer enabled; web is stopped and will not start.
  Host("a").units["app"].enabled = false;
  Host("a").units["web"].active_state = "inactive";
  Host("a").units["web"].sub_state = "dead";
  faults_->Add(FaultRule{
      "exec", "systemctl start web.service", 0, 1, std::nullopt,
      ExecResult{1, "",
                 "Job for web.service failed because the control process "
                 "exited with error code.\n"}});
  EventLog e2;
  RunSummary s = RunPlan(TwoUnitsPlan(""), e2);
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.failed_phase, "start");
  EXPECT_EQ(s.steps_failed, 1u);
  std::map<std::string, StepOutcome> by_step;
  for (const auto& ev : e2.Of("step_finished"))
    if (ev.phase == "start") by_step[ev.step] = ev.outcome;
  ASSERT_EQ(by_step.size(), 2u);
  for (const auto& [id, o] : by_step) {
    if (id.find("web") != std::string::npos) {
      EXPECT_FALSE(o.ok);
      EXPECT_NE(o.note.find("web.service did not start"), std::string::npos)
          << o.note;
      EXPECT_NE(o.note.find("Job for web.service failed"), std::string::npos)
          << o.note;
    } else {
      EXPECT_TRUE(o.ok) << o.note;
      EXPECT_EQ(o.note, "enabled");
    }
  }
}

TEST_F(RunnerTest, AUnitLeftStoppedByAFailedGroupIsNotReportedStarted) {
  // web has no unit file: `systemctl enable` fails for both, so app does not
  // start either, and its step says so instead of "started".
  Plan plan = TwoUnitsPlan("");
  plan.phases[0].steps.pop_back();
  EventLog e;
  RunSummary s = RunPlan(plan, e);
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.steps_failed, 1u);
  EXPECT_EQ(s.units_started, 0);
  std::vector<StepOutcome> start;
  for (const auto& ev : e.Of("step_finished"))
    if (ev.phase == "start") start.push_back(ev.outcome);
  ASSERT_EQ(start.size(), 1u);  // app's step; the host stopped there
  EXPECT_FALSE(start[0].ok);
  EXPECT_NE(start[0].note.find("app.service did not start"), std::string::npos)
      << start[0].note;
  EXPECT_NE(start[0].note.find("web.service not found"), std::string::npos)
      << start[0].note;
}

TEST_F(RunnerTest, FilesGateTakesTheRunsOwnListingWhenNothingChanged) {
  Plan plan = MakePlan({"a"});
  plan.phases[0].gate =
      Gate{GateKind::kFilesPresent, std::chrono::seconds(5), {}, 0, ""};
  auto sha_calls = [&] {
    int n = 0;
    for (const RecordedCall& c : log_->calls("a")) n += c.op == "sha256";
    return n;
  };
  // First run: files are sent, so the gate lists them again itself.
  EventLog e1;
  ASSERT_TRUE(RunPlan(plan, e1).ok);
  const int with_gate_listing = sha_calls();

  // Re-run: the runner's listing found everything as planned and nothing
  // changed, so the gate does not hash every file a second time.
  log_->Clear();
  EventLog e2;
  ASSERT_TRUE(RunPlan(plan, e2).ok);
  EXPECT_EQ(sha_calls(), with_gate_listing - 1);
  EXPECT_EQ(e2.Of("gate_passed").size(), 1u);

  // A mode changed on the host: the run fixes it, and the gate checks for
  // itself again.
  Host("a").files["/etc/app/other.conf"].mode = 0600;
  log_->Clear();
  EventLog e3;
  RunSummary s3 = RunPlan(plan, e3);
  ASSERT_TRUE(s3.ok);
  EXPECT_EQ(s3.steps_changed, 1u);
  EXPECT_EQ(sha_calls(), with_gate_listing);
  EXPECT_EQ(Host("a").files["/etc/app/other.conf"].mode, 0644u);
}

TEST_F(RunnerTest, SmallFilesOfAHostTravelInOneBatch) {
  Plan plan = MakePlan({"a"});
  EventLog e1;
  RunSummary s1 = RunPlan(plan, e1);
  ASSERT_TRUE(s1.ok);
  // The three rendered files of the distribute phase: one UploadMany.
  int batches = 0;
  for (const RecordedCall& c : log_->calls("a"))
    batches += c.op == "upload-many";
  EXPECT_EQ(batches, 1);
  EXPECT_EQ(Host("a").files["/etc/app/app.conf"].content, "port=1\n");
  EXPECT_EQ(s1.steps_changed, 4u);  // the 3 files and the unit start
}

TEST_F(RunnerTest, RestartPendingFromAFailedRunHappensOnTheNextRun) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(MakePlan({"a"}), e1).ok);

  // The config changes, is uploaded, then the run fails before the start phase.
  Plan changed = MakePlan({"a"}, "port=3\n");
  changed.phases[0].steps.push_back(
      RunStep("distribute", "a", "flaky-command"));
  faults_->Add(FaultRule{"exec", "flaky-command", 0, 1, std::nullopt,
                         ExecResult{1, "", "flaky-command: boom"}});
  EventLog e2;
  RunSummary s2 = RunPlan(changed, e2);
  EXPECT_FALSE(s2.ok);
  EXPECT_EQ(s2.failed_phase, "distribute");
  EXPECT_EQ(Host("a").units["app"].restarts, 0);
  EXPECT_TRUE(Host("a").Exists("/var/lib/hardway/pending-restart/app"));

  // Next run: the config already matches (0 bytes), yet the unit restarts.
  EventLog e3;
  RunSummary s3 = RunPlan(changed, e3);
  ASSERT_TRUE(s3.ok) << (s3.error ? s3.error->ToString() : "");
  EXPECT_EQ(s3.bytes_uploaded, 0u);
  EXPECT_EQ(s3.units_restarted, 1);
  EXPECT_EQ(Host("a").units["app"].restarts, 1);
  EXPECT_FALSE(Host("a").Exists("/var/lib/hardway/pending-restart/app"));

  // And only once.
  EventLog e4;
  RunSummary s4 = RunPlan(changed, e4);
  EXPECT_EQ(s4.units_restarted, 0);
}

TEST_F(RunnerTest, AFailedStepStopsTheRunAfterItsPhase) {
  Plan plan = MakePlan({"a", "b", "c"});
  faults_->Add(FaultRule{"upload", "/etc/app/other.conf", 1, 1, std::nullopt,
                         std::nullopt});
  EventLog events;
  RunSummary s = RunPlan(plan, events);
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.failed_phase, "distribute");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kConnection);
  EXPECT_EQ(s.steps_failed, 1u);
  // The other hosts finished the phase; nothing of the next phases started.
  int finished_ok = 0;
  for (const auto& e : events.Of("step_finished")) {
    EXPECT_EQ(e.phase, "distribute");
    if (e.outcome.ok) ++finished_ok;
  }
  EXPECT_EQ(finished_ok,
            4 + 4 + 2);  // two hosts complete, the failing one got 2 steps done
  for (const auto& e : events.Of("step_started"))
    EXPECT_EQ(e.phase, "distribute");
  // The later phases were only looked at (the survey reads their units'
  // state), never acted on.
  for (const RecordedCall& c : log_->calls()) {
    for (const char* verb : {"systemctl start", "systemctl restart",
                             "systemctl enable", "daemon-reload"})
      EXPECT_EQ(c.detail.find(verb), std::string::npos) << c.detail;
  }
}

TEST_F(RunnerTest, FailingCommandNamesHostCommandAndStderr) {
  Plan plan = MakePlan({"a"});
  Host("a").Script("mkdir -p /etc/app",
                   ExecResult{1, "", "mkdir: Permission denied\n"});
  EventLog events;
  RunSummary s = RunPlan(plan, events);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kStep);
  EXPECT_EQ(s.error->where, "a");
  EXPECT_NE(s.error->message.find("`mkdir -p /etc/app` exited with 1"),
            std::string::npos);
  EXPECT_NE(s.error->message.find("Permission denied"), std::string::npos);
}

TEST_F(RunnerTest, OnlyAndFrom) {
  Plan plan = MakePlan({"a"});
  EventLog e0;
  ASSERT_TRUE(RunPlan(plan, e0).ok);
  EventLog e1;
  RunOptions only;
  only.only = "finish";
  RunSummary s1 = RunPlan(plan, e1, only);
  ASSERT_TRUE(s1.ok);
  EXPECT_EQ(s1.phases_run, 1u);
  for (const auto& e : e1.Of("step_started")) EXPECT_EQ(e.phase, "finish");

  EventLog e2;
  RunOptions from;
  from.from = "start";
  RunSummary s2 = RunPlan(plan, e2, from);
  EXPECT_TRUE(s2.ok) << (s2.error ? s2.error->ToString() : "");
  EXPECT_EQ(s2.phases_run, 2u);
  std::set<std::string> phases;
  for (const auto& e : e2.Of("step_started")) phases.insert(e.phase);
  EXPECT_EQ(phases, (std::set<std::string>{"start", "finish"}));

  EventLog e3;
  RunOptions bad;
  bad.only = "nope";
  RunSummary s3 = RunPlan(plan, e3, bad);
  ASSERT_TRUE(s3.error);
  EXPECT_EQ(s3.error->kind, ErrorKind::kUsage);
  EXPECT_NE(s3.error->hint.find("distribute, start, finish"),
            std::string::npos);
}

TEST_F(RunnerTest, InterruptFinishesCurrentStepsThenStops) {
  Plan plan = MakePlan({"a", "b"});
  std::atomic<bool> stop{false};
  EventLog events;
  events.on_step_started = [&](const Step& s) {
    if (s.dest == "/etc/app/other.conf") stop = true;
  };
  RunOptions options;
  options.interrupted = &stop;
  RunSummary s = RunPlan(plan, events, options);
  EXPECT_FALSE(s.ok);
  EXPECT_TRUE(s.interrupted);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kInterrupted);
  EXPECT_EQ(ExitCodeFor(s.error->kind), 130);
  // Every started step finished; nothing after the distribute phase ran.
  EXPECT_EQ(events.Of("step_started").size(),
            events.Of("step_finished").size());
  for (const auto& e : events.Of("step_started"))
    EXPECT_EQ(e.phase, "distribute");

  // Re-running converges.
  stop = false;
  EventLog again;
  RunSummary s2 = RunPlan(plan, again, options);
  EXPECT_TRUE(s2.ok);
  EXPECT_EQ(Host("a").units["app"].active_state, "active");
}

TEST_F(RunnerTest, StepModeSkipsRunsAndQuits) {
  Plan plan = MakePlan({"a"});
  std::istringstream input("\ns\nq\n");
  std::ostringstream prompt;
  RunOptions options;
  options.interactive = true;
  options.input = &input;
  options.prompt = &prompt;
  EventLog events;
  RunSummary s = RunPlan(plan, events, options);
  std::set<std::string> phases;
  for (const auto& e : events.Of("step_started")) phases.insert(e.phase);
  EXPECT_EQ(phases, std::set<std::string>{"distribute"});
  EXPECT_NE(prompt.str().find("phase start: units"), std::string::npos);
  EXPECT_EQ(events.Of("phase_done").size(),
            2u);  // distribute run, start skipped
  EXPECT_TRUE(s.interrupted);
  EXPECT_NE(prompt.str().find("phase distribute: files"), std::string::npos);
  EXPECT_NE(prompt.str().find("a: render /etc/app/app.conf"),
            std::string::npos);
  EXPECT_NE(prompt.str().find("[Enter] run, s skip, q quit"),
            std::string::npos);
}

TEST_F(RunnerTest, StepModeWithoutTerminalIsRefused) {
  RunOptions options;
  options.interactive = true;
  EventLog events;
  RunSummary s = RunPlan(MakePlan({"a"}), events, options);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kUsage);
  EXPECT_TRUE(events.Of("step_started").empty());
}

TEST_F(RunnerTest, ConnectionFailureFailsThePhaseWithTheHost) {
  Plan plan = MakePlan({"a", "b"});
  EventLog events;
  TransportFactory factory =
      [this](const std::string& host) -> Result<std::unique_ptr<Transport>> {
    if (host == "b") {
      return Fail(ErrorKind::kConnection, "connection refused",
                  "b (10.0.0.2:22)");
    }
    return std::unique_ptr<Transport>(
        std::make_unique<RecordingTransport>(host, nullptr, log_));
  };
  Runner runner(factory, events, {});
  RunSummary s = runner.Run(plan);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kConnection);
  EXPECT_EQ(s.error->where, "b (10.0.0.2:22)");
  EXPECT_EQ(s.failed_phase, "distribute");
}

TEST_F(RunnerTest, UnitGateCatchesACrashLoopAndShowsDiagnostics) {
  Plan plan = MakePlan({"a"});
  plan.phases[1].gate = Gate{GateKind::kUnitActive,
                             std::chrono::milliseconds(600),
                             {"app"},
                             0,
                             "app active"};
  Host("a").units["app"].crashloop = true;
  Host("a").Script("journalctl -u app.service",
                   ExecResult{0, "app[12]: bind: address in use\n", ""});
  Topology topo{{GateHost{"a", "10.0.0.1", {Role::kWorker}, std::nullopt}}};
  RunOptions options;
  options.gate.topology = &topo;
  options.gate.poll = std::chrono::milliseconds(20);
  options.gate.settle = std::chrono::milliseconds(0);
  EventLog events;
  RunSummary s = RunPlan(plan, events, options);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kGate);
  EXPECT_EQ(s.failed_phase, "start");
  ASSERT_TRUE(events.failed_gate);
  const GateVerdict& v = events.failed_gate->verdicts.at(0);
  EXPECT_EQ(v.host, "a");
  EXPECT_EQ(v.unit, "app");
  EXPECT_NE(v.detail.find("crash-looping"), std::string::npos) << v.detail;
  EXPECT_NE(v.diagnostics.find("$ systemctl status app.service --no-pager"),
            std::string::npos);
  EXPECT_NE(v.diagnostics.find("$ journalctl -u app.service -n 50 --no-pager"),
            std::string::npos);
  EXPECT_NE(v.diagnostics.find("bind: address in use"), std::string::npos);
  for (const auto& e : events.Of("step_started")) EXPECT_NE(e.phase, "finish");
}

TEST_F(RunnerTest, UnitGatePassesForAStableUnit) {
  Plan plan = MakePlan({"a", "b"});
  plan.phases[1].gate = Gate{GateKind::kUnitActive,
                             std::chrono::milliseconds(3000),
                             {"app"},
                             0,
                             "app active"};
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt},
                 GateHost{"b", "10.0.0.2", {}, std::nullopt}}};
  RunOptions options;
  options.gate.topology = &topo;
  options.gate.poll = std::chrono::milliseconds(20);
  options.gate.settle = std::chrono::milliseconds(60);
  EventLog events;
  RunSummary s = RunPlan(plan, events, options);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(events.Of("gate_passed").size(), 1u);
}

// A re-run that changes nothing on a host: the unit gate's first look is the
// unit state the phase read at its start (systemd says the unit has been up
// for an hour), so it asks the host nothing more. After a restart it asks.
TEST_F(RunnerTest, UnitGateTakesTheRunsOwnLookWhenNothingChanged) {
  Plan plan = MakePlan({"a"});
  plan.phases[1].gate = Gate{GateKind::kUnitActive,
                             std::chrono::milliseconds(3000),
                             {"app"},
                             0,
                             "app active"};
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  RunOptions options;
  options.gate.topology = &topo;
  options.gate.poll = std::chrono::milliseconds(20);
  options.gate.settle = std::chrono::milliseconds(1000);
  auto looks = [&] {
    int n = 0;
    for (const RecordedCall& c : log_->calls("a"))
      n += c.op == "exec" &&
           c.detail.starts_with("cat /proc/uptime; systemctl show");
    return n;
  };
  // systemd's own clock: up since 1,000 s after boot, now 4,600 s.
  const std::string up_for_an_hour =
      "4600.00 100.00\nLoadState=loaded\nActiveState=active\n"
      "SubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\n"
      "NRestarts=0\nActiveEnterTimestampMonotonic=1000000000\n";
  EventLog first;
  RunOptions first_options = options;
  first_options.gate.settle = std::chrono::milliseconds(0);
  ASSERT_TRUE(RunPlan(plan, first, first_options).ok);
  Host("a").Script("cat /proc/uptime; systemctl show",
                   ExecResult{0, up_for_an_hour, ""});

  log_->Clear();
  EventLog again;
  RunSummary s = RunPlan(plan, again, options);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.steps_changed, 0u);
  EXPECT_EQ(looks(), 1);  // the phase's batch; neither step nor gate asked
  ASSERT_EQ(again.Of("gate_passed").size(), 1u);

  // A watched file changed: the unit restarts, and the gate looks itself.
  log_->Clear();
  EventLog changed;
  Plan edited = MakePlan({"a"}, "port=2\n");
  edited.phases[1].gate = plan.phases[1].gate;
  s = RunPlan(edited, changed, options);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.units_restarted, 1);
  EXPECT_GE(looks(), 2);
}

// MakePlan behind a preflight phase (no steps, a gate on every host).
Plan WithPreflight(Plan plan, const std::vector<std::string>& hosts) {
  Phase preflight{"preflight", "check", {}, {}, false, hosts, {}, {}};
  preflight.gate =
      Gate{GateKind::kPreflight, std::chrono::milliseconds(2000), {}, 0, ""};
  plan.phases.insert(plan.phases.begin(), preflight);
  return plan;
}

void ScriptFacts(FakeHost& h) {
  char now[64];
  std::snprintf(now, sizeof now, "%.3f\n",
                std::chrono::duration<double>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
  h.Script("date +%s.%N", ExecResult{0, now, ""});
  h.Script("uname -m", ExecResult{0, "x86_64\n", ""});
  h.Script("systemctl --version", ExecResult{0, "systemd 252\n", ""});
  h.Script("ss -Htlnp", ExecResult{0, "", ""});
}

TEST_F(RunnerTest, PreflightLooksAtEveryHostOnceAndTheSurveyStartsThere) {
  Plan plan = WithPreflight(MakePlan({"a", "b"}), {"a", "b"});
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt},
                 GateHost{"b", "10.0.0.2", {}, std::nullopt}}};
  RunOptions options;
  options.gate.topology = &topo;
  options.gate.poll = std::chrono::milliseconds(20);
  options.gate.settle = std::chrono::milliseconds(0);
  for (const char* h : {"a", "b"}) ScriptFacts(Host(h));
  EventLog first;
  ASSERT_TRUE(RunPlan(plan, first, options).ok);

  log_->Clear();
  EventLog again;
  RunSummary s = RunPlan(plan, again, options);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.steps_changed, 0u);
  for (const char* h : {"a", "b"}) {
    // The facts were asked once, by the look, before distribute's listing;
    // the gate took them. The listing came in that same look.
    int facts = 0, listings = 0;
    for (const RecordedCall& c : log_->calls(h)) {
      facts += c.op == "exec" && c.detail == "uname -m";
      listings += c.op == "sha256";
    }
    EXPECT_EQ(facts, 1) << h;
    EXPECT_EQ(listings, 1) << h;
    EXPECT_EQ(log_->calls(h).front().op, "sha256") << h;
  }
}

TEST_F(RunnerTest, AnUnreachableHostIsTriedOnceAndNamedByPreflight) {
  Plan plan = WithPreflight(MakePlan({"a", "b"}), {"a", "b"});
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt},
                 GateHost{"b", "10.0.0.2", {}, std::nullopt}}};
  RunOptions options;
  options.gate.topology = &topo;
  options.gate.poll = std::chrono::milliseconds(20);
  ScriptFacts(Host("a"));
  std::atomic<int> connects_b{0};
  TransportFactory inner = Factory();
  TransportFactory factory =
      [&](const std::string& host) -> Result<std::unique_ptr<Transport>> {
    if (host != "b") return inner(host);
    ++connects_b;
    return Fail(ErrorKind::kConnection, "connection refused", "b");
  };
  EventLog events;
  Runner runner(factory, events, options);
  RunSummary s = runner.Run(plan);
  ASSERT_FALSE(s.ok);
  EXPECT_EQ(s.failed_phase, "preflight");
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kConnection);
  EXPECT_NE(s.error->message.find("b: "), std::string::npos)
      << s.error->message;
  EXPECT_EQ(connects_b.load(), 1);
  EXPECT_TRUE(events.Of("step_started").empty());
}

TEST_F(RunnerTest, LocalPhaseCallsTheHandlerAndDryRunSkipsIt) {
  Plan plan = MakePlan({"a"});
  Phase pki{"pki", "local", {}, {}, true, {}, {}, {}};
  plan.phases.insert(plan.phases.begin(), pki);
  int calls = 0;
  RunOptions options;
  options.local_phase = [&](const Phase& p) -> Result<bool> {
    EXPECT_EQ(p.name, "pki");
    ++calls;
    return calls == 1;  // changed only the first time
  };
  EventLog e1;
  EXPECT_TRUE(RunPlan(plan, e1, options).ok);
  EXPECT_EQ(calls, 1);

  options.dry_run = true;
  EventLog e2;
  RunSummary s = RunPlan(plan, e2, options);
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(calls, 1);

  options.dry_run = false;
  options.local_phase = [](const Phase&) -> Result<bool> {
    return Fail(ErrorKind::kPki, "CA key unreadable", "pki/ca.key");
  };
  EventLog e3;
  RunSummary s3 = RunPlan(plan, e3, options);
  ASSERT_TRUE(s3.error);
  EXPECT_EQ(s3.error->kind, ErrorKind::kPki);
  EXPECT_EQ(s3.failed_phase, "pki");
}

// One phase on host a: a run step with a check, then a plain command.
Plan CheckedPlan() {
  Plan plan;
  plan.cluster = "test";
  Phase prep{"prep", "node", {}, {}, false, {"a"}, {}, {}};
  Step st = RunStep("prep", "a", "do-x");
  st.check = "check-x";
  st.description = "x in place";
  prep.steps.push_back(st);
  prep.steps.push_back(RunStep("prep", "a", "after-x"));
  plan.phases = {prep};
  return plan;
}

// Two phases on host a, each with a file and a checked run step.
Plan TwoCheckedPhases(const std::string& content = "v1\n") {
  Plan plan;
  plan.cluster = "test";
  Phase one{"one", "first", {}, {}, false, {"a"}, {}, {}};
  Phase two{"two", "second", {"one"}, {}, false, {"a"}, {}, {}};
  one.steps.push_back(Render("one", "a", "/etc/one.conf", content));
  Step fix1 = RunStep("one", "a", "fix-1");
  fix1.check = "check-1";
  one.steps.push_back(fix1);
  two.steps.push_back(Render("two", "a", "/etc/two.conf", "two\n"));
  Step fix2 = RunStep("two", "a", "fix-2");
  fix2.check = "check-2";
  two.steps.push_back(fix2);
  plan.phases = {one, two};
  return plan;
}

int Count(const CallLog& log, const std::string& op,
          const std::string& detail = {}) {
  int n = 0;
  for (const RecordedCall& c : log.calls("a"))
    n += c.op == op && (detail.empty() || c.detail == detail);
  return n;
}

TEST_F(RunnerTest, TheFirstPhaseAsksForTheLaterOnesWhenNothingChanged) {
  Host("a").Script("check-", ExecResult{0, "", ""});  // everything in place
  EventLog e1;
  ASSERT_TRUE(RunPlan(TwoCheckedPhases(), e1).ok);
  // The first run uploads in phase one, so phase two asks again for itself
  // (and once more before fix-2, after its own file changed).
  EXPECT_EQ(Count(*log_, "sha256"), 2);
  EXPECT_EQ(Count(*log_, "exec", "check-2"), 3);

  // The re-run changes nothing: one listing and one ask of each check for
  // both phases, the same outcome as asking phase by phase.
  log_->Clear();
  EventLog e2;
  RunSummary surveyed = RunPlan(TwoCheckedPhases(), e2);
  ASSERT_TRUE(surveyed.ok);
  EXPECT_EQ(surveyed.steps_changed, 0u);
  EXPECT_EQ(Count(*log_, "sha256"), 1);
  EXPECT_EQ(Count(*log_, "exec", "check-1"), 1);
  EXPECT_EQ(Count(*log_, "exec", "check-2"), 1);
  ASSERT_EQ(log_->calls("a").front().op, "sha256");
  EXPECT_EQ(log_->calls("a").front().paths,
            (std::vector<std::string>{"/etc/one.conf", "/etc/two.conf"}));

  log_->Clear();
  EventLog e3;
  RunOptions per_phase;
  per_phase.survey = false;
  RunSummary asked = RunPlan(TwoCheckedPhases(), e3, per_phase);
  ASSERT_TRUE(asked.ok);
  EXPECT_EQ(asked.steps_changed, surveyed.steps_changed);
  EXPECT_EQ(asked.steps_unchanged, surveyed.steps_unchanged);
  EXPECT_EQ(Count(*log_, "sha256"), 2);
}

TEST_F(RunnerTest, ALaterPhaseAsksAgainOnceSomethingChanged) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(TwoCheckedPhases(), e1).ok);
  // Check 2 fails when the survey asks it and passes when phase two asks
  // again after phase one changed a file: the stale answer must not run
  // fix-2.
  Host("a").Script("check-1", ExecResult{0, "", ""});
  Host("a").Script("check-2",
                   {ExecResult{1, "", "two missing\n"}, ExecResult{0, "", ""}});
  log_->Clear();
  EventLog e2;
  RunSummary s = RunPlan(TwoCheckedPhases("v2\n"), e2);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(Count(*log_, "exec", "check-2"), 2);
  EXPECT_EQ(Count(*log_, "exec", "fix-2"), 0);
  EXPECT_EQ(s.steps_changed, 1u);  // the new /etc/one.conf only
}

TEST_F(RunnerTest, AfterAChangeAStaleInPlaceIsAskedAgain) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(TwoCheckedPhases(), e1).ok);
  // /etc/one.conf changes before fix-1. The look said check-1 passes; asked
  // again after the change it fails, so fix-1 runs.
  Host("a").Script("check-1", {ExecResult{0, "", ""}, ExecResult{1, "", ""},
                               ExecResult{0, "", ""}});
  Host("a").Script("check-2", ExecResult{0, "", ""});
  log_->Clear();
  EventLog e2;
  ASSERT_TRUE(RunPlan(TwoCheckedPhases("v2\n"), e2).ok);
  EXPECT_EQ(Count(*log_, "exec", "check-1"), 3);
  EXPECT_EQ(Count(*log_, "exec", "fix-1"), 1);
}

TEST_F(RunnerTest, AfterAChangeAStaleMissingStillStands) {
  EventLog e1;
  ASSERT_TRUE(RunPlan(TwoCheckedPhases(), e1).ok);
  // The look said check-1 fails: that stands after /etc/one.conf changed,
  // fix-1 runs without asking first, and its check is asked once after it.
  Host("a").Script("check-1", {ExecResult{1, "", ""}, ExecResult{0, "", ""}});
  Host("a").Script("check-2", ExecResult{0, "", ""});
  log_->Clear();
  EventLog e2;
  ASSERT_TRUE(RunPlan(TwoCheckedPhases("v2\n"), e2).ok);
  EXPECT_EQ(Count(*log_, "exec", "check-1"), 2);
  EXPECT_EQ(Count(*log_, "exec", "fix-1"), 1);
}

// One phase: a file, then three checked run steps.
Plan FileThenThreeChecks(const std::string& content) {
  Plan plan;
  plan.cluster = "test";
  Phase one{"one", "first", {}, {}, false, {"a"}, {}, {}};
  one.steps.push_back(Render("one", "a", "/etc/one.conf", content));
  for (const char* n : {"1", "2", "3"}) {
    Step fix = RunStep("one", "a", std::string("fix-") + n);
    fix.check = std::string("check-") + n;
    one.steps.push_back(fix);
  }
  plan.phases = {one};
  return plan;
}

// The "exec-many" batches of host a, each as its commands.
std::vector<std::vector<std::string>> Batches(const CallLog& log) {
  std::vector<std::vector<std::string>> out;
  for (const RecordedCall& c : log.calls("a"))
    if (c.op == "exec-many") out.push_back(c.paths);
  return out;
}

TEST_F(RunnerTest, AfterAChangeTheStaleInPlaceChecksAreAskedAgainInOneBatch) {
  Host("a").Script("check-", ExecResult{0, "", ""});  // everything in place
  EventLog e1;
  ASSERT_TRUE(RunPlan(FileThenThreeChecks("v1\n"), e1).ok);
  log_->Clear();
  EventLog e2;
  RunSummary s = RunPlan(FileThenThreeChecks("v2\n"), e2);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.steps_changed, 1u);  // the file only
  // The phase's look, then, after the file changed, the three checks again in
  // one round trip (not one each).
  std::vector<std::string> all = {"check-1", "check-2", "check-3"};
  EXPECT_EQ(Batches(*log_), (std::vector<std::vector<std::string>>{all, all}));
  EXPECT_EQ(Count(*log_, "exec", "fix-1") + Count(*log_, "exec", "fix-2") +
                Count(*log_, "exec", "fix-3"),
            0);
}

TEST_F(RunnerTest, AfterACommandRanTheLaterInPlaceChecksAreAskedAgain) {
  const ExecResult pass{0, "", ""}, fail{1, "", ""};
  Host("a").Script("check-1", pass);
  Host("a").Script("check-3", pass);
  // In place at both looks of the first run and at the second run's look;
  // after the second run's file change it fails once: fix-2 runs (a change),
  // so check-3's answer from before it is stale and asked again.
  Host("a").Script("check-2", {pass, pass, pass, fail, pass});
  EventLog e1;
  ASSERT_TRUE(RunPlan(FileThenThreeChecks("v1\n"), e1).ok);
  log_->Clear();
  EventLog e2;
  RunSummary s = RunPlan(FileThenThreeChecks("v2\n"), e2);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(Count(*log_, "exec", "fix-2"), 1);
  EXPECT_EQ(Count(*log_, "exec", "fix-1"), 0);
  EXPECT_EQ(Count(*log_, "exec", "fix-3"), 0);
  EXPECT_EQ(Batches(*log_),
            (std::vector<std::vector<std::string>>{
                {"check-1", "check-2", "check-3"},  // the look
                {"check-1", "check-2", "check-3"},  // after the file
                {"fix-2", "check-2"},               // the command, its check
                {"check-3"}}));                     // after fix-2
}

std::vector<std::string> Execs(const CallLog& log) {
  std::vector<std::string> out;
  for (const RecordedCall& c : log.calls("a")) {
    if (c.op == "exec") out.push_back(c.detail);
  }
  return out;
}

TEST_F(RunnerTest, CheckedRunStepRunsOnlyWhenItsCheckFails) {
  // Missing at first; the command puts it in place.
  Host("a").Script("check-x",
                   {ExecResult{1, "", "x missing\n"}, ExecResult{0, "", ""}});
  EventLog first;
  RunSummary s1 = RunPlan(CheckedPlan(), first);
  ASSERT_TRUE(s1.ok) << (s1.error ? s1.error->ToString() : "");
  EXPECT_EQ(Execs(*log_), (std::vector<std::string>{"check-x", "do-x",
                                                    "check-x", "after-x"}));
  EXPECT_EQ(s1.steps_changed, 1u);  // the plain command never counts
  auto finished = first.Of("step_finished");
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_TRUE(finished[0].outcome.changed);
  EXPECT_FALSE(finished[0].outcome.skipped);
  EXPECT_EQ(finished[0].outcome.note, "done (was: x missing)");

  // In place: only the check runs, and nothing changed.
  log_->Clear();
  EventLog second;
  RunSummary s2 = RunPlan(CheckedPlan(), second);
  ASSERT_TRUE(s2.ok);
  EXPECT_EQ(Execs(*log_), (std::vector<std::string>{"check-x", "after-x"}));
  EXPECT_EQ(s2.steps_changed, 0u);
  EXPECT_EQ(s2.steps_unchanged, 2u);
  auto again = second.Of("step_finished");
  EXPECT_TRUE(again[0].outcome.skipped);
  EXPECT_FALSE(again[0].outcome.changed);
  EXPECT_EQ(again[0].outcome.note, "already in place");
}

TEST_F(RunnerTest, CheckStillFailingAfterItsCommandFailsTheStep) {
  Host("a").Script("check-x",
                   ExecResult{1, "", "x missing: not permitted here\n"});
  EventLog events;
  RunSummary s = RunPlan(CheckedPlan(), events);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->kind, ErrorKind::kStep);
  EXPECT_EQ(s.error->where, "a");
  EXPECT_EQ(s.error->message,
            "\"x in place\" ran, but its check still fails:\n  x missing: not "
            "permitted here");
  EXPECT_FALSE(s.error->hint.empty());
  // The host's later steps do not run.
  EXPECT_EQ(Execs(*log_),
            (std::vector<std::string>{"check-x", "do-x", "check-x"}));
}

TEST_F(RunnerTest, FailingCheckedCommandNamesItsStepHostAndOutput) {
  Host("a").Script("check-x", ExecResult{1, "", "x missing\n"});
  Host("a").Script("do-x", ExecResult{2, "", "do-x: no such thing: x\n"});
  EventLog events;
  RunSummary s = RunPlan(CheckedPlan(), events);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->where, "a");
  EXPECT_EQ(s.error->message,
            "\"x in place\" exited with 2:\n  do-x: no such thing: x");
  // The command went in one round trip with its check and the next step's
  // command, which stops at the first failure: neither ran.
  EXPECT_EQ(Execs(*log_), (std::vector<std::string>{"check-x", "do-x"}));
  EXPECT_EQ(s.steps_failed, 1u);
  EXPECT_EQ(events.Of("step_finished").size(), 1u);
}

TEST_F(RunnerTest, ConsecutiveRunStepsThatMustRunGoInOneRoundTrip) {
  Host("a").Script("check-x",
                   {ExecResult{1, "", "x missing\n"}, ExecResult{0, "", ""}});
  EventLog events;
  RunSummary s = RunPlan(CheckedPlan(), events);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  auto batches = Batches(*log_);
  // The look, then x's command and check with after-x's command in one call.
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1],
            (std::vector<std::string>{"do-x", "check-x", "after-x"}));
  auto finished = events.Of("step_finished");
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0].outcome.note, "done (was: x missing)");
  EXPECT_TRUE(finished[0].outcome.changed);
  EXPECT_EQ(finished[1].outcome.note, "ran");
}

TEST_F(RunnerTest, AStepInPlaceEndsTheRoundTripOfTheStepsBeforeIt) {
  // x missing, y in place, z missing: x goes alone, y is skipped (asked again
  // after x changed the host), z goes alone.
  Plan plan;
  plan.cluster = "test";
  Phase prep{"prep", "node", {}, {}, false, {"a"}, {}, {}};
  for (const char* name : {"x", "y", "z"}) {
    Step st = RunStep("prep", "a", std::string("do-") + name);
    st.check = std::string("check-") + name;
    st.description = std::string(name) + " in place";
    prep.steps.push_back(st);
  }
  plan.phases = {prep};
  Host("a").Script("check-x",
                   {ExecResult{1, "", "x missing\n"}, ExecResult{0, "", ""}});
  Host("a").Script("check-y", ExecResult{0, "", ""});
  Host("a").Script("check-z",
                   {ExecResult{1, "", "z missing\n"}, ExecResult{0, "", ""}});
  EventLog events;
  RunSummary s = RunPlan(plan, events);
  ASSERT_TRUE(s.ok) << (s.error ? s.error->ToString() : "");
  EXPECT_EQ(s.steps_changed, 2u);
  std::vector<std::string> commands = Execs(*log_);
  EXPECT_EQ(std::count(commands.begin(), commands.end(), "do-y"), 0);
  EXPECT_EQ(std::count(commands.begin(), commands.end(), "do-x"), 1);
  EXPECT_EQ(std::count(commands.begin(), commands.end(), "do-z"), 1);
}

TEST(WatchersOf, IncludesUnitFiles) {
  Plan plan = MakePlan({"a"});
  auto w = WatchersOf(plan, "a");
  EXPECT_EQ(w["/etc/app/app.conf"], std::vector<std::string>{"app"});
  EXPECT_EQ(w["/etc/systemd/system/app.service"],
            std::vector<std::string>{"app"});
  EXPECT_FALSE(w.contains("/etc/app/other.conf"));
}

}  // namespace
}  // namespace hardway
