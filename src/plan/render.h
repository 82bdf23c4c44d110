// Mustache rendering for the plan: the variables a template may use (built from
// the Cluster and one host), strict checking of the names a template uses, and
// rendering without copying the cluster-wide data for every host.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "inventory/cluster.h"
#include "util/error.h"

namespace hardway {

// The variables templates, paths and commands may use; their values come from
// the Cluster.
//   cluster.{name, domain, kubernetes_version, service_cidr, pod_cidr,
//   kubernetes_service_ip,
//            dns_ip, api_server_url, api_host, api_port, etcd_initial_cluster,
//            etcd_servers}
//   host.{name, address, fqdn, pod_cidr}
//   extra_args.<component> (etcd, kube_apiserver, kube_controller_manager,
//   kube_scheduler,
//            kubelet, kube_proxy): list of {arg}, e.g. arg = "--v=4"
//   pod_routes: list of {name, cidr, via}, one per worker with a pod CIDR
class RenderData {
 public:
  explicit RenderData(const Cluster& cluster);
  ~RenderData();
  RenderData(const RenderData&) = delete;
  RenderData& operator=(const RenderData&) = delete;

  // Per-host variables (host.*); the cluster-wide ones are shared by every
  // host.
  class HostData;
  std::unique_ptr<HostData> ForHost(const Host& host) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class RenderData::HostData {
 public:
  ~HostData();
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  friend class RenderData;
  explicit HostData(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One parsed template. Unknown variables, partials and delimiter changes are
// errors (kainjow would silently render an unknown name as ""); values are not
// HTML-escaped.
class Template {
 public:
  // `name` is used in messages ("units/etcd.service"); line numbers are
  // 1-based.
  static Result<Template> Parse(std::string_view text, std::string name);
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

  const std::string& name() const;
  // Variables it names, e.g. {"cluster.name", "host.address",
  // "extra_args.etcd"}.
  const std::set<std::string>& variables() const;
  // True when the output can differ between hosts (it names a host.* variable).
  bool UsesHost() const;

  // With host == nullptr only cluster-wide variables resolve (the template must
  // not use host.*). Fails when the template needs host.pod_cidr and the host
  // has none.
  //
  // kFast (the default) renders with kainjow once per template, with markers in
  // place of the host.* values, and then fills each host's values into that
  // skeleton: the same bytes as rendering per host (values are not escaped), a
  // fraction of the time for 1,000 hosts. Templates whose structure depends on
  // a host value ({{#host.fqdn}}...) are rendered per host. kDirect always
  // renders per host (tests compare both).
  enum class Mode { kFast, kDirect };
  Result<std::string> Render(const RenderData& data, const Host* host,
                             const RenderData::HostData* host_data,
                             Mode mode = Mode::kFast) const;

 private:
  struct Impl;
  explicit Template(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Every variable name a template may use outside list sections (for docs and
// tests).
const std::set<std::string>& KnownVariables();

}  // namespace hardway
