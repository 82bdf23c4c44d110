#include "doctor/doctor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "doctor/checks.h"
#include "doctor/gather.h"
#include "doctor/read_only_transport.h"
#include "pki/cert_table.h"
#include "plan/plan_builder.h"
#include "remote/connect.h"
#include "run/tls_probe.h"
#include "trust/links.h"
#include "util/files.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;

// A folder only we can read (0700) for the PEM files OpenSSL wants paths for,
// removed with everything in it when doctor is done. Files are 0600 and
// created exclusively.
class PrivateDir {
 public:
  PrivateDir() = default;
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;
  ~PrivateDir() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }

  Result<fs::path> Write(const std::string& bytes) {
    std::lock_guard lock(mu_);
    if (path_.empty()) {
      std::string tmpl =
          (fs::temp_directory_path() / "hardway-doctor-XXXXXX").string();
      if (!::mkdtemp(tmpl.data())) {
        return Fail(ErrorKind::kIo, "cannot create a private temp folder",
                    tmpl);
      }
      path_ = tmpl;
    }
    fs::path file = path_ / ("pem-" + std::to_string(++count_));
    int fd =
        ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(ErrorKind::kIo, "cannot create a temp file", file);
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) {
        ::close(fd);
        return Fail(ErrorKind::kIo, "cannot write a temp file", file);
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return file;
  }

 private:
  std::mutex mu_;
  fs::path path_;
  int count_ = 0;
};

struct Creds {
  std::string cert_pem, key_pem, ca_pem;
  std::string cert_where, key_where;
  bool kubeconfig = false;
  std::string error;  // why they could not be had
};

std::string SideName(const Endpoint& e, const std::string& host) {
  std::string s(ComponentName(e.component));
  if (!host.empty()) s += " " + host;
  return s;
}

class Doctor {
 public:
  Doctor(const Cluster& cluster, const Plan& plan, const DoctorOptions& options,
         const TransportFactory& factory)
      : cluster_(cluster),
        plan_(plan),
        options_(options),
        factory_(factory),
        links_(TrustLinks(cluster)),
        cas_(LoadCaSet(options.state_dir)) {
    for (const Host* cp : cluster.hosts(Role::kControlplane))
      controllers_.push_back(cp->name);
  }

  std::vector<Finding> Run() {
    std::vector<std::string> hosts;
    for (const Host& h : cluster_.hosts()) {
      if (options_.host.empty() || options_.host == h.name)
        hosts.push_back(h.name);
    }
    std::vector<HostWork> work =
        PlanHostWork(plan_, links_, hosts, controllers_);
    for (const HostWork& w : work) {
      slots_[w.host] = std::make_unique<Slot>();
      slots_[w.host]->work = &w;
    }
    AssignLinks();

    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    size_t threads = std::min<size_t>(
        work.size(), static_cast<size_t>(std::max(1, options_.parallel)));
    for (size_t i = 0; i < threads; ++i) {
      pool.emplace_back([&] {
        for (size_t k; (k = next.fetch_add(1)) < work.size();)
          Examine(*slots_[work[k].host]);
      });
    }
    for (std::thread& t : pool) t.join();

    std::vector<Finding> out;
    std::vector<ClockReading> clocks;
    for (const HostWork& w : work) {
      const Slot& slot = *slots_[w.host];
      HostFindings(slot, out);
      if (slot.facts && slot.facts->clock_offset) {
        clocks.push_back(
            ClockReading{.host = w.host,
                         .offset = *slot.facts->clock_offset,
                         .round_trip = slot.facts->clock_round_trip});
      }
    }
    if (auto spread = CheckClockSpread(clocks)) out.push_back(*spread);
    CertFindings(out);
    LinkFindings(out);
    // Transports close here, in this thread, after every tunnel is gone.
    slots_.clear();
    return out;
  }

 private:
  struct Probe {
    const Link* link = nullptr;
    std::string server_host;  // the host reached ("" behind a load balancer)
    bool tested = false;
    std::string not_tested;  // why not
    std::optional<HttpResponse> response;
    std::string error;  // TLS or connection failure in words
    std::string path;   // what was asked once connected
  };
  struct Slot {
    const HostWork* work = nullptr;
    std::unique_ptr<Transport> transport;
    std::optional<Error> unreachable;
    std::optional<HostFacts> facts;
    std::vector<Probe> probes;  // links tested through this host
  };

  // Each link is tested from its client's host; hardway's own from the host
  // of its server, as the gates do.
  void AssignLinks() {
    for (const Link& l : links_) {
      std::string via = l.client.host;
      std::string server = l.server.host;
      if (via.empty()) via = server.empty() ? FirstController() : server;
      if (!slots_.contains(via)) continue;
      slots_[via]->probes.push_back(Probe{.link = &l,
                                          .server_host = server,
                                          .tested = false,
                                          .not_tested = "",
                                          .response = std::nullopt,
                                          .error = "",
                                          .path = ""});
    }
  }

  std::string FirstController() const {
    return controllers_.empty() ? "" : controllers_.front();
  }

  void Examine(Slot& slot) {
    const std::string& host = slot.work->host;
    auto t = factory_(host);
    if (!t) {
      slot.unreachable = t.error();
      for (Probe& p : slot.probes)
        p.not_tested = "not tested: " + host + " cannot be reached over SSH";
      return;
    }
    slot.transport = std::make_unique<ReadOnlyTransport>(std::move(*t));
    slot.facts = GatherHost(*slot.transport, *slot.work);
    for (Probe& p : slot.probes) TestLink(slot, p);
  }

  // The bytes at `path` on `host` as gathered; "" host: the state dir.
  const std::string* Content(const std::string& host, const std::string& path) {
    if (host.empty()) {
      std::lock_guard lock(local_mu_);
      auto it = local_.find(path);
      if (it == local_.end()) {
        auto bytes = ReadFile(options_.state_dir / path);
        it = local_
                 .emplace(path, bytes ? std::optional(std::move(*bytes))
                                      : std::nullopt)
                 .first;
      }
      return it->second ? &*it->second : nullptr;
    }
    auto slot = slots_.find(host);
    if (slot == slots_.end() || !slot->second->facts) return nullptr;
    const HostFacts& f = *slot->second->facts;
    auto it = f.contents.find(path);
    return it == f.contents.end() ? nullptr : &it->second;
  }

  // Whether `host`'s facts were gathered (reachable and selected).
  bool Known(const std::string& host) {
    if (host.empty()) return true;
    auto slot = slots_.find(host);
    return slot != slots_.end() && slot->second->facts.has_value();
  }

  std::string Missing(const std::string& host, const std::string& path) {
    if (host.empty()) return path + " missing in the state dir";
    auto slot = slots_.find(host);
    if (slot != slots_.end() && slot->second->facts) {
      auto err = slot->second->facts->content_errors.find(path);
      if (err != slot->second->facts->content_errors.end())
        return "cannot read " + path + " on " + host + ": " + err->second;
    }
    return path + " missing on " + host;
  }

  // An endpoint's credentials as deployed on `host`; when the host was not
  // examined (filtered out or unreachable), the state dir's stand in for the
  // CA only (what it should trust).
  Creds CredsOf(const Endpoint& e, const std::string& host) {
    Creds c;
    const Credential& cred = e.credential;
    c.kubeconfig = !cred.kubeconfig.empty();
    c.cert_where = cred.cert_path;
    c.key_where = cred.key_path;
    if (!Known(host)) {
      auto ca = ReadFile(options_.state_dir / "pki" / (cred.trusts + ".crt"));
      if (ca) c.ca_pem = *ca;
      c.error = host + " was not examined";
      return c;
    }
    if (c.kubeconfig) {
      const std::string* kc = Content(host, cred.cert_path);
      if (!kc) {
        c.error = Missing(host, cred.cert_path);
        return c;
      }
      auto parsed = ParseKubeconfigCredentials(
          *kc, cred.cert_path + (host.empty() ? "" : " on " + host));
      if (!parsed) {
        c.error = parsed.error().ToString();
        return c;
      }
      c.cert_pem = std::move(parsed->cert_pem);
      c.key_pem = std::move(parsed->key_pem);
      c.ca_pem = std::move(parsed->ca_pem);
      return c;
    }
    for (auto [path, into] : {std::pair{&cred.cert_path, &c.cert_pem},
                              std::pair{&cred.key_path, &c.key_pem},
                              std::pair{&cred.ca_path, &c.ca_pem}}) {
      const std::string* bytes = Content(host, *path);
      if (bytes) {
        *into = *bytes;
      } else if (c.error.empty()) {
        c.error = Missing(host, *path);
      }
    }
    return c;
  }

  // A path OpenSSL can load holding `pem`: the state dir's file when it holds
  // exactly these bytes, else a 0600 file in our private folder.
  Result<fs::path> PathFor(const std::string& pem,
                           const std::vector<fs::path>& candidates) {
    for (const fs::path& c : candidates) {
      auto bytes = ReadFile(c);
      if (bytes && *bytes == pem) return c;
    }
    return private_dir_.Write(pem);
  }

  void TestLink(Slot& slot, Probe& p) {
    const Link& l = *p.link;
    Creds c = CredsOf(l.client, l.client.host);
    if (!c.error.empty()) {
      p.not_tested = "not tested: " + c.error;
      return;
    }
    const fs::path pki = options_.state_dir / "pki";
    const std::string& name = l.client.credential.cert;
    auto ca = PathFor(c.ca_pem, {pki / (l.client.credential.trusts + ".crt")});
    auto cert = PathFor(c.cert_pem, {pki / (name + ".crt")});
    auto key = PathFor(c.key_pem, {pki / (name + ".key")});
    for (const auto* r : {&ca, &cert, &key}) {
      if (!*r) {
        p.not_tested = "not tested: " + r->error().ToString();
        return;
      }
    }
    TlsOptions tls;
    tls.ca_file = *ca;
    tls.cert_file = *cert;
    tls.key_file = *key;
    tls.expected_name = l.dial_host;
    tls.timeout = options_.link_timeout;
    std::string path = "/version";
    if (l.server.component == Component::kEtcd && l.port == 2379)
      path = "/health";
    // The kubelet: a path the API server's RBAC role grants (nodes/proxy).
    if (l.server.component == Component::kKubelet) path = "/pods";
    p.tested = true;
    p.path = path;
    auto r = HttpsVia(*slot.transport, l.dial_host, l.port, tls,
                      HttpRequest{"GET", path, {}, {}, {}});
    if (r) {
      p.response = std::move(*r);
    } else {
      p.error = r.error().message;
    }
  }

  void HostFindings(const Slot& slot, std::vector<Finding>& out) {
    const std::string& host = slot.work->host;
    if (slot.unreachable) {
      out.push_back(
          Finding{.check = "ssh",
                  .subject = host,
                  .host = host,
                  .verdict = Verdict::kFail,
                  .cause = "cannot connect: " + slot.unreachable->ToString() +
                           " — nothing else on this host was checked",
                  .unreachable = true});
      return;
    }
    const HostFacts& f = *slot.facts;
    if (f.clock_offset) {
      out.push_back(CheckClock(host, *f.clock_offset, f.clock_round_trip));
    } else {
      out.push_back(Finding{.check = "clock",
                            .subject = host,
                            .host = host,
                            .verdict = Verdict::kFail,
                            .cause = f.clock_error,
                            .unreachable = false});
    }
    if (!f.files_listed) {
      out.push_back(
          Finding{.check = "file",
                  .subject = host,
                  .host = host,
                  .verdict = Verdict::kFail,
                  .cause = "cannot list the planned files: " + f.files_error,
                  .unreachable = false});
    } else {
      size_t ok = 0;
      for (const auto& [dest, step] : slot.work->files) {
        auto it = f.files.find(dest);
        Finding file = CheckPlannedFile(
            host, *step, it == f.files.end() ? nullptr : &it->second);
        if (file.verdict == Verdict::kOk) {
          ++ok;
        } else {
          out.push_back(std::move(file));
        }
      }
      out.push_back(Finding{
          .check = "file",
          .subject = host,
          .host = host,
          .verdict = Verdict::kOk,
          .cause = std::to_string(ok) + " of " +
                   std::to_string(slot.work->files.size()) +
                   " planned files as the plan has them (sha256, mode, owner)",
          .unreachable = false});
    }
    if (!f.units_error.empty()) {
      out.push_back(Finding{.check = "unit",
                            .subject = host,
                            .host = host,
                            .verdict = Verdict::kFail,
                            .cause = f.units_error,
                            .unreachable = false});
    }
    for (const auto& [unit, state] : f.units) {
      auto j = f.journals.find(unit);
      out.push_back(
          CheckUnit(host, unit, state, j == f.journals.end() ? "" : j->second));
    }
  }

  std::vector<std::string> ServerHosts(const Link& l) const {
    if (!l.server.host.empty()) return {l.server.host};
    return controllers_;
  }

  std::string Who(const Endpoint& e, const std::string& host) const {
    return e.component == Component::kHardway ? "hardway" : SideName(e, host);
  }

  void CertFindings(std::vector<Finding>& out) {
    std::vector<DeployedCert> certs;
    auto find = [&](const std::string& host,
                    const Endpoint& e) -> DeployedCert* {
      if (!Known(host)) return nullptr;
      for (DeployedCert& dc : certs) {
        if (dc.host == host && dc.where == e.credential.cert_path) return &dc;
      }
      Creds c = CredsOf(e, host);
      if (c.cert_pem.empty()) return nullptr;  // missing: the file row says so
      DeployedCert dc;
      dc.host = host;
      dc.name = e.credential.cert;
      dc.where = e.credential.cert_path;
      dc.in_kubeconfig = c.kubeconfig;
      dc.pem = c.cert_pem;
      dc.key_pem = c.key_pem;
      dc.key_where = c.key_where;
      certs.push_back(std::move(dc));
      return &certs.back();
    };
    // Two passes: collect every deployment first (pointers stay valid once
    // the vector stops growing), then who verifies and dials each.
    for (const Link& l : links_) {
      find(l.client.host, l.client);
      for (const std::string& s : ServerHosts(l)) find(s, l.server);
    }
    for (const Link& l : links_) {
      const std::vector<std::string> servers = ServerHosts(l);
      if (DeployedCert* dc = find(l.client.host, l.client)) {
        for (const std::string& s : servers) {
          dc->verifiers.push_back(Verifier{
              .who = Who(l.server, s),
              .component = std::string(ComponentName(l.server.component)),
              .trusts = l.server.credential.trusts,
              .ca_pem = CredsOf(l.server, s).ca_pem});
        }
      }
      Creds client = CredsOf(l.client, l.client.host);
      for (const std::string& s : servers) {
        DeployedCert* dc = find(s, l.server);
        if (!dc) continue;
        dc->verifiers.push_back(Verifier{
            .who = Who(l.client, l.client.host),
            .component = std::string(ComponentName(l.client.component)),
            .trusts = l.client.credential.trusts,
            .ca_pem = client.ca_pem});
        dc->dials.push_back(
            Dial{.name = l.dial_host,
                 .who = std::string(ComponentName(l.client.component))});
      }
    }
    // Certificates no link presents — the CAs on every host that holds them,
    // front-proxy-client on the controllers — still expire: one row each, by
    // file, for expiry, renew_before and the key.
    const std::vector<CertSpec> table = CertificateTable(cluster_);
    for (const Host& h : cluster_.hosts()) {
      const std::string& host = h.name;
      if (!Known(host)) continue;
      for (const HostWork::PlannedCert& pc : slots_.at(host)->work->certs) {
        bool covered = std::ranges::any_of(certs, [&](const DeployedCert& dc) {
          return dc.host == host && dc.where == pc.dest;
        });
        const std::string* pem = Content(host, pc.dest);
        if (covered || !pem) continue;  // missing: the file row says so
        DeployedCert dc;
        dc.host = host;
        dc.name = pc.stem;
        dc.where = pc.dest;
        dc.show_where = true;
        const CertSpec* spec = FindSpec(table, pc.stem);
        dc.is_ca = spec && spec->kind == CertKind::kCa;
        dc.pem = *pem;
        if (!pc.key_dest.empty()) {
          if (const std::string* key = Content(host, pc.key_dest)) {
            dc.key_pem = *key;
            dc.key_where = pc.key_dest;
          }
        }
        certs.push_back(std::move(dc));
      }
    }
    for (DeployedCert& dc : certs) {
      for (const DeployedCert& other : certs) {
        if (&other != &dc && other.host == dc.host && other.name == dc.name)
          dc.show_where = true;
      }
      out.push_back(CheckDeployedCert(dc, cas_, options_.now,
                                      cluster_.inventory().pki.renew_before));
    }
  }

  void LinkFindings(std::vector<Finding>& out) {
    for (const Link& l : links_) {
      const Probe* p = nullptr;
      for (const auto& [host, slot] : slots_) {
        for (const Probe& q : slot->probes) {
          if (q.link == &l) p = &q;
        }
      }
      if (!p) continue;  // not selected by --host
      Finding f{.check = "link",
                .subject = l.Label(),
                .host = l.client.host.empty() ? p->server_host : l.client.host,
                .verdict = Verdict::kFail,
                .cause = "",
                .unreachable = false};
      const std::string target = l.dial_host + ":" + std::to_string(l.port);
      if (!p->tested) {
        f.cause = p->not_tested;
      } else if (p->response && p->response->status != 401) {
        f.verdict = Verdict::kOk;
        f.cause = "mutual TLS to " + target + " with the deployed " +
                  l.client.credential.cert + " credentials; GET " + p->path +
                  ": HTTP " + std::to_string(p->response->status);
      } else {
        // A TLS failure, or HTTP 401: the server took the connection but not
        // our certificate (as kube-apiserver does with a bad client cert).
        std::string said =
            p->response ? "HTTP 401 Unauthorized on " + target : p->error;
        LinkFacts facts;
        facts.link = &l;
        facts.server_host = p->server_host;
        Creds client = CredsOf(l.client, l.client.host);
        facts.client_cert_pem = client.cert_pem;
        facts.client_ca_pem = client.ca_pem;
        std::string server_host =
            p->server_host.empty() ? FirstController() : p->server_host;
        Creds server = CredsOf(l.server, server_host);
        facts.server_cert_pem = server.cert_pem;
        facts.server_ca_pem = server.ca_pem;
        f.cause = ExplainLinkFailure(facts, said, cas_, options_.now);
      }
      out.push_back(std::move(f));
    }
  }

  const Cluster& cluster_;
  const Plan& plan_;
  const DoctorOptions& options_;
  const TransportFactory& factory_;
  const std::vector<Link> links_;
  const CaSet cas_;
  std::vector<std::string> controllers_;
  std::map<std::string, std::unique_ptr<Slot>> slots_;
  std::mutex local_mu_;
  std::map<std::string, std::optional<std::string>> local_;
  PrivateDir private_dir_;  // destroyed first: before the slots' transports
};

}  // namespace

std::vector<Finding> RunDoctor(const Cluster& cluster, const Plan& plan,
                               const DoctorOptions& options,
                               const TransportFactory& factory) {
  Doctor doctor(cluster, plan, options, factory);
  return doctor.Run();
}

int DoctorCommand(const Cluster& cluster, const DoctorCommandOptions& options) {
  if (!options.host.empty() && !cluster.host(options.host)) {
    std::string known;
    for (const Host& h : cluster.hosts())
      known += (known.empty() ? "" : ", ") + h.name;
    Error e{ErrorKind::kUsage,
            "--host " + options.host + " is not a host of the inventory", "",
            "its hosts are " + known};
    std::cerr << "hardway: " << e.ToString() << "\n";
    return ExitCodeFor(e.kind);
  }
  // The state dir as it is: doctor compares against it and never writes it.
  if (!fs::exists(options.state_dir / "pki" / "ca.crt")) {
    Error e{ErrorKind::kPki, "no PKI in the state dir",
            options.state_dir.string(),
            "doctor compares the hosts with the state dir `up` deployed from; "
            "pass --state or run `hardway up` first"};
    std::cerr << "hardway: " << e.ToString() << "\n";
    return ExitCodeFor(e.kind);
  }
  PlanOptions plan_options;
  plan_options.state_dir = options.state_dir;
  auto plan = BuildPlan(cluster, plan_options);
  if (!plan) {
    std::cerr << "hardway: " << plan.error().ToString() << "\n";
    return ExitCodeFor(plan.error().kind);
  }
  TransportFactory factory =
      [&cluster](
          const std::string& name) -> Result<std::unique_ptr<Transport>> {
    const Host* host = cluster.host(name);
    if (!host)
      return Fail(ErrorKind::kInternal, "host not in the inventory", name);
    // No sha256_memo: doctor reports what the hosts' files hold, so every
    // file is hashed for real, never taken from what `up` remembered.
    ConnectOptions connect;
    connect.base_dir = cluster.base_dir();
    connect.allow_prompt = isatty(STDIN_FILENO) != 0;
    return ConnectHost(*host, connect);
  };
  DoctorOptions doctor;
  doctor.state_dir = options.state_dir;
  doctor.parallel = options.parallel;
  doctor.host = options.host;
  doctor.now = std::chrono::system_clock::now();
  std::vector<Finding> findings = RunDoctor(cluster, *plan, doctor, factory);
  if (options.output == "json") {
    std::cout << FormatFindingsJson(findings);
  } else {
    std::cout << FormatFindingsText(findings);
  }
  return DoctorExitCode(findings);
}

}  // namespace hardway
