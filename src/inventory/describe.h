// Human-readable summary of a resolved cluster, as `hardway validate` prints
// it.
#pragma once

#include <string>

#include "inventory/cluster.h"

namespace hardway {

// Multi-line text: the cluster's settings, API endpoint, etcd initial cluster,
// service and pod ranges, hosts by role and each worker's pod CIDR. No secrets
// (none are in a Cluster).
std::string DescribeCluster(const Cluster& cluster);

}  // namespace hardway
