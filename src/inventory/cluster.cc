#include "inventory/cluster.h"

#include <algorithm>
#include <charconv>

#include "inventory/pod_cidr.h"
#include "util/files.h"

namespace hardway {

namespace {

// Local paths in the inventory (identity files, known_hosts, artifacts) mean
// what they would mean to the user who wrote the file: "~/" is their home, a
// relative path is relative to the inventory's folder, not to wherever hardway
// happens to be run from.
std::filesystem::path ResolveLocalPath(const std::filesystem::path& base,
                                       const std::string& p) {
  if (p.empty()) return p;
  if (p == "~" || p.starts_with("~/")) return ExpandHome(p).lexically_normal();
  std::filesystem::path path(p);
  if (path.is_absolute()) return path.lexically_normal();
  return (base / path).lexically_normal();
}

void ResolveSshPaths(const std::filesystem::path& base, SshSettings& ssh) {
  ssh.identity_file = ResolveLocalPath(base, ssh.identity_file).string();
  ssh.known_hosts = ResolveLocalPath(base, ssh.known_hosts).string();
  if (ssh.bastion) {
    ssh.bastion->identity_file =
        ResolveLocalPath(base, ssh.bastion->identity_file).string();
  }
}

}  // namespace

bool Host::Has(Role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

Cluster Cluster::Resolve(const Inventory& inventory) {
  Cluster c;
  c.inventory_ = inventory;
  const std::filesystem::path base = c.base_dir();
  ResolveSshPaths(base, c.inventory_.ssh);
  for (HostSpec& spec : c.inventory_.hosts) ResolveSshPaths(base, spec.ssh);

  // Non-workers run no pods here, so they neither get nor reserve a block:
  // allocate over the workers only.
  std::vector<size_t> worker_index;
  std::vector<std::optional<Cidr>> worker_wanted;
  for (size_t i = 0; i < c.inventory_.hosts.size(); ++i) {
    const HostSpec& spec = c.inventory_.hosts[i];
    if (std::find(spec.roles.begin(), spec.roles.end(), Role::kWorker) ==
        spec.roles.end())
      continue;
    worker_index.push_back(i);
    worker_wanted.push_back(spec.pod_cidr);
  }
  auto allocated = inventory_internal::AllocatePodCidrs(
      c.inventory_.cluster.pod_cidr, worker_wanted);

  c.hosts_.reserve(c.inventory_.hosts.size());
  for (const HostSpec& spec : c.inventory_.hosts) {
    c.hosts_.push_back(Host{spec.name, spec.address, spec.fqdn, spec.roles,
                            std::nullopt, spec.ssh, spec.arch});
  }
  for (size_t k = 0; k < worker_index.size(); ++k)
    c.hosts_[worker_index[k]].pod_cidr = allocated[k];

  const std::string& endpoint = c.inventory_.cluster.api_endpoint;
  if (!endpoint.empty()) {
    size_t colon = endpoint.rfind(':');
    c.api_host_ = endpoint.substr(0, colon);
    if (colon != std::string::npos) {
      int port = 0;
      auto [ptr, ec] = std::from_chars(endpoint.data() + colon + 1,
                                       endpoint.data() + endpoint.size(), port);
      if (ec == std::errc() && ptr == endpoint.data() + endpoint.size())
        c.api_port_ = port;
    }
  } else {
    for (const Host& h : c.hosts_) {
      if (h.Has(Role::kControlplane)) {
        c.api_host_ = h.address;
        break;
      }
    }
    c.api_port_ = 6443;
  }
  return c;
}

std::vector<const Host*> Cluster::hosts(Role role) const {
  std::vector<const Host*> out;
  for (const Host& h : hosts_) {
    if (h.Has(role)) out.push_back(&h);
  }
  return out;
}

const Host* Cluster::host(std::string_view name) const {
  for (const Host& h : hosts_) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string Cluster::api_server_url() const {
  return "https://" + api_host_ + ":" + std::to_string(api_port_);
}

std::string Cluster::etcd_initial_cluster() const {
  std::string out;
  for (const Host* h : etcd_members()) {
    if (!out.empty()) out += ",";
    out += h->name + "=https://" + h->address + ":2380";
  }
  return out;
}

std::string Cluster::etcd_client_urls() const {
  std::string out;
  for (const Host* h : etcd_members()) {
    if (!out.empty()) out += ",";
    out += "https://" + h->address + ":2379";
  }
  return out;
}

Ipv4 Cluster::kubernetes_service_ip() const {
  return inventory_.cluster.service_cidr.Nth(1);
}

Ipv4 Cluster::cluster_dns_ip() const {
  return inventory_.cluster.service_cidr.Nth(10);
}

std::filesystem::path Cluster::base_dir() const {
  std::error_code ec;
  std::filesystem::path file = std::filesystem::absolute(inventory_.path, ec);
  if (ec) file = inventory_.path;
  return file.parent_path().lexically_normal();
}

std::filesystem::path Cluster::artifacts_dir() const {
  return ResolveLocalPath(base_dir(), inventory_.artifacts.dir.string());
}

std::filesystem::path Cluster::default_state_dir() const {
  return base_dir() / "state" / inventory_.cluster.name;
}

}  // namespace hardway
