#include "inventory/describe.h"

#include <algorithm>
#include <array>

namespace hardway {

namespace {

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string HostSshTarget(const Host& h) {
  std::string out = h.ssh.user + "@" + h.address;
  if (h.ssh.port != 22) out += ":" + std::to_string(h.ssh.port);
  if (h.ssh.bastion) {
    out += " via " + h.ssh.bastion->user + "@" + h.ssh.bastion->address;
    if (h.ssh.bastion->port != 22)
      out += ":" + std::to_string(h.ssh.bastion->port);
  }
  return out;
}

}  // namespace

std::string DescribeCluster(const Cluster& cluster) {
  const Inventory& inv = cluster.inventory();
  const ClusterSettings& c = inv.cluster;
  std::string out;
  auto line = [&out](std::string_view label, const std::string& value) {
    out += "  " + Pad(std::string(label) + ":", 24) + value + "\n";
  };
  out += "cluster " + c.name + "\n";
  line("kubernetes version", c.kubernetes_version);
  line("cluster domain", c.domain);
  line("api endpoint",
       cluster.api_server_url() + (c.api_endpoint.empty()
                                       ? " (first controlplane host)"
                                       : " (api_endpoint)"));
  line("etcd initial cluster", cluster.etcd_initial_cluster());
  line("etcd client urls", cluster.etcd_client_urls());
  line("service cidr", c.service_cidr.ToString());
  line("kubernetes service ip", cluster.kubernetes_service_ip().ToString());
  line("cluster dns ip", cluster.cluster_dns_ip().ToString());
  line("pod cidr", c.pod_cidr.ToString());
  if (!c.extra_sans.empty()) {
    std::string sans;
    for (const std::string& s : c.extra_sans)
      sans += (sans.empty() ? "" : ", ") + s;
    line("extra sans", sans);
  }
  for (const auto& [component, flags] : c.extra_args) {
    std::string args;
    for (const auto& [flag, value] : flags)
      args += (args.empty() ? "" : " ") + flag + "=" + value;
    line("extra args " + component, args);
  }
  line("key algorithm", std::string(KeyAlgorithmName(inv.pki.key_algorithm)));
  line("encryption provider",
       std::string(EncryptionProviderName(inv.encryption.provider)));
  line("artifacts", cluster.artifacts_dir().string());
  line("state (default)", cluster.default_state_dir().string());

  out += "hosts by role\n";
  for (Role role : {Role::kEtcd, Role::kControlplane, Role::kWorker}) {
    auto hosts = cluster.hosts(role);
    out += "  " + std::string(RoleName(role)) + " (" +
           std::to_string(hosts.size()) + ")\n";
    for (const Host* h : hosts) {
      std::string entry = "    " + Pad(h->name, 16) + " " + h->address;
      if (role == Role::kWorker && h->pod_cidr) {
        entry = "    " + Pad(h->name, 16) + " " + Pad(h->address, 15) +
                " pod cidr " + h->pod_cidr->ToString();
      }
      out += entry + "\n";
    }
  }
  out += "ssh\n";
  for (const Host& h : cluster.hosts()) {
    std::string entry = "    " + Pad(h.name, 16) + " " + HostSshTarget(h);
    if (!h.ssh.host_key.empty()) entry += " (host key pinned)";
    out += entry + "\n";
  }
  return out;
}

}  // namespace hardway
