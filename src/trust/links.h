// Who authenticates whom: every mutual-TLS connection of the cluster as data,
// one Link per (client host, server host) pair. `graph` draws it, `explain`
// narrates it and `doctor` tests each link live with the credentials deployed
// on the hosts. The paths and flags here are the ones our units and templates
// use; tests/unit/trust/links_test.cc checks them against the rendered files so
// the two cannot drift apart.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inventory/cluster.h"

namespace hardway {

enum class Component {
  kEtcd,
  kApiserver,
  kControllerManager,
  kScheduler,
  kKubelet,
  kKubeProxy,
  kHardway,  // the machine running hardway: gates, doctor, kubectl with admin
  // An extension API server behind an APIService (metrics-server and the
  // like): the cluster's users deploy them, hardway does not.
  kAggregatedApiserver,
};

// "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
// "kubelet", "kube-proxy", "hardway", "aggregated-apiserver".
std::string_view ComponentName(Component component);
// The systemd unit that runs the component; empty for hardway and for
// aggregated API servers.
std::string_view ComponentUnit(Component component);

// One side's credentials as configured on its host.
struct Credential {
  std::string cert;        // CertSpec name in the certificate table
                           // ("etcd/server-controller-0")
  std::string kubeconfig;  // KubeconfigSpec name when cert and CA come in a
                           // kubeconfig; else ""
  // Paths on the component's host; for Component::kHardway relative to the
  // state dir. With a kubeconfig all three are the kubeconfig's path.
  std::string cert_path;
  std::string key_path;
  std::string ca_path;  // the CA bundle it verifies the other side against
  std::string trusts;   // stem of that CA in the table: "ca", "etcd/ca"
  std::string flags;    // where it is configured: "--etcd-certfile,
                        // --etcd-keyfile, --etcd-cafile"
};

struct Endpoint {
  Component component = Component::kHardway;
  // Inventory host name. Empty for hardway's own machine, and for a server
  // reached through a load balancer (the inventory's api_endpoint is no host of
  // ours).
  std::string host;
  Credential credential;
};

struct Link {
  Endpoint client;
  Endpoint server;
  std::string dial_host;  // what the client dials: an address or name the
                          // server cert must carry
  int port = 0;
  std::string purpose;  // one line, for people

  // "kubelet node-0 → kube-apiserver controller-0"
  std::string Label() const;
};

// apiserver → etcd, etcd peer ↔ peer, controller-manager and scheduler → their
// local apiserver, kubelet and kube-proxy → the API endpoint, apiserver →
// kubelet, hardway → etcd and → every apiserver. Order: grouped by kind in that
// order, hosts in inventory order.
std::vector<Link> TrustLinks(const Cluster& cluster);

// The aggregation layer, one Link per controller: kube-apiserver forwards a
// request for an APIService to the aggregated API server behind it,
// presenting front-proxy-client (--proxy-client-cert-file); that server
// verifies it against front-proxy-ca, which it reads from the ConfigMap
// kube-system/extension-apiserver-authentication that kube-apiserver fills
// from its --requestheader-client-ca-file. The server side has no host, no
// certificate of ours (kube-apiserver checks its serving certificate against
// the APIService's caBundle, so the client trusts no CA of ours: empty) and
// nothing to dial, so these are not in TrustLinks and doctor cannot test them
// live; graph draws them.
std::vector<Link> AggregationLinks(const Cluster& cluster);

// A CA a component verifies clients against although no Link of ours dials
// it with such a certificate.
struct ClientCaTrust {
  Component component = Component::kApiserver;
  std::string host;
  std::string ca_path;  // on the host
  std::string trusts;   // stem: "front-proxy-ca"
  std::string flags;
  std::string purpose;
};

// kube-apiserver on every controller trusts front-proxy-ca
// (--requestheader-client-ca-file): a client certificate it signed, with a CN
// in --requestheader-allowed-names, may say who is asking in X-Remote-User /
// X-Remote-Group headers. The same file is what aggregated API servers trust
// (AggregationLinks).
std::vector<ClientCaTrust> RequestHeaderTrusts(const Cluster& cluster);

}  // namespace hardway
