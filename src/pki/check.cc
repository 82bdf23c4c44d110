#include "pki/check.h"

#include <algorithm>
#include <set>

#include "pki/encryption.h"
#include "pki/kubeconfig.h"
#include "util/duration.h"
#include "util/files.h"

namespace hardway {
namespace fs = std::filesystem;
namespace {

std::string Rel(const fs::path& state_dir, const fs::path& path) {
  return path.lexically_relative(state_dir).generic_string();
}

long DaysLeft(TimePoint not_after, TimePoint now) {
  auto hours =
      std::chrono::duration_cast<std::chrono::hours>(not_after - now).count();
  // floor, also for negatives: one hour past expiry is day -1.
  return hours >= 0 ? static_cast<long>(hours / 24)
                    : -static_cast<long>((-hours + 23) / 24);
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "none" : out;
}

void CompareSans(const std::vector<std::string>& have,
                 const std::vector<std::string>& want,
                 std::vector<std::string>& out) {
  for (const auto& w : want) {
    if (std::find(have.begin(), have.end(), w) == have.end())
      out.push_back("lacks SAN " + w);
  }
  for (const auto& h : have) {
    if (std::find(want.begin(), want.end(), h) == want.end())
      out.push_back("has extra SAN " + h);
  }
}

// Sets status from validity once no mismatch was found.
void ApplyExpiry(CertCheck& c, TimePoint now,
                 std::chrono::milliseconds renew_before,
                 std::vector<std::string>& problems) {
  if (!c.info) return;
  if (now > c.info->not_after) {
    if (problems.empty()) c.status = CertStatus::kExpired;
    problems.push_back(DescribeExpiry(c.info->not_after, now));
  } else if (c.info->not_after - now < renew_before) {
    if (problems.empty()) c.status = CertStatus::kRenewSoon;
    problems.push_back(DescribeExpiry(c.info->not_after, now) +
                       ", inside renew_before (" +
                       FormatDuration(renew_before) + ")");
  }
}

struct CaCheck {
  CertCheck check;
  X509Ptr cert;  // set when usable for verifying leaves
};

CaCheck CheckCa(const CertSpec& spec, const fs::path& state_dir,
                const PkiSettings& settings, TimePoint now) {
  CaCheck out;
  CertCheck& c = out.check;
  c.name = spec.name;
  fs::path crt = CertPath(state_dir, spec), key = KeyPath(state_dir, spec);
  c.file = Rel(state_dir, crt);
  std::error_code ec;
  bool have_crt = fs::exists(crt, ec), have_key = fs::exists(key, ec);
  if (!have_crt) {
    c.status = CertStatus::kMissing;
    c.reason =
        have_key ? "certificate missing (its key is present)" : "missing";
    return out;
  }
  auto cert = LoadCertificate(crt);
  if (!cert) {
    c.status = CertStatus::kMismatch;
    c.reason = cert.error().message;
    return out;
  }
  c.info = InspectCertificate(cert->get());
  c.days_left = DaysLeft(c.info->not_after, now);
  std::vector<std::string> problems;
  if (!have_key) {
    problems.push_back("key " + Rel(state_dir, key) + " missing");
  } else if (auto k = LoadPrivateKey(key); !k) {
    problems.push_back("key unreadable: " + k.error().message);
  } else if (!KeyMatchesCertificate(cert->get(), k->get())) {
    problems.push_back("key " + Rel(state_dir, key) +
                       " does not match the certificate");
  }
  auto invalid = VerifySelfSignedCa(cert->get(), now);
  bool expired = now > c.info->not_after;
  if (invalid && !expired) problems.push_back(*invalid);
  c.status = problems.empty() ? CertStatus::kOk : CertStatus::kMismatch;
  ApplyExpiry(c, now, settings.renew_before, problems);
  c.reason = JoinReasons(problems);
  if (!invalid)
    out.cert = std::move(*cert);  // verifying leaves needs only the certificate
  return out;
}

CertCheck CheckKeyPair(const CertSpec& spec, const fs::path& state_dir) {
  CertCheck c;
  c.name = spec.name;
  fs::path pub = CertPath(state_dir, spec), key = KeyPath(state_dir, spec);
  c.file = Rel(state_dir, key);
  std::error_code ec;
  if (!fs::exists(key, ec)) {
    c.status = CertStatus::kMissing;
    c.reason = fs::exists(pub, ec) ? "private key missing (sa.pub is present)"
                                   : "missing";
    return c;
  }
  auto k = LoadPrivateKey(key);
  if (!k) {
    c.status = CertStatus::kMismatch;
    c.reason = k.error().message;
    return c;
  }
  auto pub_text = ReadFile(pub);
  if (!pub_text) {
    c.status = CertStatus::kMissing;
    c.reason = Rel(state_dir, pub) + " missing";
    return c;
  }
  auto p = ParsePublicKeyPem(*pub_text, pub.string());
  if (!p || !KeysMatch(p->get(), k->get())) {
    c.status = CertStatus::kMismatch;
    c.reason = Rel(state_dir, pub) + " is not the public half of " +
               Rel(state_dir, key);
    return c;
  }
  c.status = CertStatus::kOk;
  c.reason = DescribeKey(k->get());
  return c;
}

}  // namespace

std::string_view CertStatusName(CertStatus status) {
  switch (status) {
    case CertStatus::kOk:
      return "ok";
    case CertStatus::kMismatch:
      return "mismatch";
    case CertStatus::kRenewSoon:
      return "renew soon";
    case CertStatus::kExpired:
      return "expired";
    case CertStatus::kMissing:
      return "missing";
    case CertStatus::kStale:
      return "stale";
  }
  return "?";
}

std::string JoinReasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
  return out;
}

std::vector<std::string> SpecMismatches(const CertInfo& info,
                                        const CertSpec& spec,
                                        KeyAlgorithm wanted) {
  std::vector<std::string> out;
  if (info.cn != spec.cn)
    out.push_back("CN is " + info.cn + ", want " + spec.cn);
  std::vector<std::string> have_o = info.orgs, want_o = spec.orgs;
  std::sort(have_o.begin(), have_o.end());
  std::sort(want_o.begin(), want_o.end());
  if (have_o != want_o)
    out.push_back("O is " + JoinList(have_o) + ", want " + JoinList(want_o));
  if (info.is_ca) out.push_back("is a CA certificate");
  if (!info.ku_digital_signature)
    out.push_back("lacks key usage digitalSignature");
  if (spec.server_auth && !info.server_auth)
    out.push_back("lacks extended key usage serverAuth");
  if (!spec.server_auth && info.server_auth)
    out.push_back("has extended key usage serverAuth");
  if (spec.client_auth && !info.client_auth)
    out.push_back("lacks extended key usage clientAuth");
  if (!spec.client_auth && info.client_auth)
    out.push_back("has extended key usage clientAuth");
  CompareSans(info.dns_sans, spec.dns_sans, out);
  CompareSans(info.ip_sans, spec.ip_sans, out);
  std::string want_key(KeyAlgorithmName(wanted));
  if (info.key != want_key)
    out.push_back("key is " + info.key + ", want " + want_key);
  return out;
}

FileContents ReadIfExists(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  return ReadFile(path);
}

LeafCheck CheckLeaf(const CertSpec& spec, const fs::path& state_dir, X509* ca,
                    const PkiSettings& settings, TimePoint now) {
  return CheckLeafContents(
      spec, state_dir, ReadIfExists(CertPath(state_dir, spec)),
      ReadIfExists(KeyPath(state_dir, spec)), ca, settings, now);
}

LeafCheck CheckLeafContents(const CertSpec& spec, const fs::path& state_dir,
                            const FileContents& crt_text,
                            const FileContents& key_text, X509* ca,
                            const PkiSettings& settings, TimePoint now) {
  LeafCheck out;
  CertCheck& c = out.check;
  c.name = spec.name;
  fs::path crt = CertPath(state_dir, spec), key_path = KeyPath(state_dir, spec);
  c.file = Rel(state_dir, crt);
  KeyPtr key;
  std::string key_problem;
  if (key_text) {
    Result<KeyPtr> k = *key_text
                           ? ParsePrivateKeyPem(**key_text, key_path.string())
                           : std::unexpected(key_text->error());
    if (k) {
      key = std::move(*k);
      out.key_reusable = KeyAlgorithmOf(key.get()) == settings.key_algorithm;
    } else {
      key_problem = "key unreadable";
    }
  } else {
    key_problem = "key " + Rel(state_dir, key_path) + " missing";
  }
  if (!crt_text) {
    c.status = CertStatus::kMissing;
    c.reason = "missing";
    return out;
  }
  Result<X509Ptr> cert = *crt_text
                             ? ParseCertificatePem(**crt_text, crt.string())
                             : std::unexpected(crt_text->error());
  if (!cert) {
    c.status = CertStatus::kMismatch;
    c.reason = cert.error().message;
    return out;
  }
  c.info = InspectCertificate(cert->get());
  c.days_left = DaysLeft(c.info->not_after, now);
  std::vector<std::string> problems;
  if (!key_problem.empty()) {
    problems.push_back(key_problem);
  } else if (!KeyMatchesCertificate(cert->get(), key.get())) {
    problems.push_back("key " + Rel(state_dir, key_path) +
                       " does not match the certificate");
  }
  for (auto& p : SpecMismatches(*c.info, spec, settings.key_algorithm)) {
    problems.push_back(std::move(p));
  }
  if (ca == nullptr) {
    problems.push_back("cannot verify: CA pki/" + spec.ca +
                       ".crt is missing or invalid");
  } else if (auto bad = VerifyIssuedBy(cert->get(), ca, now);
             bad &&
             now <= c.info->not_after) {  // expiry is ApplyExpiry's to report
    problems.push_back(*bad);
  }
  c.status = problems.empty() ? CertStatus::kOk : CertStatus::kMismatch;
  ApplyExpiry(c, now, settings.renew_before, problems);
  c.reason = JoinReasons(problems);
  return out;
}

std::vector<std::string> StaleFiles(const Cluster& cluster,
                                    const fs::path& state_dir) {
  std::set<std::string> known;
  for (const CertSpec& s : CertificateTable(cluster)) {
    known.insert(Rel(state_dir, CertPath(state_dir, s)));
    known.insert(Rel(state_dir, KeyPath(state_dir, s)));
  }
  for (const KubeconfigSpec& k : KubeconfigTable(cluster)) {
    known.insert(Rel(state_dir, KubeconfigPath(state_dir, k)));
  }
  std::vector<std::string> stale;
  auto scan = [&](const fs::path& dir, std::string_view ext) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file() || entry.path().extension() != ext) continue;
      std::string rel = Rel(state_dir, entry.path());
      if (!known.contains(rel)) found.push_back(rel);
    }
    std::sort(found.begin(), found.end());
    stale.insert(stale.end(), found.begin(), found.end());
  };
  scan(state_dir / "pki", ".crt");
  scan(state_dir / "pki" / "etcd", ".crt");
  scan(state_dir / "kubeconfigs", ".kubeconfig");
  return stale;
}

std::vector<CertCheck> CheckPki(const Cluster& cluster,
                                const fs::path& state_dir, TimePoint now) {
  const PkiSettings& settings = cluster.inventory().pki;
  std::vector<CertSpec> table = CertificateTable(cluster);
  std::vector<CertCheck> out;
  std::map<std::string, X509Ptr> cas;
  for (const CertSpec& spec : table) {
    switch (spec.kind) {
      case CertKind::kCa: {
        CaCheck ca = CheckCa(spec, state_dir, settings, now);
        out.push_back(std::move(ca.check));
        if (ca.cert) cas[spec.name] = std::move(ca.cert);
        break;
      }
      case CertKind::kKeyPair:
        out.push_back(CheckKeyPair(spec, state_dir));
        break;
      case CertKind::kLeaf: {
        auto it = cas.find(spec.ca);
        X509* ca = it == cas.end() ? nullptr : it->second.get();
        out.push_back(CheckLeaf(spec, state_dir, ca, settings, now).check);
        break;
      }
    }
  }
  for (const KubeconfigSpec& k : KubeconfigTable(cluster)) {
    CertCheck c;
    fs::path path = KubeconfigPath(state_dir, k);
    c.name = k.name + ".kubeconfig";
    c.file = Rel(state_dir, path);
    std::error_code ec;
    auto have = ReadFile(path);
    auto want = BuildKubeconfig(cluster, k, state_dir);
    if (!fs::exists(path, ec) || !have) {
      c.status = CertStatus::kMissing;
      c.reason = "missing";
    } else if (!want) {
      c.status = CertStatus::kMismatch;
      c.reason = "cannot rebuild it: " + want.error().ToString();
    } else if (*have != *want) {
      c.status = CertStatus::kMismatch;
      c.reason =
          "does not embed the current certificates, key or server " + k.server;
    } else {
      c.status = CertStatus::kOk;
    }
    out.push_back(std::move(c));
  }
  {
    CertCheck c;
    c.name = "encryption-config.yaml";
    c.file = "encryption-config.yaml";
    fs::path path = state_dir / c.file;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      c.status = CertStatus::kMissing;
      c.reason = "missing";
    } else if (auto text = ReadFile(path); !text) {
      c.status = CertStatus::kMismatch;
      c.reason = text.error().message;
    } else if (auto parsed = ParseEncryptionConfig(*text, path.string());
               !parsed) {
      c.status = CertStatus::kMismatch;
      c.reason = parsed.error().message;
    } else {
      std::string wanted(
          EncryptionProviderName(cluster.inventory().encryption.provider));
      bool ok = parsed->providers.front() == wanted;
      c.status = ok ? CertStatus::kOk : CertStatus::kMismatch;
      c.reason =
          ok ? "provider " + wanted
             : "provider is " + parsed->providers.front() + ", want " + wanted;
    }
    out.push_back(std::move(c));
  }
  for (const std::string& file : StaleFiles(cluster, state_dir)) {
    CertCheck c;
    c.name = fs::path(file).stem().string();
    c.file = file;
    c.status = CertStatus::kStale;
    c.reason =
        "not in the certificate table (host removed from the inventory?)";
    if (file.ends_with(".crt")) {
      if (auto cert = LoadCertificate(state_dir / file)) {
        c.info = InspectCertificate(cert->get());
        c.days_left = DaysLeft(c.info->not_after, now);
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool CheckPassed(const std::vector<CertCheck>& checks) {
  return std::all_of(checks.begin(), checks.end(), [](const CertCheck& c) {
    return c.status == CertStatus::kOk || c.status == CertStatus::kStale;
  });
}

}  // namespace hardway
