#include "plan/playbook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace hardway {
namespace {

using ::testing::HasSubstr;

Result<Playbook> Parse(const std::string& text) {
  return ParsePlaybook(text, "book.yaml");
}

std::vector<std::string> Names(const Playbook& book) {
  std::vector<std::string> out;
  for (const PhaseSpec& p : book.phases) out.push_back(p.name);
  return out;
}

TEST(PlaybookTest, TheBootstrapPlaybookLoadsInBringUpOrder) {
  auto book = LoadPlaybook(std::filesystem::path(HARDWAY_SOURCE_DIR) /
                           "playbooks" / "bootstrap.yaml");
  ASSERT_TRUE(book.has_value()) << book.error().ToString();
  EXPECT_THAT(Names(*book),
              ::testing::ElementsAre(
                  "preflight", "pki", "prepare", "distribute", "etcd",
                  "kube-apiserver", "rbac", "controller-manager-scheduler",
                  "workers", "pod-routes"));
  for (const PhaseSpec& p : book->phases) {
    EXPECT_NE(p.gate.kind, GateKind::kNone) << p.name << " has no gate";
  }
  EXPECT_TRUE(book->phases[1].local);
  EXPECT_EQ(book->phases[2].gate.kind, GateKind::kPrepared);
  EXPECT_THAT(book->phases[3].needs, ::testing::Contains("prepare"));
  EXPECT_EQ(book->phases[4].gate.kind, GateKind::kEtcdHealthy);
  EXPECT_EQ(book->phases[4].gate.timeout, std::chrono::minutes(2));
}

// Node preparation is checked, so a re-run changes nothing: every run step of
// the prepare phase but the mkdir has a check, and the sysctl file is written
// in one place only.
TEST(PlaybookTest, PrepareStepsAreCheckedAndSysctlsLiveThere) {
  auto book = LoadPlaybook(std::filesystem::path(HARDWAY_SOURCE_DIR) /
                           "playbooks" / "bootstrap.yaml");
  ASSERT_TRUE(book.has_value()) << book.error().ToString();
  int sysctl_files = 0;
  for (const PhaseSpec& p : book->phases) {
    for (const StepSpec& s : p.steps) {
      if (s.dest == "/etc/sysctl.d/99-kubernetes.conf") {
        ++sysctl_files;
        EXPECT_EQ(p.name, "prepare");
      }
      if (s.command.find("sysctl") != std::string::npos) {
        EXPECT_EQ(p.name, "prepare") << s.command;
      }
      if (p.name != "prepare" || s.kind != StepKind::kRun) continue;
      if (s.command.starts_with("mkdir -p ")) continue;
      EXPECT_FALSE(s.check.empty()) << "line " << s.line << ": " << s.command;
      EXPECT_FALSE(s.description.empty()) << "line " << s.line;
    }
  }
  EXPECT_EQ(sysctl_files, 1);
}

TEST(PlaybookTest, RunStepsTakeACheck) {
  auto book = Parse(R"(phases:
  - name: a
    gate: {kind: prepared}
    steps:
      - run: modprobe overlay
        check: grep -qw overlay /proc/filesystems
        description: overlay
      - run: mkdir -p /x
)");
  ASSERT_TRUE(book.has_value()) << book.error().ToString();
  const PhaseSpec& p = book->phases[0];
  EXPECT_EQ(p.gate.kind, GateKind::kPrepared);
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].command, "modprobe overlay");
  EXPECT_EQ(p.steps[0].check, "grep -qw overlay /proc/filesystems");
  EXPECT_EQ(p.steps[1].check, "");
}

TEST(PlaybookTest, OrdersPhasesByNeedsKeepingFileOrderOtherwise) {
  auto book = Parse(R"(phases:
  - name: c
    needs: [b]
    gate: {kind: unit_active}
  - name: a
    gate: {kind: unit_active}
  - name: b
    needs: [a]
    gate: {kind: unit_active}
  - name: d
    gate: {kind: unit_active}
)");
  ASSERT_TRUE(book.has_value()) << book.error().ToString();
  EXPECT_THAT(Names(*book), ::testing::ElementsAre("a", "b", "c", "d"));
}

TEST(PlaybookTest, UnknownNeedNamesFileLineAndThePhases) {
  auto book = Parse(R"(phases:
  - name: etcd
    gate: {kind: etcd_healthy}
  - name: kube-apiserver
    needs: [etcdd]
    gate: {kind: apiserver_ready}
)");
  ASSERT_FALSE(book.has_value());
  EXPECT_EQ(book.error().where, "book.yaml:5:12");
  EXPECT_THAT(book.error().message, HasSubstr("unknown phase 'etcdd'"));
  EXPECT_THAT(book.error().hint, HasSubstr("etcd, kube-apiserver"));
}

TEST(PlaybookTest, CycleIsReportedWithItsPath) {
  auto book = Parse(R"(phases:
  - name: a
    needs: [c]
    gate: {kind: unit_active}
  - name: b
    needs: [a]
    gate: {kind: unit_active}
  - name: c
    needs: [b]
    gate: {kind: unit_active}
)");
  ASSERT_FALSE(book.has_value());
  EXPECT_THAT(book.error().message, HasSubstr("cycle: a -> c -> b -> a"));
  EXPECT_EQ(book.error().where, "book.yaml:3:12");
}

TEST(PlaybookTest, SelfNeedIsAnError) {
  auto book = Parse(
      "phases:\n  - name: a\n    needs: [a]\n    gate: {kind: unit_active}\n");
  ASSERT_FALSE(book.has_value());
  EXPECT_THAT(book.error().message, HasSubstr("needs itself"));
  EXPECT_EQ(book.error().where, "book.yaml:3:12");
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* where;
  const char* message;
};

class PlaybookErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(PlaybookErrorTest, SaysWhatAndWhere) {
  auto book = Parse(GetParam().yaml);
  ASSERT_FALSE(book.has_value()) << "accepted: " << GetParam().yaml;
  EXPECT_EQ(book.error().where, GetParam().where) << book.error().ToString();
  EXPECT_THAT(book.error().message, HasSubstr(GetParam().message))
      << book.error().ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PlaybookErrorTest,
    ::testing::Values(
        BadCase{"syntax", "phases:\n  - name: [a\n", "book.yaml:3:1",
                "YAML syntax"},
        BadCase{"no_phases", "phase: []\n", "book.yaml:1:1",
                "unknown key 'phase'"},
        BadCase{"unknown_phase_key",
                "phases:\n  - name: a\n    gate: {kind: unit_active}\n    "
                "hostz: [x]\n",
                "book.yaml:4:5", "unknown key 'hostz' in phase"},
        BadCase{"no_gate", "phases:\n  - name: a\n", "book.yaml:2:5",
                "has no gate"},
        BadCase{"bad_gate_kind",
                "phases:\n  - name: a\n    gate: {kind: magic}\n",
                "book.yaml:3:18", "unknown gate kind 'magic'"},
        BadCase{
            "bad_timeout",
            "phases:\n  - name: a\n    gate: {kind: tcp_port, timeout: soon}\n",
            "book.yaml:3:37", "bad gate timeout 'soon'"},
        BadCase{
            "bad_port",
            "phases:\n  - name: a\n    gate: {kind: tcp_port, port: 70000}\n",
            "book.yaml:3:34", "bad gate port"},
        BadCase{"duplicate_phase",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n  - name: "
                "a\n    gate: "
                "{kind: tcp_port}\n",
                "book.yaml:4:5", "duplicate phase 'a'"},
        BadCase{"unknown_role",
                "phases:\n  - name: a\n    roles: [master]\n    gate: {kind: "
                "tcp_port}\n",
                "book.yaml:3:12", "unknown role 'master'"},
        BadCase{"two_actions",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - run: "
                "ls\n        systemd: {unit: x}\n",
                "book.yaml:5:9", "more than one action"},
        BadCase{"append",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - run: echo "
                "x >> /etc/hosts\n",
                "book.yaml:5:14", "not idempotent"},
        BadCase{"relative_dest",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - upload: "
                "{artifact: etcd, dest: usr/bin/etcd}\n",
                "book.yaml:5:40", "not an absolute file path"},
        BadCase{"both_sources",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - upload: "
                "{artifact: etcd, state: pki/ca.crt, dest: /x}\n",
                "book.yaml:5:17", "exactly one of artifact or state"},
        BadCase{"escaping_source",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - upload: "
                "{state: ../../etc/shadow, dest: /x}\n",
                "book.yaml:5:17", "bad upload source"},
        BadCase{"bad_mode",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - upload: "
                "{artifact: etcd, dest: /x, mode: \"0855\"}\n",
                "book.yaml:5:50", "bad mode '0855'"},
        BadCase{"unit_with_suffix",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - systemd: "
                "{unit: etcd.service}\n",
                "book.yaml:5:25", "bad unit name"},
        BadCase{"relative_watch",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - systemd: "
                "{unit: etcd, watch: [etc/etcd]}\n",
                "book.yaml:5:38", "not absolute"},
        BadCase{"check_on_upload",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - upload: {artifact: etcd, dest: /x}\n"
                "        check: test -e /x\n",
                "book.yaml:6:16", "only run steps take a check"},
        BadCase{"empty_check",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - run: ls\n        check: \"\"\n",
                "book.yaml:6:16", "empty check"},
        BadCase{"check_not_a_string",
                "phases:\n  - name: a\n    gate: {kind: tcp_port}\n    "
                "steps:\n      - run: ls\n        check: [a, b]\n",
                "book.yaml:6:16", "check must be a string"},
        BadCase{"local_with_steps",
                "phases:\n  - name: a\n    local: true\n    gate: {kind: "
                "pki_valid}\n    steps:\n "
                "     - run: ls\n",
                "book.yaml:2:5", "is local"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return std::string(info.param.name);
    });

TEST(PlaybookTest, StepFieldsAreParsed) {
  auto book = Parse(R"(phases:
  - name: a
    gate: {kind: unit_active, timeout: 90s, units: [etcd], port: 2379, description: d}
    steps:
      - upload: {state: "pki/kubelet-{{host.name}}.key", dest: /k, owner: "root:kube"}
        roles: [worker]
        once: true
      - render: {template: units/etcd.service, dest: /u, mode: "0640"}
      - systemd: {unit: etcd, watch: [/u]}
)");
  ASSERT_TRUE(book.has_value()) << book.error().ToString();
  const PhaseSpec& p = book->phases[0];
  EXPECT_EQ(p.gate.timeout, std::chrono::seconds(90));
  EXPECT_EQ(p.gate.port, 2379);
  ASSERT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(p.steps[0].source_kind, UploadSource::kState);
  EXPECT_EQ(p.steps[0].source, "pki/kubelet-{{host.name}}.key");
  EXPECT_EQ(p.steps[0].owner, "root:kube");
  EXPECT_TRUE(p.steps[0].once);
  EXPECT_EQ(p.steps[0].roles, std::vector<Role>{Role::kWorker});
  EXPECT_EQ(p.steps[0].line, 5);
  EXPECT_FALSE(p.steps[0].mode.has_value());
  EXPECT_EQ(p.steps[1].kind, StepKind::kRender);
  EXPECT_EQ(*p.steps[1].mode, 0640u);
  EXPECT_EQ(p.steps[2].watch, std::vector<std::string>{"/u"});
}

}  // namespace
}  // namespace hardway
