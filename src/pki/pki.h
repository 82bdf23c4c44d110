// The pki module's entry point: make the state dir's PKI complete and valid
// (layout in
// ../shared/reference/pki.md and the state-dir contract): CAs, leaves, the SA
// key pair, kubeconfigs and the encryption config. Issues what is missing,
// reissues what no longer matches its spec, keeps the rest byte for byte. Never
// replaces a CA silently.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "inventory/cluster.h"
#include "pki/x509.h"
#include "util/error.h"

namespace hardway {

enum class PkiAction { kIssued, kReissued, kKept, kStale };
std::string_view PkiActionName(
    PkiAction action);  // "issued", "reissued", "kept", "stale"

struct PkiFileResult {
  std::string file;  // relative to the state dir: "pki/admin.crt",
                     // "kubeconfigs/admin.kubeconfig"
  PkiAction action = PkiAction::kKept;
  std::string reason;  // reissued: why ("lacks SAN 10.240.0.21"); stale: "no
                       // host node-9"
};

struct PkiReport {
  std::vector<PkiFileResult> files;
  // Existing leaves (of CAs that already existed): how many got the full check
  // (parsed, verified), how many the memo of earlier checks vouched for
  // (verify_memo.h).
  size_t leaves_checked = 0;
  size_t leaves_vouched = 0;
  size_t Count(PkiAction action) const;
  const PkiFileResult* Find(
      std::string_view file) const;  // nullptr when absent
};

struct PkiOptions {
  TimePoint now = std::chrono::system_clock::now();
  // Folder of encryption-config.yaml; empty: ResourceDir()/playbooks/templates.
  std::filesystem::path templates_dir;
  unsigned threads =
      0;  // key generation workers; 0: std::thread::hardware_concurrency()
};

Result<PkiReport> EnsurePki(const Cluster& cluster,
                            const std::filesystem::path& state_dir);
Result<PkiReport> EnsurePki(const Cluster& cluster,
                            const std::filesystem::path& state_dir,
                            const PkiOptions& options);

}  // namespace hardway
