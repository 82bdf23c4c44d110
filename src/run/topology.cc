// Kept apart from gates.cc so the gate and runner tests, which build a Topology
// by hand, do not link the inventory module.
#include "run/gates.h"

namespace hardway {

Topology TopologyOf(const Cluster& cluster) {
  Topology t;
  for (const Host& h : cluster.hosts()) {
    t.hosts.push_back(GateHost{h.name, h.address, h.roles, h.pod_cidr});
  }
  return t;
}

}  // namespace hardway
