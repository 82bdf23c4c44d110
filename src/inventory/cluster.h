// Resolved topology: what every module below the inventory reads.
#pragma once

#include <string>
#include <vector>

#include "inventory/inventory.h"

namespace hardway {

struct Host {
  std::string name;
  std::string address;
  std::string fqdn;
  std::vector<Role> roles;
  std::optional<Cidr> pod_cidr;  // set for workers (explicit or allocated)
  SshSettings ssh;
  std::string arch = "amd64";  // KnownArches(): which artifacts this host runs
  bool Has(Role role) const;
};

class Cluster {
 public:
  // The inventory must have passed validation (LoadInventory guarantees it).
  static Cluster Resolve(const Inventory& inventory);

  const Inventory& inventory() const { return inventory_; }
  const std::string& name() const { return inventory_.cluster.name; }
  const std::vector<Host>& hosts() const { return hosts_; }  // inventory order
  std::vector<const Host*> hosts(Role role) const;
  const Host* host(std::string_view name) const;  // nullptr when unknown
  std::vector<const Host*> etcd_members() const { return hosts(Role::kEtcd); }

  // "10.240.0.10" and 6443: the load balancer if set, else the first controlplane host.
  std::string api_host() const { return api_host_; }
  int api_port() const { return api_port_; }
  std::string api_server_url() const;  // "https://10.240.0.10:6443"

  // "controller-0=https://10.240.0.10:2380,controller-1=https://..."
  std::string etcd_initial_cluster() const;
  // "https://10.240.0.10:2379,https://10.240.0.11:2379"
  std::string etcd_client_urls() const;

  Ipv4 kubernetes_service_ip() const;  // first address of the service CIDR (10.32.0.1)
  Ipv4 cluster_dns_ip() const;         // tenth address of the service CIDR (10.32.0.10)

  // Folder of the inventory file; relative paths in it resolve against this.
  std::filesystem::path base_dir() const;
  std::filesystem::path artifacts_dir() const;
  // state/<cluster name>/ beside the inventory.
  std::filesystem::path default_state_dir() const;

 private:
  Inventory inventory_;
  std::vector<Host> hosts_;
  std::string api_host_;
  int api_port_ = 6443;
};

}  // namespace hardway
