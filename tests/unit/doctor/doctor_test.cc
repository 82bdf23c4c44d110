// RunDoctor end to end against fake hosts: a 2-controller + 1-worker cluster
// whose files come from a real state dir and plan, whose TLS servers run on
// 127.0.0.1 with the state dir's certificates (reached through FakeHost
// tunnels), broken one fault at a time. Asserts the exact commands doctor
// issues (read-only, nothing uploaded), and that each fault is named with its
// host and cause.
#include "doctor/doctor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "../plan/plan_test_util.h"
#include "doctor/gather.h"
#include "doctor_test_util.h"
#include "pki/kubeconfig.h"
#include "remote/recording_transport.h"
#include "trust/links.h"
#include "util/files.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using ::hardway::testing::Issue;
using ::hardway::testing::MakeCluster;
using ::hardway::testing::MustBuild;
using ::hardway::testing::StateFor;
using ::hardway::testing::TlsServer;
using std::chrono::hours;
using ::testing::HasSubstr;
using ::testing::StartsWith;

[[maybe_unused]] auto* const kCleaner = ::testing::AddGlobalTestEnvironment(
    new ::hardway::testing::TempRootCleaner);

const std::string kInventory = R"(cluster: {name: doc}
hosts:
  - {name: cp-0, address: 10.0.0.10, roles: [etcd, controlplane]}
  - {name: cp-1, address: 10.0.0.11, roles: [etcd, controlplane]}
  - {name: cp-2, address: 10.0.0.12, roles: [etcd, controlplane]}
  - {name: w-0, address: 10.0.0.20, roles: [worker]}
)";

struct Pair {
  X509Ptr cert;
  KeyPtr key;
};

class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(MakeCluster(kInventory, "doc"));
    state_ = StateFor(*cluster_);
    plan_ = std::make_unique<Plan>(MustBuild(*cluster_));
    for (const char* h : {"cp-0", "cp-1", "cp-2", "w-0"})
      hosts_[h] = std::make_shared<FakeHost>();
    // Every planned file on its host, exactly as `up` leaves it.
    for (const Phase& phase : plan_->phases) {
      for (const Step& s : phase.steps) {
        if (s.host.empty()) continue;
        FakeHost& h = *hosts_.at(s.host);
        if (s.kind == StepKind::kRender) {
          h.PutFile(s.dest, s.content, s.mode, s.owner);
        } else if (s.kind == StepKind::kUpload) {
          auto bytes = ReadFile(s.source);
          h.PutFile(s.dest, bytes ? *bytes : "binary " + s.dest, s.mode,
                    s.owner);
        } else if (s.kind == StepKind::kSystemd) {
          FakeUnit& u = h.units[s.unit];
          u.enabled = true;
          u.active_state = "active";
          u.sub_state = "running";
          u.starts = 1;
        }
      }
    }
    ca_ = Load("ca");
    etcd_ca_ = Load("etcd/ca");
    // The servers of the cluster, presenting the state dir's certificates and
    // requiring client certificates from the CA each trusts.
    for (int i = 0; i < 3; ++i) {
      std::string cp = "cp-" + std::to_string(i);
      etcd_[i] = Serve("etcd/server-" + cp, etcd_ca_);
      peer_[i] = Serve("etcd/peer-" + cp, etcd_ca_);
      api_[i] = Serve("apiserver", ca_);
    }
    kubelet_ = Serve("kubelet-w-0", ca_);
    MapTunnels();
    log_ = std::make_shared<CallLog>();
  }

  Pair Load(const std::string& stem) {
    auto cert = LoadCertificate(state_ / "pki" / (stem + ".crt"));
    auto key = LoadPrivateKey(state_ / "pki" / (stem + ".key"));
    EXPECT_TRUE(cert && key) << stem;
    return Pair{std::move(*cert), std::move(*key)};
  }

  // The apiserver answers a bad client certificate with 401, as
  // kube-apiserver does; etcd and the kubelet end the handshake.
  std::unique_ptr<TlsServer> Serve(const std::string& stem, const Pair& ca,
                                   X509* cert_override = nullptr) {
    Pair id = Load(stem);
    return std::make_unique<TlsServer>(
        cert_override ? cert_override : id.cert.get(), id.key.get(),
        ca.cert.get(), stem == "apiserver");
  }

  static std::string Address(int i) { return "10.0.0.1" + std::to_string(i); }

  // What each host reaches: every etcd client port, the other members' peer
  // ports, its own apiserver (at 127.0.0.1 and its address), the kubelet; the
  // worker reaches the API endpoint (cp-0).
  void MapTunnels() {
    for (int i = 0; i < 3; ++i) {
      FakeHost& h = *hosts_.at("cp-" + std::to_string(i));
      for (int m = 0; m < 3; ++m) {
        h.MapTunnel(Address(m), 2379, etcd_[m]->port());
        if (m != i) h.MapTunnel(Address(m), 2380, peer_[m]->port());
      }
      h.MapTunnel("127.0.0.1", 6443, api_[i]->port());
      h.MapTunnel(Address(i), 6443, api_[i]->port());
      h.MapTunnel("10.0.0.20", 10250, kubelet_->port());
    }
    hosts_.at("w-0")->MapTunnel("10.0.0.10", 6443, api_[0]->port());
  }

  TransportFactory Factory(std::set<std::string> unreachable = {}) {
    return [this, unreachable](
               const std::string& host) -> Result<std::unique_ptr<Transport>> {
      if (unreachable.contains(host)) {
        return Fail(ErrorKind::kConnection,
                    "connection refused (is sshd running?)",
                    host + " (root@10.0.0.20:22)");
      }
      return std::unique_ptr<Transport>(
          std::make_unique<RecordingTransport>(host, hosts_.at(host), log_));
    };
  }

  // `clock`: seconds a host's clock is ahead of ours (default 0).
  std::vector<Finding> Run(const std::string& only = "",
                           std::set<std::string> unreachable = {},
                           std::map<std::string, double> clock = {}) {
    const double now = std::chrono::duration<double>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    for (auto& [name, h] : hosts_) {
      char date[64];
      std::snprintf(date, sizeof date, "%.9f\n",
                    now + (clock.contains(name) ? clock.at(name) : 0.0));
      h->Script("date +%s.%N", ExecResult{0, date, ""});
    }
    DoctorOptions options;
    options.state_dir = state_;
    options.host = only;
    options.link_timeout = std::chrono::milliseconds(2000);
    return RunDoctor(*cluster_, *plan_, options, Factory(unreachable));
  }

  static const Finding* Find(const std::vector<Finding>& all,
                             const std::string& check,
                             const std::string& subject) {
    for (const Finding& f : all) {
      if (f.check == check && f.subject == subject) return &f;
    }
    return nullptr;
  }

  static std::vector<std::string> Failed(const std::vector<Finding>& all) {
    std::vector<std::string> out;
    for (const Finding& f : all) {
      if (f.verdict != Verdict::kOk)
        out.push_back(f.check + " | " + f.subject + " | " + f.cause);
    }
    return out;
  }

  // A kubeconfig like the state dir's, with another client certificate.
  std::string KubeconfigWith(const std::string& name, X509* cert) {
    auto yaml = ReadFile(state_ / "kubeconfigs" / (name + ".kubeconfig"));
    EXPECT_TRUE(yaml);
    auto creds = ParseKubeconfigCredentials(*yaml, name);
    EXPECT_TRUE(creds);
    return RenderKubeconfig(
        KubeconfigContent{.cluster_name = "doc",
                          .server = creds->server,
                          .user = "system:node:w-0",
                          .ca_pem = creds->ca_pem,
                          .cert_pem = CertificateToPem(cert),
                          .key_pem = creds->key_pem});
  }

  X509Ptr Reissue(const std::string& stem, const Pair& ca,
                  std::vector<std::string> ips, bool server, bool client,
                  hours from, hours to) {
    Pair leaf = Load(stem);
    CertInfo info = InspectCertificate(leaf.cert.get());
    ::hardway::testing::Identity signer{X509Ptr(X509_dup(ca.cert.get())),
                                        nullptr};
    EVP_PKEY_up_ref(ca.key.get());
    signer.key.reset(ca.key.get());
    auto id = Issue(info.cn, &signer, std::move(ips), server, client, from, to,
                    leaf.key.get());
    return std::move(id.cert);
  }

  std::vector<std::string> Reads(const std::string& host) const {
    std::vector<std::string> out;
    for (const RecordedCall& c : log_->calls(host)) {
      if (c.op == "read") out.push_back(c.detail);
    }
    return out;
  }

  std::unique_ptr<Cluster> cluster_;
  fs::path state_;
  std::unique_ptr<Plan> plan_;
  std::map<std::string, std::shared_ptr<FakeHost>> hosts_;
  std::shared_ptr<CallLog> log_;
  Pair ca_, etcd_ca_;
  std::unique_ptr<TlsServer> etcd_[3], peer_[3], api_[3], kubelet_;
};

TEST_F(DoctorTest, AHealthyClusterIsCleanAndDoctorOnlyReads) {
  std::vector<Finding> all = Run();
  EXPECT_THAT(Failed(all), ::testing::IsEmpty());
  EXPECT_EQ(DoctorExitCode(all), 0);

  // One clock row per host, and one for the hosts against each other.
  std::vector<std::string> clocks;
  for (const Finding& f : all)
    if (f.check == "clock") clocks.push_back(f.subject);
  EXPECT_EQ(clocks.size(), 5u);
  EXPECT_EQ(std::ranges::count_if(
                clocks,
                [](const std::string& s) { return s.starts_with("between "); }),
            1);

  // Every link of the cluster was tested live.
  size_t links = 0;
  for (const Finding& f : all) {
    if (f.check != "link") continue;
    ++links;
    EXPECT_THAT(f.cause, HasSubstr("mutual TLS to ")) << f.subject;
  }
  EXPECT_EQ(links, TrustLinks(*cluster_).size());
  EXPECT_GT(etcd_[0]->requests(), 0);
  EXPECT_GT(peer_[1]->requests(), 0);
  EXPECT_GT(kubelet_->requests(), 0);

  // The exact commands: clock, one stat, one systemctl show; no upload, no
  // read (everything matched the state dir), nothing the fake did not know.
  std::vector<HostWork> work =
      PlanHostWork(*plan_, TrustLinks(*cluster_),
                   {"cp-0", "cp-1", "cp-2", "w-0"}, {"cp-0", "cp-1", "cp-2"});
  for (const HostWork& w : work) {
    std::vector<std::string> paths;
    for (const auto& [dest, step] : w.files) paths.push_back(dest);
    std::vector<std::string> execs;
    size_t shas = 0;
    for (const RecordedCall& c : log_->calls(w.host)) {
      EXPECT_NE(c.op, "upload") << c.detail;
      EXPECT_NE(c.op, "read") << c.detail;
      if (c.op == "exec") execs.push_back(c.detail);
      if (c.op == "sha256") {
        ++shas;
        EXPECT_EQ(c.paths, paths);
      }
    }
    EXPECT_EQ(shas, 1u);
    EXPECT_EQ(execs,
              (std::vector<std::string>{kClockCommand, StatCommand(paths),
                                        UnitsCommand(w.units)}))
        << w.host;
    EXPECT_THAT(hosts_.at(w.host)->unknown_commands, ::testing::IsEmpty());
  }
  // Every file as `up` left it: still there, same bytes.
  EXPECT_EQ(
      hosts_.at("cp-0")->files.at("/etc/kubernetes/pki/apiserver.key").mode,
      0600u);

  // Certificates: each deployment of every link's credentials.
  const Finding* api = Find(all, "cert", "apiserver cert on cp-1");
  ASSERT_NE(api, nullptr);
  EXPECT_THAT(api->cause, HasSubstr("SANs cover 127.0.0.1, 10.0.0.11"));
  EXPECT_NE(Find(all, "cert",
                 "kubelet-w-0 cert in /etc/kubernetes/kubelet.conf on w-0"),
            nullptr);
  EXPECT_NE(Find(all, "cert",
                 "kubelet-w-0 cert in /var/lib/kubelet/pki/kubelet.crt on w-0"),
            nullptr);
  EXPECT_NE(Find(all, "cert", "admin cert in the state dir"), nullptr);

  // Every certificate the plan puts on a host has exactly one row, whether a
  // link presents it (by name) or not (by file: the CAs, front-proxy-client).
  std::multiset<std::string> subjects;
  for (const Finding& f : all)
    if (f.check == "cert") subjects.insert(f.subject);
  size_t planned = 0;
  for (const HostWork& w : work) {
    for (const HostWork::PlannedCert& c : w.certs) {
      ++planned;
      EXPECT_EQ(
          subjects.count(c.stem + " cert on " + w.host) +
              subjects.count(c.stem + " cert in " + c.dest + " on " + w.host),
          1u)
          << c.dest << " on " << w.host;
    }
  }
  // ca on 4 hosts, etcd/ca and front-proxy-ca on 3, and the 3 controllers'
  // front-proxy-client, apiserver, apiserver-etcd-client and
  // apiserver-kubelet-client, etcd server and peer; the kubelet's.
  EXPECT_EQ(planned, 4u + 3 + 3 + 3 * 6 + 1);
  const Finding* ca =
      Find(all, "cert", "ca cert in /etc/kubernetes/pki/ca.crt on w-0");
  ASSERT_NE(ca, nullptr);
  EXPECT_THAT(ca->cause, StartsWith("expires "));
  const Finding* proxy = Find(
      all, "cert",
      "front-proxy-client cert in /etc/kubernetes/pki/front-proxy-client.crt "
      "on cp-2");
  ASSERT_NE(proxy, nullptr);
  EXPECT_THAT(proxy->cause, HasSubstr("key matches"));
  EXPECT_NE(Find(all, "cert",
                 "etcd/ca cert in /etc/kubernetes/pki/etcd/ca.crt on cp-1"),
            nullptr);
  EXPECT_NE(
      Find(all, "cert",
           "front-proxy-ca cert in /etc/kubernetes/pki/front-proxy-ca.crt "
           "on cp-0"),
      nullptr);
}

// cp-0 0.6 s ahead of us and w-0 0.6 s behind: each passes against this
// machine, but they are 1.2 s apart, and the row says which two.
TEST_F(DoctorTest, ClocksTooFarApartBetweenHosts) {
  std::vector<Finding> all = Run("", {}, {{"cp-0", 0.6}, {"w-0", -0.6}});
  EXPECT_EQ(Find(all, "clock", "cp-0")->verdict, Verdict::kOk);
  EXPECT_EQ(Find(all, "clock", "w-0")->verdict, Verdict::kOk);
  EXPECT_THAT(Failed(all),
              ::testing::ElementsAre(StartsWith(
                  "clock | between w-0 and cp-0 | cp-0's clock is 1.2 s ahead "
                  "of w-0's (± ")));
  EXPECT_EQ(DoctorExitCode(all), 5);
}

// No link presents front-proxy-client or a CA, yet they expire like any
// certificate: a row names the certificate, its file and host.
TEST_F(DoctorTest, ExpiringCertificatesOutsideEveryLinkAreNamed) {
  Pair proxy_ca = Load("front-proxy-ca");
  X509Ptr expired = Reissue("front-proxy-client", proxy_ca, {}, false, true,
                            hours(-24 * 40), hours(-24 * 3));
  hosts_.at("cp-1")->PutFile("/etc/kubernetes/pki/front-proxy-client.crt",
                             CertificateToPem(expired.get()));
  // The cluster CA with its own name and key but ten days left, on w-0.
  ::hardway::testing::Identity short_ca =
      Issue(InspectCertificate(ca_.cert.get()).cn, nullptr, {}, false, false,
            hours(-1), hours(24 * 10), ca_.key.get());
  hosts_.at("w-0")->PutFile("/etc/kubernetes/pki/ca.crt",
                            CertificateToPem(short_ca.cert.get()));
  // And etcd's CA expired on cp-2 (issued back then with its key).
  Pair etcd_ca = Load("etcd/ca");
  ::hardway::testing::Identity old_etcd_ca =
      Issue(InspectCertificate(etcd_ca.cert.get()).cn, nullptr, {}, false,
            false, hours(-24 * 400), hours(-24 * 2), etcd_ca.key.get());
  hosts_.at("cp-2")->PutFile("/etc/kubernetes/pki/etcd/ca.crt",
                             CertificateToPem(old_etcd_ca.cert.get()));

  std::vector<Finding> all = Run();
  auto date = [](X509* cert) {
    return FormatDate(InspectCertificate(cert).not_after);
  };
  const Finding* proxy = Find(
      all, "cert",
      "front-proxy-client cert in /etc/kubernetes/pki/front-proxy-client.crt "
      "on cp-1");
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(proxy->verdict, Verdict::kFail);
  EXPECT_EQ(proxy->host, "cp-1");
  EXPECT_EQ(proxy->cause, "expired " + date(expired.get()) + " (3 days ago)");
  const Finding* ca =
      Find(all, "cert", "ca cert in /etc/kubernetes/pki/ca.crt on w-0");
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(ca->verdict, Verdict::kWarn);
  EXPECT_EQ(ca->host, "w-0");
  EXPECT_THAT(ca->cause, StartsWith("expires " + date(short_ca.cert.get()) +
                                    " (in 9 days), inside renew_before "));
  EXPECT_THAT(ca->cause, HasSubstr("hardway never replaces a CA by itself"));
  const Finding* etcd = Find(
      all, "cert", "etcd/ca cert in /etc/kubernetes/pki/etcd/ca.crt on cp-2");
  ASSERT_NE(etcd, nullptr);
  EXPECT_EQ(etcd->verdict, Verdict::kFail);
  EXPECT_EQ(etcd->cause,
            "expired " + date(old_etcd_ca.cert.get()) + " (2 days ago)");
  // The other copies are fine, and each certificate has its one row.
  EXPECT_EQ(Find(all, "cert",
                 "front-proxy-client cert in "
                 "/etc/kubernetes/pki/front-proxy-client.crt on cp-0")
                ->verdict,
            Verdict::kOk);
  EXPECT_EQ(Find(all, "cert", "ca cert in /etc/kubernetes/pki/ca.crt on cp-0")
                ->verdict,
            Verdict::kOk);
  size_t rows = 0;
  for (const Finding& f : all) {
    if (f.check == "cert" && f.host == "cp-1" &&
        f.subject.starts_with("front-proxy-client "))
      ++rows;
  }
  EXPECT_EQ(rows, 1u);
  EXPECT_EQ(DoctorExitCode(all), 5);
}

TEST_F(DoctorTest, AnExpiredKubeletClientCertificateIsNamed) {
  X509Ptr expired = Reissue("kubelet-w-0", ca_, {}, false, true,
                            hours(-24 * 40), hours(-24 * 3));
  hosts_.at("w-0")->PutFile("/etc/kubernetes/kubelet.conf",
                            KubeconfigWith("kubelet-w-0", expired.get()), 0600);
  std::vector<Finding> all = Run();
  std::string date = FormatDate(InspectCertificate(expired.get()).not_after);
  const Finding* link = Find(all, "link", "kubelet w-0 → kube-apiserver cp-0");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->verdict, Verdict::kFail);
  EXPECT_EQ(link->cause, "client certificate expired " + date +
                             " (3 days ago); kube-apiserver cp-0 rejects it");
  const Finding* cert = Find(
      all, "cert", "kubelet-w-0 cert in /etc/kubernetes/kubelet.conf on w-0");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->verdict, Verdict::kFail);
  EXPECT_THAT(cert->cause, StartsWith("expired " + date + " (3 days ago)"));
  const Finding* file = Find(all, "file", "w-0 /etc/kubernetes/kubelet.conf");
  ASSERT_NE(file, nullptr);
  EXPECT_THAT(file->cause, HasSubstr("differs from the state dir "
                                     "(kubeconfigs/kubelet-w-0.kubeconfig)"));
  EXPECT_EQ(DoctorExitCode(all), 5);
  // Only what differed was read from the host.
  EXPECT_EQ(Reads("w-0"),
            std::vector<std::string>{"/etc/kubernetes/kubelet.conf"});
  EXPECT_TRUE(Reads("cp-0").empty());
}

TEST_F(DoctorTest, EtcdRejectsAnEtcdClientCertFromTheClusterCa) {
  X509Ptr wrong = Reissue("apiserver-etcd-client", ca_, {}, false, true,
                          hours(-1), hours(24 * 300));
  hosts_.at("cp-0")->PutFile("/etc/kubernetes/pki/apiserver-etcd-client.crt",
                             CertificateToPem(wrong.get()));
  std::vector<Finding> all = Run();
  for (const char* m : {"cp-0", "cp-1", "cp-2"}) {
    const Finding* link =
        Find(all, "link", std::string("kube-apiserver cp-0 → etcd ") + m);
    ASSERT_NE(link, nullptr);
    EXPECT_EQ(link->cause, std::string("etcd ") + m +
                               " rejects apiserver-etcd-client from cp-0: "
                               "signed by ca, etcd trusts etcd/ca");
  }
  // cp-1's apiserver still reaches etcd.
  EXPECT_EQ(Find(all, "link", "kube-apiserver cp-1 → etcd cp-0")->verdict,
            Verdict::kOk);
  const Finding* cert = Find(all, "cert", "apiserver-etcd-client cert on cp-0");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->cause, "signed by ca, etcd trusts etcd/ca");
  // The certificate was read; its key matched the state dir and was not.
  EXPECT_EQ(Reads("cp-0"),
            std::vector<std::string>{
                "/etc/kubernetes/pki/apiserver-etcd-client.crt"});
}

TEST_F(DoctorTest, AnApiserverCertWithoutOneControllersAddress) {
  X509Ptr lacking = Reissue(
      "apiserver", ca_, {"127.0.0.1", "10.32.0.1", "10.0.0.10", "10.0.0.12"},
      true, false, hours(-1), hours(24 * 300));
  hosts_.at("cp-1")->PutFile("/etc/kubernetes/pki/apiserver.crt",
                             CertificateToPem(lacking.get()));
  api_[1] = Serve("apiserver", ca_, lacking.get());
  MapTunnels();
  std::vector<Finding> all = Run();
  const Finding* cert = Find(all, "cert", "apiserver cert on cp-1");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->verdict, Verdict::kFail);
  EXPECT_EQ(cert->cause, "lacks SAN 10.0.0.11, which hardway dials");
  const Finding* link = Find(all, "link", "hardway → kube-apiserver cp-1");
  ASSERT_NE(link, nullptr);
  EXPECT_THAT(link->cause,
              StartsWith("apiserver cert on cp-1 lacks SAN 10.0.0.11, which "
                         "hardway dials (name mismatch"));
  EXPECT_EQ(
      Find(all, "link", "kube-scheduler cp-1 → kube-apiserver cp-1")->verdict,
      Verdict::kOk);
  EXPECT_EQ(Find(all, "cert", "apiserver cert on cp-0")->verdict, Verdict::kOk);
}

TEST_F(DoctorTest, AKeyReadableByOthers) {
  hosts_.at("cp-0")->files.at("/etc/kubernetes/pki/apiserver.key").mode = 0644;
  std::vector<Finding> all = Run();
  EXPECT_THAT(Failed(all),
              ::testing::ElementsAre(
                  "file | cp-0 /etc/kubernetes/pki/apiserver.key | mode 0644, "
                  "want 0600 (a private key readable by other users) — "
                  "`hardway up` fixes it"));
  EXPECT_TRUE(Reads("cp-0").empty());  // same bytes: the key is never read
}

TEST_F(DoctorTest, AStoppedSchedulerWithItsJournal) {
  FakeUnit& u = hosts_.at("cp-1")->units.at("kube-scheduler");
  u.active_state = "inactive";
  u.sub_state = "dead";
  hosts_.at("cp-1")->Script(
      JournalCommand("kube-scheduler"),
      ExecResult{0, "Stopping kube-scheduler...\nStopped kube-scheduler.\n",
                 ""});
  std::vector<Finding> all = Run();
  EXPECT_THAT(Failed(all),
              ::testing::ElementsAre(
                  "unit | kube-scheduler on cp-1 | inactive (dead); journal: "
                  "Stopping kube-scheduler... | Stopped kube-scheduler. — "
                  "`hardway up` starts it"));
}

TEST_F(DoctorTest, AUnitFileEditedByHand) {
  FakeHost& h = *hosts_.at("cp-1");
  std::string unit =
      h.files.at("/etc/systemd/system/kube-scheduler.service").content;
  h.PutFile("/etc/systemd/system/kube-scheduler.service", unit + "# edited\n");
  std::vector<Finding> all = Run();
  EXPECT_THAT(Failed(all),
              ::testing::ElementsAre(
                  "file | cp-1 /etc/systemd/system/kube-scheduler.service | "
                  "unit kube-scheduler: differs from what hardway renders "
                  "(template units/kube-scheduler.service) — edited by hand? "
                  "`hardway up` puts it back"));
}

TEST_F(DoctorTest, AnUnreachableHostIsReportedAndTheOthersStillChecked) {
  std::vector<Finding> all = Run("", {"w-0"});
  const Finding* ssh = Find(all, "ssh", "w-0");
  ASSERT_NE(ssh, nullptr);
  EXPECT_TRUE(ssh->unreachable);
  EXPECT_THAT(ssh->cause, HasSubstr("connection refused"));
  EXPECT_EQ(Find(all, "link", "kubelet w-0 → kube-apiserver cp-0")->cause,
            "not tested: w-0 cannot be reached over SSH");
  // The apiservers still reach the kubelet, and cp-0 was examined fully.
  EXPECT_EQ(Find(all, "link", "kube-apiserver cp-0 → kubelet w-0")->verdict,
            Verdict::kOk);
  EXPECT_EQ(Find(all, "clock", "cp-0")->verdict, Verdict::kOk);
  EXPECT_EQ(DoctorExitCode(all), 3);
}

TEST_F(DoctorTest, OneHostOnly) {
  std::vector<Finding> all = Run("w-0");
  EXPECT_THAT(Failed(all), ::testing::IsEmpty());
  for (const RecordedCall& c : log_->calls()) EXPECT_EQ(c.host, "w-0");
  std::set<std::string> links;
  for (const Finding& f : all)
    if (f.check == "link") links.insert(f.subject);
  EXPECT_EQ(links,
            (std::set<std::string>{"kubelet w-0 → kube-apiserver cp-0",
                                   "kube-proxy w-0 → kube-apiserver cp-0"}));
  EXPECT_EQ(Find(all, "clock", "cp-0"), nullptr);
}

TEST_F(DoctorTest, AServerThatAcceptsButNeverAnswersCannotHangDoctor) {
  // Listening, never accepting: the TCP connection opens, TLS never starts.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  hosts_.at("cp-0")->MapTunnel("10.0.0.11", 2380, ntohs(addr.sin_port));
  std::vector<Finding> all = Run();
  close(fd);
  const Finding* link = Find(all, "link", "etcd cp-0 → etcd cp-1");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->cause,
            "no answer within 2s during the TLS handshake (the server accepted "
            "the connection but did not respond)");
}

}  // namespace
}  // namespace hardway
