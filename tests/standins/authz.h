// Authorization as kube-apiserver does it with --authorization-mode=Node,RBAC,
// reduced to what the stand-ins and hardway use: the Node authorizer's rules
// for kubelets, RBAC over the bootstrap roles plus the
// ClusterRoles/ClusterRoleBindings stored in etcd, and the NodeRestriction
// admission check (a kubelet may modify only its own Node and Lease).
#pragma once

#include <string>
#include <vector>

#include "yaml_json.h"

namespace standin {

struct Attributes {
  std::string user;
  std::vector<std::string> groups;
  std::string verb;  // get list watch create update patch delete
  bool resource_request = false;
  std::string api_group, resource, subresource, ns, name;
  std::string path;  // non-resource requests
};

enum class Verdict { kAllow, kDeny, kNoOpinion };
struct Decision {
  Verdict verdict = Verdict::kNoOpinion;
  std::string reason;
};

// "system:node:<name>" in group system:nodes -> "<name>"; otherwise empty.
std::string NodeNameOf(const std::string& user,
                       const std::vector<std::string>& groups);

Decision NodeAuthorize(const Attributes& a);
// Allowed by a rule of a ClusterRole bound (ClusterRoleBinding) to the user or
// a group.
Decision RbacAuthorize(const Attributes& a, const std::vector<Json>& roles,
                       const std::vector<Json>& bindings);
bool RuleAllows(const Json& rule, const Attributes& a);

// The subset of Kubernetes' bootstrap policy the stand-ins rely on
// (cluster-admin for system:masters, public-info-viewer, discovery, the
// controller-manager, scheduler, node-proxier and node roles).
const std::vector<Json>& BootstrapClusterRoles();
const std::vector<Json>& BootstrapClusterRoleBindings();

// NodeRestriction admission: empty when allowed, else the reason. `object_name`
// is the name from the URL or, for create, from the request body.
std::string NodeRestriction(const Attributes& a,
                            const std::string& object_name);

// The Kubernetes wording: User "u" cannot update resource "nodes" in API group
// "" ...
std::string ForbiddenMessage(const Attributes& a);

}  // namespace standin
