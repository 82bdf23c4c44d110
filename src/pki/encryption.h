// The encryption-at-rest config for kube-apiserver: one 32-byte key made once
// (OpenSSL's RNG), kept across runs. Changing the provider in the inventory
// keeps the key and puts the new provider first, the previous ones after it
// (they still decrypt what they wrote), then identity.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "util/error.h"

namespace hardway {

struct EncryptionConfig {
  std::string secret;  // base64 of the 32-byte key; never logged
  std::vector<std::string> providers;  // "aescbc", "secretbox"; first encrypts
};

// Parses a config hardway wrote (or one of the same shape). nullopt-free: an
// unreadable or foreign file is an error, never silently replaced (that would
// lose every stored secret).
Result<EncryptionConfig> ParseEncryptionConfig(const std::string& yaml_text,
                                               const std::string& where);

// Renders the mustache template (playbooks/templates/encryption-config.yaml).
Result<std::string> RenderEncryptionConfig(const std::string& template_text,
                                           const EncryptionConfig& config);

struct EncryptionOutcome {
  bool created = false;    // a new key was made
  bool rewritten = false;  // the file changed (provider change)
  std::string reason;
};

// Makes state_dir/encryption-config.yaml (0600) or brings an existing one in
// line with `provider` without touching its key.
Result<EncryptionOutcome> EnsureEncryptionConfig(
    EncryptionProvider provider, const std::filesystem::path& config_path,
    const std::filesystem::path& template_path);

}  // namespace hardway
