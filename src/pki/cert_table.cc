#include "pki/cert_table.h"

#include <algorithm>

#include "util/net.h"

namespace hardway {
namespace fs = std::filesystem;
namespace {

// Adds `value` unless already present, keeping first-seen order (stable files
// across runs).
void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (value.empty()) return;
  if (std::find(list.begin(), list.end(), value) == list.end())
    list.push_back(value);
}

// An address or a name, whichever it is.
void AddSan(CertSpec& spec, const std::string& value) {
  if (Ipv4::Parse(value)) {
    AddUnique(spec.ip_sans, value);
  } else {
    AddUnique(spec.dns_sans, value);
  }
}

CertSpec Ca(std::string name, std::string cn, std::vector<Role> roles,
            std::string goes_to, std::string purpose) {
  CertSpec s;
  s.name = std::move(name);
  s.kind = CertKind::kCa;
  s.cn = std::move(cn);
  s.roles = std::move(roles);
  s.goes_to = std::move(goes_to);
  s.purpose = std::move(purpose);
  return s;
}

CertSpec Leaf(std::string name, std::string ca, std::string cn,
              std::vector<std::string> orgs, bool client, bool server,
              std::vector<Role> roles, std::string goes_to,
              std::string purpose) {
  CertSpec s;
  s.name = std::move(name);
  s.kind = CertKind::kLeaf;
  s.ca = std::move(ca);
  s.cn = std::move(cn);
  s.orgs = std::move(orgs);
  s.client_auth = client;
  s.server_auth = server;
  s.roles = std::move(roles);
  s.goes_to = std::move(goes_to);
  s.purpose = std::move(purpose);
  return s;
}

}  // namespace

std::vector<CertSpec> CertificateTable(const Cluster& cluster) {
  const auto kCp = Role::kControlplane;
  const auto kWk = Role::kWorker;
  const auto kEt = Role::kEtcd;
  std::vector<CertSpec> t;

  // Only the certificates travel; CA keys never leave the state dir (pki.md).
  t.push_back(Ca(
      "ca", "kubernetes-ca", {kEt, kCp, kWk}, "every host (certificate only)",
      "kubernetes CA: apiserver serving, apiserver clients, kubelets"));
  t.push_back(Ca(
      "front-proxy-ca", "front-proxy-ca", {kCp},
      "controllers (certificate only)",
      "aggregation layer: trusts only front-proxy-client for request headers"));
  t.push_back(Ca("etcd/ca", "etcd-ca", {kEt, kCp},
                 "etcd members, controllers (certificate only)",
                 "etcd CA: a kubelet's certificate must never open etcd"));

  CertSpec sa;
  sa.name = "sa";
  sa.kind = CertKind::kKeyPair;
  sa.roles = {kCp};
  sa.goes_to = "controllers";
  sa.purpose = "signs and verifies service-account tokens";
  t.push_back(sa);

  t.push_back(Leaf("admin", "ca", "admin", {"system:masters"}, true, false, {},
                   "local (admin kubeconfig)", "cluster administrator"));
  for (const Host* node : cluster.hosts(Role::kWorker)) {
    CertSpec s = Leaf(
        "kubelet-" + node->name, "ca", "system:node:" + node->name,
        {"system:nodes"}, true, true, {}, "that worker",
        "kubelet " + node->name + ": API client (Node authorizer) and serving");
    s.host = node->name;
    AddSan(s, node->name);
    AddSan(s, node->fqdn);
    AddSan(s, node->address);
    t.push_back(std::move(s));
  }
  t.push_back(Leaf("kube-proxy", "ca", "system:kube-proxy",
                   {"system:node-proxier"}, true, false, {kWk}, "workers",
                   "kube-proxy API client"));
  t.push_back(Leaf("kube-controller-manager", "ca",
                   "system:kube-controller-manager", {}, true, false, {kCp},
                   "controllers", "kube-controller-manager API client"));
  t.push_back(Leaf("kube-scheduler", "ca", "system:kube-scheduler", {}, true,
                   false, {kCp}, "controllers", "kube-scheduler API client"));

  CertSpec api =
      Leaf("apiserver", "ca", "kube-apiserver", {}, false, true, {kCp},
           "controllers", "kube-apiserver serving certificate");
  AddSan(api, "127.0.0.1");
  AddSan(api, cluster.kubernetes_service_ip().ToString());
  for (const Host* cp : cluster.hosts(Role::kControlplane)) {
    AddSan(api, cp->name);
    AddSan(api, cp->fqdn);
    AddSan(api, cp->address);
  }
  AddSan(api, cluster.api_host());
  const std::string& domain = cluster.inventory().cluster.domain;
  for (std::string name :
       {"kubernetes", "kubernetes.default", "kubernetes.default.svc"}) {
    AddSan(api, name);
  }
  AddSan(api, "kubernetes.default.svc." + domain);
  for (const std::string& extra : cluster.inventory().cluster.extra_sans)
    AddSan(api, extra);
  t.push_back(std::move(api));

  t.push_back(
      Leaf("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client",
           {}, true, false, {kCp}, "controllers",
           "apiserver -> kubelet (RBAC: system:kube-apiserver-to-kubelet)"));
  t.push_back(Leaf("front-proxy-client", "front-proxy-ca", "front-proxy-client",
                   {}, true, false, {kCp}, "controllers",
                   "apiserver -> aggregated API servers"));

  for (const Host* m : cluster.etcd_members()) {
    CertSpec server =
        Leaf("etcd/server-" + m->name, "etcd/ca", m->name, {}, true, true, {},
             "that member", "etcd " + m->name + " client-facing serving");
    server.host = m->name;
    AddSan(server, m->name);
    AddSan(server, m->address);
    AddSan(server, "127.0.0.1");
    AddSan(server, "localhost");
    t.push_back(std::move(server));
    CertSpec peer =
        Leaf("etcd/peer-" + m->name, "etcd/ca", m->name, {}, true, true, {},
             "that member", "etcd " + m->name + " peer traffic");
    peer.host = m->name;
    AddSan(peer, m->name);
    AddSan(peer, m->address);
    t.push_back(std::move(peer));
  }
  t.push_back(Leaf("apiserver-etcd-client", "etcd/ca",
                   "kube-apiserver-etcd-client", {}, true, false, {kCp},
                   "controllers", "apiserver -> etcd"));
  t.push_back(Leaf("etcd/healthcheck-client", "etcd/ca",
                   "hardway-etcd-healthcheck", {}, true, false, {},
                   "local only (gates)", "hardway's etcd health gate"));
  return t;
}

const CertSpec* FindSpec(const std::vector<CertSpec>& table,
                         std::string_view name) {
  for (const CertSpec& s : table) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

fs::path CertPath(const fs::path& state_dir, const CertSpec& spec) {
  return state_dir / "pki" /
         (spec.name + (spec.kind == CertKind::kKeyPair ? ".pub" : ".crt"));
}

fs::path KeyPath(const fs::path& state_dir, const CertSpec& spec) {
  return state_dir / "pki" / (spec.name + ".key");
}

std::vector<KubeconfigSpec> KubeconfigTable(const Cluster& cluster) {
  const std::string api = cluster.api_server_url();
  // Controller-manager and scheduler run beside an apiserver: loopback keeps
  // them working while the load balancer (or another controller) is down.
  const std::string local = "https://127.0.0.1:6443";
  std::vector<KubeconfigSpec> k;
  k.push_back({"admin", "admin", "ca", "admin", api, "", {}});
  k.push_back({"kube-controller-manager",
               "kube-controller-manager",
               "ca",
               "system:kube-controller-manager",
               local,
               "",
               {Role::kControlplane}});
  k.push_back({"kube-scheduler",
               "kube-scheduler",
               "ca",
               "system:kube-scheduler",
               local,
               "",
               {Role::kControlplane}});
  k.push_back({"kube-proxy",
               "kube-proxy",
               "ca",
               "system:kube-proxy",
               api,
               "",
               {Role::kWorker}});
  for (const Host* node : cluster.hosts(Role::kWorker)) {
    k.push_back({"kubelet-" + node->name,
                 "kubelet-" + node->name,
                 "ca",
                 "system:node:" + node->name,
                 api,
                 node->name,
                 {}});
  }
  return k;
}

fs::path KubeconfigPath(const fs::path& state_dir, const KubeconfigSpec& spec) {
  return state_dir / "kubeconfigs" / (spec.name + ".kubeconfig");
}

}  // namespace hardway
