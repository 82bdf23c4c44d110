// Gates against a local HTTPS server (OpenSSL, in a thread, on 127.0.0.1) with
// certificates made here, reached through a RecordingTransport whose tunnels
// lead to that server: the same code path as a real run, where the tunnel is an
// SSH direct-tcpip channel.
#include "run/gates.h"

#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "../testing/tls_server.h"
#include "inventory/cluster.h"
#include "pki/pki.h"
#include "pki/x509.h"
#include "remote/recording_transport.h"
#include "run/rbac.h"
#include "run/runner.h"
#include "run/tls_probe.h"
#include "util/sha256.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

struct Identity {
  X509Ptr cert;
  KeyPtr key;
};

Identity Issue(const std::string& cn, const Identity* ca,
               std::vector<std::string> dns, std::vector<std::string> ips,
               bool server, bool client,
               std::chrono::hours valid_from = hours(-1),
               std::chrono::hours valid_to = hours(24)) {
  auto key = GenerateKey(KeyAlgorithm::kEcdsaP256);
  EXPECT_TRUE(key);
  IssueRequest req;
  req.cn = cn;
  req.is_ca = ca == nullptr;
  req.server_auth = server;
  req.client_auth = client;
  req.dns_sans = std::move(dns);
  req.ip_sans = std::move(ips);
  auto now = std::chrono::system_clock::now();
  req.not_before = now + valid_from;
  req.not_after = now + valid_to;
  auto cert = IssueCertificate(req, key->get(), ca ? ca->cert.get() : nullptr,
                               ca ? ca->key.get() : nullptr);
  EXPECT_TRUE(cert) << (cert ? "" : cert.error().ToString());
  return Identity{std::move(*cert), std::move(*key)};
}

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A tiny HTTPS server with `id`'s certificate: one request per connection,
// answered by `handler`.
class TestServer : public testing::HttpsServer {
 public:
  TestServer(const Identity& id, X509* client_ca, Handler handler)
      : HttpsServer(id.cert.get(), id.key.get(), client_ca,
                    std::move(handler)) {}
};

class GatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = fs::temp_directory_path() /
             ("hardway-gates-" + std::to_string(std::random_device{}()));
    etcd_ca_ =
        Issue("etcd-ca", nullptr, {}, {}, false, false, hours(-1), hours(240));
    kube_ca_ = Issue("kubernetes", nullptr, {}, {}, false, false, hours(-1),
                     hours(240));
    Identity health =
        Issue("hardway-etcd-healthcheck", &etcd_ca_, {}, {}, false, true);
    Identity admin = Issue("admin", &kube_ca_, {}, {}, false, true);
    Write(state_ / "pki/etcd/ca.crt", CertificateToPem(etcd_ca_.cert.get()));
    Write(state_ / "pki/etcd/healthcheck-client.crt",
          CertificateToPem(health.cert.get()));
    Write(state_ / "pki/etcd/healthcheck-client.key",
          PrivateKeyToPem(health.key.get()));
    Write(state_ / "pki/ca.crt", CertificateToPem(kube_ca_.cert.get()));
    Write(state_ / "pki/admin.crt", CertificateToPem(admin.cert.get()));
    Write(state_ / "pki/admin.key", PrivateKeyToPem(admin.key.get()));
    host_ = std::make_shared<FakeHost>();
  }
  void TearDown() override { fs::remove_all(state_); }

  TestServer::Handler Etcd(
      std::string members = R"({"members":[{"name":"etcd-0"}]})") {
    return [members](const TestServer::Request& r) {
      if (r.method == "GET" && r.path == "/health") {
        return std::pair{200, std::string(R"({"health":"true","reason":""})")};
      }
      if (r.method == "POST" && r.path == "/v3/cluster/member/list")
        return std::pair{200, members};
      return std::pair{404, std::string("{}")};
    };
  }

  Result<HttpResponse> Get(const std::string& dial, int port,
                           const TlsOptions& tls,
                           const std::string& path = "/health") {
    RecordingTransport t("etcd-0", host_);
    return HttpsVia(t, dial, port, tls, HttpRequest{"GET", path, {}, {}, {}});
  }

  fs::path state_;
  Identity etcd_ca_, kube_ca_;
  std::shared_ptr<FakeHost> host_;
};

TEST_F(GatesTest, ValidServerCertificate) {
  Identity server =
      Issue("etcd-0", &etcd_ca_, {"etcd-0"}, {"10.240.0.10"}, true, true);
  TestServer srv(server, etcd_ca_.cert.get(), Etcd());
  host_->MapTunnel("10.240.0.10", 2379, srv.port());
  auto r = Get("10.240.0.10", 2379, EtcdClientTls(state_, "10.240.0.10"));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"health":"true","reason":""})");
}

TEST_F(GatesTest, ExpiredServerCertificate) {
  Identity server = Issue("etcd-0", &etcd_ca_, {"etcd-0"}, {"10.240.0.10"},
                          true, true, hours(-48), hours(-24));
  TestServer srv(server, etcd_ca_.cert.get(), Etcd());
  host_->MapTunnel("10.240.0.10", 2379, srv.port());
  auto r = Get("10.240.0.10", 2379, EtcdClientTls(state_, "10.240.0.10"));
  ASSERT_FALSE(r);
  std::string date = FormatDate(std::chrono::system_clock::now() - hours(24));
  EXPECT_NE(r.error().message.find("certificate expired on " + date),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("certificate has expired"),
            std::string::npos);
}

TEST_F(GatesTest, ServerSignedByAnotherCa) {
  Identity other = Issue("other-ca", nullptr, {}, {}, false, false);
  Identity server =
      Issue("etcd-0", &other, {"etcd-0"}, {"10.240.0.10"}, true, true);
  TestServer srv(server, etcd_ca_.cert.get(), Etcd());
  host_->MapTunnel("10.240.0.10", 2379, srv.port());
  auto r = Get("10.240.0.10", 2379, EtcdClientTls(state_, "10.240.0.10"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(
                "unknown CA (signed by CN=other-ca, we trust CN=etcd-ca from " +
                (state_ / "pki/etcd/ca.crt").string()),
            std::string::npos)
      << r.error().message;
}

TEST_F(GatesTest, ServerSignedByARegeneratedCaOfTheSameName) {
  Identity again = Issue("etcd-ca", nullptr, {}, {}, false, false);
  Identity server =
      Issue("etcd-0", &again, {"etcd-0"}, {"10.240.0.10"}, true, true);
  TestServer srv(server, etcd_ca_.cert.get(), Etcd());
  host_->MapTunnel("10.240.0.10", 2379, srv.port());
  auto r = Get("10.240.0.10", 2379, EtcdClientTls(state_, "10.240.0.10"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown CA (signed by CN=etcd-ca"),
            std::string::npos)
      << r.error().message;
}

TEST_F(GatesTest, NameMismatch) {
  Identity server =
      Issue("etcd-0", &etcd_ca_, {"etcd-0"}, {"10.240.0.10"}, true, true);
  TestServer srv(server, etcd_ca_.cert.get(), Etcd());
  host_->MapTunnel("10.240.0.99", 2379, srv.port());
  auto r = Get("10.240.0.99", 2379, EtcdClientTls(state_, "10.240.0.99"));
  ASSERT_FALSE(r);
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("name mismatch: certificate has SANs "), std::string::npos)
      << m;
  EXPECT_NE(m.find("DNS:etcd-0"), std::string::npos) << m;
  EXPECT_NE(m.find("IP:10.240.0.10"), std::string::npos) << m;
  EXPECT_NE(m.find("; dialed 10.240.0.99"), std::string::npos) << m;
}

TEST_F(GatesTest, ClientCertificateFromTheWrongCaIsRejectedByTheServer) {
  Identity server =
      Issue("etcd-0", &etcd_ca_, {"etcd-0"}, {"10.240.0.10"}, true, true);
  TestServer srv(server, etcd_ca_.cert.get(), Etcd());
  host_->MapTunnel("10.240.0.10", 2379, srv.port());
  // The admin certificate comes from the kubernetes CA, which etcd does not
  // trust.
  TlsOptions tls = EtcdClientTls(state_, "10.240.0.10");
  tls.cert_file = state_ / "pki/admin.crt";
  tls.key_file = state_ / "pki/admin.key";
  auto r = Get("10.240.0.10", 2379, tls);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("rejected our client certificate"),
            std::string::npos)
      << r.error().message;
}

TEST_F(GatesTest, NothingListening) {
  auto r = Get("10.240.0.10", 2379, EtcdClientTls(state_, "10.240.0.10"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot reach 10.240.0.10:2379 from etcd-0"),
            std::string::npos);
}

// Every host is `fake` (its calls recorded in `log` when given).
TransportFactory AllHostsAre(std::shared_ptr<FakeHost> fake,
                             std::shared_ptr<CallLog> log = nullptr) {
  return
      [fake, log](const std::string& h) -> Result<std::unique_ptr<Transport>> {
        return std::unique_ptr<Transport>(
            std::make_unique<RecordingTransport>(h, fake, log));
      };
}

// Runs a gate for `phase` against hosts that all share host_'s tunnels.
GateReport RunWith(const Phase& phase, const Topology& topo,
                   const fs::path& state, std::shared_ptr<FakeHost> fake,
                   std::chrono::milliseconds timeout,
                   const std::string& manifest = {}) {
  TransportPool pool(AllHostsAre(fake));
  GateContext ctx;
  ctx.topology = &topo;
  ctx.state_dir = state;
  ctx.transports = &pool;
  ctx.poll = std::chrono::milliseconds(20);
  ctx.settle = std::chrono::milliseconds(0);
  ctx.rbac_manifest = manifest;
  return RunGate(phase, ctx, timeout);
}

TEST_F(GatesTest, EtcdGateChecksHealthAndMemberCount) {
  Identity server =
      Issue("etcd-0", &etcd_ca_, {"etcd-0"}, {"10.240.0.10"}, true, true);
  Phase phase{"etcd", "", {}, {}, false, {"etcd-0"}, {}, {}};
  phase.gate = Gate{GateKind::kEtcdHealthy,
                    std::chrono::milliseconds(2000),
                    {},
                    2379,
                    "etcd ok"};
  {
    TestServer srv(server, etcd_ca_.cert.get(), Etcd());
    host_->MapTunnel("10.240.0.10", 2379, srv.port());
    Topology one{
        {GateHost{"etcd-0", "10.240.0.10", {Role::kEtcd}, std::nullopt}}};
    GateReport r =
        RunWith(phase, one, state_, host_, std::chrono::milliseconds(2000));
    EXPECT_TRUE(r.ok) << FormatGateFailure(r);
    EXPECT_NE(r.verdicts.at(0).detail.find("member list: 1/1 started"),
              std::string::npos);
  }
  {
    // Three members expected; one started, one added but never started.
    TestServer srv(
        server, etcd_ca_.cert.get(),
        Etcd(
            R"({"members":[{"name":"etcd-0"},{"peerURLs":["https://10.240.0.11:2380"]}]})"));
    host_->MapTunnel("10.240.0.10", 2379, srv.port());
    Topology three{
        {GateHost{"etcd-0", "10.240.0.10", {Role::kEtcd}, std::nullopt},
         GateHost{"etcd-1", "10.240.0.11", {Role::kEtcd}, std::nullopt},
         GateHost{"etcd-2", "10.240.0.12", {Role::kEtcd}, std::nullopt}}};
    GateReport r =
        RunWith(phase, three, state_, host_, std::chrono::milliseconds(300));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.verdicts.at(0).detail.find("1 of 3 members started"),
              std::string::npos)
        << r.verdicts.at(0).detail;
    EXPECT_NE(r.verdicts.at(0).detail.find("unstarted"), std::string::npos);
    EXPECT_GE(r.attempts, 2);
  }
}

TEST_F(GatesTest, EtcdGateReportsTlsReasonAndDiagnostics) {
  Identity server = Issue("etcd-0", &etcd_ca_, {"etcd-0"}, {"10.240.0.10"},
                          true, true, hours(-48), hours(-24));
  TestServer srv(server, etcd_ca_.cert.get(), Etcd());
  host_->MapTunnel("10.240.0.10", 2379, srv.port());
  host_->Script("journalctl -u etcd.service",
                ExecResult{0, "etcd: serving client traffic\n", ""});
  Phase phase{"etcd", "", {}, {}, false, {"etcd-0"}, {}, {}};
  phase.gate = Gate{GateKind::kEtcdHealthy,
                    std::chrono::milliseconds(100),
                    {},
                    2379,
                    "etcd ok"};
  Topology one{
      {GateHost{"etcd-0", "10.240.0.10", {Role::kEtcd}, std::nullopt}}};
  GateReport r =
      RunWith(phase, one, state_, host_, std::chrono::milliseconds(100));
  ASSERT_FALSE(r.ok);
  const GateVerdict& v = r.verdicts.at(0);
  EXPECT_EQ(v.host, "etcd-0");
  EXPECT_EQ(v.unit, "etcd");
  EXPECT_NE(v.detail.find("certificate expired on"), std::string::npos)
      << v.detail;
  EXPECT_NE(v.diagnostics.find("serving client traffic"), std::string::npos);
  std::string text = FormatGateFailure(r);
  EXPECT_NE(text.find("etcd-0 (etcd): /health: certificate expired on"),
            std::string::npos)
      << text;
}

TEST_F(GatesTest, NodesReadyAndApiserverReadyWithTheAdminCertificate) {
  Identity api = Issue("kube-apiserver", &kube_ca_, {"kubernetes"},
                       {"10.240.0.20"}, true, false);
  std::string nodes = R"({"items":[
    {"metadata":{"name":"w-0"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
    {"metadata":{"name":"w-1"},"status":{"conditions":[{"type":"Ready","status":"False",
      "message":"container runtime network not ready"}]}}]})";
  TestServer srv(api, kube_ca_.cert.get(), [&](const TestServer::Request& r) {
    if (r.path == "/readyz") return std::pair{200, std::string("ok")};
    if (r.path == "/api/v1/nodes") return std::pair{200, nodes};
    return std::pair{404, std::string("{}")};
  });
  host_->MapTunnel("10.240.0.20", 6443, srv.port());
  Topology topo{
      {GateHost{"cp-0", "10.240.0.20", {Role::kControlplane}, std::nullopt},
       GateHost{"w-0", "10.240.0.30", {Role::kWorker}, std::nullopt},
       GateHost{"w-1", "10.240.0.31", {Role::kWorker}, std::nullopt}}};

  Phase api_phase{"kube-apiserver", "", {}, {}, false, {"cp-0"}, {}, {}};
  api_phase.gate = Gate{
      GateKind::kApiserverReady, std::chrono::milliseconds(1000), {}, 6443, ""};
  GateReport ready =
      RunWith(api_phase, topo, state_, host_, std::chrono::milliseconds(1000));
  EXPECT_TRUE(ready.ok) << FormatGateFailure(ready);

  Phase workers{"workers", "", {}, {}, false, {"w-0", "w-1"}, {}, {}};
  workers.gate = Gate{
      GateKind::kNodesReady, std::chrono::milliseconds(200), {}, 0, "nodes"};
  GateReport r =
      RunWith(workers, topo, state_, host_, std::chrono::milliseconds(200));
  ASSERT_FALSE(r.ok);
  ASSERT_EQ(r.verdicts.size(), 1u);
  EXPECT_EQ(r.verdicts[0].host, "cluster");
  EXPECT_NE(r.verdicts[0].detail.find(
                "w-1 Ready=False (container runtime network not ready)"),
            std::string::npos)
      << r.verdicts[0].detail;
  EXPECT_EQ(r.verdicts[0].detail.find("w-0"), std::string::npos);
}

TEST_F(GatesTest, HealthzSpeaksTlsWithoutVerifyingSelfSignedCerts) {
  Identity self = Issue("kube-scheduler@1700000000", nullptr, {"localhost"}, {},
                        true, false);
  TestServer srv(self, nullptr, [](const TestServer::Request& r) {
    return r.path == "/healthz" ? std::pair{200, std::string("ok")}
                                : std::pair{404, std::string()};
  });
  host_->MapTunnel("127.0.0.1", 10259, srv.port());
  Topology topo{
      {GateHost{"cp-0", "10.240.0.20", {Role::kControlplane}, std::nullopt}}};
  Phase phase{"kube-scheduler", "", {}, {}, false, {"cp-0"}, {}, {}};
  phase.gate =
      Gate{GateKind::kHealthz, std::chrono::milliseconds(1000), {}, 10259, ""};
  GateReport r =
      RunWith(phase, topo, state_, host_, std::chrono::milliseconds(1000));
  EXPECT_TRUE(r.ok) << FormatGateFailure(r);
  EXPECT_NE(r.verdicts.at(0).detail.find(":10259/healthz ok"),
            std::string::npos);
}

// controller-manager and scheduler start in one phase: its gate wants both
// units up, both health ports, and each one's leader Lease with a holder.
TEST_F(GatesTest, ControllerManagerAndSchedulerGateWantsHealthAndLeases) {
  Identity self = Issue("kube-scheduler@1700000000", nullptr, {"localhost"}, {},
                        true, false);
  TestServer health(self, nullptr, [](const TestServer::Request& r) {
    return r.path == "/healthz" ? std::pair{200, std::string("ok")}
                                : std::pair{404, std::string()};
  });
  host_->MapTunnel("127.0.0.1", 10257, health.port());
  host_->MapTunnel("127.0.0.1", 10259, health.port());
  Identity api = Issue("kube-apiserver", &kube_ca_, {"kubernetes"},
                       {"10.240.0.20"}, true, false);
  std::mutex mu;
  std::map<std::string, std::string> holders;  // lease -> holderIdentity
  TestServer srv(api, kube_ca_.cert.get(), [&](const TestServer::Request& r) {
    std::lock_guard lock(mu);
    const std::string prefix =
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/";
    auto it = r.path.starts_with(prefix)
                  ? holders.find(r.path.substr(prefix.size()))
                  : holders.end();
    if (it == holders.end()) return std::pair{404, std::string("{}")};
    return std::pair{
        200, nlohmann::json{{"spec", {{"holderIdentity", it->second}}}}.dump()};
  });
  host_->MapTunnel("10.240.0.20", 6443, srv.port());
  for (const char* u : {"kube-controller-manager", "kube-scheduler"}) {
    FakeUnit& unit = host_->units[u];
    unit.active_state = "active";
    unit.sub_state = "running";
  }
  Topology topo{
      {GateHost{"cp-0", "10.240.0.20", {Role::kControlplane}, std::nullopt}}};
  Phase phase{
      "controller-manager-scheduler", "", {}, {}, false, {"cp-0"}, {}, {}};
  phase.gate = Gate{GateKind::kHealthz,
                    std::chrono::milliseconds(300),
                    {"kube-controller-manager", "kube-scheduler"},
                    0,
                    ""};
  auto detail_of = [](const GateReport& r, const std::string& host) {
    for (const GateVerdict& v : r.verdicts)
      if (v.host == host) return v.detail;
    return std::string("no verdict for " + host);
  };

  holders["kube-controller-manager"] = "cp-0_1";
  GateReport one =
      RunWith(phase, topo, state_, host_, std::chrono::milliseconds(300));
  ASSERT_FALSE(one.ok);
  EXPECT_NE(
      detail_of(one, "cluster").find("kube-scheduler: no leader lease yet"),
      std::string::npos)
      << detail_of(one, "cluster");

  holders["kube-scheduler"] = "";
  GateReport nobody =
      RunWith(phase, topo, state_, host_, std::chrono::milliseconds(300));
  ASSERT_FALSE(nobody.ok);
  EXPECT_NE(detail_of(nobody, "cluster")
                .find("kube-scheduler: its leader lease has no holder"),
            std::string::npos)
      << detail_of(nobody, "cluster");

  holders["kube-scheduler"] = "cp-0_2";
  GateReport ok =
      RunWith(phase, topo, state_, host_, std::chrono::milliseconds(2000));
  ASSERT_TRUE(ok.ok) << FormatGateFailure(ok);
  EXPECT_NE(detail_of(ok, "cp-0").find(":10257/healthz ok, :10259/healthz ok"),
            std::string::npos)
      << detail_of(ok, "cp-0");
  EXPECT_EQ(detail_of(ok, "cluster"),
            "kube-controller-manager lease held by cp-0_1, kube-scheduler "
            "lease held by cp-0_2");
}

TEST_F(GatesTest, RbacApplyIsIdempotentAndTheGateSeesTheObjects) {
  Identity api = Issue("kube-apiserver", &kube_ca_, {"kubernetes"},
                       {"10.240.0.20"}, true, false);
  std::mutex mu;
  std::set<std::string> stored;
  std::vector<std::string> bodies;
  TestServer srv(api, kube_ca_.cert.get(), [&](const TestServer::Request& r) {
    const std::string& method = r.method;
    const std::string& path = r.path;
    const std::string& body = r.body;
    std::lock_guard lock(mu);
    if (method == "POST") {
      auto j = nlohmann::json::parse(body);
      std::string key = path + "/" + j["metadata"]["name"].get<std::string>();
      bodies.push_back(body);
      if (!stored.insert(key).second) return std::pair{409, std::string("{}")};
      return std::pair{201, body};
    }
    return stored.contains(path) ? std::pair{200, std::string("{}")}
                                 : std::pair{404, std::string("{}")};
  });
  host_->MapTunnel("10.240.0.20", 6443, srv.port());
  std::string manifest = R"(apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  annotations:
    rbac.authorization.kubernetes.io/autoupdate: "true"
  name: system:kube-apiserver-to-kubelet
rules:
  - apiGroups: [""]
    resources: [nodes/proxy]
    verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:kube-apiserver-to-kubelet
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:kube-apiserver-to-kubelet}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client}]
)";
  auto objects = ParseManifest(manifest, "test");
  ASSERT_TRUE(objects) << objects.error().ToString();
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_EQ((*objects)[1].path(),
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/"
            "system:kube-apiserver-to-kubelet");

  Topology topo{
      {GateHost{"cp-0", "10.240.0.20", {Role::kControlplane}, std::nullopt}}};
  Phase phase{"rbac", "", {}, {}, false, {"cp-0"}, {}, {}};
  phase.gate = Gate{
      GateKind::kRbacPresent, std::chrono::milliseconds(150), {}, 0, "rbac"};
  GateReport before = RunWith(phase, topo, state_, host_,
                              std::chrono::milliseconds(150), manifest);
  EXPECT_FALSE(before.ok);
  EXPECT_NE(before.verdicts.at(0).detail.find(
                "ClusterRole system:kube-apiserver-to-kubelet missing"),
            std::string::npos)
      << before.verdicts.at(0).detail;

  RecordingTransport t("cp-0", host_);
  auto first = ApplyObjects(t, "10.240.0.20", 6443, state_, *objects);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->created.size(), 2u);
  auto second = ApplyObjects(t, "10.240.0.20", 6443, state_, *objects);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->created.empty());
  EXPECT_EQ(second->existing.size(), 2u);
  // Quoted YAML scalars stay strings in the JSON sent.
  EXPECT_NE(bodies.at(0).find(
                R"("rbac.authorization.kubernetes.io/autoupdate":"true")"),
            std::string::npos)
      << bodies.at(0);
  EXPECT_NE(bodies.at(0).find(R"("apiGroups":[""])"), std::string::npos);

  GateReport after = RunWith(phase, topo, state_, host_,
                             std::chrono::milliseconds(1000), manifest);
  EXPECT_TRUE(after.ok) << FormatGateFailure(after);
}

TEST_F(GatesTest, CrashLoopFailsLongBeforeTheDeadline) {
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  Phase phase{"p", "", {}, {}, false, {"a"}, {}, {}};
  phase.gate = Gate{GateKind::kUnitActive,
                    std::chrono::seconds(30),
                    {"kube-apiserver"},
                    0,
                    ""};
  std::vector<ExecResult> polls;
  for (int restarts = 5; restarts < 40; ++restarts) {
    polls.push_back(ExecResult{
        0,
        "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\n"
        "NRestarts=" +
            std::to_string(restarts) + "\n",
        ""});
  }
  auto looping = std::make_shared<FakeHost>();
  looping->Script("systemctl show", polls);
  auto start = std::chrono::steady_clock::now();
  GateReport r =
      RunWith(phase, topo, state_, looping, std::chrono::seconds(30));
  ASSERT_FALSE(r.ok);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(r.verdicts.at(0).hopeless);
  EXPECT_NE(r.verdicts.at(0).detail.find("crash-looping"), std::string::npos);
}

TEST_F(GatesTest, UnitGateSeesRestartCountMoving) {
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  Phase phase{"p", "", {}, {}, false, {"a"}, {}, {}};
  phase.gate = Gate{GateKind::kUnitActive,
                    std::chrono::milliseconds(200),
                    {"kubelet"},
                    0,
                    ""};
  auto show = [](int restarts) {
    return ExecResult{
        0,
        "LoadState=loaded\nActiveState=active\nSubState=running\nNRestarts=" +
            std::to_string(restarts) + "\n",
        ""};
  };
  // Active at every poll, but the restart count keeps moving: it crashes
  // between polls.
  auto moving = std::make_shared<FakeHost>();
  moving->Script("systemctl show",
                 {show(2), show(3), show(4), show(5), show(6), show(7), show(8),
                  show(9), show(10), show(11), show(12), show(13), show(14),
                  show(15), show(16), show(17), show(18), show(19)});
  GateReport r =
      RunWith(phase, topo, state_, moving, std::chrono::milliseconds(200));
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.verdicts.at(0).detail.find("crash-looping"), std::string::npos)
      << r.verdicts.at(0).detail;
  EXPECT_NE(
      r.verdicts.at(0).diagnostics.find("systemctl status kubelet.service"),
      std::string::npos);

  auto steady = std::make_shared<FakeHost>();
  steady->Script("systemctl show", show(2));
  GateReport ok =
      RunWith(phase, topo, state_, steady, std::chrono::milliseconds(1000));
  EXPECT_TRUE(ok.ok) << FormatGateFailure(ok);
  EXPECT_GE(ok.attempts, 2);  // one poll cannot tell "steady"

  auto missing = std::make_shared<FakeHost>();
  missing->Script(
      "systemctl show",
      ExecResult{0,
                 "LoadState=not-found\nActiveState=inactive\nSubState=dead\n"
                 "NRestarts=0\n",
                 ""});
  GateReport m =
      RunWith(phase, topo, state_, missing, std::chrono::milliseconds(60));
  EXPECT_NE(m.verdicts.at(0).detail.find("kubelet: not installed"),
            std::string::npos);
}

// systemd's ActiveEnterTimestampMonotonic against the host's uptime: a unit up
// for longer than the settle window passes on the first poll; one that became
// active 0.2 s ago is watched until the window has passed.
TEST_F(GatesTest, UnitUpLongerThanSettleByItsOwnTimestampPassesAtOnce) {
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  Phase phase{"p", "", {}, {}, false, {"a"}, {}, {}};
  phase.gate =
      Gate{GateKind::kUnitActive, std::chrono::seconds(5), {"etcd"}, 0, ""};
  auto snapshot = [](const std::string& active_enter_us) {
    return ExecResult{
        0,
        "5000.00 9000.00\nLoadState=loaded\nActiveState=active\n"
        "SubState=running\nNRestarts=0\nActiveEnterTimestampMonotonic=" +
            active_enter_us + "\n",
        ""};
  };
  auto run = [&](std::shared_ptr<FakeHost> fake) {
    TransportPool pool(AllHostsAre(fake));
    GateContext ctx;
    ctx.topology = &topo;
    ctx.state_dir = state_;
    ctx.transports = &pool;
    ctx.poll = std::chrono::milliseconds(20);
    ctx.settle = std::chrono::milliseconds(1000);
    return RunGate(phase, ctx);
  };

  auto old = std::make_shared<FakeHost>();
  old->Script("systemctl show", snapshot("1000000"));  // active since second 1
  GateReport r = run(old);
  EXPECT_TRUE(r.ok) << FormatGateFailure(r);
  EXPECT_EQ(r.attempts, 1);

  auto fresh = std::make_shared<FakeHost>();
  fresh->Script("systemctl show", snapshot("4999800000"));  // 0.2 s before now
  auto start = std::chrono::steady_clock::now();
  GateReport f = run(fresh);
  EXPECT_TRUE(f.ok) << FormatGateFailure(f);
  EXPECT_GE(f.attempts, 2);
  // The host clock in the fake stands still, so only our own watch can pass it.
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(1000));
}

TEST_F(GatesTest, UnitGateLooksAgainWhenSystemdSaysTheUnitWillHaveSettled) {
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  Phase phase{"p", "", {}, {}, false, {"a"}, {}, {}};
  phase.gate =
      Gate{GateKind::kUnitActive, std::chrono::seconds(6), {"etcd"}, 0, ""};
  auto snapshot = [](const std::string& uptime) {
    return ExecResult{0,
                      uptime +
                          " 9000.00\nLoadState=loaded\nActiveState=active\n"
                          "SubState=running\nNRestarts=0\n"
                          "ActiveEnterTimestampMonotonic=4999900000\n",
                      ""};
  };
  // Up 0.1 s at the first look, 1.1 s at the second.
  auto fake = std::make_shared<FakeHost>();
  fake->Script("systemctl show", {snapshot("5000.00"), snapshot("5001.00")});
  TransportPool pool(AllHostsAre(fake));
  GateContext ctx;
  ctx.topology = &topo;
  ctx.state_dir = state_;
  ctx.transports = &pool;
  // A poll longer than the deadline: only the unit's own "0.9 s to go" can
  // bring the second look before it.
  ctx.poll = std::chrono::seconds(60);
  ctx.settle = std::chrono::milliseconds(1000);
  auto start = std::chrono::steady_clock::now();
  GateReport r = RunGate(phase, ctx);
  EXPECT_TRUE(r.ok) << FormatGateFailure(r);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(GatesTest, UnitGateDoesNotLookBeforeSystemdSaysTheUnitCanHaveSettled) {
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  Phase phase{"p", "", {}, {}, false, {"a"}, {}, {}};
  phase.gate =
      Gate{GateKind::kUnitActive, std::chrono::seconds(6), {"etcd"}, 0, ""};
  auto snapshot = [](const std::string& uptime) {
    return ExecResult{0,
                      uptime +
                          " 9000.00\nLoadState=loaded\nActiveState=active\n"
                          "SubState=running\nNRestarts=0\n"
                          "ActiveEnterTimestampMonotonic=4999900000\n",
                      ""};
  };
  // Up 0.1 s at the first look; the second look's answer says 1.1 s, so a
  // look that came early (a poll later) would pass at once.
  auto fake = std::make_shared<FakeHost>();
  fake->Script("systemctl show", {snapshot("5000.00"), snapshot("5001.00")});
  auto log = std::make_shared<CallLog>();
  TransportPool pool(AllHostsAre(fake, log));
  GateContext ctx;
  ctx.topology = &topo;
  ctx.state_dir = state_;
  ctx.transports = &pool;
  ctx.poll = std::chrono::milliseconds(10);
  ctx.settle = std::chrono::milliseconds(1000);
  auto start = std::chrono::steady_clock::now();
  GateReport r = RunGate(phase, ctx);
  EXPECT_TRUE(r.ok) << FormatGateFailure(r);
  EXPECT_EQ(r.attempts, 2);
  // The second look waited for the unit's own "0.9 s to go", not the 10 ms
  // poll.
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(900));
  int looks = 0;
  for (const RecordedCall& c : log->calls())
    looks += c.detail.find("systemctl show") != std::string::npos;
  EXPECT_EQ(looks, 2);
}

TEST(ParseUnitSnapshot, UptimeLineThenBlocks) {
  UnitSnapshot s = ParseUnitSnapshot(
      "123.45 678.90\nActiveState=active\nActiveEnterTimestampMonotonic=42\n\n"
      "ActiveState=failed\n");
  EXPECT_EQ(s.host_now_us, 123450000);
  ASSERT_EQ(s.units.size(), 2u);
  EXPECT_EQ(s.units[0].active_enter_us, 42);
  EXPECT_EQ(s.units[1].active_state, "failed");
  UnitSnapshot without = ParseUnitSnapshot("ActiveState=active\n");
  EXPECT_EQ(without.host_now_us, 0);
  ASSERT_EQ(without.units.size(), 1u);
}

ExecResult Now(double offset) {
  double t = std::chrono::duration<double>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count() +
             offset;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9f\n", t);
  return ExecResult{0, buf, ""};
}

TEST_F(GatesTest, Preflight) {
  Topology topo{{GateHost{
      "cp-0", "10.0.0.1", {Role::kEtcd, Role::kControlplane}, std::nullopt}}};
  Phase phase{"preflight", "", {}, {}, false, {"cp-0"}, {}, {}};
  phase.gate =
      Gate{GateKind::kPreflight, std::chrono::milliseconds(50), {}, 0, ""};
  auto fake = [&](double skew, std::string ss, std::string arch = "x86_64") {
    auto f = std::make_shared<FakeHost>();
    f->Script("uname -m", ExecResult{0, arch + "\n", ""});
    f->Script("systemctl --version",
              ExecResult{0, "systemd 252 (252.36-1~deb12u1)\n+PAM\n", ""});
    f->Script("date +%s.%N", Now(skew));
    f->Script("ss -Htlnp", ExecResult{0, std::move(ss), ""});
    return f;
  };
  std::string ours =
      "LISTEN 0 4096 10.0.0.1:2379 0.0.0.0:* users:((\"etcd\",pid=7,fd=8))\n"
      "LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:((\"sshd\",pid=1,fd=3))\n";
  GateReport ok = RunWith(phase, topo, state_, fake(0, ours),
                          std::chrono::milliseconds(50));
  EXPECT_TRUE(ok.ok) << FormatGateFailure(ok);
  EXPECT_NE(ok.verdicts[0].detail.find("systemd 252"), std::string::npos);

  GateReport busy =
      RunWith(phase, topo, state_,
              fake(0, ours + "LISTEN 0 511 0.0.0.0:6443 0.0.0.0:* "
                             "users:((\"nginx\",pid=9,fd=6))\n"),
              std::chrono::milliseconds(50));
  ASSERT_FALSE(busy.ok);
  EXPECT_NE(busy.verdicts[0].detail.find(
                "port 6443 is held by nginx, not by kube-apiserver"),
            std::string::npos)
      << busy.verdicts[0].detail;

  GateReport skew = RunWith(phase, topo, state_, fake(5, ours),
                            std::chrono::milliseconds(50));
  ASSERT_FALSE(skew.ok);
  EXPECT_NE(
      skew.verdicts[0].detail.find("(host ahead); certificates need < 1 s"),
      std::string::npos)
      << skew.verdicts[0].detail;

  GateContext ctx;
  auto arm = fake(0, ours, "aarch64");
  TransportPool pool(AllHostsAre(arm));
  ctx.topology = &topo;
  ctx.transports = &pool;
  ctx.expected_arch = "x86_64";
  GateReport wrong = RunGate(phase, ctx, std::chrono::milliseconds(50));
  ASSERT_FALSE(wrong.ok);
  EXPECT_NE(wrong.verdicts[0].detail.find(
                "CPU architecture is aarch64 but the artifacts are x86_64"),
            std::string::npos);

  // Hosts of two architectures: each is held to its own hosts[].arch, not to
  // the first artifact's.
  auto mixed = [](const std::string& cp_arch, const std::string& w_arch) {
    auto inv = ParseInventory(
        "cluster: {name: mixed}\nhosts:\n"
        "  - {name: cp-0, address: 10.0.0.1, roles: [etcd, controlplane], "
        "arch: " +
            cp_arch +
            "}\n"
            "  - {name: w-0, address: 10.0.0.2, roles: [worker], arch: " +
            w_arch + "}\n",
        "/mixed.yaml");
    EXPECT_TRUE(inv);
    return Cluster::Resolve(inv ? *inv : Inventory{});
  };
  Cluster arm_cp = mixed("arm64", "amd64");
  ctx.cluster = &arm_cp;
  GateReport own = RunGate(phase, ctx, std::chrono::milliseconds(50));
  EXPECT_TRUE(own.ok) << FormatGateFailure(own);
  Cluster amd_cp = mixed("amd64", "arm64");
  ctx.cluster = &amd_cp;
  ctx.expected_arch = "aarch64";
  GateReport other = RunGate(phase, ctx, std::chrono::milliseconds(50));
  ASSERT_FALSE(other.ok);
  EXPECT_NE(other.verdicts[0].detail.find(
                "CPU architecture is aarch64 but the artifacts are amd64"),
            std::string::npos)
      << other.verdicts[0].detail;
}

TEST_F(GatesTest, PodRoutes) {
  Topology topo{
      {GateHost{
           "w-0", "10.0.0.10", {Role::kWorker}, Cidr::Parse("10.200.0.0/24")},
       GateHost{
           "w-1", "10.0.0.11", {Role::kWorker}, Cidr::Parse("10.200.1.0/24")},
       GateHost{
           "w-2", "10.0.0.12", {Role::kWorker}, Cidr::Parse("10.200.2.0/24")}}};
  Phase phase{"pod-routes", "", {}, {}, false, {"w-0"}, {}, {}};
  phase.gate =
      Gate{GateKind::kPodRoutes, std::chrono::milliseconds(50), {}, 0, ""};
  auto f = std::make_shared<FakeHost>();
  f->Script("ip route", ExecResult{0,
                                   "default via 10.0.0.1 dev eth0\n"
                                   "10.200.1.0/24 via 10.0.0.11 dev eth0\n",
                                   ""});
  GateReport r = RunWith(phase, topo, state_, f, std::chrono::milliseconds(50));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.verdicts[0].detail, "no route to 10.200.2.0/24 (w-2)");
}

TEST_F(GatesTest, GateTakesTheRunsOwnAnswersForItsFirstCheckOnly) {
  Topology topo{
      {GateHost{
           "w-0", "10.0.0.10", {Role::kWorker}, Cidr::Parse("10.200.0.0/24")},
       GateHost{
           "w-1", "10.0.0.11", {Role::kWorker}, Cidr::Parse("10.200.1.0/24")}}};
  Phase phase{"pod-routes", "", {}, {}, false, {"w-0"}, {}, {}};
  phase.gate =
      Gate{GateKind::kPodRoutes, std::chrono::milliseconds(2000), {}, 0, ""};
  ASSERT_EQ(GateCommands(phase), std::vector<std::string>{"ip route"});
  auto f = std::make_shared<FakeHost>();
  f->Script("ip route",
            ExecResult{0, "10.200.1.0/24 via 10.0.0.11 dev eth0\n", ""});
  auto log = std::make_shared<CallLog>();
  TransportPool pool(AllHostsAre(f, log));
  GateContext ctx;
  ctx.topology = &topo;
  ctx.transports = &pool;
  ctx.poll = std::chrono::milliseconds(20);
  auto asked = [&] {
    int n = 0;
    for (const RecordedCall& c : log->calls()) n += c.op == "exec";
    return n;
  };

  // The run's answer has the route: the gate passes without asking.
  GateLook good;
  good.results["ip route"] =
      ExecResult{0, "10.200.1.0/24 via 10.0.0.11 dev eth0\n", ""};
  ctx.gate_looks_by_run["w-0"] = good;
  GateReport r1 = RunGate(phase, ctx);
  EXPECT_TRUE(r1.ok) << FormatGateFailure(r1);
  EXPECT_EQ(asked(), 0);

  // The run's answer lacks it: the first check fails on it, the retry asks
  // the host (which has it) and passes.
  GateLook stale;
  stale.results["ip route"] = ExecResult{0, "default via 10.0.0.1\n", ""};
  ctx.gate_looks_by_run["w-0"] = stale;
  GateReport r2 = RunGate(phase, ctx);
  EXPECT_TRUE(r2.ok) << FormatGateFailure(r2);
  EXPECT_EQ(r2.attempts, 2);
  EXPECT_EQ(asked(), 1);

  // Preflight's facts likewise: taken from the run, nothing asked.
  Phase preflight{"preflight", "", {}, {}, false, {"w-0"}, {}, {}};
  preflight.gate =
      Gate{GateKind::kPreflight, std::chrono::milliseconds(50), {}, 0, ""};
  std::vector<std::string> commands = GateCommands(preflight);
  ASSERT_EQ(commands.size(), 4u);
  GateLook facts;
  facts.asked_from = std::chrono::system_clock::now();
  facts.results[commands[0]] = Now(0);
  facts.results[commands[1]] = ExecResult{0, "x86_64\n", ""};
  facts.results[commands[2]] = ExecResult{0, "systemd 252 (252.36)\n", ""};
  facts.results[commands[3]] = ExecResult{0, "", ""};
  facts.asked_to = std::chrono::system_clock::now();
  ctx.gate_looks_by_run["w-0"] = facts;
  GateReport r3 = RunGate(preflight, ctx);
  EXPECT_TRUE(r3.ok) << FormatGateFailure(r3);
  EXPECT_NE(r3.verdicts[0].detail.find("systemd 252"), std::string::npos);
  EXPECT_EQ(asked(), 1);
}

TEST_F(GatesTest, FilesPresentChecksShaAndMode) {
  Phase phase{"distribute", "", {}, {}, false, {"a"}, {}, {}};
  phase.gate =
      Gate{GateKind::kFilesPresent, std::chrono::milliseconds(50), {}, 0, ""};
  Step s;
  s.host = "a";
  s.kind = StepKind::kRender;
  s.dest = "/etc/x.key";
  s.content = "secret";
  s.sha256 = Sha256Hex("secret");
  s.mode = 0600;
  phase.steps.push_back(s);
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  auto f = std::make_shared<FakeHost>();
  GateReport missing =
      RunWith(phase, topo, state_, f, std::chrono::milliseconds(50));
  EXPECT_EQ(missing.verdicts[0].detail, "missing /etc/x.key");
  f->PutFile("/etc/x.key", "secret", 0644);
  GateReport mode =
      RunWith(phase, topo, state_, f, std::chrono::milliseconds(50));
  EXPECT_EQ(mode.verdicts[0].detail, "mode 644, want 600: /etc/x.key");
  f->PutFile("/etc/x.key", "secret", 0600);
  GateReport ok =
      RunWith(phase, topo, state_, f, std::chrono::milliseconds(50));
  EXPECT_TRUE(ok.ok) << FormatGateFailure(ok);
}

TEST_F(GatesTest, PreparedRunsEveryCheckAgainAndSaysWhatIsMissing) {
  Phase phase{"prepare", "", {}, {}, false, {"a"}, {}, {}};
  phase.gate =
      Gate{GateKind::kPrepared, std::chrono::milliseconds(50), {}, 0, ""};
  auto checked = [](std::string check, std::string description) {
    Step s;
    s.host = "a";
    s.kind = StepKind::kRun;
    s.command = "fix";
    s.check = std::move(check);
    s.description = std::move(description);
    return s;
  };
  phase.steps.push_back(checked("check-modules", "modules"));
  phase.steps.push_back(checked("check-swap", "swap"));
  phase.steps.push_back(checked("check-quiet", "quiet"));
  Step unchecked;
  unchecked.host = "a";
  unchecked.kind = StepKind::kRun;
  unchecked.command = "mkdir -p /x";
  phase.steps.push_back(unchecked);
  Topology topo{{GateHost{"a", "10.0.0.1", {}, std::nullopt}}};
  auto f = std::make_shared<FakeHost>();
  f->Script("check-modules",
            ExecResult{1, "", "kernel modules not loaded: br_netfilter\n"});
  f->Script("check-quiet", ExecResult{3, "", ""});
  GateReport bad =
      RunWith(phase, topo, state_, f, std::chrono::milliseconds(50));
  ASSERT_FALSE(bad.ok);
  ASSERT_EQ(bad.verdicts.size(), 1u);
  EXPECT_EQ(bad.verdicts[0].host, "a");
  EXPECT_EQ(
      bad.verdicts[0].detail,
      "kernel modules not loaded: br_netfilter; quiet: check exited with 3");

  auto fixed = std::make_shared<FakeHost>();
  GateReport ok =
      RunWith(phase, topo, state_, fixed, std::chrono::milliseconds(50));
  EXPECT_TRUE(ok.ok) << FormatGateFailure(ok);
  EXPECT_EQ(ok.verdicts[0].detail, "3 checks pass");
  // Only the checks run: never a fix, never the unchecked command.
  EXPECT_TRUE(std::ranges::none_of(fixed->unknown_commands, [](const auto& c) {
    return c == "fix" || c.starts_with("mkdir");
  }));
}

TEST_F(GatesTest, PkiValidChecksTheCertificateTable) {
  // A real state dir from EnsurePki; the gate must accept it and name a broken
  // file.
  auto inventory = ParseInventory(
      "cluster: {name: gates}\n"
      "hosts:\n"
      "  - {name: controller-0, address: 10.240.0.10, roles: [etcd, "
      "controlplane]}\n"
      "  - {name: node-0, address: 10.240.0.20, roles: [worker]}\n",
      state_ / "inventory.yaml");
  ASSERT_TRUE(inventory);
  Cluster cluster = Cluster::Resolve(*inventory);
  fs::path state = state_ / "real";
  ASSERT_TRUE(EnsurePki(cluster, state));
  Phase phase{"pki", "", {}, {}, true, {}, {}, {}};
  phase.gate =
      Gate{GateKind::kPkiValid, std::chrono::milliseconds(50), {}, 0, ""};
  Topology topo;
  auto run = [&](const Cluster* c) {
    TransportPool pool(AllHostsAre(host_));
    GateContext ctx;
    ctx.topology = &topo;
    ctx.cluster = c;
    ctx.state_dir = state;
    ctx.transports = &pool;
    ctx.poll = std::chrono::milliseconds(20);
    ctx.settle = std::chrono::milliseconds(0);
    return RunGate(phase, ctx, std::chrono::milliseconds(50));
  };
  GateReport ok = run(&cluster);
  EXPECT_TRUE(ok.ok) << FormatGateFailure(ok);

  // apiserver-etcd-client lives in pki/ but is signed by etcd-ca: the table
  // knows that.
  Identity health =
      Issue("hardway-etcd-healthcheck", &etcd_ca_, {}, {}, false, true);
  Write(state / "pki/admin.key", PrivateKeyToPem(health.key.get()));
  GateReport bad = run(&cluster);
  ASSERT_FALSE(bad.ok);
  EXPECT_NE(bad.verdicts[0].detail.find("admin"), std::string::npos)
      << bad.verdicts[0].detail;
  EXPECT_EQ(bad.verdicts[0].detail.find("apiserver-etcd-client"),
            std::string::npos)
      << bad.verdicts[0].detail;

  GateReport no_cluster = run(nullptr);
  EXPECT_FALSE(no_cluster.ok);
}

TEST(ParseHttpResponse, ChunkedAndContentLength) {
  auto chunked = ParseHttpResponse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
      "chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
      false);
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->body, "Wikipedia");
  EXPECT_FALSE(ParseHttpResponse(
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false));
  auto cl = ParseHttpResponse("HTTP/1.1 503 X\r\ncontent-length: 3\r\n\r\nabc",
                              false);
  ASSERT_TRUE(cl);
  EXPECT_EQ(cl->status, 503);
  EXPECT_EQ(cl->body, "abc");
}

TEST(ParseSystemctlShow, Blocks) {
  auto s = ParseSystemctlShow(
      "ActiveState=active\nSubState=running\nNRestarts=0\n\nNRestarts="
      "4\nActiveState=activating\n"
      "SubState=auto-restart\nUnitFileState=enabled\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].sub_state, "running");
  EXPECT_EQ(s[1].n_restarts, 4);
  EXPECT_EQ(s[1].unit_file_state, "enabled");
}

}  // namespace
}  // namespace hardway
