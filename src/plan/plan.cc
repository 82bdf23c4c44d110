#include "plan/plan.h"

#include <array>
#include <utility>

namespace hardway {
namespace {

constexpr std::array<std::pair<GateKind, std::string_view>, 13> kGateNames{{
    {GateKind::kNone, "none"},
    {GateKind::kPreflight, "preflight"},
    {GateKind::kPrepared, "prepared"},
    {GateKind::kPkiValid, "pki_valid"},
    {GateKind::kFilesPresent, "files_present"},
    {GateKind::kUnitActive, "unit_active"},
    {GateKind::kTcpPort, "tcp_port"},
    {GateKind::kEtcdHealthy, "etcd_healthy"},
    {GateKind::kApiserverReady, "apiserver_ready"},
    {GateKind::kRbacPresent, "rbac_present"},
    {GateKind::kHealthz, "healthz"},
    {GateKind::kNodesReady, "nodes_ready"},
    {GateKind::kPodRoutes, "pod_routes"},
}};

}  // namespace

std::string_view StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kUpload:
      return "upload";
    case StepKind::kRender:
      return "render";
    case StepKind::kRun:
      return "run";
    case StepKind::kSystemd:
      return "systemd";
  }
  return "?";
}

std::string_view GateKindName(GateKind kind) {
  for (const auto& [k, name] : kGateNames) {
    if (k == kind) return name;
  }
  return "?";
}

std::optional<GateKind> ParseGateKind(std::string_view name) {
  for (const auto& [k, n] : kGateNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

size_t Plan::step_count() const {
  size_t n = 0;
  for (const Phase& p : phases) n += p.steps.size();
  return n;
}

const Phase* Plan::phase(std::string_view name) const {
  for (const Phase& p : phases) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace hardway
