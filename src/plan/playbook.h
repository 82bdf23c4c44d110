// The playbook file (playbooks/bootstrap.yaml) as data: phases with needs,
// hosts by role, steps and gates. Loading validates the shape and the DAG
// (unknown needs, cycles), with file:line in every error; plan_builder.h turns
// a Playbook and a Cluster into a Plan.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "plan/plan.h"
#include "util/error.h"

namespace hardway {

enum class UploadSource {
  kNone,
  kArtifact,  // a file of the inventory's artifacts dir ("etcd", "cni/bridge")
  kState,     // a file of the state dir ("pki/ca.crt",
              // "kubeconfigs/admin.kubeconfig")
  kTemplate,  // kRender: a template under the resource dir
              // ("units/etcd.service")
};

struct StepSpec {
  StepKind kind = StepKind::kRun;
  int line = 0;             // 1-based, in the playbook
  std::vector<Role> roles;  // empty: every host of the phase
  bool once = false;        // only on the phase's first host
  std::string description;

  // kUpload / kRender; source and dest may hold mustache
  // ("pki/kubelet-{{host.name}}.crt").
  UploadSource source_kind = UploadSource::kNone;
  std::string source;
  std::string dest;
  std::optional<uint32_t> mode;  // default: 0600 for secrets, else 0644
  std::string owner = "root:root";

  std::string command;  // kRun (mustache allowed)
  std::string check;    // kRun, optional: exits 0 when `command` has nothing
                        // to do (see Step::check)

  std::string unit;                // kSystemd
  std::vector<std::string> watch;  // kSystemd: dest paths on the same host
};

struct PhaseSpec {
  std::string name;
  std::string description;
  int line = 0;
  std::vector<std::string> needs;
  std::vector<Role> roles;  // empty and !local: every host
  bool local = false;
  Gate gate;
  std::vector<StepSpec> steps;
};

struct Playbook {
  std::filesystem::path path;
  std::vector<PhaseSpec>
      phases;  // dependency order: every phase after the phases it needs
};

Result<Playbook> LoadPlaybook(const std::filesystem::path& path);
// Same, from text; `path` names the file in messages.
Result<Playbook> ParsePlaybook(const std::string& text,
                               const std::filesystem::path& path);

}  // namespace hardway
