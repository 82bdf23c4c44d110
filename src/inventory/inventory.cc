#include "inventory/inventory.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "inventory/pod_cidr.h"
#include "util/duration.h"
#include "util/suggest.h"

namespace hardway {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kEtcd:
      return "etcd";
    case Role::kControlplane:
      return "controlplane";
    case Role::kWorker:
      return "worker";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "etcd") return Role::kEtcd;
  if (name == "controlplane") return Role::kControlplane;
  if (name == "worker") return Role::kWorker;
  return std::nullopt;
}

std::string_view KeyAlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsaP256:
      return "ecdsa-p256";
    case KeyAlgorithm::kEcdsaP384:
      return "ecdsa-p384";
    case KeyAlgorithm::kRsa2048:
      return "rsa-2048";
    case KeyAlgorithm::kRsa3072:
      return "rsa-3072";
    case KeyAlgorithm::kRsa4096:
      return "rsa-4096";
  }
  return "unknown";
}

std::string_view EncryptionProviderName(EncryptionProvider provider) {
  switch (provider) {
    case EncryptionProvider::kAescbc:
      return "aescbc";
    case EncryptionProvider::kSecretbox:
      return "secretbox";
  }
  return "unknown";
}

namespace {

using Keys = std::vector<std::string_view>;

const Keys kRootKeys = {"cluster", "pki",       "encryption",
                        "ssh",     "artifacts", "hosts"};
const Keys kClusterKeys = {"name",         "kubernetes_version", "domain",
                           "service_cidr", "pod_cidr",           "api_endpoint",
                           "extra_sans",   "extra_args"};
const Keys kPkiKeys = {"key_algorithm", "ca_validity", "cert_validity",
                       "renew_before"};
const Keys kEncryptionKeys = {"provider"};
const Keys kSshKeys = {"user",    "port",           "identity_file",
                       "agent",   "known_hosts",    "host_key_policy",
                       "bastion", "connect_timeout"};
const Keys kBastionKeys = {"address", "port", "user", "identity_file",
                           "host_key"};
const Keys kArtifactsKeys = {"dir",      "bundle", "mirror", "cache",
                             "versions", "urls",   "sha256"};
const Keys kVersionKeys = {"etcd", "containerd", "runc", "cni_plugins",
                           "crictl"};
const Keys kHostKeys = {"name",     "address",  "fqdn", "roles",
                        "pod_cidr", "host_key", "ssh",  "arch"};
const Keys kArches = {"amd64", "arm64"};
const Keys kReleaseNames = {"kube-apiserver", "kube-controller-manager",
                            "kube-scheduler", "kubelet",
                            "kube-proxy",     "kubectl",
                            "etcd",           "containerd",
                            "runc",           "cni_plugins",
                            "crictl"};
const Keys kUrlVariables = {"version", "bare_version", "arch"};

}  // namespace

const std::vector<std::string_view>& KnownArches() { return kArches; }
const std::vector<std::string_view>& ReleaseNames() { return kReleaseNames; }

namespace {

const Keys kComponents = {
    "etcd",           "kube-apiserver", "kube-controller-manager",
    "kube-scheduler", "kubelet",        "kube-proxy"};
const Keys kRoleNames = {"etcd", "controlplane", "worker"};
const Keys kKeyAlgorithms = {"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072",
                             "rsa-4096"};
const Keys kProviders = {"aescbc", "secretbox"};
const Keys kHostKeyPolicies = {"strict", "accept-new"};
const Keys kHostKeyTypes = {"ssh-ed25519", "ecdsa-sha2-nistp256",
                            "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                            "ssh-rsa"};

std::string Join(const Keys& keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// The closest candidate when it is close enough to be a typo, else empty.
std::string Suggest(std::string_view word, const Keys& candidates) {
  std::string lower(word);
  for (char& ch : lower)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  size_t best = SIZE_MAX;
  std::string_view best_word;
  for (std::string_view c : candidates) {
    size_t d = EditDistance(lower, c);
    if (d < best) {
      best = d;
      best_word = c;
    }
  }
  size_t limit = std::max<size_t>(1, std::min<size_t>(3, best_word.size() / 3));
  if (best <= limit) return std::string(best_word);
  return {};
}

// "did you mean 'x'? " + the valid choices.
std::string ChoiceHint(std::string_view word, const Keys& candidates,
                       std::string_view what) {
  std::string hint;
  std::string suggestion = Suggest(word, candidates);
  if (!suggestion.empty()) hint = "did you mean '" + suggestion + "'? ";
  hint += std::string(what) + ": " + Join(candidates);
  return hint;
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return false;
  }
  return s.front() != '-' && s.back() != '-';
}

// A DNS-1123 subdomain: dot-separated labels, 253 characters at most.
bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(
            start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::optional<int> ParseInt(std::string_view s) {
  int value = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<int> ParsePort(std::string_view s) {
  auto v = ParseInt(s);
  if (!v || *v < 1 || *v > 65535) return std::nullopt;
  return v;
}

// "10.240.0.300": meant as an address, not a name.
bool LooksNumeric(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

bool LooksLikeIpv6(std::string_view s) {
  return s.find(':') != std::string_view::npos;
}

bool IsKubernetesVersion(std::string_view s) {
  // vMAJOR.MINOR.PATCH with an optional pre-release suffix ("v1.32.3",
  // "v1.33.0-rc.1").
  if (s.size() < 2 || s[0] != 'v') return false;
  size_t i = 1;
  for (int part = 0; part < 3; ++part) {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
    if (part < 2) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  if (i == s.size()) return true;
  if (s[i] != '-' || i + 1 == s.size()) return false;
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'))
      return false;
  }
  return true;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

struct Diagnostic {
  int line;
  int col;
  Error error;
};

struct HostMarks {
  YAML::Mark entry;
  YAML::Mark name;
  YAML::Mark address;
  YAML::Mark pod_cidr;
  bool has_name = false;
  bool has_address = false;
  bool has_pod_cidr = false;
};

class Loader {
 public:
  explicit Loader(std::filesystem::path path) : path_(std::move(path)) {}

  std::expected<Inventory, std::vector<Error>> Run(const std::string& text) {
    Inventory inv;
    inv.path = path_;
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      Report(e.mark, "YAML syntax error: " + e.msg,
             "fix the YAML at this position (indentation, a missing ':' or an "
             "unclosed bracket or "
             "quote are the usual causes)");
      return Finish(std::move(inv));
    }
    try {
      Root(root, inv);
    } catch (const YAML::Exception& e) {
      // Every access above checks the node type first; this is a safety net so
      // a yaml-cpp exception never leaves the module.
      Report(e.mark, std::string("cannot read the inventory: ") + e.what(), "");
    }
    return Finish(std::move(inv));
  }

 private:
  std::expected<Inventory, std::vector<Error>> Finish(Inventory inv) {
    if (diags_.empty()) return inv;
    std::stable_sort(diags_.begin(), diags_.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return std::pair(a.line, a.col) <
                              std::pair(b.line, b.col);
                     });
    std::vector<Error> errors;
    for (Diagnostic& d : diags_) errors.push_back(std::move(d.error));
    return std::unexpected(std::move(errors));
  }

  void Report(const YAML::Mark& mark, std::string message, std::string hint) {
    int line = mark.line >= 0 ? mark.line + 1 : 1;
    int col = mark.column >= 0 ? mark.column + 1 : 1;
    std::string where =
        path_.string() + ":" + std::to_string(line) + ":" + std::to_string(col);
    diags_.push_back({line, col,
                      Error{ErrorKind::kValidation, std::move(message),
                            std::move(where), std::move(hint)}});
  }

  // Where `key` is written in `map` (for "missing field" and whole-section
  // errors, the key reads better than the first line of its value); the map
  // itself when the key is absent.
  static YAML::Mark KeyMark(const YAML::Node& map, std::string_view key) {
    if (map.IsMap()) {
      for (auto it = map.begin(); it != map.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == key)
          return it->first.Mark();
      }
    }
    return map.Mark();
  }

  // Where to point at a value. yaml-cpp marks an empty value ("name:" then a
  // newline) at the next token, often on the next line; point at its key.
  YAML::Mark At(const YAML::Node& n) const {
    if (n.IsNull()) {
      auto it = null_value_keys_.find(n.Mark().pos);
      if (it != null_value_keys_.end()) return it->second;
    }
    return n.Mark();
  }

  static std::string KindOf(const YAML::Node& n) {
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    if (n.IsNull()) return "nothing";
    return "the value " + Quote(n.Scalar());
  }

  // Reports unknown and duplicate keys; returns false when `node` is not a
  // mapping.
  // Reports unknown and duplicate keys; returns false when `node` is not a
  // mapping. An empty section ("pki:" with everything commented out) means
  // "all defaults" unless `null_ok` is false.
  bool CheckMap(const YAML::Node& node, std::string_view field,
                const Keys& known, bool null_ok = true) {
    if (node.IsNull() && null_ok) return false;
    if (!node.IsMap()) {
      Report(At(node),
             std::string(field) +
                 " must be a mapping (key: value lines), got " + KindOf(node),
             "valid keys here: " + Join(known));
      return false;
    }
    std::map<std::string, int> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node& key = it->first;
      if (it->second.IsNull() && it->second.Mark().pos >= 0) {
        null_value_keys_[it->second.Mark().pos] = key.Mark();
      }
      if (!key.IsScalar()) {
        Report(At(key),
               "a key in " + std::string(field) + " is not a plain name",
               "valid keys here: " + Join(known));
        continue;
      }
      const std::string& k = key.Scalar();
      if (auto [pos, inserted] = seen.emplace(k, key.Mark().line + 1);
          !inserted) {
        Report(At(key), "duplicate key '" + k + "' in " + std::string(field),
               "it is already set on line " + std::to_string(pos->second) +
                   "; keep one");
        continue;
      }
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        std::string where =
            field.empty() ? std::string("the top level") : std::string(field);
        std::string hint = ChoiceHint(k, known, "valid keys here");
        if (k == "host_key" && &known == &kSshKeys) {
          hint =
              "host_key pins one host's key: set it on that host "
              "(hosts[].host_key)";
        }
        Report(At(key), "unknown key '" + k + "' in " + where, hint);
      }
    }
    return true;
  }

  // A non-empty scalar, or nullopt after reporting.
  std::optional<std::string> String(const YAML::Node& n,
                                    const std::string& field,
                                    std::string_view expected) {
    if (!n.IsScalar() || n.Scalar().empty()) {
      Report(At(n),
             field + " must be " + std::string(expected) + ", got " + KindOf(n),
             field.ends_with("]")
                 ? "write " + std::string(expected)
                 : "write it as " + field.substr(field.rfind('.') + 1) + ": <" +
                       std::string(expected) + ">");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<int> Port(const YAML::Node& n, const std::string& field) {
    auto s = String(n, field, "a port number");
    if (!s) return std::nullopt;
    auto port = ParsePort(*s);
    if (!port)
      Report(At(n), field + ": " + Quote(*s) + " is not a valid port",
             "use a number from 1 to 65535");
    return port;
  }

  std::optional<bool> Bool(const YAML::Node& n, const std::string& field) {
    bool value = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, value)) {
      Report(At(n), field + " must be true or false, got " + KindOf(n),
             "write true or false");
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::chrono::milliseconds> Duration(const YAML::Node& n,
                                                    const std::string& field) {
    auto s = String(n, field, "a duration");
    if (!s) return std::nullopt;
    auto d = ParseDuration(*s);
    if (!d) {
      Report(At(n), field + ": " + Quote(*s) + " is not a valid duration",
             "write a number with a unit: ms, s, m, h or d (e.g. 10s, 720h, "
             "1h30m)");
      return std::nullopt;
    }
    if (d->count() <= 0) {
      Report(At(n), field + ": " + Quote(*s) + " must be longer than zero",
             "e.g. 10s or 720h");
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::string> Choice(const YAML::Node& n,
                                    const std::string& field,
                                    const Keys& choices,
                                    std::string_view what) {
    auto s = String(n, field, "one of " + Join(choices));
    if (!s) return std::nullopt;
    if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
      Report(At(n),
             "unknown " + std::string(what) + " " + Quote(*s) + " in " + field,
             ChoiceHint(*s, choices, "use one of"));
      return std::nullopt;
    }
    return s;
  }

  // A hint for "10.200.0.1/16": the block the user probably meant.
  static std::string CidrHint(std::string_view text) {
    size_t slash = text.find('/');
    if (slash != std::string_view::npos) {
      auto ip = Ipv4::Parse(text.substr(0, slash));
      auto prefix = ParseInt(text.substr(slash + 1));
      if (ip && prefix && *prefix >= 0 && *prefix <= 32) {
        uint32_t mask = *prefix == 0 ? 0 : ~uint32_t{0} << (32 - *prefix);
        Cidr masked{Ipv4{ip->value & mask}, *prefix};
        return "it has host bits set; did you mean " + masked.ToString() + "?";
      }
    }
    return "write an IPv4 network address and prefix length, e.g. "
           "10.200.0.0/16";
  }

  std::optional<Cidr> ParseCidrField(const YAML::Node& n,
                                     const std::string& field) {
    auto s = String(n, field, "an IPv4 CIDR block");
    if (!s) return std::nullopt;
    if (LooksLikeIpv6(*s)) {
      Report(At(n),
             field + ": " + Quote(*s) + " is IPv6; IPv6 not supported yet",
             "use an IPv4 block, e.g. 10.200.0.0/16");
      return std::nullopt;
    }
    auto cidr = Cidr::Parse(*s);
    if (!cidr)
      Report(At(n),
             field + ": " + Quote(*s) + " is not a valid IPv4 CIDR block",
             CidrHint(*s));
    return cidr;
  }

  std::optional<std::string> Address(const YAML::Node& n,
                                     const std::string& field) {
    auto s = String(n, field, "an IPv4 address");
    if (!s) return std::nullopt;
    if (LooksLikeIpv6(*s)) {
      Report(At(n),
             field + ": " + Quote(*s) + " is IPv6; IPv6 not supported yet",
             "use the host's IPv4 address");
      return std::nullopt;
    }
    if (!Ipv4::Parse(*s)) {
      Report(
          At(n), field + ": " + Quote(*s) + " is not a valid IPv4 address",
          IsDnsName(*s) && !LooksNumeric(*s)
              ? "use the host's IPv4 address; a DNS name goes in fqdn"
              : "write four numbers 0-255 separated by dots, e.g. 10.240.0.10");
      return std::nullopt;
    }
    return s;
  }

  // An IPv4 address or a DNS name: for endpoints reached from the operator's
  // machine.
  std::optional<std::string> HostName(const YAML::Node& n,
                                      const std::string& field) {
    auto s = String(n, field, "an IPv4 address or DNS name");
    if (!s) return std::nullopt;
    if (LooksLikeIpv6(*s)) {
      Report(At(n),
             field + ": " + Quote(*s) + " is IPv6; IPv6 not supported yet",
             "use an IPv4 address or a DNS name");
      return std::nullopt;
    }
    if (!Ipv4::Parse(*s) && !IsDnsName(*s)) {
      Report(At(n),
             field + ": " + Quote(*s) +
                 " is neither an IPv4 address nor a DNS name",
             "e.g. 203.0.113.5 or jump.example.com (lower case letters, "
             "digits, '-' and '.')");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::string> HostKey(const YAML::Node& n,
                                     const std::string& field) {
    auto s = String(n, field, "an SSH public host key");
    if (!s) return std::nullopt;
    std::istringstream in(*s);
    std::string type, blob;
    in >> type >> blob;
    if (std::find(kHostKeyTypes.begin(), kHostKeyTypes.end(), type) ==
        kHostKeyTypes.end()) {
      Report(At(n), field + ": unknown host key type " + Quote(type),
             "paste a line of `ssh-keyscan HOST` without the host name: " +
                 ChoiceHint(type, kHostKeyTypes, "types"));
      return std::nullopt;
    }
    bool base64 =
        !blob.empty() && std::all_of(blob.begin(), blob.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '+' ||
                 c == '/' || c == '=';
        });
    if (!base64) {
      Report(At(n),
             field + ": the key after " + Quote(type) +
                 " is missing or not base64",
             "paste a line of `ssh-keyscan HOST` without the host name, e.g. "
             "\"ssh-ed25519 AAAAC3...\"");
      return std::nullopt;
    }
    return type + " " + blob;  // drop any trailing comment
  }

  void LocalPath(const YAML::Node& n, const std::string& field,
                 std::string& out) {
    if (auto s = String(n, field, "a file path")) out = *s;
  }

  void Root(const YAML::Node& root, Inventory& inv) {
    YAML::Mark start;  // 1:1
    if (root.IsNull()) {
      Report(start, "the inventory is empty",
             "it needs at least cluster.name and hosts; see "
             "inventory/example.yaml");
      return;
    }
    if (!root.IsMap()) {
      Report(At(root),
             "the inventory must be a mapping with cluster, hosts and optional "
             "sections, got " +
                 KindOf(root),
             "see inventory/example.yaml");
      return;
    }
    CheckMap(root, "", kRootKeys);
    // Sections are read in dependency order, not file order: hosts inherit the
    // ssh section.
    if (root["cluster"]) {
      ClusterSection(root["cluster"], inv.cluster, KeyMark(root, "cluster"));
    } else {
      Report(start, "missing required section 'cluster'",
             "add:\ncluster:\n  name: demo");
    }
    if (root["pki"]) PkiSection(root["pki"], inv.pki);
    if (root["encryption"])
      EncryptionSection(root["encryption"], inv.encryption);
    if (root["ssh"])
      SshSection(root["ssh"], "ssh", inv.ssh, /*per_host=*/false);
    if (root["artifacts"]) ArtifactsSection(root["artifacts"], inv.artifacts);
    if (root["hosts"]) {
      HostsSection(root["hosts"], inv, KeyMark(root, "hosts"));
    } else {
      Report(start, "missing required section 'hosts'",
             "add a list, e.g.\nhosts:\n  - {name: controller-0, address: "
             "10.240.0.10, roles: [etcd, controlplane]}");
    }
    if (root["cluster"] && root["cluster"].IsMap()) {
      const YAML::Node c = root["cluster"];
      const YAML::Mark cluster_mark = KeyMark(root, "cluster");
      YAML::Mark svc_mark =
          c["service_cidr"] ? c["service_cidr"].Mark() : cluster_mark;
      YAML::Mark pod_mark = c["pod_cidr"] ? c["pod_cidr"].Mark() : cluster_mark;
      // Checks against a CIDR the user got wrong would compare with the
      // default instead and only confuse; its own error says enough.
      if (service_cidr_ok_ && pod_cidr_ok_ &&
          inv.cluster.service_cidr.Overlaps(inv.cluster.pod_cidr)) {
        Report(c["service_cidr"] ? svc_mark : pod_mark,
               "cluster.service_cidr " + inv.cluster.service_cidr.ToString() +
                   " overlaps cluster.pod_cidr " +
                   inv.cluster.pod_cidr.ToString(),
               "service and pod addresses must not overlap; e.g. service_cidr: "
               "10.32.0.0/24 with pod_cidr: "
               "10.200.0.0/16");
      }
      cluster_pod_mark_ = pod_mark;
      has_cluster_pod_cidr_ = static_cast<bool>(c["pod_cidr"]);
    }
    if (root["hosts"] && root["hosts"].IsSequence()) {
      CrossChecks(inv, KeyMark(root, "hosts"));
      PinsPerArch(inv);
    }
  }

  // artifacts: where the binaries are, and where `hardway fetch` gets them.
  void ArtifactsSection(const YAML::Node& a, ArtifactSettings& out) {
    if (!CheckMap(a, "artifacts", kArtifactsKeys)) return;
    auto path = [&](const char* key, std::filesystem::path& dest) {
      if (!a[key]) return;
      std::string value;
      LocalPath(a[key], std::string("artifacts.") + key, value);
      if (!value.empty()) dest = value;
    };
    path("dir", out.dir);
    path("bundle", out.bundle);
    path("cache", out.cache);
    if (a["mirror"]) {
      if (auto m = Url(a["mirror"], "artifacts.mirror", /*templated=*/false)) {
        while (m->ends_with('/')) m->pop_back();
        out.mirror = *m;
      }
    }
    if (a["versions"]) {
      const YAML::Node v = a["versions"];
      if (CheckMap(v, "artifacts.versions", kVersionKeys)) {
        auto read = [&](const char* key, std::string& dest) {
          if (!v[key]) return;
          const std::string field = std::string("artifacts.versions.") + key;
          auto s = String(v[key], field, "a version");
          if (!s) return;
          if (IsKubernetesVersion(*s)) {
            dest = *s;
          } else {
            Report(At(v[key]),
                   field + " " + Quote(*s) + " is not a release version",
                   IsKubernetesVersion("v" + *s)
                       ? "write the release tag with its leading v: v" + *s
                       : "write the release tag, vMAJOR.MINOR.PATCH, e.g. " +
                             dest);
          }
        };
        read("etcd", out.versions.etcd);
        read("containerd", out.versions.containerd);
        read("runc", out.versions.runc);
        read("cni_plugins", out.versions.cni_plugins);
        read("crictl", out.versions.crictl);
      }
    }
    if (a["urls"]) {
      PerRelease(a["urls"], "artifacts.urls",
                 [&](const YAML::Node& n, const std::string& key,
                     const std::string& field) {
                   if (auto u = Url(n, field, /*templated=*/true))
                     out.urls[key] = *u;
                 });
    }
    if (a["sha256"]) {
      PerRelease(
          a["sha256"], "artifacts.sha256",
          [&](const YAML::Node& n, const std::string& key,
              const std::string& field) {
            auto s = String(n, field, "a sha256 in hex");
            if (!s) return;
            std::string hex = *s;
            for (char& c : hex)
              c = static_cast<char>(
                  std::tolower(static_cast<unsigned char>(c)));
            if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") !=
                                        std::string::npos) {
              Report(At(n), field + ": " + Quote(*s) + " is not a sha256",
                     "write the 64 hex digits `sha256sum FILE` prints");
              return;
            }
            out.sha256[key] = hex;
            sha256_marks_[key] = n.Mark();
          });
    }
  }

  // A mapping of "name" or "name/arch" (name one of ReleaseNames()) to a value.
  template <typename Fn>
  void PerRelease(const YAML::Node& n, const std::string& field, Fn&& read) {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      Report(At(n),
             field + " must be a mapping of release name to value, got " +
                 KindOf(n),
             "e.g. " + field.substr(field.rfind('.') + 1) +
                 ": {etcd: ..., kubelet/arm64: ...}");
      return;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node& k = it->first;
      const std::string key = k.IsScalar() ? k.Scalar() : "";
      const size_t slash = key.find('/');
      const std::string name = key.substr(0, slash);
      const std::string arch =
          slash == std::string::npos ? "" : key.substr(slash + 1);
      if (std::find(kReleaseNames.begin(), kReleaseNames.end(), name) ==
          kReleaseNames.end()) {
        Report(At(k), "unknown release " + Quote(key) + " in " + field,
               ChoiceHint(name, kReleaseNames, "releases") +
                   " (optionally followed by /amd64 or /arm64)");
        continue;
      }
      if (slash != std::string::npos &&
          std::find(kArches.begin(), kArches.end(), arch) == kArches.end()) {
        Report(
            At(k),
            "unknown architecture " + Quote(arch) + " in " + field + "." + key,
            ChoiceHint(arch, kArches, "architectures"));
        continue;
      }
      if (!seen.insert(key).second) {
        Report(At(k), "duplicate key '" + key + "' in " + field, "keep one");
        continue;
      }
      read(it->second, key, field + "." + key);
    }
  }

  // An http://, https:// or file:// URL; a templated one may use the
  // variables {{version}}, {{bare_version}} and {{arch}}.
  std::optional<std::string> Url(const YAML::Node& n, const std::string& field,
                                 bool templated) {
    auto s = String(n, field, "a URL");
    if (!s) return std::nullopt;
    size_t scheme_end = s->find("://");
    std::string scheme =
        scheme_end == std::string::npos ? "" : s->substr(0, scheme_end);
    bool ok = (scheme == "http" || scheme == "https" || scheme == "file") &&
              (scheme == "file" || s->size() > scheme_end + 3) &&
              s->find_first_of(" \t\n") == std::string::npos;
    if (!ok) {
      Report(At(n),
             field + ": " + Quote(*s) + " is not an http, https or file URL",
             templated ? "e.g. "
                         "https://mirror.example.com/"
                         "etcd-{{version}}-linux-{{arch}}.tar.gz"
                       : "e.g. https://mirror.example.com/k8s (it replaces the "
                         "scheme and host "
                         "of every official URL)");
      return std::nullopt;
    }
    for (size_t open = s->find("{{"); open != std::string::npos;
         open = s->find("{{", open + 2)) {
      size_t close = s->find("}}", open);
      std::string var = close == std::string::npos
                            ? ""
                            : s->substr(open + 2, close - open - 2);
      if (!templated || std::find(kUrlVariables.begin(), kUrlVariables.end(),
                                  var) == kUrlVariables.end()) {
        Report(At(n), field + ": unknown variable {{" + var + "}}",
               templated ? ChoiceHint(var, kUrlVariables, "variables")
                         : "the mirror is a plain URL, without variables");
        return std::nullopt;
      }
    }
    return s;
  }

  // A sha256 pinned without an architecture fits one file; with hosts of
  // several architectures it would be wrong for all but one.
  void PinsPerArch(const Inventory& inv) {
    std::set<std::string> arches;
    for (const HostSpec& h : inv.hosts) arches.insert(h.arch);
    if (arches.size() < 2) return;
    for (const auto& [key, mark] : sha256_marks_) {
      if (key.find('/') != std::string::npos) continue;
      std::string both;
      for (const std::string& a : arches)
        both += (both.empty() ? "" : " and ") + a;
      Report(mark,
             "artifacts.sha256." + key + " pins one file, but the hosts are " +
                 both,
             "pin each architecture's file: " + key + "/" + *arches.begin() +
                 ": ..., " + key + "/" + *arches.rbegin() + ": ...");
    }
  }

  void ClusterSection(const YAML::Node& c, ClusterSettings& out,
                      const YAML::Mark& key_mark) {
    if (c.IsNull()) {
      Report(key_mark, "missing required field cluster.name",
             "add name: <cluster name>, e.g. name: demo");
    }
    if (!CheckMap(c, "cluster", kClusterKeys)) return;
    if (c["name"]) {
      if (auto name = String(c["name"], "cluster.name", "a name")) {
        if (IsDnsLabel(*name)) {
          out.name = *name;
        } else {
          Report(
              At(c["name"]),
              "cluster.name " + Quote(*name) + " is not a DNS label",
              "use at most 63 lower case letters, digits and '-', starting and "
              "ending with a letter or "
              "digit (it names the state folder and the kubeconfig cluster)");
        }
      }
    } else {
      Report(key_mark, "missing required field cluster.name",
             "add name: <cluster name>, e.g. name: demo");
    }
    if (c["kubernetes_version"]) {
      if (auto v = String(c["kubernetes_version"], "cluster.kubernetes_version",
                          "a version")) {
        if (IsKubernetesVersion(*v)) {
          out.kubernetes_version = *v;
        } else {
          Report(At(c["kubernetes_version"]),
                 "cluster.kubernetes_version " + Quote(*v) +
                     " is not a Kubernetes version",
                 "write it as vMAJOR.MINOR.PATCH, e.g. v1.32.3");
        }
      }
    }
    if (c["domain"]) {
      if (auto d = String(c["domain"], "cluster.domain", "a DNS domain")) {
        if (IsDnsName(*d)) {
          out.domain = *d;
        } else {
          Report(
              At(c["domain"]),
              "cluster.domain " + Quote(*d) + " is not a DNS domain",
              "e.g. cluster.local (lower case letters, digits, '-' and '.')");
        }
      }
    }
    if (c["service_cidr"]) {
      auto cidr = ParseCidrField(c["service_cidr"], "cluster.service_cidr");
      if (!cidr) service_cidr_ok_ = false;
      if (cidr) {
        // The cluster DNS service takes the tenth address, so the block needs
        // at least 16.
        if (cidr->prefix > 28) {
          service_cidr_ok_ = false;
          Report(At(c["service_cidr"]),
                 "cluster.service_cidr " + cidr->ToString() + " is too small",
                 "use a /28 or larger (the kubernetes service takes .1 and "
                 "cluster DNS .10), e.g. 10.32.0.0/24");
        } else {
          out.service_cidr = *cidr;
        }
      }
    }
    if (c["pod_cidr"]) {
      if (auto cidr = ParseCidrField(c["pod_cidr"], "cluster.pod_cidr")) {
        out.pod_cidr = *cidr;
      } else {
        pod_cidr_ok_ = false;
      }
    }
    if (c["api_endpoint"]) ApiEndpoint(c["api_endpoint"], out);
    if (c["extra_sans"]) {
      const YAML::Node sans = c["extra_sans"];
      if (!sans.IsSequence()) {
        if (!sans.IsNull()) {
          Report(At(sans),
                 "cluster.extra_sans must be a list, got " + KindOf(sans),
                 "e.g. extra_sans: [k8s.example.com, 203.0.113.10]");
        }
      } else {
        for (size_t i = 0; i < sans.size(); ++i) {
          std::string field = "cluster.extra_sans[" + std::to_string(i) + "]";
          auto s = String(sans[i], field, "a DNS name or IPv4 address");
          if (!s) continue;
          // A wildcard is allowed as the first label of a DNS name.
          std::string_view name = *s;
          if (name.starts_with("*.")) name.remove_prefix(2);
          if (LooksLikeIpv6(*s)) {
            Report(
                At(sans[i]),
                field + ": " + Quote(*s) + " is IPv6; IPv6 not supported yet",
                "use an IPv4 address or a DNS name");
          } else if (!Ipv4::Parse(*s) && !IsDnsName(name)) {
            Report(At(sans[i]),
                   field + ": " + Quote(*s) +
                       " is neither an IPv4 address nor a DNS name",
                   "e.g. k8s.example.com or 203.0.113.10");
          } else {
            out.extra_sans.push_back(*s);
          }
        }
      }
    }
    if (c["extra_args"]) ExtraArgs(c["extra_args"], out);
  }

  void ApiEndpoint(const YAML::Node& n, ClusterSettings& out) {
    auto s = String(n, "cluster.api_endpoint", "host:port");
    if (!s) return;
    const std::string hint =
        "write host:port, e.g. 10.240.0.10:6443 (a load balancer in front of "
        "the API servers)";
    size_t colon = s->rfind(':');
    if (colon == std::string::npos || s->find(':') != colon) {
      Report(At(n), "cluster.api_endpoint " + Quote(*s) + " is not host:port",
             s->find(':') != colon && colon != std::string::npos
                 ? "IPv6 not supported yet; " + hint
                 : hint);
      return;
    }
    std::string host = s->substr(0, colon);
    auto port = ParsePort(std::string_view(*s).substr(colon + 1));
    if (!Ipv4::Parse(host) && !IsDnsName(host)) {
      Report(At(n),
             "cluster.api_endpoint: " + Quote(host) +
                 " is neither an IPv4 address nor a DNS name",
             hint);
      return;
    }
    if (!port) {
      Report(At(n),
             "cluster.api_endpoint: " + Quote(s->substr(colon + 1)) +
                 " is not a valid port",
             "use a number from 1 to 65535, e.g. 6443");
      return;
    }
    out.api_endpoint = *s;
  }

  void ExtraArgs(const YAML::Node& n, ClusterSettings& out) {
    if (!n.IsMap()) {
      Report(
          At(n),
          "cluster.extra_args must be a mapping of component to flags, got " +
              KindOf(n),
          "e.g.\nextra_args:\n  kube-apiserver: {--audit-log-maxage: \"30\"}");
      return;
    }
    std::set<std::string> components;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node& key = it->first;
      const std::string component = key.IsScalar() ? key.Scalar() : "";
      if (std::find(kComponents.begin(), kComponents.end(), component) ==
          kComponents.end()) {
        Report(At(key), "extra_args for unknown component " + Quote(component),
               ChoiceHint(component, kComponents, "components"));
        continue;
      }
      if (!components.insert(component).second) {
        Report(At(key),
               "duplicate key '" + component + "' in cluster.extra_args",
               "keep one");
        continue;
      }
      const YAML::Node& flags = it->second;
      const std::string field = "cluster.extra_args." + component;
      if (flags.IsNull()) continue;
      if (!flags.IsMap()) {
        Report(
            At(flags),
            field + " must be a mapping of flag to value, got " + KindOf(flags),
            "e.g. " + component + ": {--v: \"2\"}");
        continue;
      }
      auto& dest = out.extra_args[component];
      for (auto f = flags.begin(); f != flags.end(); ++f) {
        const YAML::Node& fk = f->first;
        std::string flag = fk.IsScalar() ? fk.Scalar() : "";
        // Users write flags both ways; the unit templates want the "--" form.
        if (!flag.starts_with("--")) flag = "--" + flag;
        std::string_view bare = std::string_view(flag).substr(2);
        bool valid = !bare.empty() &&
                     std::isalnum(static_cast<unsigned char>(bare[0])) &&
                     std::all_of(bare.begin(), bare.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) ||
                              c == '-' || c == '_' || c == '.';
                     });
        if (!valid) {
          Report(At(fk),
                 field + ": " +
                     Quote(fk.IsScalar() ? fk.Scalar() : KindOf(fk)) +
                     " is not a flag name",
                 "write the flag without its value, e.g. --v or v");
          continue;
        }
        const YAML::Node& value = f->second;
        if (!value.IsScalar()) {
          Report(At(value),
                 field + "." + flag + " must be a single value, got " +
                     KindOf(value),
                 "quote it, e.g. " + flag +
                     ": \"true\" (for a list, join with commas)");
          continue;
        }
        if (!dest.emplace(flag, value.Scalar()).second) {
          Report(
              At(fk), "duplicate flag " + flag + " in " + field,
              "it is set twice (with and without the leading --?); keep one");
        }
      }
    }
  }

  void PkiSection(const YAML::Node& p, PkiSettings& out) {
    if (!CheckMap(p, "pki", kPkiKeys)) return;
    if (p["key_algorithm"]) {
      if (auto a = Choice(p["key_algorithm"], "pki.key_algorithm",
                          kKeyAlgorithms, "key algorithm")) {
        static constexpr std::array kAlgorithms = {
            KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEcdsaP384,
            KeyAlgorithm::kRsa2048, KeyAlgorithm::kRsa3072,
            KeyAlgorithm::kRsa4096};
        for (KeyAlgorithm k : kAlgorithms) {
          if (KeyAlgorithmName(k) == *a) out.key_algorithm = k;
        }
      }
    }
    bool ok = true;
    auto read = [&](const char* key, std::chrono::milliseconds& dest) {
      if (!p[key]) return;
      if (auto d = Duration(p[key], std::string("pki.") + key)) {
        dest = *d;
      } else {
        ok = false;
      }
    };
    read("ca_validity", out.ca_validity);
    read("cert_validity", out.cert_validity);
    read("renew_before", out.renew_before);
    if (!ok) return;
    YAML::Mark mark = p.Mark();
    if (out.cert_validity > out.ca_validity) {
      Report(p["cert_validity"] ? p["cert_validity"].Mark() : mark,
             "pki.cert_validity (" + FormatDuration(out.cert_validity) +
                 ") is longer than pki.ca_validity (" +
                 FormatDuration(out.ca_validity) + ")",
             "a certificate cannot outlive its CA; shorten cert_validity or "
             "lengthen ca_validity");
    }
    if (out.renew_before >= out.cert_validity) {
      Report(p["renew_before"] ? p["renew_before"].Mark() : mark,
             "pki.renew_before (" + FormatDuration(out.renew_before) +
                 ") is not shorter than pki.cert_validity (" +
                 FormatDuration(out.cert_validity) + ")",
             "every run would reissue every certificate; make renew_before "
             "shorter, e.g. 720h");
    }
  }

  void EncryptionSection(const YAML::Node& e, EncryptionSettings& out) {
    if (!CheckMap(e, "encryption", kEncryptionKeys)) return;
    if (e["provider"]) {
      if (auto p = Choice(e["provider"], "encryption.provider", kProviders,
                          "encryption provider")) {
        out.provider = *p == "aescbc" ? EncryptionProvider::kAescbc
                                      : EncryptionProvider::kSecretbox;
      }
    }
  }

  // The ssh section, or a host's ssh overrides applied on top of `out`.
  void SshSection(const YAML::Node& s, const std::string& field,
                  SshSettings& out, bool per_host) {
    if (!CheckMap(s, field, kSshKeys)) return;
    if (s["user"]) {
      if (auto u = String(s["user"], field + ".user", "a user name")) {
        bool ok = std::none_of(u->begin(), u->end(), [](char c) {
          return std::isspace(static_cast<unsigned char>(c)) || c == '@' ||
                 c == ':';
        });
        if (ok) {
          out.user = *u;
        } else {
          Report(At(s["user"]),
                 field + ".user " + Quote(*u) + " is not a user name",
                 "write the login name only, e.g. root or debian");
        }
      }
    }
    if (s["port"]) {
      if (auto p = Port(s["port"], field + ".port")) out.port = *p;
    }
    if (s["identity_file"])
      LocalPath(s["identity_file"], field + ".identity_file",
                out.identity_file);
    if (s["agent"]) {
      if (auto a = Bool(s["agent"], field + ".agent")) out.agent = *a;
    }
    if (s["known_hosts"])
      LocalPath(s["known_hosts"], field + ".known_hosts", out.known_hosts);
    if (s["host_key_policy"]) {
      if (auto p = Choice(s["host_key_policy"], field + ".host_key_policy",
                          kHostKeyPolicies, "host key policy")) {
        out.host_key_policy =
            *p == "strict" ? HostKeyPolicy::kStrict : HostKeyPolicy::kAcceptNew;
      }
    }
    if (s["connect_timeout"]) {
      if (auto d = Duration(s["connect_timeout"], field + ".connect_timeout"))
        out.connect_timeout = *d;
    }
    if (s["bastion"]) {
      const YAML::Node b = s["bastion"];
      if (b.IsNull() && per_host) {
        out.bastion.reset();  // this host is reached directly
      } else if (CheckMap(b, field + ".bastion", kBastionKeys)) {
        Bastion bastion;
        // A host that only changes, say, the bastion's port keeps the rest of
        // the global one.
        if (per_host && out.bastion) bastion = *out.bastion;
        if (b["address"]) {
          if (auto a = HostName(b["address"], field + ".bastion.address"))
            bastion.address = *a;
        } else if (bastion.address.empty()) {
          Report(KeyMark(s, "bastion"),
                 "missing required field " + field + ".bastion.address",
                 "add address: <bastion IPv4 address or DNS name>");
        }
        if (b["port"]) {
          if (auto p = Port(b["port"], field + ".bastion.port"))
            bastion.port = *p;
        }
        if (b["user"]) {
          if (auto u =
                  String(b["user"], field + ".bastion.user", "a user name"))
            bastion.user = *u;
        }
        if (b["identity_file"])
          LocalPath(b["identity_file"], field + ".bastion.identity_file",
                    bastion.identity_file);
        if (b["host_key"]) {
          if (auto k = HostKey(b["host_key"], field + ".bastion.host_key"))
            bastion.host_key = *k;
        }
        out.bastion = bastion;
      }
    }
  }

  void HostsSection(const YAML::Node& hosts, Inventory& inv,
                    const YAML::Mark& key_mark) {
    if (!hosts.IsSequence() || hosts.size() == 0) {
      Report(At(hosts),
             hosts.IsSequence()
                 ? "hosts is empty"
                 : "hosts must be a list of hosts, got " + KindOf(hosts),
             "list at least one host, e.g.\nhosts:\n  - {name: controller-0, "
             "address: 10.240.0.10, roles: [etcd, "
             "controlplane]}");
      return;
    }
    for (size_t i = 0; i < hosts.size(); ++i) {
      const YAML::Node h = hosts[i];
      const std::string field = "hosts[" + std::to_string(i) + "]";
      if (h.IsNull()) {
        // yaml-cpp marks an empty entry ("-" alone) at the next token, which
        // may be far below; name the entry and point at the list instead.
        Report(key_mark, field + " is empty (a \"-\" with nothing after it)",
               "write the host as {name: ..., address: ..., roles: [...]} or "
               "remove the \"-\"");
        parsed_hosts_.push_back(false);
        inv.hosts.emplace_back();
        marks_.emplace_back();
        continue;
      }
      HostSpec spec;
      HostMarks marks;
      marks.entry = h.Mark();
      spec.line = h.Mark().line + 1;
      spec.ssh = inv.ssh;
      spec.ssh.host_key.clear();
      if (!CheckMap(h, field, kHostKeys, /*null_ok=*/false)) {
        parsed_hosts_.push_back(false);
        inv.hosts.push_back(std::move(spec));
        marks_.push_back(marks);
        continue;
      }
      if (h["name"]) {
        if (auto name = String(h["name"], field + ".name", "a host name")) {
          if (IsDnsLabel(*name)) {
            spec.name = *name;
            marks.name = h["name"].Mark();
            marks.has_name = true;
          } else {
            Report(At(h["name"]),
                   field + ".name " + Quote(*name) + " is not a DNS-1123 label",
                   "use at most 63 lower case letters, digits and '-', "
                   "starting and ending with a letter or digit "
                   "(it becomes the node name and a certificate CN)");
          }
        }
      } else {
        Report(At(h), "missing required field " + field + ".name",
               "add name: <node name>, e.g. name: node-0");
      }
      const std::string label = spec.name.empty() ? field : "host " + spec.name;
      if (h["address"]) {
        if (auto a = Address(h["address"], label + ".address")) {
          spec.address = *a;
          marks.address = h["address"].Mark();
          marks.has_address = true;
        }
      } else {
        Report(At(h), "missing required field " + label + ".address",
               "add address: <IPv4 address hardway reaches the host at>");
      }
      if (h["fqdn"]) {
        if (auto f = String(h["fqdn"], label + ".fqdn", "a DNS name")) {
          if (IsDnsName(*f)) {
            spec.fqdn = *f;
          } else {
            Report(At(h["fqdn"]),
                   label + ".fqdn " + Quote(*f) + " is not a DNS name",
                   "e.g. node-0.example.com (lower case letters, digits, '-' "
                   "and '.')");
          }
        }
      }
      if (h["roles"]) {
        Roles(h["roles"], label, spec.roles);
      } else {
        roles_complete_ = false;
        Report(At(h), "missing required field " + label + ".roles",
               "add roles: [...] with any of etcd, controlplane, worker");
      }
      if (h["pod_cidr"]) {
        spec.pod_cidr = ParseCidrField(h["pod_cidr"], label + ".pod_cidr");
        marks.pod_cidr = h["pod_cidr"].Mark();
        marks.has_pod_cidr = true;
      }
      if (h["host_key"]) {
        if (auto k = HostKey(h["host_key"], label + ".host_key"))
          spec.ssh.host_key = *k;
      }
      if (h["ssh"])
        SshSection(h["ssh"], label + ".ssh", spec.ssh, /*per_host=*/true);
      if (h["arch"]) {
        static const std::map<std::string, std::string> kArchAliases = {
            {"x86_64", "amd64"},
            {"x86-64", "amd64"},
            {"x64", "amd64"},
            {"aarch64", "arm64"},
            {"armv8", "arm64"}};
        auto s = String(h["arch"], label + ".arch", "amd64 or arm64");
        if (s &&
            std::find(kArches.begin(), kArches.end(), *s) != kArches.end()) {
          spec.arch = *s;
        } else if (s) {
          auto alias = kArchAliases.find(*s);
          Report(At(h["arch"]),
                 "unknown architecture " + Quote(*s) + " in " + label + ".arch",
                 alias != kArchAliases.end()
                     ? "did you mean '" + alias->second +
                           "'? (`uname -m` says " + *s +
                           "; release files say " + alias->second + ")"
                     : ChoiceHint(*s, kArches, "architectures"));
        }
      }
      parsed_hosts_.push_back(true);
      inv.hosts.push_back(std::move(spec));
      marks_.push_back(marks);
    }
  }

  void Roles(const YAML::Node& n, const std::string& label,
             std::vector<Role>& out) {
    const std::string field = label + ".roles";
    if (!n.IsSequence() || n.size() == 0) {
      roles_complete_ = false;
      Report(At(n),
             field + (n.IsSequence() ? " is empty"
                                     : " must be a list, got " + KindOf(n)),
             "e.g. roles: [etcd, controlplane] or roles: [worker]");
      return;
    }
    for (size_t i = 0; i < n.size(); ++i) {
      auto s = String(n[i], field + "[" + std::to_string(i) + "]", "a role");
      if (!s) {
        roles_complete_ = false;
        continue;
      }
      auto role = ParseRole(*s);
      if (!role) {
        static const std::map<std::string, std::string> kAliases = {
            {"master", "controlplane"},
            {"control-plane", "controlplane"},
            {"controller", "controlplane"},
            {"control_plane", "controlplane"},
            {"node", "worker"},
            {"minion", "worker"}};
        std::string hint = ChoiceHint(*s, kRoleNames, "roles");
        if (auto alias = kAliases.find(*s); alias != kAliases.end()) {
          hint = "did you mean '" + alias->second +
                 "'? roles: " + Join(kRoleNames);
        }
        Report(At(n[i]), "unknown role " + Quote(*s) + " in " + field, hint);
        roles_complete_ = false;
        continue;
      }
      if (std::find(out.begin(), out.end(), *role) != out.end()) {
        Report(At(n[i]), "role " + *s + " is listed twice in " + field,
               "list each role once");
        continue;
      }
      out.push_back(*role);
    }
  }

  void CrossChecks(const Inventory& inv, const YAML::Mark& list_mark) {
    std::map<std::string, size_t> names, addresses;
    size_t etcd = 0, controlplane = 0;
    std::vector<std::pair<size_t, Cidr>> explicit_pods;
    for (size_t i = 0; i < inv.hosts.size(); ++i) {
      const HostSpec& h = inv.hosts[i];
      const HostMarks& m = marks_[i];
      if (!parsed_hosts_[i]) continue;
      const std::string label = h.name.empty()
                                    ? "hosts[" + std::to_string(i) + "]"
                                    : "host " + h.name;
      if (m.has_name) {
        if (auto [it, inserted] = names.emplace(h.name, i); !inserted) {
          Report(m.name, "duplicate host name " + Quote(h.name),
                 "it is also used on line " +
                     std::to_string(inv.hosts[it->second].line) +
                     "; node names must be unique");
        }
      }
      if (m.has_address) {
        if (auto [it, inserted] = addresses.emplace(h.address, i); !inserted) {
          Report(m.address,
                 "duplicate host address " + h.address + " (" + label + ")",
                 "it is also used by " +
                     (inv.hosts[it->second].name.empty()
                          ? "another host"
                          : inv.hosts[it->second].name) +
                     " on line " + std::to_string(inv.hosts[it->second].line) +
                     "; give each host its own address");
        }
        auto ip = *Ipv4::Parse(h.address);
        bool in_pod = pod_cidr_ok_ && inv.cluster.pod_cidr.Contains(ip);
        bool in_service =
            service_cidr_ok_ && inv.cluster.service_cidr.Contains(ip);
        if (in_pod || in_service) {
          bool pod = in_pod;
          Report(m.address,
                 label + " address " + h.address + " is inside cluster." +
                     (pod ? "pod_cidr " : "service_cidr ") +
                     (pod ? inv.cluster.pod_cidr : inv.cluster.service_cidr)
                         .ToString(),
                 "node addresses must not overlap pod or service addresses; "
                 "choose different cluster CIDRs");
        }
      }
      bool worker = std::find(h.roles.begin(), h.roles.end(), Role::kWorker) !=
                    h.roles.end();
      if (std::find(h.roles.begin(), h.roles.end(), Role::kEtcd) !=
          h.roles.end())
        ++etcd;
      if (std::find(h.roles.begin(), h.roles.end(), Role::kControlplane) !=
          h.roles.end())
        ++controlplane;
      if (h.pod_cidr) {
        if (!worker && !h.roles.empty()) {
          Report(
              m.pod_cidr, label + " has a pod_cidr but is not a worker",
              "only workers run pods; remove pod_cidr or add the worker role");
          continue;
        }
        if (pod_cidr_ok_ && !inv.cluster.pod_cidr.Contains(*h.pod_cidr)) {
          Report(m.pod_cidr,
                 label + " pod_cidr " + h.pod_cidr->ToString() +
                     " is outside cluster.pod_cidr " +
                     inv.cluster.pod_cidr.ToString(),
                 "choose a block inside " + inv.cluster.pod_cidr.ToString() +
                     ", or leave pod_cidr out to get the "
                     "next free /24");
          continue;
        }
        bool clash = false;
        for (const auto& [j, other] : explicit_pods) {
          if (other.Overlaps(*h.pod_cidr)) {
            Report(m.pod_cidr,
                   label + " pod_cidr " + h.pod_cidr->ToString() +
                       " overlaps " + inv.hosts[j].name + "'s pod_cidr " +
                       other.ToString(),
                   "give each node its own block (see line " +
                       std::to_string(inv.hosts[j].line) + ")");
            clash = true;
            break;
          }
        }
        if (!clash) explicit_pods.emplace_back(i, *h.pod_cidr);
      }
    }
    for (bool parsed : parsed_hosts_)
      roles_complete_ = roles_complete_ && parsed;
    // With a role misspelt or a host unreadable the counts below are wrong, and
    // "no controlplane host" would only repeat "unknown role 'master'".
    if (!roles_complete_) {
      // Nothing: the role errors already reported say what to fix.
    } else if (etcd == 0) {
      Report(list_mark, "no host has the etcd role",
             "add etcd to the roles of one, three or five hosts");
    } else if (etcd % 2 == 0 || etcd > 7) {
      Report(list_mark,
             std::to_string(etcd) +
                 " hosts have the etcd role; etcd needs an odd number (1, 3, 5 "
                 "or 7)",
             etcd > 7 ? "more than 7 members slows writes; use 5 or 7"
                      : "an even number tolerates no more failures than one "
                        "fewer; use " +
                            std::to_string(etcd - 1) + " or " +
                            std::to_string(etcd + 1));
    }
    if (roles_complete_ && controlplane == 0) {
      Report(list_mark, "no host has the controlplane role",
             "add controlplane to the roles of at least one host (usually the "
             "etcd hosts)");
    }
    // Capacity: allocate exactly as Cluster::Resolve will and report the first
    // worker left out.
    std::vector<size_t> auto_workers;
    std::vector<std::optional<Cidr>> wanted;
    for (size_t i = 0; i < inv.hosts.size(); ++i) {
      const HostSpec& h = inv.hosts[i];
      if (std::find(h.roles.begin(), h.roles.end(), Role::kWorker) ==
          h.roles.end())
        continue;
      // A pod_cidr that was written but rejected has been reported already:
      // neither allocate for it nor let it reserve a block.
      if (marks_[i].has_pod_cidr) {
        bool accepted =
            std::any_of(explicit_pods.begin(), explicit_pods.end(),
                        [&](const auto& p) { return p.first == i; });
        if (!accepted) continue;
      }
      if (!h.pod_cidr) auto_workers.push_back(wanted.size());
      wanted.push_back(h.pod_cidr);
    }
    auto allocated =
        inventory_internal::AllocatePodCidrs(inv.cluster.pod_cidr, wanted);
    size_t missing = 0;
    for (size_t k : auto_workers) {
      if (!allocated[k]) ++missing;
    }
    if (missing > 0 && pod_cidr_ok_) {
      size_t free_blocks = auto_workers.size() - missing;
      Report(has_cluster_pod_cidr_ ? cluster_pod_mark_ : list_mark,
             "cluster.pod_cidr " + inv.cluster.pod_cidr.ToString() +
                 " is too small: " + std::to_string(auto_workers.size()) +
                 " worker(s) need a /24 each but only " +
                 std::to_string(free_blocks) + " free /24 block(s) remain",
             "use a larger block (a /16 holds 256 nodes), or set pod_cidr on "
             "the workers");
    }
  }

  std::filesystem::path path_;
  std::vector<Diagnostic> diags_;
  std::map<int, YAML::Mark> null_value_keys_;  // empty value's mark.pos -> key
  std::vector<HostMarks> marks_;
  std::vector<bool> parsed_hosts_;
  YAML::Mark cluster_pod_mark_;
  bool roles_complete_ = true;   // false: some host's roles are unknown
  bool pod_cidr_ok_ = true;      // false: cluster.pod_cidr written but invalid
  bool service_cidr_ok_ = true;  // same for cluster.service_cidr
  bool has_cluster_pod_cidr_ = false;
  std::map<std::string, YAML::Mark>
      sha256_marks_;  // artifacts.sha256 key -> value
};

}  // namespace

std::expected<Inventory, std::vector<Error>> ParseInventory(
    const std::string& text, const std::filesystem::path& path) {
  return Loader(path).Run(text);
}

std::expected<Inventory, std::vector<Error>> LoadInventory(
    const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::unexpected(std::vector<Error>{
        Error{ErrorKind::kValidation, "cannot read the inventory file",
              path.string(), "check the path given to -i"}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseInventory(text.str(), path);
}

}  // namespace hardway
