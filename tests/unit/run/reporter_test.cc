#include "run/reporter.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace hardway {
namespace {

Step Upload() {
  Step s;
  s.id = "etcd/controller-1/upload-/usr/local/bin/etcd";
  s.phase = "etcd";
  s.host = "controller-1";
  s.kind = StepKind::kUpload;
  s.description = "upload etcd";
  s.size = 23'000'000;
  return s;
}

TEST(Reporter, NinjaStyleStatusLine) {
  EXPECT_EQ(StatusLine(Upload(), 12, 87),
            "[12/87] etcd controller-1: upload etcd (23 MB)");
  EXPECT_EQ(HumanBytes(812), "812 B");
  EXPECT_EQ(HumanBytes(1'500'000), "1.5 MB");
}

TEST(Reporter, ConsolePlainLinesWithoutTty) {
  std::ostringstream out;
  ConsoleReporter r(out, false);
  StepOutcome o;
  o.skipped = true;
  r.StepStarted(Upload(), 12, 87);
  r.StepFinished(Upload(), o, 12, 87);
  EXPECT_EQ(out.str(),
            "[12/87] etcd controller-1: upload etcd (23 MB) [unchanged]\n");
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(Reporter, ConsoleRewritesOneLineOnATty) {
  std::ostringstream out;
  ConsoleReporter r(out, true, 60);
  r.StepStarted(Upload(), 1, 2);
  r.StepProgress(Upload(), 23'000'000, 23'000'000);
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
  EXPECT_NE(out.str().find("\r"), std::string::npos);
  RunSummary s;
  r.Summary(s);
  EXPECT_TRUE(out.str().ends_with("\n"));
}

TEST(Reporter, JsonEventsParseAndCarryTheSchemaFields) {
  std::ostringstream out;
  JsonReporter r(out);
  Phase phase{"etcd", "etcd members", {}, {}, false, {"controller-1"}, {}, {}};
  phase.gate = Gate{GateKind::kEtcdHealthy,
                    std::chrono::milliseconds(120000),
                    {"etcd"},
                    2379,
                    "etcd ok"};
  StepOutcome o;
  o.changed = true;
  o.bytes = 23'000'000;
  GateReport failed;
  failed.phase = "etcd";
  failed.kind = GateKind::kEtcdHealthy;
  failed.ok = false;
  GateVerdict expired;
  expired.host = "controller-1";
  expired.detail = "certificate expired on X";
  expired.unit = "etcd";
  expired.diagnostics = "$ systemctl status etcd.service --no-pager\n";
  failed.verdicts.push_back(expired);
  RunSummary s;
  s.ok = false;
  s.bytes_uploaded = 0;
  s.units_restarted = 0;
  s.error = Error{ErrorKind::kGate, "gate etcd failed", "etcd", ""};
  r.PhaseStarted(phase);
  r.StepStarted(Upload(), 1, 1);
  r.StepFinished(Upload(), o, 1, 1);
  r.GateWaiting(phase);
  r.GateFailed(phase, failed);
  PhaseOutcome po;
  r.PhaseDone(phase, po);
  r.Summary(s);

  std::vector<nlohmann::json> events;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    ASSERT_TRUE(j.contains("event") && j.contains("time") &&
                j.contains("elapsed_ms"))
        << line;
    events.push_back(j);
  }
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events[0]["event"], "phase_started");
  EXPECT_EQ(events[2]["event"], "step_finished");
  EXPECT_EQ(events[2]["changed"], true);
  EXPECT_EQ(events[2]["bytes"], 23'000'000);
  EXPECT_EQ(events[2]["host"], "controller-1");
  EXPECT_EQ(events[3]["gate"], "etcd_healthy");
  EXPECT_EQ(events[4]["event"], "gate_failed");
  EXPECT_EQ(events[4]["verdicts"][0]["detail"], "certificate expired on X");
  EXPECT_EQ(events[6]["event"], "summary");
  EXPECT_EQ(events[6]["bytes_uploaded"], 0);
  EXPECT_EQ(events[6]["units_restarted"], 0);
  EXPECT_EQ(events[6]["error"]["exit_code"], 5);
}

}  // namespace
}  // namespace hardway
