// Builds the Plan from a playbook and a Cluster: hosts by role, mustache in
// templates, paths and commands, sizes and sha256 of every local file and
// rendered template. Touches no host; reads only the playbook, templates,
// artifacts and the state dir.
#pragma once

#include <filesystem>

#include "inventory/cluster.h"
#include "plan/plan.h"
#include "plan/playbook.h"
#include "util/error.h"

namespace hardway {

struct PlanOptions {
  std::filesystem::path
      state_dir;  // PKI, kubeconfigs, encryption config (required)
  std::filesystem::path
      resource_dir;  // units/, playbooks/templates/; empty: ResourceDir()
  std::filesystem::path
      playbook;  // empty: <resource_dir>/playbooks/bootstrap.yaml
  // false: render steps get their size and sha256 but an empty `content`. For
  // a plan that is only printed (`hardway plan`), never for one that runs: on
  // a 1,000-host inventory every host's copy of pod-routes alone is 44 KiB,
  // ~45 MB of copies that nothing prints.
  bool keep_rendered_content = true;
};

// Loads the playbook named by `options` and builds the plan.
Result<Plan> BuildPlan(const Cluster& cluster, const PlanOptions& options);
Result<Plan> BuildPlan(const Playbook& playbook, const Cluster& cluster,
                       const PlanOptions& options);

}  // namespace hardway
