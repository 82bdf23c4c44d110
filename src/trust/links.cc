#include "trust/links.h"

namespace hardway {

namespace {

constexpr const char* kPki = "/etc/kubernetes/pki/";

Credential Files(std::string cert, std::string cert_path, std::string key_path,
                 std::string ca_path, std::string trusts, std::string flags) {
  return Credential{.cert = std::move(cert),
                    .kubeconfig = "",
                    .cert_path = std::move(cert_path),
                    .key_path = std::move(key_path),
                    .ca_path = std::move(ca_path),
                    .trusts = std::move(trusts),
                    .flags = std::move(flags)};
}

Credential Kubeconfig(std::string cert, std::string kubeconfig,
                      const std::string& path, std::string flags) {
  return Credential{.cert = std::move(cert),
                    .kubeconfig = std::move(kubeconfig),
                    .cert_path = path,
                    .key_path = path,
                    .ca_path = path,
                    .trusts = "ca",
                    .flags = std::move(flags)};
}

// The apiserver's serving side: what every client of the API meets.
Credential ApiserverServing() {
  return Files("apiserver", std::string(kPki) + "apiserver.crt",
               std::string(kPki) + "apiserver.key",
               std::string(kPki) + "ca.crt", "ca",
               "--tls-cert-file, --tls-private-key-file, --client-ca-file");
}

Credential EtcdServing(const Host& member) {
  return Files(
      "etcd/server-" + member.name, std::string(kPki) + "etcd/server.crt",
      std::string(kPki) + "etcd/server.key", std::string(kPki) + "etcd/ca.crt",
      "etcd/ca", "--cert-file, --key-file, --trusted-ca-file");
}

Credential EtcdPeer(const Host& member) {
  return Files("etcd/peer-" + member.name, std::string(kPki) + "etcd/peer.crt",
               std::string(kPki) + "etcd/peer.key",
               std::string(kPki) + "etcd/ca.crt", "etcd/ca",
               "--peer-cert-file, --peer-key-file, --peer-trusted-ca-file");
}

// The controller behind the API endpoint, or "" when it is a load balancer.
std::string ApiEndpointHost(const Cluster& cluster) {
  for (const Host* cp : cluster.hosts(Role::kControlplane)) {
    if (cp->address == cluster.api_host() || cp->name == cluster.api_host())
      return cp->name;
  }
  return "";
}

}  // namespace

std::string_view ComponentName(Component component) {
  switch (component) {
    case Component::kEtcd:
      return "etcd";
    case Component::kApiserver:
      return "kube-apiserver";
    case Component::kControllerManager:
      return "kube-controller-manager";
    case Component::kScheduler:
      return "kube-scheduler";
    case Component::kKubelet:
      return "kubelet";
    case Component::kKubeProxy:
      return "kube-proxy";
    case Component::kHardway:
      return "hardway";
    case Component::kAggregatedApiserver:
      return "aggregated-apiserver";
  }
  return "?";
}

std::string_view ComponentUnit(Component component) {
  return component == Component::kHardway ||
                 component == Component::kAggregatedApiserver
             ? std::string_view()
             : ComponentName(component);
}

std::string Link::Label() const {
  auto side = [](const Endpoint& e) {
    std::string s(ComponentName(e.component));
    if (!e.host.empty()) s += " " + e.host;
    return s;
  };
  return side(client) + " → " + side(server);
}

std::vector<Link> TrustLinks(const Cluster& cluster) {
  std::vector<Link> links;
  const auto controllers = cluster.hosts(Role::kControlplane);
  const auto members = cluster.etcd_members();
  const auto workers = cluster.hosts(Role::kWorker);
  const std::string api_server_host = ApiEndpointHost(cluster);

  for (const Host* cp : controllers) {
    for (const Host* m : members) {
      links.push_back(Link{
          .client = {Component::kApiserver, cp->name,
                     Files("apiserver-etcd-client",
                           std::string(kPki) + "apiserver-etcd-client.crt",
                           std::string(kPki) + "apiserver-etcd-client.key",
                           std::string(kPki) + "etcd/ca.crt", "etcd/ca",
                           "--etcd-certfile, --etcd-keyfile, --etcd-cafile")},
          .server = {Component::kEtcd, m->name, EtcdServing(*m)},
          .dial_host = m->address,
          .port = 2379,
          .purpose = "the API server keeps all cluster state in etcd"});
    }
  }
  for (const Host* a : members) {
    for (const Host* b : members) {
      if (a == b) continue;
      links.push_back(Link{
          .client = {Component::kEtcd, a->name, EtcdPeer(*a)},
          .server = {Component::kEtcd, b->name, EtcdPeer(*b)},
          .dial_host = b->address,
          .port = 2380,
          .purpose = "etcd members replicate the log to each other (raft)"});
    }
  }
  struct LocalClient {
    Component component;
    const char* cert;
    const char* path;
  };
  for (const LocalClient& c :
       {LocalClient{Component::kControllerManager, "kube-controller-manager",
                    "/etc/kubernetes/controller-manager.conf"},
        LocalClient{Component::kScheduler, "kube-scheduler",
                    "/etc/kubernetes/scheduler.conf"}}) {
    for (const Host* cp : controllers) {
      links.push_back(Link{
          .client = {c.component, cp->name,
                     Kubeconfig(c.cert, c.cert, c.path, "--kubeconfig")},
          .server = {Component::kApiserver, cp->name, ApiserverServing()},
          .dial_host = "127.0.0.1",
          .port = 6443,
          .purpose = std::string(ComponentName(c.component)) +
                     " watches and updates the API on its own controller"});
    }
  }
  for (const Host* w : workers) {
    links.push_back(Link{
        .client = {Component::kKubelet, w->name,
                   Kubeconfig("kubelet-" + w->name, "kubelet-" + w->name,
                              "/etc/kubernetes/kubelet.conf", "--kubeconfig")},
        .server = {Component::kApiserver, api_server_host, ApiserverServing()},
        .dial_host = cluster.api_host(),
        .port = cluster.api_port(),
        .purpose = "the kubelet registers its Node and reports pod status"});
  }
  for (const Host* w : workers) {
    links.push_back(Link{
        .client = {Component::kKubeProxy, w->name,
                   Kubeconfig(
                       "kube-proxy", "kube-proxy",
                       "/var/lib/kube-proxy/kubeconfig",
                       "clientConnection.kubeconfig (kube-proxy-config.yaml)")},
        .server = {Component::kApiserver, api_server_host, ApiserverServing()},
        .dial_host = cluster.api_host(),
        .port = cluster.api_port(),
        .purpose = "kube-proxy watches Services and EndpointSlices"});
  }
  for (const Host* cp : controllers) {
    for (const Host* w : workers) {
      links.push_back(Link{
          .client = {Component::kApiserver, cp->name,
                     Files(
                         "apiserver-kubelet-client",
                         std::string(kPki) + "apiserver-kubelet-client.crt",
                         std::string(kPki) + "apiserver-kubelet-client.key",
                         std::string(kPki) + "ca.crt", "ca",
                         "--kubelet-client-certificate, --kubelet-client-key, "
                         "--kubelet-certificate-authority")},
          .server = {Component::kKubelet, w->name,
                     Files("kubelet-" + w->name,
                           "/var/lib/kubelet/pki/kubelet.crt",
                           "/var/lib/kubelet/pki/kubelet.key",
                           std::string(kPki) + "ca.crt", "ca",
                           "tlsCertFile, tlsPrivateKeyFile, "
                           "authentication.x509.clientCAFile "
                           "(kubelet-config.yaml)")},
          .dial_host = w->address,
          .port = 10250,
          .purpose = "the API server fetches logs, exec and port-forward from "
                     "the kubelet"});
    }
  }
  for (const Host* m : members) {
    links.push_back(Link{
        .client = {Component::kHardway, "",
                   Files("etcd/healthcheck-client",
                         "pki/etcd/healthcheck-client.crt",
                         "pki/etcd/healthcheck-client.key", "pki/etcd/ca.crt",
                         "etcd/ca", "the etcd gate and doctor")},
        .server = {Component::kEtcd, m->name, EtcdServing(*m)},
        .dial_host = m->address,
        .port = 2379,
        .purpose = "hardway's etcd gate checks /health and the member list"});
  }
  for (const Host* cp : controllers) {
    links.push_back(Link{
        .client = {Component::kHardway, "",
                   Kubeconfig(
                       "admin", "admin", "kubeconfigs/admin.kubeconfig",
                       "the apiserver gate, doctor and kubectl --kubeconfig")},
        .server = {Component::kApiserver, cp->name, ApiserverServing()},
        .dial_host = cp->address,
        .port = 6443,
        .purpose = "hardway's gates and the admin's kubectl use the API as "
                   "system:masters"});
  }
  return links;
}

std::vector<Link> AggregationLinks(const Cluster& cluster) {
  std::vector<Link> links;
  for (const Host* cp : cluster.hosts(Role::kControlplane)) {
    links.push_back(Link{
        .client = {Component::kApiserver, cp->name,
                   Files("front-proxy-client",
                         std::string(kPki) + "front-proxy-client.crt",
                         std::string(kPki) + "front-proxy-client.key", "", "",
                         "--proxy-client-cert-file, --proxy-client-key-file")},
        .server = {Component::kAggregatedApiserver, "",
                   Credential{.cert = "",
                              .kubeconfig = "",
                              .cert_path = "",
                              .key_path = "",
                              .ca_path = "",
                              .trusts = "front-proxy-ca",
                              .flags = "requestheader-client-ca-file of "
                                       "ConfigMap kube-system/extension-"
                                       "apiserver-authentication (kube-"
                                       "apiserver's --requestheader-client-"
                                       "ca-file)"}},
        .dial_host = "",
        .port = 443,
        .purpose = "kube-apiserver forwards requests for an APIService to its "
                   "aggregated API server, naming the user in X-Remote-* "
                   "headers"});
  }
  return links;
}

std::vector<ClientCaTrust> RequestHeaderTrusts(const Cluster& cluster) {
  std::vector<ClientCaTrust> trusts;
  for (const Host* cp : cluster.hosts(Role::kControlplane)) {
    trusts.push_back(ClientCaTrust{
        .component = Component::kApiserver,
        .host = cp->name,
        .ca_path = std::string(kPki) + "front-proxy-ca.crt",
        .trusts = "front-proxy-ca",
        .flags = "--requestheader-client-ca-file, "
                 "--requestheader-allowed-names",
        .purpose = "request headers (X-Remote-User) count only from a client "
                   "certificate front-proxy-ca signed"});
  }
  return trusts;
}

}  // namespace hardway
