// What is on disk against the certificate table: used by `hardway certs
// --check`, the pki gate (GateKind::kPkiValid) and EnsurePki itself (to decide
// what to reissue).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "inventory/cluster.h"
#include "pki/cert_table.h"
#include "pki/x509.h"
#include "util/error.h"

namespace hardway {

enum class CertStatus {
  kOk,
  kMismatch,
  kRenewSoon,
  kExpired,
  kMissing,
  kStale
};
std::string_view CertStatusName(
    CertStatus status);  // "ok", "mismatch", "renew soon", ...

struct CertCheck {
  std::string name;  // table name ("etcd/server-controller-0"), kubeconfig file
                     // or config file
  std::string file;  // relative to the state dir: "pki/admin.crt",
                     // "kubeconfigs/admin.kubeconfig"
  CertStatus status = CertStatus::kMissing;
  std::string reason;  // empty when ok: "lacks SAN node-0; expires 2026-11-21
                       // (in 3 days)"
  std::optional<CertInfo> info;  // when the certificate could be read
  long days_left = 0;  // floor((not_after - now) / 24h) when info is set
};

// Every CA, the SA key pair, every leaf, every kubeconfig and the encryption
// config, in table order, then stale files (certificates and kubeconfigs of
// hosts no longer in the inventory).
std::vector<CertCheck> CheckPki(const Cluster& cluster,
                                const std::filesystem::path& state_dir,
                                TimePoint now);

// True when nothing is missing, mismatched, expired or inside renew_before
// (stale is fine).
bool CheckPassed(const std::vector<CertCheck>& checks);

// How `info` differs from `spec`, one phrase each ("CN is x, want y", "lacks
// SAN node-0", "has extra SAN 10.0.0.9", "lacks extended key usage serverAuth",
// "key is rsa-2048, want ecdsa-p256"). Empty when it matches. Chain and
// validity are VerifyIssuedBy's job.
std::vector<std::string> SpecMismatches(const CertInfo& info,
                                        const CertSpec& spec,
                                        KeyAlgorithm wanted);

// One leaf on disk: status and reasons against its spec, its CA (`ca` may be
// null: the CA is unusable) and renew_before. Also reports whether its key file
// can be kept for a reissue.
struct LeafCheck {
  CertCheck check;
  bool key_reusable = false;  // key present, readable, of the wanted algorithm
};
LeafCheck CheckLeaf(const CertSpec& spec,
                    const std::filesystem::path& state_dir, X509* ca,
                    const PkiSettings& settings, TimePoint now);

// A file as read once: nullopt when it does not exist, else its bytes or the
// read error.
using FileContents = std::optional<Result<std::string>>;
FileContents ReadIfExists(const std::filesystem::path& path);

// CheckLeaf on the certificate and key as already read, so that a caller that
// fingerprints the bytes (EnsurePki's memo) judges exactly the bytes it
// checked. CheckLeaf is this on ReadIfExists of both files.
LeafCheck CheckLeafContents(const CertSpec& spec,
                            const std::filesystem::path& state_dir,
                            const FileContents& crt, const FileContents& key,
                            X509* ca, const PkiSettings& settings,
                            TimePoint now);

// Files under pki/ and kubeconfigs/ that the table does not name
// ("pki/kubelet-node-9.crt").
std::vector<std::string> StaleFiles(const Cluster& cluster,
                                    const std::filesystem::path& state_dir);

std::string JoinReasons(const std::vector<std::string>& reasons);  // "a; b; c"

}  // namespace hardway
