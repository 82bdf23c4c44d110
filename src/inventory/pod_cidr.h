// Internal to the inventory module: the one place that decides which /24 each
// worker gets, shared by validation (to report "too small") and
// Cluster::Resolve (to assign).
#pragma once

#include <optional>
#include <vector>

#include "util/net.h"

namespace hardway::inventory_internal {

inline constexpr int kNodePodPrefix = 24;

// For each entry of `wanted`: its explicit CIDR if set, else the next /24 of
// `cluster_pod_cidr` (in order) that overlaps no explicit CIDR and no earlier
// allocation; nullopt where the block has run out. Deterministic: depends only
// on inventory order.
std::vector<std::optional<Cidr>> AllocatePodCidrs(
    const Cidr& cluster_pod_cidr,
    const std::vector<std::optional<Cidr>>& wanted);

}  // namespace hardway::inventory_internal
