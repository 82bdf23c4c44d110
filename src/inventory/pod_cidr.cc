#include "inventory/pod_cidr.h"

namespace hardway::inventory_internal {

std::vector<std::optional<Cidr>> AllocatePodCidrs(
    const Cidr& cluster_pod_cidr,
    const std::vector<std::optional<Cidr>>& wanted) {
  std::vector<Cidr> taken;
  for (const auto& cidr : wanted) {
    if (cidr) taken.push_back(*cidr);
  }
  std::vector<std::optional<Cidr>> out;
  out.reserve(wanted.size());
  uint64_t next = 0;
  for (const auto& cidr : wanted) {
    if (cidr) {
      out.push_back(cidr);
      continue;
    }
    std::optional<Cidr> chosen;
    // Explicit blocks are few; a linear scan per candidate keeps this obviously
    // correct.
    while (auto candidate = cluster_pod_cidr.Subnet(kNodePodPrefix, next)) {
      ++next;
      bool free = true;
      for (const Cidr& t : taken) {
        if (t.Overlaps(*candidate)) {
          free = false;
          break;
        }
      }
      if (free) {
        chosen = candidate;
        break;
      }
    }
    out.push_back(chosen);
  }
  return out;
}

}  // namespace hardway::inventory_internal
