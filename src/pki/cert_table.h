// The certificate table of ../shared/reference/pki.md as data, in one place.
// EnsurePki issues from it; the PKI gate, `certs --check`, the plan (which file
// goes where) and the doctor read it. Nothing else in hardway spells out a CN,
// an O or a SAN list.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "inventory/cluster.h"

namespace hardway {

enum class CertKind {
  kCa,       // self-signed certificate authority
  kLeaf,     // signed by one of the CAs
  kKeyPair,  // the service-account key pair: sa.key + sa.pub, no certificate
};

struct CertSpec {
  // File stem relative to pki/: "ca", "etcd/ca", "admin", "kubelet-node-0",
  // "etcd/server-controller-0", "sa" (-> pki/sa.key, pki/sa.pub).
  std::string name;
  CertKind kind = CertKind::kLeaf;
  std::string ca;  // stem of the signing CA ("ca", "etcd/ca",
                   // "front-proxy-ca"); empty for CAs
  std::string cn;
  std::vector<std::string> orgs;
  bool client_auth = false;
  bool server_auth = false;
  std::vector<std::string> dns_sans;  // in table order
  std::vector<std::string> ip_sans;   // dotted IPv4, in table order
  // Where it goes: the host that owns it (kubelet, etcd member), else the roles
  // whose hosts receive it; both empty: it stays local (CA keys, admin,
  // health-check client).
  std::string host;
  std::vector<Role> roles;
  std::string goes_to;  // for people: "that worker", "controllers", "local only
                        // (gates)"
  std::string purpose;  // one line: what it is for
};

// CAs first (ca, front-proxy-ca, etcd/ca), then the SA key pair, then leaves in
// pki.md order (per-host entries in inventory order).
std::vector<CertSpec> CertificateTable(const Cluster& cluster);

// nullptr when unknown.
const CertSpec* FindSpec(const std::vector<CertSpec>& table,
                         std::string_view name);

// state_dir/pki/<name>.crt and .key; for the SA key pair .pub and .key.
std::filesystem::path CertPath(const std::filesystem::path& state_dir,
                               const CertSpec& spec);
std::filesystem::path KeyPath(const std::filesystem::path& state_dir,
                              const CertSpec& spec);

struct KubeconfigSpec {
  std::string name;  // file stem under kubeconfigs/: "admin", "kubelet-node-0"
  std::string
      cert;  // leaf whose cert+key it embeds ("admin", "kubelet-node-0")
  std::string ca = "ca";
  std::string user;  // "admin", "system:kube-scheduler", "system:node:node-0"
  std::string server;
  std::string
      host;  // owning host (kubelets); else roles receive it; both empty: local
  std::vector<Role> roles;
};

// admin, kube-controller-manager, kube-scheduler, kube-proxy, then
// kubelet-<node> per worker.
std::vector<KubeconfigSpec> KubeconfigTable(const Cluster& cluster);

std::filesystem::path KubeconfigPath(const std::filesystem::path& state_dir,
                                     const KubeconfigSpec& spec);

}  // namespace hardway
