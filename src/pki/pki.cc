#include "pki/pki.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <thread>

#include "pki/cert_table.h"
#include "pki/check.h"
#include "pki/encryption.h"
#include "pki/kubeconfig.h"
#include "pki/verify_memo.h"
#include "util/duration.h"
#include "util/files.h"

namespace hardway {
namespace fs = std::filesystem;
namespace {

constexpr auto kPublic = fs::perms::owner_read | fs::perms::owner_write |
                         fs::perms::group_read |
                         fs::perms::others_read;  // 0644
constexpr auto kSecret =
    fs::perms::owner_read | fs::perms::owner_write;  // 0600
// Certificates start a minute in the past so a host whose clock lags slightly
// (preflight allows < 1 s) never sees "not yet valid".
constexpr auto kBackdate = std::chrono::minutes(1);
constexpr unsigned kIoThreads = 16;

std::string Rel(const fs::path& state_dir, const fs::path& path) {
  return path.lexically_relative(state_dir).generic_string();
}

// Runs every job on at most `threads` workers. Key generation dominates the CPU
// (RSA-4096 takes ~1 s a key), fsync the rest; each job owns its output slot,
// so no locking is needed.
void RunParallel(std::vector<std::function<void()>>& jobs, unsigned threads) {
  if (jobs.empty()) return;
  unsigned n = std::max(
      1u, std::min<unsigned>(threads, static_cast<unsigned>(jobs.size())));
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) jobs[i]();
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

std::string StartOver(const fs::path& state_dir) {
  return "restore it from your backup of " + (state_dir / "pki").string() +
         ", or remove " + (state_dir / "pki").string() +
         " to start over (every certificate is reissued and must be "
         "redistributed with "
         "`hardway up`)";
}

// One certificate/key pair to (re)issue.
struct Job {
  const CertSpec* spec = nullptr;
  bool existed = false;  // reissue, not first issue
  std::string reason;
  KeyPtr key;  // reused key, or the new one once generated
  bool new_key = false;
  X509Ptr cert;  // the issued certificate
  Status result;
};

struct CaState {
  X509Ptr cert;
  std::string pem;  // the certificate file's bytes, for leaf digests
  KeyPtr key;
  bool generate = false;
};

IssueRequest RequestFor(const CertSpec& spec, const PkiSettings& settings,
                        TimePoint now) {
  IssueRequest req;
  req.cn = spec.cn;
  req.orgs = spec.orgs;
  req.is_ca = spec.kind == CertKind::kCa;
  req.client_auth = spec.client_auth;
  req.server_auth = spec.server_auth;
  req.dns_sans = spec.dns_sans;
  req.ip_sans = spec.ip_sans;
  req.not_before = now - kBackdate;
  req.not_after =
      now + (req.is_ca ? settings.ca_validity : settings.cert_validity);
  return req;
}

Status CheckSettings(const Cluster& cluster) {
  const PkiSettings& s = cluster.inventory().pki;
  std::string where = cluster.inventory().path.string();
  if (s.renew_before >= s.cert_validity) {
    return Fail(ErrorKind::kValidation,
                "pki.renew_before (" + FormatDuration(s.renew_before) +
                    ") is not shorter than pki.cert_validity (" +
                    FormatDuration(s.cert_validity) +
                    "): every run would reissue every leaf",
                where,
                "shorten pki.renew_before or lengthen pki.cert_validity");
  }
  if (s.cert_validity > s.ca_validity) {
    return Fail(ErrorKind::kValidation,
                "pki.cert_validity (" + FormatDuration(s.cert_validity) +
                    ") is longer than pki.ca_validity (" +
                    FormatDuration(s.ca_validity) + ")",
                where, "a certificate cannot outlive its CA");
  }
  return {};
}

// Loads or plans one CA. Errors say which file and what to do: a CA is never
// replaced silently, since that would orphan every certificate already on the
// hosts.
Result<CaState> PrepareCa(const CertSpec& spec,
                          const std::vector<CertSpec>& table,
                          const fs::path& state_dir,
                          const PkiSettings& settings, TimePoint now) {
  fs::path crt = CertPath(state_dir, spec), key = KeyPath(state_dir, spec);
  std::error_code ec;
  bool have_crt = fs::exists(crt, ec), have_key = fs::exists(key, ec);
  CaState ca;
  if (!have_crt && !have_key) {
    std::vector<std::string> orphans;
    for (const CertSpec& leaf : table) {
      if (leaf.ca == spec.name && fs::exists(CertPath(state_dir, leaf), ec)) {
        orphans.push_back(Rel(state_dir, CertPath(state_dir, leaf)));
      }
    }
    if (!orphans.empty()) {
      std::string list =
          orphans.front() +
          (orphans.size() > 1
               ? " and " + std::to_string(orphans.size() - 1) + " more"
               : "");
      return Fail(ErrorKind::kPki,
                  "CA " + spec.name +
                      " is missing but certificates it signed exist (" + list +
                      "); hardway will not re-root them silently",
                  crt.string(), StartOver(state_dir));
    }
    ca.generate = true;
    return ca;
  }
  if (!have_crt) {
    return Fail(
        ErrorKind::kPki,
        "CA certificate missing while its key " + key.string() + " is present",
        crt.string(), StartOver(state_dir));
  }
  if (!have_key) {
    return Fail(ErrorKind::kPki, "CA key missing: cannot sign with " + spec.cn,
                key.string(), StartOver(state_dir));
  }
  auto pem = ReadFile(crt);
  if (!pem) {
    return Fail(ErrorKind::kPki,
                "CA certificate unreadable: " + pem.error().message,
                crt.string(), StartOver(state_dir));
  }
  auto cert = ParseCertificatePem(*pem, crt.string());
  if (!cert) {
    return Fail(ErrorKind::kPki,
                "CA certificate unreadable: " + cert.error().message,
                crt.string(), StartOver(state_dir));
  }
  auto k = LoadPrivateKey(key);
  if (!k) {
    return Fail(ErrorKind::kPki, "CA key unreadable: " + k.error().message,
                key.string(), StartOver(state_dir));
  }
  if (!KeyMatchesCertificate(cert->get(), k->get())) {
    return Fail(ErrorKind::kPki, "CA key does not match " + crt.string(),
                key.string(), StartOver(state_dir));
  }
  if (auto bad = VerifySelfSignedCa(cert->get(), now)) {
    return Fail(ErrorKind::kPki, "CA " + spec.name + " is invalid: " + *bad,
                crt.string(), StartOver(state_dir));
  }
  CertInfo info = InspectCertificate(cert->get());
  if (info.not_after - now < settings.renew_before) {
    return Fail(ErrorKind::kPki,
                "CA " + spec.name + " " + DescribeExpiry(info.not_after, now) +
                    ", inside pki.renew_before (" +
                    FormatDuration(settings.renew_before) +
                    "); hardway never replaces a CA by itself",
                crt.string(),
                "rotate the CA by hand, or remove " +
                    (state_dir / "pki").string() +
                    " to start over (every certificate is reissued and must be "
                    "redistributed with `hardway up`)");
  }
  ca.cert = std::move(*cert);
  ca.pem = std::move(*pem);
  ca.key = std::move(*k);
  return ca;
}

Status FixKeyMode(const fs::path& key) {
  std::error_code ec;
  auto mode = fs::status(key, ec).permissions() & fs::perms::mask;
  if (!ec && mode != kSecret) fs::permissions(key, kSecret, ec);
  if (ec)
    return Fail(ErrorKind::kIo, "cannot set mode 0600: " + ec.message(),
                key.string());
  return {};
}

}  // namespace

std::string_view PkiActionName(PkiAction action) {
  switch (action) {
    case PkiAction::kIssued:
      return "issued";
    case PkiAction::kReissued:
      return "reissued";
    case PkiAction::kKept:
      return "kept";
    case PkiAction::kStale:
      return "stale";
  }
  return "?";
}

size_t PkiReport::Count(PkiAction action) const {
  return static_cast<size_t>(std::count_if(
      files.begin(), files.end(),
      [&](const PkiFileResult& f) { return f.action == action; }));
}

const PkiFileResult* PkiReport::Find(std::string_view file) const {
  for (const auto& f : files) {
    if (f.file == file) return &f;
  }
  return nullptr;
}

Result<PkiReport> EnsurePki(const Cluster& cluster, const fs::path& state_dir) {
  return EnsurePki(cluster, state_dir, PkiOptions{});
}

Result<PkiReport> EnsurePki(const Cluster& cluster, const fs::path& state_dir,
                            const PkiOptions& options) {
  if (auto st = CheckSettings(cluster); !st) return std::unexpected(st.error());
  const PkiSettings& settings = cluster.inventory().pki;
  const TimePoint now = options.now;
  unsigned threads =
      options.threads ? options.threads : std::thread::hardware_concurrency();
  // Writing waits on fsync, not on the CPU: more writers than cores shorten the
  // wall time.
  unsigned io_threads = std::max(threads, kIoThreads);

  // Folders first, 0700: they hold private keys.
  for (const fs::path& dir :
       {state_dir, state_dir / "pki", state_dir / "pki" / "etcd",
        state_dir / "kubeconfigs"}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!ec) fs::permissions(dir, fs::perms::owner_all, ec);
    if (ec)
      return Fail(ErrorKind::kIo, "cannot create folder: " + ec.message(),
                  dir.string());
  }

  const std::vector<CertSpec> table = CertificateTable(cluster);
  PkiReport report;

  // 1. CAs: load and check, or plan a new one. Any problem stops here, before
  // writing.
  std::map<std::string, CaState> cas;
  for (const CertSpec& spec : table) {
    if (spec.kind != CertKind::kCa) continue;
    auto ca = PrepareCa(spec, table, state_dir, settings, now);
    if (!ca) return std::unexpected(ca.error());
    cas[spec.name] = std::move(*ca);
  }

  // 2. The service-account key pair: made once, never rotated (that would void
  // every token).
  const CertSpec* sa = nullptr;
  for (const CertSpec& spec : table) {
    if (spec.kind == CertKind::kKeyPair) sa = &spec;
  }
  KeyPtr sa_key;
  bool sa_new = false;
  {
    fs::path key = KeyPath(state_dir, *sa), pub = CertPath(state_dir, *sa);
    std::error_code ec;
    if (fs::exists(key, ec)) {
      auto k = LoadPrivateKey(key);
      if (!k) {
        return Fail(ErrorKind::kPki,
                    "service-account key unreadable: " + k.error().message,
                    key.string(),
                    "restore it from backup; a new key invalidates every "
                    "service-account token");
      }
      sa_key = std::move(*k);
    } else if (fs::exists(pub, ec)) {
      return Fail(ErrorKind::kPki,
                  "service-account key missing while sa.pub is present",
                  key.string(),
                  "restore it from backup, or remove " + pub.string() +
                      " to make a new pair (every service-account token "
                      "becomes invalid)");
    } else {
      sa_new = true;
    }
  }

  // 3. Leaves: which need a (re)issue, and which keep their key.
  std::vector<std::unique_ptr<Job>> jobs;
  std::map<std::string, bool> leaf_changed;
  std::map<std::string, PkiFileResult>
      leaf_results;  // reported in table order at the end
  // Checking an existing leaf in full (parse the key and the certificate,
  // verify the signature, match the key) is CPU work of ~0.5 ms, most of it in
  // OpenSSL 3's key decoders; a 1,000-node inventory has 1,000+ leaves. So a
  // leaf whose files, CA and spec hash to what the memo recorded as good is
  // taken as good without parsing (verify_memo.h); the rest get the full
  // check, on every core, before the (sequential, cheap) decisions below.
  std::vector<LeafCheck> leaf_checks(table.size());
  std::vector<std::optional<MemoEntry>> memo_entries(table.size());
  std::vector<char> vouched(table.size(), 0);
  // The certificate and key bytes of each leaf found good, for its kubeconfig
  // (step 8) without reading them a second time.
  struct LeafBytes {
    std::string crt, key;
  };
  std::vector<std::optional<LeafBytes>> good_bytes(table.size());
  {
    const PkiMemo old_memo = PkiMemo::Load(state_dir);
    std::vector<std::function<void()>> check_jobs;
    for (size_t i = 0; i < table.size(); ++i) {
      const CertSpec& spec = table[i];
      if (spec.kind != CertKind::kLeaf || cas.at(spec.ca).generate) continue;
      check_jobs.push_back([&, i] {
        const CertSpec& leaf = table[i];
        const CaState& ca = cas.at(leaf.ca);
        // Read once: the digest and the full check see the same bytes.
        FileContents crt = ReadIfExists(CertPath(state_dir, leaf));
        FileContents key = ReadIfExists(KeyPath(state_dir, leaf));
        std::string digest;
        if (crt && *crt && key && *key) {
          digest =
              LeafDigest(leaf, settings.key_algorithm, **crt, **key, ca.pem);
          if (old_memo.Vouches(leaf.name, digest, now, settings.renew_before)) {
            leaf_checks[i].check.name = leaf.name;
            leaf_checks[i].check.status = CertStatus::kOk;
            memo_entries[i] = *old_memo.Find(leaf.name);
            vouched[i] = 1;
            good_bytes[i] = LeafBytes{std::move(**crt), std::move(**key)};
            return;
          }
        }
        leaf_checks[i] = CheckLeafContents(leaf, state_dir, crt, key,
                                           ca.cert.get(), settings, now);
        const CertCheck& c = leaf_checks[i].check;
        if (c.status == CertStatus::kOk && !digest.empty() && c.info) {
          memo_entries[i] =
              MemoEntry{digest, c.info->not_before, c.info->not_after};
          good_bytes[i] = LeafBytes{std::move(**crt), std::move(**key)};
        }
      });
    }
    RunParallel(check_jobs, threads);
    for (size_t i = 0; i < table.size(); ++i) {
      if (table[i].kind != CertKind::kLeaf || cas.at(table[i].ca).generate)
        continue;
      ++(vouched[i] ? report.leaves_vouched : report.leaves_checked);
    }
  }
  for (size_t i = 0; i < table.size(); ++i) {
    const CertSpec& spec = table[i];
    if (spec.kind != CertKind::kLeaf) continue;
    CaState& ca = cas.at(spec.ca);
    std::string rel = Rel(state_dir, CertPath(state_dir, spec));
    auto job = std::make_unique<Job>();
    job->spec = &spec;
    if (ca.generate) {
      // The CA is new, so no leaf of it exists (PrepareCa checked); a stray key
      // is unused.
      job->existed = false;
    } else {
      LeafCheck& check = leaf_checks[i];
      if (check.check.status == CertStatus::kOk) {
        if (auto st = FixKeyMode(KeyPath(state_dir, spec)); !st) {
          return std::unexpected(st.error());
        }
        leaf_results[spec.name] = {rel, PkiAction::kKept, ""};
        continue;
      }
      job->existed = check.check.status != CertStatus::kMissing ||
                     check.check.info.has_value();
      job->reason = check.check.reason;
      if (check.key_reusable) {
        auto k = LoadPrivateKey(KeyPath(state_dir, spec));
        if (k) job->key = std::move(*k);
      }
    }
    leaf_changed[spec.name] = true;
    jobs.push_back(std::move(job));
  }

  // 4. Every new key at once: CAs, the SA key and leaves. This is where the
  // time goes.
  std::vector<std::function<void()>> keygen;
  std::map<std::string, Result<KeyPtr>> ca_keys;
  for (auto& [name, ca] : cas) {
    if (ca.generate) ca_keys.emplace(name, KeyPtr());
  }
  for (auto& [name, slot] : ca_keys) {
    auto* out = &slot;
    keygen.push_back(
        [out, &settings] { *out = GenerateKey(settings.key_algorithm); });
  }
  Result<KeyPtr> sa_generated{KeyPtr()};
  if (sa_new) {
    keygen.push_back(
        [&] { sa_generated = GenerateKey(settings.key_algorithm); });
  }
  for (auto& job : jobs) {
    if (job->key) continue;
    Job* j = job.get();
    keygen.push_back([j, &settings] {
      auto k = GenerateKey(settings.key_algorithm);
      if (!k) {
        j->result = std::unexpected(k.error());
        return;
      }
      j->key = std::move(*k);
      j->new_key = true;
    });
  }
  RunParallel(keygen, threads);

  // 5. New CAs: self-sign and write.
  for (auto& [name, slot] : ca_keys) {
    if (!slot) return std::unexpected(slot.error());
    const CertSpec& spec = *FindSpec(table, name);
    CaState& ca = cas.at(name);
    ca.key = std::move(*slot);
    auto cert = IssueCertificate(RequestFor(spec, settings, now), ca.key.get(),
                                 nullptr, nullptr);
    if (!cert) return std::unexpected(cert.error());
    ca.cert = std::move(*cert);
    if (auto w = WriteFileAtomic(KeyPath(state_dir, spec),
                                 PrivateKeyToPem(ca.key.get()), kSecret);
        !w) {
      return std::unexpected(w.error());
    }
    if (auto w = WriteFileAtomic(CertPath(state_dir, spec),
                                 CertificateToPem(ca.cert.get()), kPublic);
        !w) {
      return std::unexpected(w.error());
    }
  }
  for (const CertSpec& spec : table) {
    if (spec.kind != CertKind::kCa) continue;
    std::string rel = Rel(state_dir, CertPath(state_dir, spec));
    if (cas.at(spec.name).generate) {
      report.files.push_back({rel, PkiAction::kIssued, ""});
    } else {
      if (auto st = FixKeyMode(KeyPath(state_dir, spec)); !st)
        return std::unexpected(st.error());
      report.files.push_back({rel, PkiAction::kKept, ""});
    }
  }

  // 6. Service-account pair: the .pub is derived, so rewriting it is always
  // safe.
  if (sa_new) {
    if (!sa_generated) return std::unexpected(sa_generated.error());
    sa_key = std::move(*sa_generated);
    if (auto w = WriteFileAtomic(KeyPath(state_dir, *sa),
                                 PrivateKeyToPem(sa_key.get()), kSecret);
        !w) {
      return std::unexpected(w.error());
    }
  } else if (auto st = FixKeyMode(KeyPath(state_dir, *sa)); !st) {
    return std::unexpected(st.error());
  }
  auto pub_written = WriteFileAtomic(CertPath(state_dir, *sa),
                                     PublicKeyToPem(sa_key.get()), kPublic);
  if (!pub_written) return std::unexpected(pub_written.error());
  report.files.push_back(
      {Rel(state_dir, KeyPath(state_dir, *sa)),
       sa_new ? PkiAction::kIssued
              : (*pub_written ? PkiAction::kReissued : PkiAction::kKept),
       (!sa_new && *pub_written) ? "sa.pub rebuilt from sa.key" : ""});

  // 7. Leaves: sign and write in parallel (each write fsyncs).
  std::vector<std::function<void()>> issue;
  for (auto& job : jobs) {
    Job* j = job.get();
    if (!j->result) continue;  // key generation failed
    const CaState& ca = cas.at(j->spec->ca);
    issue.push_back([j, &ca, &settings, &state_dir, now] {
      auto cert = IssueCertificate(RequestFor(*j->spec, settings, now),
                                   j->key.get(), ca.cert.get(), ca.key.get());
      if (!cert) {
        j->result = std::unexpected(cert.error());
        return;
      }
      j->cert = std::move(*cert);
      if (j->new_key) {
        auto w = WriteFileAtomic(KeyPath(state_dir, *j->spec),
                                 PrivateKeyToPem(j->key.get()), kSecret);
        if (!w) {
          j->result = std::unexpected(w.error());
          return;
        }
      }
      auto w = WriteFileAtomic(CertPath(state_dir, *j->spec),
                               CertificateToPem(j->cert.get()), kPublic);
      if (!w) j->result = std::unexpected(w.error());
    });
  }
  RunParallel(issue, io_threads);
  for (auto& job : jobs) {
    if (!job->result) {
      Error e = job->result.error();
      if (e.where.empty()) e.where = job->spec->name;
      return std::unexpected(e);
    }
    std::string reason = job->reason;
    if (job->existed && job->new_key)
      reason += reason.empty() ? "new key" : " (new key)";
    leaf_results[job->spec->name] = {
        Rel(state_dir, CertPath(state_dir, *job->spec)),
        job->existed ? PkiAction::kReissued : PkiAction::kIssued, reason};
  }
  for (const CertSpec& spec : table) {
    if (spec.kind == CertKind::kLeaf)
      report.files.push_back(leaf_results.at(spec.name));
  }
  // The memo now holds exactly the leaves found good this run (vouched for or
  // fully checked); reissued ones get their full check, and an entry, on the
  // next run. Leaves of removed hosts drop out.
  {
    PkiMemo memo;
    for (size_t i = 0; i < table.size(); ++i) {
      if (memo_entries[i]) memo.Record(table[i].name, *memo_entries[i]);
    }
    if (auto st = memo.Save(state_dir); !st) return std::unexpected(st.error());
  }

  // 8. Kubeconfigs: rebuilt from the files, so unchanged inputs give unchanged
  // bytes. A kept leaf's files were read in step 3 and are used as read; a
  // (re)issued one's are read anew.
  std::map<std::string, size_t> leaf_index;
  for (size_t i = 0; i < table.size(); ++i) {
    if (good_bytes[i] && !leaf_changed.contains(table[i].name))
      leaf_index[table[i].name] = i;
  }
  auto build = [&](const KubeconfigSpec& k) -> Result<std::string> {
    auto it = leaf_index.find(k.cert);
    auto ca = cas.find(k.ca);
    if (it == leaf_index.end() || ca == cas.end() || ca->second.pem.empty())
      return BuildKubeconfig(cluster, k, state_dir);
    const LeafBytes& leaf = *good_bytes[it->second];
    return RenderKubeconfig(
        {cluster.name(), k.server, k.user, ca->second.pem, leaf.crt, leaf.key});
  };
  std::vector<KubeconfigSpec> kubeconfigs = KubeconfigTable(cluster);
  std::vector<Result<bool>> kc_results(kubeconfigs.size(), false);
  std::vector<bool> kc_existed(kubeconfigs.size());
  std::vector<std::function<void()>> kc_jobs;
  for (size_t i = 0; i < kubeconfigs.size(); ++i) {
    std::error_code ec;
    kc_existed[i] = fs::exists(KubeconfigPath(state_dir, kubeconfigs[i]), ec);
    kc_jobs.push_back([&, i] {
      auto text = build(kubeconfigs[i]);
      if (!text) {
        kc_results[i] = std::unexpected(text.error());
        return;
      }
      kc_results[i] = WriteFileAtomic(KubeconfigPath(state_dir, kubeconfigs[i]),
                                      *text, kSecret);
    });
  }
  RunParallel(kc_jobs, io_threads);
  for (size_t i = 0; i < kubeconfigs.size(); ++i) {
    if (!kc_results[i]) return std::unexpected(kc_results[i].error());
    const KubeconfigSpec& k = kubeconfigs[i];
    std::string rel = Rel(state_dir, KubeconfigPath(state_dir, k));
    if (!kc_existed[i]) {
      report.files.push_back({rel, PkiAction::kIssued, ""});
    } else if (*kc_results[i]) {
      std::string reason = leaf_changed.contains(k.cert)
                               ? k.cert + " certificate reissued"
                               : "server or embedded files changed";
      report.files.push_back({rel, PkiAction::kReissued, reason});
    } else {
      report.files.push_back({rel, PkiAction::kKept, ""});
    }
  }

  // 9. Encryption config.
  fs::path templates = options.templates_dir.empty()
                           ? ResourceDir() / "playbooks" / "templates"
                           : options.templates_dir;
  auto enc = EnsureEncryptionConfig(cluster.inventory().encryption.provider,
                                    state_dir / "encryption-config.yaml",
                                    templates / "encryption-config.yaml");
  if (!enc) return std::unexpected(enc.error());
  report.files.push_back({"encryption-config.yaml",
                          enc->created     ? PkiAction::kIssued
                          : enc->rewritten ? PkiAction::kReissued
                                           : PkiAction::kKept,
                          enc->reason});

  // 10. Left-overs of hosts no longer in the inventory: reported, never
  // deleted.
  for (const std::string& file : StaleFiles(cluster, state_dir)) {
    report.files.push_back(
        {file, PkiAction::kStale,
         "not in the certificate table (host removed from the inventory?)"});
  }
  return report;
}

}  // namespace hardway
