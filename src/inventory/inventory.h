// The user's inventory file, parsed and validated. Everything below the inventory module reads
// the resolved Cluster (cluster.h), never the YAML.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/net.h"

namespace hardway {

enum class Role { kEtcd, kControlplane, kWorker };
std::string_view RoleName(Role role);  // "etcd", "controlplane", "worker"
std::optional<Role> ParseRole(std::string_view name);

enum class KeyAlgorithm { kEcdsaP256, kEcdsaP384, kRsa2048, kRsa3072, kRsa4096 };
std::string_view KeyAlgorithmName(KeyAlgorithm algorithm);  // "ecdsa-p256", ...

enum class EncryptionProvider { kAescbc, kSecretbox };
std::string_view EncryptionProviderName(EncryptionProvider provider);  // "aescbc", ...

enum class HostKeyPolicy { kStrict, kAcceptNew };

struct Bastion {
  std::string address;
  int port = 22;
  std::string user = "root";
  std::string identity_file;  // empty: the ssh section's
  std::string host_key;       // optional pin: "ssh-ed25519 AAAA..."
};

struct SshSettings {
  std::string user = "root";
  int port = 22;
  std::string identity_file = "~/.ssh/id_ed25519";
  bool agent = true;
  std::string known_hosts = "~/.ssh/known_hosts";
  HostKeyPolicy host_key_policy = HostKeyPolicy::kStrict;
  std::optional<Bastion> bastion;
  std::chrono::milliseconds connect_timeout{10'000};
  std::string host_key;  // per host only: pinned key "ssh-ed25519 AAAA..."
};

// CPU architectures hardway fetches release files for, named as the release
// files name them (Go's GOARCH; `uname -m` says x86_64 and aarch64).
const std::vector<std::string_view>& KnownArches();  // "amd64", "arm64"

struct HostSpec {
  std::string name;
  std::string address;      // IPv4, validated
  std::string fqdn;         // optional
  std::vector<Role> roles;  // at least one, no duplicates
  std::optional<Cidr> pod_cidr;  // workers only; default: next free /24 of cluster.pod_cidr
  SshSettings ssh;          // the inventory's ssh section with this host's overrides applied
  int line = 0;             // 1-based line of the host entry, for messages
  std::string arch = "amd64";  // one of KnownArches(): which artifacts it runs
};

struct ClusterSettings {
  std::string name;
  std::string kubernetes_version = "v1.32.3";
  std::string domain = "cluster.local";
  Cidr service_cidr = *Cidr::Parse("10.32.0.0/24");
  Cidr pod_cidr = *Cidr::Parse("10.200.0.0/16");
  std::string api_endpoint;  // "host:port"; empty: first controlplane host, port 6443
  std::vector<std::string> extra_sans;
  // Per component ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
  // "kube-proxy", "etcd"): flag name (with leading "--") -> value, appended to its unit.
  std::map<std::string, std::map<std::string, std::string>> extra_args;
};

struct PkiSettings {
  KeyAlgorithm key_algorithm = KeyAlgorithm::kEcdsaP256;
  std::chrono::milliseconds ca_validity = std::chrono::hours(87600);
  std::chrono::milliseconds cert_validity = std::chrono::hours(8760);
  std::chrono::milliseconds renew_before = std::chrono::hours(720);
};

struct EncryptionSettings {
  EncryptionProvider provider = EncryptionProvider::kAescbc;
};

// Versions of the release files `hardway fetch` downloads (Kubernetes' own is
// cluster.kubernetes_version). Defaults: what "Kubernetes the hard way" installs.
struct ArtifactVersions {
  std::string etcd = "v3.6.0";
  std::string containerd = "v2.1.0";
  std::string runc = "v1.3.0";
  std::string cni_plugins = "v1.6.2";
  std::string crictl = "v1.32.0";
};

// Names of the release files, the keys of data/releases.yaml, artifacts.urls
// and artifacts.sha256: kube-apiserver, kube-controller-manager, kube-scheduler,
// kubelet, kube-proxy, kubectl, etcd, containerd, runc, cni_plugins, crictl.
const std::vector<std::string_view>& ReleaseNames();

struct ArtifactSettings {
  std::filesystem::path dir = "./artifacts";  // resolved against the inventory's folder
  std::filesystem::path bundle;  // `hardway fetch --bundle` archive used offline; empty: none
  std::string mirror;  // "scheme://host[/path]" replacing the official scheme://host
  std::filesystem::path cache;  // downloads; empty: $XDG_CACHE_HOME/hardway, ~/.cache/hardway
  ArtifactVersions versions;
  // Release name, or "name/arch" for one architecture, to a URL template
  // ({{version}}, {{bare_version}}, {{arch}}) or to a lower-case sha256.
  // "name/arch" wins over "name".
  std::map<std::string, std::string> urls;
  std::map<std::string, std::string> sha256;
};

struct Inventory {
  std::filesystem::path path;  // the file it came from
  ClusterSettings cluster;
  PkiSettings pki;
  EncryptionSettings encryption;
  SshSettings ssh;
  ArtifactSettings artifacts;
  std::vector<HostSpec> hosts;
};

// Loads and validates. On failure returns every error found (not just the first), each with
// where = "file:line:col" and a hint. YAML syntax errors included.
std::expected<Inventory, std::vector<Error>> LoadInventory(const std::filesystem::path& path);
// Same, from text (tests); `path` is only used in messages and to resolve relative paths.
std::expected<Inventory, std::vector<Error>> ParseInventory(const std::string& text,
                                                            const std::filesystem::path& path);

}  // namespace hardway
