// Applying a Kubernetes manifest without kubectl: the hosts have no kubectl, so
// the rbac phase POSTs each object to the apiserver through the controller's
// SSH connection, with the admin certificate (409 Conflict = already there,
// which makes it idempotent).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "remote/transport.h"
#include "util/error.h"

namespace hardway {

struct ApiObject {
  std::string kind;        // "ClusterRole"
  std::string name;        // "system:kube-apiserver-to-kubelet"
  std::string collection;  // "/apis/rbac.authorization.k8s.io/v1/clusterroles"
  std::string json;        // the object as JSON
  std::string path() const { return collection + "/" + name; }
};

// YAML documents (kubectl style, `---` separated) to API objects. Quoted
// scalars stay strings.
Result<std::vector<ApiObject>> ParseManifest(const std::string& yaml,
                                             const std::string& where);

struct ApplyReport {
  std::vector<std::string>
      created;  // "ClusterRole system:kube-apiserver-to-kubelet"
  std::vector<std::string> existing;
};

// The manifests the plan renders into an rbac/ folder (on its first host that
// has any), joined as YAML documents; empty when there are none.
std::string RbacManifestOf(const Plan& plan);

// POSTs every object to https://address:port through `transport` (a
// controller's).
Result<ApplyReport> ApplyObjects(Transport& transport,
                                 const std::string& address, int port,
                                 const std::filesystem::path& state_dir,
                                 const std::vector<ApiObject>& objects);

}  // namespace hardway
