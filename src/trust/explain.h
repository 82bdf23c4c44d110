// `hardway explain NAME`: a certificate, CA, kubeconfig, component or phase in
// a few plain lines for someone learning how the cluster fits together. Every
// fact comes from the certificate table, TrustLinks and the plan (its upload
// steps, rendered units and configs, phases and gates).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inventory/cluster.h"
#include "plan/plan.h"
#include "util/error.h"

namespace hardway {

// The text for `name`: a certificate as in the table ("kubelet-node-0",
// "etcd/server-controller-0") or as pki.md spells it ("etcd-server-
// controller-0", "kube-apiserver"), or by its CN ("system:node:node-0"); a CA
// ("ca", "etcd-ca", "etcd/ca"); a kubeconfig ("admin"); a component ("etcd",
// "kubelet", "hardway"); a phase ("distribute"). A name that is several of
// these ("etcd": component and phase) gets one section each. Unknown names fail
// with kUsage and the closest names in the hint.
Result<std::string> Explain(const Cluster& cluster, const Plan& plan,
                            std::string_view name);

// Every name Explain accepts, each once, in the order: components, phases,
// certificates and their other spellings, kubeconfigs.
std::vector<std::string> ExplainableNames(const Cluster& cluster,
                                          const Plan& plan);

}  // namespace hardway
