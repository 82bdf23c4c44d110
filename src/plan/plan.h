// The plan: phases in dependency order, steps per host. Pure data built from a
// playbook and a Cluster (plan_builder.h); printed by `hardway plan`, executed
// by the Runner. One plan object serves both, so a dry run cannot drift from a
// real run.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hardway {

enum class StepKind {
  kUpload,   // a local file (artifact, PKI file, kubeconfig) copied to the host
  kRender,   // a template rendered locally, its bytes uploaded
  kRun,      // a shell command (/bin/sh -c) on the host
  kSystemd,  // daemon-reload + enable + start; restart only when one of `watch`
             // changed
};
std::string_view StepKindName(
    StepKind kind);  // "upload", "render", "run", "systemd"

// What a gate checks; params below say against what.
enum class GateKind {
  kNone,
  kPreflight,     // ssh works, systemd present, arch matches artifacts, clock
                  // skew, ports
  kPrepared,      // every check of the phase's run steps passes on each host
                  // (node preparation: packages, modules, sysctls, swap off)
  kPkiValid,      // local: every cert exists, verifies, matches its spec
  kFilesPresent,  // every uploaded file present with the expected sha256 and
                  // mode
  kUnitActive,    // unit active and its restart count stays still
  kTcpPort,       // port open on the host
  kEtcdHealthy,  // /health true over mTLS on every member + member list has all
                 // started
  kApiserverReady,  // /readyz 200 over mTLS with the admin cert on every
                    // controller
  kRbacPresent,  // ClusterRole system:kube-apiserver-to-kubelet and its binding
                 // exist
  kHealthz,  // https://host:port/healthz (controller-manager 10257, scheduler
             // 10259)
  kNodesReady,  // every worker's Node exists and is Ready
  kPodRoutes,   // each node routes every other node's pod CIDR
};
std::string_view GateKindName(
    GateKind kind);  // "unit_active", "etcd_healthy", ...
std::optional<GateKind> ParseGateKind(std::string_view name);

struct Gate {
  GateKind kind = GateKind::kNone;
  std::chrono::milliseconds timeout{60'000};
  std::vector<std::string>
      units;     // kUnitActive (and whose journal to show on failure)
  int port = 0;  // kTcpPort, kHealthz
  std::string
      description;  // human line, e.g. "etcd /health over mTLS on every member"
};

struct Step {
  std::string
      id;  // unique in the plan: "etcd/controller-0/upload-/usr/local/bin/etcd"
  std::string phase;
  std::string host;  // host name; empty for a local step (phase "pki")
  StepKind kind = StepKind::kRun;
  std::string
      description;  // "upload etcd", "render etcd.service", "start etcd"

  // kUpload / kRender
  std::string
      source;  // local path (kUpload) or template path (kRender), for display
  std::string source_label;  // short form for people: "artifact etcd", "state
                             // pki/ca.crt", "template units/etcd.service"
  std::string content;       // kRender: rendered bytes
  std::string dest;          // absolute path on the host
  uint32_t mode = 0644;
  std::string owner = "root:root";
  uint64_t size = 0;    // bytes; 0 with sha256 empty when the source is missing
  std::string sha256;   // hex; empty when the source is missing
  bool secret = false;  // never print content; shown as <private key, 0600>
  std::string
      secret_kind;  // "private key", "kubeconfig", "encryption key" when secret
  bool missing = false;  // kUpload: the local source does not exist (yet)

  // kRun
  std::string command;
  // kRun, optional: a read-only command that exits 0 when `command` has nothing
  // to do. Then the step is skipped (unchanged); otherwise `command` runs, the
  // step counts as changed, and the check must pass afterwards. Its output says
  // what is missing ("kernel modules not loaded: br_netfilter").
  std::string check;

  // kSystemd
  std::string unit;  // "etcd" (without .service)
  std::vector<std::string>
      watch;  // dest paths on this host; a change restarts the unit
};

struct Phase {
  std::string name;  // "etcd"
  std::string description;
  std::vector<std::string> needs;  // names of earlier phases
  std::vector<std::string>
      roles;           // hosts by role; empty + local=false: all hosts
  bool local = false;  // runs on the machine running hardway (pki)
  std::vector<std::string> hosts;  // resolved host names, inventory order
  Gate gate;
  std::vector<Step> steps;  // grouped by host, in playbook order within a host
};

struct Plan {
  std::string cluster;
  std::vector<Phase>
      phases;  // topological order (validated: known needs, no cycles)
  size_t step_count() const;
  const Phase* phase(std::string_view name) const;
};

}  // namespace hardway
