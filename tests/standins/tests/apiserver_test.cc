// The apiserver stand-in (and the kubelet and controller-manager stand-ins
// against it) run as child processes against an in-process fake of etcd's JSON
// gateway, with certificates made here: authentication, Node/RBAC
// authorization, AlreadyExists, etcd storage, and the start-up failures
// hardway's gates must be able to show.
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <chrono>
#include <memory>
#include <thread>

#include "etcd.h"
#include "http.h"
#include "testpki.h"

namespace standin {
namespace {

using testing::Ca;
using testing::Child;
using testing::FakeEtcd;
using testing::Leaf;
using testing::MakeCa;
using testing::MakeLeaf;
using testing::TempDir;

std::string PublicPem(const std::string& key_pem) {
  auto key = ParseKey(key_pem, "sa");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key->get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, len);
  BIO_free(bio);
  return out;
}

// Everything a control plane needs, written to a temp folder.
struct Pki {
  TempDir dir;
  Ca ca = MakeCa("kubernetes");
  Ca etcd_ca = MakeCa("etcd-ca");
  Ca front_proxy_ca = MakeCa("front-proxy-ca");
  Leaf etcd_server = MakeLeaf(etcd_ca, "etcd-1", {}, {"127.0.0.1", "localhost"},
                              "client,server");
  Leaf etcd_client =
      MakeLeaf(etcd_ca, "kube-apiserver-etcd-client", {}, {}, "client");
  Leaf apiserver = MakeLeaf(ca, "kube-apiserver", {},
                            {"127.0.0.1", "10.32.0.1", "localhost"}, "server");
  Leaf kubelet_client =
      MakeLeaf(ca, "kube-apiserver-kubelet-client", {}, {}, "client");
  Leaf proxy_client =
      MakeLeaf(front_proxy_ca, "front-proxy-client", {}, {}, "client");
  Leaf admin = MakeLeaf(ca, "admin", {"system:masters"}, {}, "client");
  Leaf node_a = MakeLeaf(ca, "system:node:node-a", {"system:nodes"},
                         {"node-a", "127.0.0.1"}, "client,server");
  Leaf node_b = MakeLeaf(ca, "system:node:node-b", {"system:nodes"}, {"node-b"},
                         "client,server");
  Leaf kcm = MakeLeaf(ca, "system:kube-controller-manager", {}, {}, "client");
  Ca sa = MakeCa("sa");  // only its key is used
  Ca stranger = MakeCa("someone-else");

  std::string F(const std::string& name) const {
    return (dir.path() / name).string();
  }
  void WriteAll() {
    dir.Write("ca.crt", ca.cert_pem);
    dir.Write("etcd-ca.crt", etcd_ca.cert_pem);
    dir.Write("front-proxy-ca.crt", front_proxy_ca.cert_pem);
    dir.Write("etcd-client.crt", etcd_client.cert_pem);
    dir.Write("etcd-client.key", etcd_client.key_pem);
    dir.Write("apiserver.crt", apiserver.cert_pem);
    dir.Write("apiserver.key", apiserver.key_pem);
    dir.Write("kubelet-client.crt", kubelet_client.cert_pem);
    dir.Write("kubelet-client.key", kubelet_client.key_pem);
    dir.Write("proxy-client.crt", proxy_client.cert_pem);
    dir.Write("proxy-client.key", proxy_client.key_pem);
    dir.Write("sa.key", sa.key_pem);
    dir.Write("sa.pub", PublicPem(sa.key_pem));
    dir.Write("encryption-config.yaml",
              "kind: EncryptionConfiguration\napiVersion: "
              "apiserver.config.k8s.io/v1\nresources:\n"
              "  - resources:\n      - secrets\n    providers:\n      - "
              "aescbc:\n          keys:\n"
              "            - name: key1\n              secret: " +
                  Base64Encode(std::string(32, 'k')) +
                  "\n      - identity: {}\n");
  }
  std::vector<std::string> ApiserverArgs(int etcd_port, int port) const {
    return {"--advertise-address=127.0.0.1",
            "--bind-address=127.0.0.1",
            "--secure-port=" + std::to_string(port),
            "--allow-privileged=true",
            "--anonymous-auth=false",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NamespaceLifecycle,NodeRestriction,"
            "ServiceAccount",
            "--client-ca-file=" + F("ca.crt"),
            "--etcd-servers=https://127.0.0.1:" + std::to_string(etcd_port),
            "--etcd-cafile=" + F("etcd-ca.crt"),
            "--etcd-certfile=" + F("etcd-client.crt"),
            "--etcd-keyfile=" + F("etcd-client.key"),
            "--encryption-provider-config=" + F("encryption-config.yaml"),
            "--kubelet-certificate-authority=" + F("ca.crt"),
            "--kubelet-client-certificate=" + F("kubelet-client.crt"),
            "--kubelet-client-key=" + F("kubelet-client.key"),
            "--proxy-client-cert-file=" + F("proxy-client.crt"),
            "--proxy-client-key-file=" + F("proxy-client.key"),
            "--requestheader-client-ca-file=" + F("front-proxy-ca.crt"),
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--service-node-port-range=30000-32767",
            "--event-ttl=1h",
            "--service-account-issuer=https://127.0.0.1:6443",
            "--service-account-key-file=" + F("sa.pub"),
            "--service-account-signing-key-file=" + F("sa.key"),
            "--service-cluster-ip-range=10.32.0.0/24",
            "--tls-cert-file=" + F("apiserver.crt"),
            "--tls-private-key-file=" + F("apiserver.key"),
            "--v=2"};
  }
};

class ApiserverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki();
    pki_->WriteAll();
    etcd_ = new FakeEtcd(pki_->etcd_server, pki_->etcd_ca.cert_pem);
    port_ = testing::FreePort();
    apiserver_ =
        new Child("kube-apiserver", pki_->ApiserverArgs(etcd_->port(), port_),
                  pki_->dir.path() / "apiserver.log");
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end && apiserver_->Running()) {
      auto r = Call(pki_->admin, "GET", "/readyz");
      if (r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "apiserver stand-in never became ready:\n" << apiserver_->Log();
  }
  static void TearDownTestSuite() {
    delete apiserver_;
    delete etcd_;
    delete pki_;
  }

  static std::expected<HttpResponse, ClientError> Call(
      const Leaf& who, const std::string& method, const std::string& path,
      const std::string& body = {}, const std::string& content_type = {}) {
    ClientTls tls{pki_->ca.cert_pem, who.cert_pem, who.key_pem};
    return HttpDo(method, "https://127.0.0.1:" + std::to_string(port_) + path,
                  &tls, body, content_type);
  }
  static Json NodeJson(const std::string& name) {
    return {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", name}}},
            {"status", Json::object()}};
  }

  static Pki* pki_;
  static FakeEtcd* etcd_;
  static Child* apiserver_;
  static int port_;
};
Pki* ApiserverTest::pki_;
FakeEtcd* ApiserverTest::etcd_;
Child* ApiserverTest::apiserver_;
int ApiserverTest::port_;

TEST_F(ApiserverTest, ReadyzAndVersion) {
  auto r = Call(pki_->admin, "GET", "/readyz");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  auto v = Call(pki_->admin, "GET", "/version");
  ASSERT_TRUE(v);
  EXPECT_EQ(Json::parse(v->body)["gitVersion"], "v1.32.3-standin");
  // The bootstrap objects are in etcd, where the real apiserver keeps them.
  EXPECT_TRUE(etcd_->Value("/registry/namespaces/kube-node-lease"));
  auto svc = etcd_->Value("/registry/services/specs/default/kubernetes");
  ASSERT_TRUE(svc);
  EXPECT_EQ(Json::parse(*svc)["spec"]["clusterIP"], "10.32.0.1");
}

TEST_F(ApiserverTest, NoClientCertificateIs401) {
  ClientTls tls{pki_->ca.cert_pem, "", ""};
  auto r = HttpDo(
      "GET", "https://127.0.0.1:" + std::to_string(port_) + "/api/v1/nodes",
      &tls);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Json::parse(r->body)["reason"], "Unauthorized");
}

TEST_F(ApiserverTest, CertificateFromAnotherCaIs401) {
  Leaf forged =
      MakeLeaf(pki_->stranger, "admin", {"system:masters"}, {}, "client");
  auto r = Call(forged, "GET", "/api/v1/nodes");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 401);
}

TEST_F(ApiserverTest, NodeMayRegisterOnlyItself) {
  auto own =
      Call(pki_->node_a, "POST", "/api/v1/nodes", NodeJson("node-a").dump());
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 201) << own->body;
  auto stored = etcd_->Value("/registry/minions/node-a");
  ASSERT_TRUE(stored);
  EXPECT_EQ(Json::parse(*stored)["metadata"]["name"], "node-a");

  // node-b exists (registered by itself); node-a may not create or modify it.
  ASSERT_EQ(
      Call(pki_->node_b, "POST", "/api/v1/nodes", NodeJson("node-b").dump())
          ->status,
      201);
  auto create_other =
      Call(pki_->node_a, "POST", "/api/v1/nodes", NodeJson("node-c").dump());
  EXPECT_EQ(create_other->status, 403);
  auto put_other = Call(pki_->node_a, "PUT", "/api/v1/nodes/node-b/status",
                        NodeJson("node-b").dump());
  ASSERT_TRUE(put_other);
  EXPECT_EQ(put_other->status, 403);
  Json status = Json::parse(put_other->body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "Forbidden");
  EXPECT_NE(status["message"].get<std::string>().find(
                "node \"node-a\" is not allowed to modify node \"node-b\""),
            std::string::npos)
      << status.dump();

  // Its own status: allowed, with the stored resourceVersion check.
  auto got = Call(pki_->node_a, "GET", "/api/v1/nodes/node-a");
  Json node = Json::parse(got->body);
  node["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}}};
  auto put =
      Call(pki_->node_a, "PUT", "/api/v1/nodes/node-a/status", node.dump());
  EXPECT_EQ(put->status, 200) << put->body;
  auto stale =
      Call(pki_->node_a, "PUT", "/api/v1/nodes/node-a/status", node.dump());
  EXPECT_EQ(stale->status, 409);  // same resourceVersion again: conflict

  // Leases: own only.
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "node-b"}}},
                {"spec", {{"holderIdentity", "node-b"}}}};
  EXPECT_EQ(
      Call(pki_->node_a, "POST",
           "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
           lease.dump())
          ->status,
      403);
  lease["metadata"]["name"] = "node-a";
  EXPECT_EQ(
      Call(pki_->node_a, "POST",
           "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
           lease.dump())
          ->status,
      201);
  EXPECT_TRUE(etcd_->Value("/registry/leases/kube-node-lease/node-a"));
}

TEST_F(ApiserverTest, DuplicateClusterRoleIs409AlreadyExists) {
  Json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "ClusterRole"},
               {"metadata", {{"name", "test-dup"}}},
               {"rules",
                {{{"apiGroups", {""}},
                  {"resources", {"nodes/proxy"}},
                  {"verbs", {"*"}}}}}};
  auto first =
      Call(pki_->admin, "POST",
           "/apis/rbac.authorization.k8s.io/v1/clusterroles", role.dump());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 201) << first->body;
  auto second =
      Call(pki_->admin, "POST",
           "/apis/rbac.authorization.k8s.io/v1/clusterroles", role.dump());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409);
  EXPECT_EQ(Json::parse(second->body)["reason"], "AlreadyExists");
  // Not for a node.
  role["metadata"]["name"] = "by-node";
  EXPECT_EQ(Call(pki_->node_a, "POST",
                 "/apis/rbac.authorization.k8s.io/v1/clusterroles", role.dump())
                ->status,
            403);
}

TEST_F(ApiserverTest, ControllerManagerHoldsOnlyItsOwnLease) {
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "kube-scheduler"}}},
                {"spec", {{"holderIdentity", "x"}}}};
  ASSERT_EQ(Call(pki_->admin, "POST",
                 "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
                 lease.dump())
                ->status,
            201);
  // It may read everything (as the real role allows) but not take the
  // scheduler's lease.
  auto got = Call(pki_->kcm, "GET",
                  "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                  "kube-scheduler");
  ASSERT_EQ(got->status, 200);
  Json taken = Json::parse(got->body);
  taken["spec"]["holderIdentity"] = "kcm";
  EXPECT_EQ(Call(pki_->kcm, "PUT",
                 "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                 "kube-scheduler",
                 taken.dump())
                ->status,
            403);

  TempDir dir;
  std::string kubeconfig = dir.Write(
      "kcm.kubeconfig",
      testing::KubeconfigYaml("https://127.0.0.1:" + std::to_string(port_),
                              pki_->ca.cert_pem, pki_->kcm));
  Child kcm(
      "kube-controller-manager",
      {"--kubeconfig=" + kubeconfig,
       "--secure-port=" + std::to_string(testing::FreePort()),
       "--bind-address=127.0.0.1", "--root-ca-file=" + pki_->F("ca.crt"),
       "--service-account-private-key-file=" + pki_->F("sa.key"),
       "--cluster-cidr=10.200.0.0/16",
       "--service-cluster-ip-range=10.32.0.0/24",
       "--leader-elect-retry-period=1s", "--cluster-name=test",
       "--authentication-kubeconfig=" + kubeconfig,
       "--authorization-kubeconfig=" + kubeconfig,
       "--client-ca-file=" + pki_->F("ca.crt"),
       "--requestheader-client-ca-file=" + pki_->F("front-proxy-ca.crt"),
       "--allocate-node-cidrs=false", "--use-service-account-credentials=true",
       "--leader-elect=true", "--v=2"},
      dir.path() / "kcm.log");
  std::optional<std::string> held;
  for (int i = 0; i < 100 && !held; ++i) {
    held = etcd_->Value("/registry/leases/kube-system/kube-controller-manager");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(held) << kcm.Log();
  EXPECT_NE(Json::parse(*held)["spec"].value("holderIdentity", "").find("_"),
            std::string::npos);
  EXPECT_TRUE(kcm.Running()) << kcm.Log();
}

TEST_F(ApiserverTest,
       KubeletRegistersAndAuthorizesItsCallersThroughTheApiserver) {
  // What hardway's rbac phase creates, so the apiserver may call kubelets.
  Json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "ClusterRole"},
               {"metadata", {{"name", "system:kube-apiserver-to-kubelet"}}},
               {"rules",
                {{{"apiGroups", {""}},
                  {"resources",
                   {"nodes/proxy", "nodes/stats", "nodes/log", "nodes/spec",
                    "nodes/metrics"}},
                  {"verbs", {"*"}}}}}};
  Json binding = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                  {"kind", "ClusterRoleBinding"},
                  {"metadata", {{"name", "system:kube-apiserver"}}},
                  {"roleRef",
                   {{"apiGroup", "rbac.authorization.k8s.io"},
                    {"kind", "ClusterRole"},
                    {"name", "system:kube-apiserver-to-kubelet"}}},
                  {"subjects",
                   {{{"apiGroup", "rbac.authorization.k8s.io"},
                     {"kind", "User"},
                     {"name", "kube-apiserver-kubelet-client"}}}}};
  ASSERT_EQ(Call(pki_->admin, "POST",
                 "/apis/rbac.authorization.k8s.io/v1/clusterroles", role.dump())
                ->status,
            201);
  // As YAML, as kubectl may send it.
  ASSERT_EQ(Call(pki_->admin, "POST",
                 "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                 binding.dump(), "application/yaml")
                ->status,
            201);

  TempDir dir;
  dir.Write("kubelet.crt", pki_->node_a.cert_pem);
  dir.Write("kubelet.key", pki_->node_a.key_pem);
  int port = testing::FreePort(), healthz = testing::FreePort();
  std::string config = dir.Write(
      "kubelet-config.yaml",
      "kind: KubeletConfiguration\napiVersion: "
      "kubelet.config.k8s.io/v1beta1\naddress: 127.0.0.1\n"
      "port: " +
          std::to_string(port) + "\nhealthzPort: " + std::to_string(healthz) +
          "\nauthentication:\n  anonymous:\n    enabled: false\n  webhook:\n   "
          " enabled: true\n"
          "  x509:\n    clientCAFile: \"" +
          pki_->F("ca.crt") +
          "\"\nauthorization:\n  mode: Webhook\n"
          "cgroupDriver: systemd\nclusterDomain: cluster.local\nclusterDNS:\n  "
          "- 10.32.0.10\n"
          "containerRuntimeEndpoint: "
          "unix:///nonexistent/containerd.sock\npodCIDR: 10.200.1.0/24\n"
          "tlsCertFile: " +
          (dir.path() / "kubelet.crt").string() + "\ntlsPrivateKeyFile: " +
          (dir.path() / "kubelet.key").string() + "\n");
  std::string kubeconfig = dir.Write(
      "kubelet.kubeconfig",
      testing::KubeconfigYaml("https://127.0.0.1:" + std::to_string(port_),
                              pki_->ca.cert_pem, pki_->node_a));
  Child kubelet("kubelet",
                {"--config=" + config, "--kubeconfig=" + kubeconfig,
                 "--hostname-override=node-a", "--node-ip=127.0.0.1", "--v=2"},
                dir.path() / "kubelet.log");
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    auto r = Call(pki_->admin, "GET", "/api/v1/nodes/node-a");
    if (r && r->status == 200)
      for (const auto& c :
           Json::parse(r->body)["status"].value("conditions", Json::array()))
        ready = ready || (c["type"] == "Ready" && c["status"] == "True" &&
                          c.value("reason", "") == "KubeletReady");
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ready) << kubelet.Log();

  // The kubelet API: the apiserver's client cert is allowed by the binding
  // above (checked by a SubjectAccessReview), another node's cert is not, no
  // cert is 401.
  std::string url = "https://127.0.0.1:" + std::to_string(port) + "/pods";
  ClientTls apiserver_tls{pki_->ca.cert_pem, pki_->kubelet_client.cert_pem,
                          pki_->kubelet_client.key_pem};
  auto allowed = HttpDo("GET", url, &apiserver_tls);
  ASSERT_TRUE(allowed) << allowed.error().message;
  EXPECT_EQ(allowed->status, 200) << allowed->body << kubelet.Log();
  ClientTls other_tls{pki_->ca.cert_pem, pki_->node_b.cert_pem,
                      pki_->node_b.key_pem};
  EXPECT_EQ(HttpDo("GET", url, &other_tls)->status, 403);
  ClientTls none{pki_->ca.cert_pem, "", ""};
  EXPECT_EQ(HttpDo("GET", url, &none)->status, 401);
  auto h =
      HttpDo("GET", "http://127.0.0.1:" + std::to_string(healthz) + "/healthz",
             nullptr);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->body, "ok");
  EXPECT_NE(kubelet.Log().find("container runtime socket"), std::string::npos);
}

TEST_F(ApiserverTest, SchedulerAndProxyStandInsUseTheirConfigFiles) {
  Leaf scheduler =
      MakeLeaf(pki_->ca, "system:kube-scheduler", {}, {}, "client");
  Leaf proxy = MakeLeaf(pki_->ca, "system:kube-proxy", {"system:node-proxier"},
                        {}, "client");
  std::string server = "https://127.0.0.1:" + std::to_string(port_);
  TempDir dir;
  std::string sched_kc =
      dir.Write("scheduler.conf",
                testing::KubeconfigYaml(server, pki_->ca.cert_pem, scheduler));
  std::string sched_cfg =
      dir.Write("kube-scheduler.yaml",
                "apiVersion: kubescheduler.config.k8s.io/v1\nkind: "
                "KubeSchedulerConfiguration\nclientConnection:\n"
                "  kubeconfig: \"" +
                    sched_kc + "\"\nleaderElection:\n  leaderElect: true\n");
  Child sched(
      "kube-scheduler",
      {"--config=" + sched_cfg, "--bind-address=127.0.0.1",
       "--secure-port=" + std::to_string(testing::FreePort()),
       "--authentication-kubeconfig=" + sched_kc,
       "--authorization-kubeconfig=" + sched_kc,
       "--client-ca-file=" + pki_->F("ca.crt"),
       "--requestheader-client-ca-file=" + pki_->F("front-proxy-ca.crt"),
       "--leader-elect=true", "--v=2"},
      dir.path() / "scheduler.log");
  std::string proxy_kc =
      dir.Write("kube-proxy.kubeconfig",
                testing::KubeconfigYaml(server, pki_->ca.cert_pem, proxy));
  int healthz = testing::FreePort();
  std::string proxy_cfg = dir.Write(
      "kube-proxy-config.yaml",
      "kind: KubeProxyConfiguration\napiVersion: "
      "kubeproxy.config.k8s.io/v1alpha1\nclientConnection:\n"
      "  kubeconfig: \"" +
          proxy_kc +
          "\"\nmode: \"iptables\"\nclusterCIDR: \"10.200.0.0/16\"\n"
          "healthzBindAddress: 127.0.0.1:" +
          std::to_string(healthz) + "\nmetricsBindAddress: 127.0.0.1:" +
          std::to_string(testing::FreePort()) + "\n");
  Child kube_proxy("kube-proxy",
                   {"--config=" + proxy_cfg, "--kubeconfig=" + proxy_kc,
                    "--hostname-override=node-a", "--v=2"},
                   dir.path() / "proxy.log");

  bool scheduler_leads = false, proxy_healthy = false;
  for (int i = 0; i < 100 && !(scheduler_leads && proxy_healthy); ++i) {
    if (auto lease =
            etcd_->Value("/registry/leases/kube-system/kube-scheduler"))
      scheduler_leads =
          Json::parse(*lease)["spec"].value("holderIdentity", "") != "x";
    auto h = HttpDo("GET",
                    "http://127.0.0.1:" + std::to_string(healthz) + "/healthz",
                    nullptr);
    proxy_healthy = h && h->status == 200;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(scheduler_leads) << sched.Log();
  EXPECT_TRUE(proxy_healthy) << kube_proxy.Log();
}

// Start-up failures: each exits non-zero and says why on stderr.
class ApiserverStartupTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_.WriteAll(); }
  std::vector<std::string> Args(int etcd_port) {
    return pki_.ApiserverArgs(etcd_port, testing::FreePort());
  }
  static void Replace(std::vector<std::string>& args, const std::string& flag,
                      const std::string& value) {
    for (auto& a : args)
      if (a.starts_with("--" + flag + "=")) a = "--" + flag + "=" + value;
  }
  Pki pki_;
};

TEST_F(ApiserverStartupTest, EtcdRefusingTheClientCertificateIsFatal) {
  // This etcd trusts only client certificates from another CA.
  FakeEtcd picky(pki_.etcd_server, pki_.stranger.cert_pem);
  Child c("kube-apiserver", Args(picky.port()),
          pki_.dir.path() / "refused.log");
  EXPECT_EQ(c.Wait(10), 1) << c.Log();
  EXPECT_NE(c.Log().find("etcd refused the connection"), std::string::npos)
      << c.Log();
}

TEST_F(ApiserverStartupTest, MismatchedEtcdKeyIsFatal) {
  auto args = Args(1);
  Replace(args, "etcd-keyfile", pki_.F("apiserver.key"));
  Child c("kube-apiserver", args, pki_.dir.path() / "mismatch.log");
  EXPECT_EQ(c.Wait(10), 1);
  EXPECT_NE(c.Log().find("--etcd-keyfile " + pki_.F("apiserver.key") +
                         " does not match the public key of "
                         "--etcd-certfile " +
                         pki_.F("etcd-client.crt")),
            std::string::npos)
      << c.Log();
}

TEST_F(ApiserverStartupTest, EtcdClientCertFromTheClusterCaIsFatal) {
  pki_.dir.Write("wrong-etcd-client.crt", pki_.admin.cert_pem);
  pki_.dir.Write("wrong-etcd-client.key", pki_.admin.key_pem);
  auto args = Args(1);
  Replace(args, "etcd-certfile", pki_.F("wrong-etcd-client.crt"));
  Replace(args, "etcd-keyfile", pki_.F("wrong-etcd-client.key"));
  Child c("kube-apiserver", args, pki_.dir.path() / "chain.log");
  EXPECT_EQ(c.Wait(10), 1);
  EXPECT_NE(c.Log().find("does not verify against --etcd-cafile"),
            std::string::npos)
      << c.Log();
}

TEST_F(ApiserverStartupTest, ShortEncryptionKeyIsFatalAndNotPrinted) {
  std::string secret = Base64Encode(std::string(16, 's'));
  pki_.dir.Write("encryption-config.yaml",
                 "kind: EncryptionConfiguration\napiVersion: "
                 "apiserver.config.k8s.io/v1\nresources:\n"
                 "  - resources: [secrets]\n    providers:\n      - "
                 "secretbox:\n          keys:\n"
                 "            - name: key1\n              secret: " +
                     secret + "\n");
  Child c("kube-apiserver", Args(1), pki_.dir.path() / "enc.log");
  EXPECT_EQ(c.Wait(10), 1);
  EXPECT_NE(c.Log().find("decodes to 16 bytes; secretbox needs 32"),
            std::string::npos)
      << c.Log();
  EXPECT_EQ(c.Log().find(secret), std::string::npos);
}

TEST_F(ApiserverStartupTest, ServingCertWithoutTheServiceIpIsFatal) {
  auto args = Args(1);
  Replace(args, "service-cluster-ip-range", "10.96.0.0/12");
  Child c("kube-apiserver", args, pki_.dir.path() / "san.log");
  EXPECT_EQ(c.Wait(10), 1);
  EXPECT_NE(c.Log().find("has no IP SAN 10.96.0.1"), std::string::npos)
      << c.Log();
}

}  // namespace
}  // namespace standin

namespace standin {
namespace {

// Debian's etcd 3.4 (from scripts/artifacts.sh's cache), when this machine has
// it: the same checks against the real JSON gateway. Skipped otherwise.
std::string RealEtcdBinary() {
  if (const char* env = std::getenv("STANDIN_ETCD")) return env;
  std::string cache = std::getenv("HARDWAY_CACHE")
                          ? std::getenv("HARDWAY_CACHE")
                          : "/var/cache/hardway";
  std::error_code ec;
  for (auto it =
           std::filesystem::recursive_directory_iterator(cache + "/debs", ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename() == "etcd" &&
        it->path().parent_path().filename() == "bin" &&
        access(it->path().c_str(), X_OK) == 0)
      return it->path().string();
  }
  return {};
}

std::unique_ptr<Child> StartRealEtcd(const std::string& binary, const Pki& pki,
                                     const std::string& trusted_ca,
                                     int* client_port) {
  *client_port = testing::FreePort();
  int peer_port = testing::FreePort();
  std::string client = "https://127.0.0.1:" + std::to_string(*client_port);
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
  std::string data = pki.F("etcd-data-" + std::to_string(*client_port));
  pki.dir.Write("etcd-server.crt", pki.etcd_server.cert_pem);
  pki.dir.Write("etcd-server.key", pki.etcd_server.key_pem);
  std::vector<std::string> args = {"--name",
                                   "t",
                                   "--data-dir",
                                   data,
                                   "--listen-client-urls",
                                   client,
                                   "--advertise-client-urls",
                                   client,
                                   "--listen-peer-urls",
                                   peer,
                                   "--initial-advertise-peer-urls",
                                   peer,
                                   "--initial-cluster",
                                   "t=" + peer,
                                   "--cert-file",
                                   pki.F("etcd-server.crt"),
                                   "--key-file",
                                   pki.F("etcd-server.key"),
                                   "--client-cert-auth",
                                   "--trusted-ca-file",
                                   trusted_ca};
  auto child = std::make_unique<Child>(
      "etcd", args,
      pki.dir.path() / ("etcd-" + std::to_string(*client_port) + ".log"),
      binary);
  // Up once it answers TLS at all (an etcd that refuses our client certificate
  // is up too).
  ClientTls tls{pki.etcd_ca.cert_pem, pki.etcd_client.cert_pem,
                pki.etcd_client.key_pem};
  for (int i = 0; i < 200; ++i) {
    auto r = HttpDo("GET", client + "/health", &tls);
    if (r || r.error().kind != ClientError::kConnect) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return child;
}

TEST(RealEtcd, ApiserverStandInStoresObjectsInDebiansEtcd) {
  std::string etcd_binary = RealEtcdBinary();
  if (etcd_binary.empty())
    GTEST_SKIP()
        << "no etcd binary (set STANDIN_ETCD or run scripts/artifacts.sh)";
  Pki pki;
  pki.WriteAll();
  int etcd_port = 0;
  auto etcd = StartRealEtcd(etcd_binary, pki, pki.F("etcd-ca.crt"), &etcd_port);
  int port = testing::FreePort();
  Child api("kube-apiserver", pki.ApiserverArgs(etcd_port, port),
            pki.dir.path() / "real-apiserver.log");
  ClientTls admin{pki.ca.cert_pem, pki.admin.cert_pem, pki.admin.key_pem};
  std::string base = "https://127.0.0.1:" + std::to_string(port);
  bool ready = false;
  for (int i = 0; i < 200 && !ready && api.Running(); ++i) {
    auto r = HttpDo("GET", base + "/readyz", &admin);
    ready = r && r->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ready) << api.Log() << etcd->Log();
  Json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "ClusterRole"},
               {"metadata", {{"name", "real"}}},
               {"rules", Json::array()}};
  std::string roles = base + "/apis/rbac.authorization.k8s.io/v1/clusterroles";
  EXPECT_EQ(HttpDo("POST", roles, &admin, role.dump())->status, 201);
  EXPECT_EQ(HttpDo("POST", roles, &admin, role.dump())->status, 409);
  auto got = HttpDo("GET", roles + "/real", &admin);
  ASSERT_EQ(got->status, 200);
  Json stored = Json::parse(got->body);
  EXPECT_EQ(HttpDo("PUT", roles + "/real", &admin, stored.dump())->status, 200);
  EXPECT_EQ(HttpDo("PUT", roles + "/real", &admin, stored.dump())->status,
            409);  // stale resourceVersion
  auto list = HttpDo("GET", roles, &admin);
  EXPECT_EQ(Json::parse(list->body)["items"].size(), 1u);
  EXPECT_EQ(HttpDo("DELETE", roles + "/real", &admin)->status, 200);
  EXPECT_EQ(HttpDo("GET", roles + "/real", &admin)->status, 404);
}

TEST(RealEtcd, EtcdRefusingTheApiserverIsFatal) {
  std::string etcd_binary = RealEtcdBinary();
  if (etcd_binary.empty())
    GTEST_SKIP()
        << "no etcd binary (set STANDIN_ETCD or run scripts/artifacts.sh)";
  Pki pki;
  pki.WriteAll();
  pki.dir.Write("stranger.crt", pki.stranger.cert_pem);
  int etcd_port = 0;
  auto etcd =
      StartRealEtcd(etcd_binary, pki, pki.F("stranger.crt"), &etcd_port);
  Child api("kube-apiserver", pki.ApiserverArgs(etcd_port, testing::FreePort()),
            pki.dir.path() / "refused-apiserver.log");
  EXPECT_EQ(api.Wait(15), 1) << api.Log();
  EXPECT_NE(api.Log().find("etcd refused the connection"), std::string::npos)
      << api.Log();
}

}  // namespace
}  // namespace standin
