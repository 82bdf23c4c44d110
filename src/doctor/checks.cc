#include "doctor/checks.h"

#include <openssl/err.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "remote/ssh_util.h"
#include "util/duration.h"
#include "util/net.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;

std::string Join(const std::vector<std::string>& items,
                 const std::string& sep = "; ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// "a", "a and b", "a, b and c".
std::string JoinAnd(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end())
    list.push_back(value);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' ||
                        s.back() == '\r' || s.back() == '\t'))
    s.pop_back();
  s.erase(0, s.find_first_not_of(" \n\r\t"));
  return s;
}

std::string StripZeros(std::string mode) {
  mode.erase(0, std::min(mode.find_first_not_of('0'), mode.size()));
  return mode.empty() ? "0" : mode;
}

std::string Octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

bool OwnerMatches(const std::string& remote, const std::string& wanted) {
  if (wanted.find(':') == std::string::npos)
    return remote.substr(0, remote.find(':')) == wanted;
  return remote == wanted;
}

std::string Lower(std::string s) {
  std::ranges::transform(s, s.begin(),
                         [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool Covers(const CertInfo& info, const std::string& name) {
  if (Ipv4::Parse(name)) {
    return std::ranges::find(info.ip_sans, name) != info.ip_sans.end();
  }
  std::string want = Lower(name);
  for (const std::string& dns : info.dns_sans) {
    std::string san = Lower(dns);
    if (san == want) return true;
    if (san.starts_with("*.")) {
      size_t dot = want.find('.');
      if (dot != std::string::npos && want.substr(dot) == san.substr(1))
        return true;
    }
  }
  return false;
}

std::string FirstCnOf(const X509_NAME* name) {
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "?";
  const ASN1_STRING* s =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

// A moment inside the certificate's validity, so a chain check says nothing
// about expiry (reported on its own).
TimePoint InsideValidity(const CertInfo& info, TimePoint now) {
  if (now < info.not_before) return info.not_before;
  if (now > info.not_after) return info.not_after;
  return now;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string SideName(const Endpoint& e, const std::string& host) {
  std::string s(ComponentName(e.component));
  if (!host.empty()) s += " " + host;
  return s;
}

}  // namespace

std::string CaSet::SignerOf(X509* cert) const {
  for (const auto& [stem, ca] : cas) {
    if (X509_NAME_cmp(X509_get_issuer_name(cert),
                      X509_get_subject_name(ca.get())) != 0)
      continue;
    int ok = X509_verify(cert, X509_get0_pubkey(ca.get()));
    ERR_clear_error();
    if (ok == 1) return stem;
  }
  std::string cn = FirstCnOf(X509_get_issuer_name(cert));
  for (const auto& [stem, ca] : cas) {
    if (X509_NAME_cmp(X509_get_issuer_name(cert),
                      X509_get_subject_name(ca.get())) == 0) {
      return "CN=" + cn + " (same name as " + stem +
             " but another key: not this cluster's CA)";
    }
  }
  return "CN=" + cn + " (no CA of this cluster)";
}

std::string CaSet::NameOf(X509* ca) const {
  for (const auto& [stem, ours] : cas) {
    if (X509_cmp(ca, ours.get()) == 0) return stem;
  }
  std::string cn = FirstCnOf(X509_get_subject_name(ca));
  for (const auto& [stem, ours] : cas) {
    if (X509_NAME_cmp(X509_get_subject_name(ca),
                      X509_get_subject_name(ours.get())) == 0) {
      return "CN=" + cn + " (same name as " + stem +
             " but another certificate: not this cluster's CA)";
    }
  }
  return "CN=" + cn + " (no CA of this cluster)";
}

CaSet LoadCaSet(const fs::path& state_dir) {
  CaSet set;
  for (const char* stem : {"ca", "etcd/ca", "front-proxy-ca"}) {
    auto cert =
        LoadCertificate(state_dir / "pki" / (std::string(stem) + ".crt"));
    if (cert) set.cas[stem] = std::move(*cert);
  }
  return set;
}

std::string UnitOfPath(const std::string& dest) {
  constexpr std::string_view kDir = "/etc/systemd/system/";
  constexpr std::string_view kSuffix = ".service";
  if (!dest.starts_with(kDir) || !dest.ends_with(kSuffix)) return "";
  std::string name = dest.substr(kDir.size());
  name.resize(name.size() - kSuffix.size());
  if (name.find('/') != std::string::npos) return "";
  return "unit " + name;
}

Finding CheckPlannedFile(const std::string& host, const Step& step,
                         const RemoteFile* remote) {
  Finding f{.check = "file",
            .subject = host + " " + step.dest,
            .host = host,
            .verdict = Verdict::kOk,
            .cause = "",
            .unreachable = false};
  std::string unit = UnitOfPath(step.dest);
  if (!remote) {
    f.verdict = Verdict::kFail;
    f.cause = std::string("missing") + (unit.empty() ? "" : " (" + unit + ")") +
              " — `hardway up` puts it back";
    return f;
  }
  std::vector<std::string> problems;
  bool content = false;
  if (!step.sha256.empty() && remote->sha256 != step.sha256) {
    content = true;
    std::string what = unit.empty() ? "" : unit + ": ";
    if (step.kind == StepKind::kRender) {
      problems.push_back(what + "differs from what hardway renders (" +
                         step.source_label + ")");
    } else if (step.source_label.starts_with("state ")) {
      problems.push_back(what + "differs from the state dir (" +
                         step.source_label.substr(6) + ")");
    } else {
      problems.push_back(what + "differs from the " + step.source_label);
    }
  }
  if (!remote->mode.empty() &&
      StripZeros(remote->mode) != StripZeros(Octal(step.mode))) {
    std::string p = "mode " +
                    Octal(static_cast<uint32_t>(
                        std::strtoul(remote->mode.c_str(), nullptr, 8))) +
                    ", want " + Octal(step.mode);
    uint32_t have =
        static_cast<uint32_t>(std::strtoul(remote->mode.c_str(), nullptr, 8));
    if (step.secret && (have & 0077) != 0) {
      p += " (a " + step.secret_kind + " readable by other users)";
    }
    problems.push_back(p);
  }
  if (!step.owner.empty() && !remote->owner.empty() &&
      !OwnerMatches(remote->owner, step.owner)) {
    problems.push_back("owner " + remote->owner + ", want " + step.owner);
  }
  if (problems.empty()) return f;
  f.verdict = Verdict::kFail;
  f.cause =
      Join(problems) + (content ? " — edited by hand? `hardway up` puts it back"
                                : " — `hardway up` fixes it");
  return f;
}

std::string DeployedCert::Subject() const {
  if (host.empty()) return name + " cert in the state dir";
  if (in_kubeconfig || show_where)
    return name + " cert in " + where + " on " + host;
  return name + " cert on " + host;
}

Finding CheckDeployedCert(const DeployedCert& dc, const CaSet& cas,
                          TimePoint now,
                          std::chrono::milliseconds renew_before) {
  Finding f{.check = "cert",
            .subject = dc.Subject(),
            .host = dc.host,
            .verdict = Verdict::kOk,
            .cause = "",
            .unreachable = false};
  auto cert = ParseCertificatePem(dc.pem, dc.where);
  if (!cert) {
    f.verdict = Verdict::kFail;
    f.cause = "cannot read the certificate in " + dc.where + ": " +
              cert.error().message;
    return f;
  }
  CertInfo info = InspectCertificate(cert->get());
  std::vector<std::string> problems, warnings, fine;

  if (now > info.not_after) {
    problems.push_back(DescribeExpiry(info.not_after, now));
  } else if (now < info.not_before) {
    problems.push_back("not valid before " + FormatDate(info.not_before) +
                       " (compare this machine's clock with the hosts')");
  } else if (info.not_after - now < renew_before) {
    warnings.push_back(
        DescribeExpiry(info.not_after, now) + ", inside renew_before " +
        FormatDuration(renew_before) +
        (dc.is_ca ? " — hardway never replaces a CA by itself: rotate it by "
                    "hand, or start over with a new pki/ in the state dir"
                  : " — `hardway certs` reissues it, `hardway up` deploys "
                    "it"));
  } else {
    fine.push_back(DescribeExpiry(info.not_after, now));
  }

  // The chain, against what each verifier really trusts; verifiers of one
  // component with the same CA speak as one ("etcd trusts etcd/ca").
  std::map<std::string, size_t> per_component;
  for (const Verifier& v : dc.verifiers) ++per_component[v.component];
  std::map<std::pair<std::string, std::string>, std::vector<const Verifier*>>
      groups;
  std::vector<std::pair<std::string, std::string>> order;
  for (const Verifier& v : dc.verifiers) {
    if (v.ca_pem.empty()) continue;
    auto key = std::pair{v.component, v.ca_pem};
    if (!groups.contains(key)) order.push_back(key);
    groups[key].push_back(&v);
  }
  std::vector<std::string> trusted_by;
  for (const auto& key : order) {
    const auto& group = groups[key];
    std::vector<std::string> whos;
    for (const Verifier* v : group) AddUnique(whos, v->who);
    std::string who =
        group.size() == per_component[key.first] ? key.first : JoinAnd(whos);
    auto ca = ParseCertificatePem(key.second, "the CA " + who + " trusts");
    if (!ca) {
      problems.push_back("the CA file " + who +
                         " trusts cannot be read: " + ca.error().message);
      continue;
    }
    std::string trusted = cas.NameOf(ca->get());
    auto why =
        VerifyIssuedBy(cert->get(), ca->get(), InsideValidity(info, now));
    if (!why) {
      AddUnique(trusted_by, who);
      continue;
    }
    std::string signer = cas.SignerOf(cert->get());
    if (signer != trusted) {
      problems.push_back("signed by " + signer + ", " + who + " trusts " +
                         trusted);
    } else {
      problems.push_back("does not verify against " + trusted + ", which " +
                         who + " trusts: " + *why);
    }
  }
  if (!trusted_by.empty()) {
    fine.push_back("signed by " + cas.SignerOf(cert->get()) + ", trusted by " +
                   JoinAnd(trusted_by));
  }

  // SANs: every name the certificate is dialed at, and who dials it there.
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::string>> dialers;
  for (const Dial& d : dc.dials) {
    AddUnique(names, d.name);
    AddUnique(dialers[d.name], d.who);
  }
  std::vector<std::string> covered;
  for (const std::string& name : names) {
    if (Covers(info, name)) {
      covered.push_back(name);
      continue;
    }
    const auto& whos = dialers[name];
    problems.push_back("lacks SAN " + name + ", which " + JoinAnd(whos) +
                       (whos.size() == 1 ? " dials" : " dial"));
  }
  if (!covered.empty() && covered.size() == names.size()) {
    fine.push_back("SANs cover " + Join(covered, ", "));
  }

  if (!dc.key_pem.empty()) {
    auto key = ParsePrivateKeyPem(dc.key_pem, dc.key_where);
    if (!key) {
      problems.push_back("key " + dc.key_where +
                         " cannot be read as a private key");
    } else if (!KeyMatchesCertificate(cert->get(), key->get())) {
      problems.push_back(
          dc.in_kubeconfig
              ? "the key in " + dc.key_where + " does not match its certificate"
              : "key " + dc.key_where + " does not match the certificate");
    } else {
      fine.push_back("key matches");
    }
  }

  if (!problems.empty()) {
    f.verdict = Verdict::kFail;
    problems.insert(problems.end(), warnings.begin(), warnings.end());
    f.cause = Join(problems);
  } else if (!warnings.empty()) {
    f.verdict = Verdict::kWarn;
    f.cause = Join(warnings);
  } else {
    f.cause = Join(fine);
  }
  return f;
}

Finding CheckClock(const std::string& host, double offset, double round_trip) {
  Finding f{.check = "clock",
            .subject = host,
            .host = host,
            .verdict = Verdict::kOk,
            .cause = "",
            .unreachable = false};
  char buf[160];
  if (std::fabs(offset) >= 1.0) {
    std::snprintf(buf, sizeof buf,
                  "clock is %.1f s %s this machine's; TLS and etcd need < 1 s "
                  "— sync the clocks (systemd-timesyncd, chrony)",
                  std::fabs(offset), offset > 0 ? "ahead of" : "behind");
    f.verdict = Verdict::kFail;
  } else {
    std::snprintf(buf, sizeof buf, "offset %+.0f ms (round trip %.0f ms)",
                  offset * 1000, round_trip * 1000);
  }
  f.cause = buf;
  return f;
}

std::optional<Finding> CheckClockSpread(
    const std::vector<ClockReading>& readings) {
  if (readings.size() < 2) return std::nullopt;
  auto [lo, hi] = std::ranges::minmax_element(
      readings, {}, [](const ClockReading& r) { return r.offset; });
  const double gap = hi->offset - lo->offset;
  const double error = (hi->round_trip + lo->round_trip) / 2;
  Finding f{.check = "clock",
            .subject = "between " + lo->host + " and " + hi->host,
            .host = "",
            .verdict = Verdict::kOk,
            .cause = "",
            .unreachable = false};
  char buf[256];
  if (gap - error >= 1.0) {
    std::snprintf(buf, sizeof buf,
                  "%s's clock is %.1f s ahead of %s's (± %.0f ms), the "
                  "widest gap of %zu hosts; etcd and TLS need < 1 s — sync the "
                  "clocks (systemd-timesyncd, chrony)",
                  hi->host.c_str(), gap, lo->host.c_str(), error * 1000,
                  readings.size());
    f.verdict = Verdict::kFail;
  } else if (gap + error >= 1.0) {
    std::snprintf(buf, sizeof buf,
                  "%s's clock may be 1 s or more ahead of %s's: %.1f s ± "
                  "%.1f s (slow round trips), the widest gap of %zu hosts; "
                  "etcd and TLS need < 1 s",
                  hi->host.c_str(), lo->host.c_str(), gap, error,
                  readings.size());
    f.verdict = Verdict::kWarn;
  } else {
    std::snprintf(buf, sizeof buf,
                  "%s is %.0f ms ahead of %s (± %.0f ms), the widest gap of "
                  "%zu hosts",
                  hi->host.c_str(), gap * 1000, lo->host.c_str(), error * 1000,
                  readings.size());
  }
  f.cause = buf;
  return f;
}

Finding CheckUnit(const std::string& host, const std::string& unit,
                  const UnitState& s, const std::string& journal_tail) {
  Finding f{.check = "unit",
            .subject = unit + " on " + host,
            .host = host,
            .verdict = Verdict::kOk,
            .cause = "",
            .unreachable = false};
  std::vector<std::string> lines;
  {
    std::string text = Trim(journal_tail);
    size_t pos = 0;
    while (pos <= text.size() && !text.empty()) {
      size_t nl = text.find('\n', pos);
      std::string line = Trim(text.substr(pos, nl - pos));
      if (!line.empty() && line != "-- No entries --") lines.push_back(line);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
  std::string journal = lines.empty() ? "" : "; journal: " + Join(lines, " | ");
  std::string restarts = s.n_restarts > 0
                             ? ", restarted " + std::to_string(s.n_restarts) +
                                   (s.n_restarts == 1 ? " time" : " times")
                             : "";
  if (s.load_state == "not-found") {
    f.verdict = Verdict::kFail;
    f.cause = "not installed (no unit file) — `hardway up` installs it";
    return f;
  }
  if (s.active_state != "active" || s.sub_state == "auto-restart") {
    f.verdict = Verdict::kFail;
    f.cause = s.active_state + " (" + s.sub_state + ")" + restarts + journal +
              " — `hardway up` starts it";
    return f;
  }
  if (s.n_restarts > 0) {
    f.verdict = Verdict::kWarn;
    f.cause = "active (" + s.sub_state + ")" + restarts + journal;
    return f;
  }
  f.cause = "active (" + s.sub_state + "), 0 restarts";
  return f;
}

std::string ExplainLinkFailure(const LinkFacts& facts,
                               const std::string& tls_error, const CaSet& cas,
                               TimePoint now) {
  const Link& link = *facts.link;
  const std::string from =
      link.client.host.empty() ? std::string("hardway") : link.client.host;
  const std::string server_who = SideName(link.server, facts.server_host);
  const std::string client_who = SideName(link.client, link.client.host);
  auto parse = [](const std::string& pem) -> X509Ptr {
    if (pem.empty()) return nullptr;
    auto c = ParseCertificatePem(pem, "deployed certificate");
    return c ? std::move(*c) : nullptr;
  };

  if (Contains(tls_error, "cannot reach ") ||
      Contains(tls_error, "no answer within")) {
    return tls_error;
  }

  // Our side refused the server's certificate.
  bool name_mismatch = Contains(tls_error, "name mismatch");
  bool server_expired = Contains(tls_error, "certificate expired on") ||
                        Contains(tls_error, "certificate not valid before");
  bool unknown_ca = Contains(tls_error, "unknown CA");
  if (name_mismatch || server_expired || unknown_ca ||
      Contains(tls_error, "certificate verification failed")) {
    X509Ptr server_cert = parse(facts.server_cert_pem);
    const std::string cert_name = link.server.credential.cert;
    std::string on =
        facts.server_host.empty() ? "" : " on " + facts.server_host;
    if (server_cert && name_mismatch) {
      return cert_name + " cert" + on + " lacks SAN " + link.dial_host +
             ", which " + std::string(ComponentName(link.client.component)) +
             " dials (" + tls_error + ")";
    }
    if (server_cert && server_expired) {
      CertInfo info = InspectCertificate(server_cert.get());
      return "server certificate " + cert_name + on + " " +
             DescribeExpiry(info.not_after, now) + "; " + client_who +
             " refuses it";
    }
    X509Ptr client_ca = parse(facts.client_ca_pem);
    if (server_cert && client_ca && unknown_ca) {
      return client_who + " refuses " + cert_name + " from " +
             (facts.server_host.empty() ? link.dial_host : facts.server_host) +
             ": signed by " + cas.SignerOf(server_cert.get()) + ", " +
             std::string(ComponentName(link.client.component)) + " trusts " +
             cas.NameOf(client_ca.get());
    }
    return tls_error;
  }

  // The server refused us, or hung up: what is wrong with our certificate in
  // its eyes?
  X509Ptr client_cert = parse(facts.client_cert_pem);
  X509Ptr server_ca = parse(facts.server_ca_pem);
  const std::string cert_name = link.client.credential.cert;
  if (client_cert) {
    CertInfo info = InspectCertificate(client_cert.get());
    if (now > info.not_after) {
      return "client certificate " + DescribeExpiry(info.not_after, now) +
             "; " + server_who + " rejects it";
    }
    if (now < info.not_before) {
      return "client certificate not valid before " +
             FormatDate(info.not_before) + "; " + server_who + " rejects it";
    }
    if (server_ca) {
      std::string signer = cas.SignerOf(client_cert.get());
      std::string trusted = cas.NameOf(server_ca.get());
      if (signer != trusted) {
        return server_who + " rejects " + cert_name + " from " + from +
               ": signed by " + signer + ", " +
               std::string(ComponentName(link.server.component)) + " trusts " +
               trusted;
      }
    }
  }
  if (Contains(tls_error, "rejected our client certificate") ||
      Contains(tls_error, "says our client certificate") ||
      tls_error.starts_with("HTTP 401")) {
    return server_who + " rejects " + cert_name + " from " + from + " (" +
           tls_error + ")";
  }
  return tls_error;
}

Result<KubeconfigCredentials> ParseKubeconfigCredentials(
    const std::string& yaml, const std::string& where) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return Fail(ErrorKind::kValidation,
                "not a kubeconfig: YAML error at line " +
                    std::to_string(e.mark.line + 1),
                where);
  }
  if (!root.IsMap()) {
    return Fail(ErrorKind::kValidation, "not a kubeconfig (no mapping)", where);
  }
  auto named = [&](const char* list, const std::string& name,
                   const char* inner) -> YAML::Node {
    YAML::Node items = root[list];
    if (!items || !items.IsSequence()) return YAML::Node();
    for (const YAML::Node& item : items) {
      if (!item.IsMap()) continue;
      if (name.empty() ||
          (item["name"] && item["name"].as<std::string>("") == name))
        return item[inner];
    }
    return YAML::Node();
  };
  try {
    std::string context_name = root["current-context"]
                                   ? root["current-context"].as<std::string>("")
                                   : "";
    YAML::Node context = named("contexts", context_name, "context");
    std::string cluster_name, user_name;
    if (context && context.IsMap()) {
      cluster_name =
          context["cluster"] ? context["cluster"].as<std::string>("") : "";
      user_name = context["user"] ? context["user"].as<std::string>("") : "";
    }
    YAML::Node cluster = named("clusters", cluster_name, "cluster");
    YAML::Node user = named("users", user_name, "user");
    if (!cluster || !user || !cluster.IsMap() || !user.IsMap()) {
      return Fail(ErrorKind::kValidation,
                  "kubeconfig has no cluster or user for its current context",
                  where);
    }
    KubeconfigCredentials out;
    out.server = cluster["server"] ? cluster["server"].as<std::string>("") : "";
    struct Field {
      YAML::Node node;
      const char* key;
      std::string* into;
    };
    for (const Field& field :
         {Field{cluster, "certificate-authority-data", &out.ca_pem},
          Field{user, "client-certificate-data", &out.cert_pem},
          Field{user, "client-key-data", &out.key_pem}}) {
      YAML::Node value = field.node[field.key];
      if (!value) {
        return Fail(ErrorKind::kValidation,
                    std::string("kubeconfig has no ") + field.key, where,
                    "hardway embeds every certificate and key; `hardway up` "
                    "puts the state dir's kubeconfig back");
      }
      auto decoded = SshBase64Decode(Trim(value.as<std::string>("")));
      if (!decoded) {
        return Fail(
            ErrorKind::kValidation,
            std::string("kubeconfig's ") + field.key + " is not valid base64",
            where);
      }
      *field.into = std::move(*decoded);
    }
    return out;
  } catch (const YAML::Exception& e) {
    return Fail(ErrorKind::kValidation,
                "not a kubeconfig: unexpected structure at line " +
                    std::to_string(e.mark.line + 1),
                where);
  }
}

}  // namespace hardway
