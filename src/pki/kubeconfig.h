// Kubeconfigs with embedded certificates (base64), one per KubeconfigSpec
// (cert_table.h).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "inventory/cluster.h"
#include "pki/cert_table.h"
#include "util/error.h"

namespace hardway {

struct KubeconfigContent {
  std::string cluster_name;  // the inventory's cluster name
  std::string server;        // "https://10.240.0.10:6443"
  std::string user;          // "system:node:node-0"
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// Byte-stable YAML (same input, same bytes), so a re-run rewrites nothing. The
// context is named "default", as in the hard way.
std::string RenderKubeconfig(const KubeconfigContent& content);

// The same document through yaml-cpp's emitter: RenderKubeconfig's fallback for
// values that need quoting, and its reference in the tests.
std::string RenderKubeconfigWithEmitter(const KubeconfigContent& content);

// The kubeconfig for `spec` from the CA, certificate and key files in
// state_dir/pki.
Result<std::string> BuildKubeconfig(const Cluster& cluster,
                                    const KubeconfigSpec& spec,
                                    const std::filesystem::path& state_dir);

// Standard base64 without line breaks, as kubeconfig *-data fields want.
std::string Base64Encode(std::string_view data);

}  // namespace hardway
