#include "pki/encryption.h"

#include <openssl/rand.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <kainjow/mustache.hpp>

#include "pki/kubeconfig.h"
#include "util/files.h"

namespace hardway {
namespace fs = std::filesystem;

Result<EncryptionConfig> ParseEncryptionConfig(const std::string& yaml_text,
                                               const std::string& where) {
  const std::string hint =
      "restore it from a backup; deleting it makes every secret stored in etcd "
      "unreadable";
  EncryptionConfig config;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    YAML::Node resources = root["resources"];
    if (!resources.IsSequence() || resources.size() == 0) {
      return Fail(ErrorKind::kPki, "encryption config has no resources list",
                  where, hint);
    }
    for (const YAML::Node& provider : resources[0]["providers"]) {
      if (!provider.IsMap() || provider.size() != 1) continue;
      std::string name = provider.begin()->first.as<std::string>();
      if (name == "identity") continue;
      if (name != "aescbc" && name != "secretbox") {
        return Fail(ErrorKind::kPki,
                    "encryption config has provider " + name +
                        ", hardway manages only aescbc and secretbox",
                    where, hint);
      }
      YAML::Node keys = provider.begin()->second["keys"];
      if (!keys.IsSequence() || keys.size() == 0 || !keys[0]["secret"]) {
        return Fail(ErrorKind::kPki,
                    "encryption provider " + name + " has no key", where, hint);
      }
      std::string secret = keys[0]["secret"].as<std::string>();
      if (!config.secret.empty() && secret != config.secret) {
        return Fail(ErrorKind::kPki,
                    "encryption config holds more than one key", where,
                    "hardway keeps one key; rotate keys by hand");
      }
      config.secret = secret;
      config.providers.push_back(name);
    }
  } catch (const YAML::Exception& e) {
    return Fail(ErrorKind::kPki,
                std::string("encryption config is not valid YAML: ") + e.what(),
                where, hint);
  }
  if (config.secret.empty()) {
    return Fail(ErrorKind::kPki,
                "encryption config has no aescbc or secretbox key", where,
                hint);
  }
  return config;
}

Result<std::string> RenderEncryptionConfig(const std::string& template_text,
                                           const EncryptionConfig& config) {
  kainjow::mustache::mustache tmpl(template_text);
  if (!tmpl.is_valid()) {
    return Fail(ErrorKind::kValidation, "bad template: " + tmpl.error_message(),
                "playbooks/templates/encryption-config.yaml");
  }
  kainjow::mustache::data providers{kainjow::mustache::data::type::list};
  for (const std::string& name : config.providers) {
    kainjow::mustache::data p;
    p.set("name", name);
    p.set("secret", config.secret);
    providers.push_back(p);
  }
  kainjow::mustache::data data;
  data.set("providers", providers);
  return tmpl.render(data);
}

Result<EncryptionOutcome> EnsureEncryptionConfig(
    EncryptionProvider provider, const fs::path& config_path,
    const fs::path& template_path) {
  auto template_text = ReadFile(template_path);
  if (!template_text) {
    return Fail(ErrorKind::kIo, "encryption config template not found",
                template_path.string(),
                "set HARDWAY_HOME to the folder holding playbooks/");
  }
  const std::string wanted(EncryptionProviderName(provider));
  EncryptionOutcome outcome;
  EncryptionConfig config;
  std::error_code ec;
  if (fs::exists(config_path, ec)) {
    auto text = ReadFile(config_path);
    if (!text) return std::unexpected(text.error());
    auto parsed = ParseEncryptionConfig(*text, config_path.string());
    if (!parsed) return std::unexpected(parsed.error());
    config = std::move(*parsed);
    if (config.providers.front() != wanted) {
      outcome.reason = "provider " + config.providers.front() + " -> " +
                       wanted + " (same key; old providers kept for reading)";
    }
    std::erase(config.providers, wanted);
    config.providers.insert(config.providers.begin(), wanted);
  } else {
    unsigned char key[32];
    if (RAND_bytes(key, sizeof(key)) != 1) {
      return Fail(ErrorKind::kPki, "OpenSSL's random generator failed",
                  config_path.string());
    }
    config.secret = Base64Encode(
        std::string_view(reinterpret_cast<char*>(key), sizeof(key)));
    OPENSSL_cleanse(key, sizeof(key));
    config.providers = {wanted};
    outcome.created = true;
  }
  auto rendered = RenderEncryptionConfig(*template_text, config);
  if (!rendered) return std::unexpected(rendered.error());
  auto written = WriteFileAtomic(
      config_path, *rendered, fs::perms::owner_read | fs::perms::owner_write);
  if (!written) return std::unexpected(written.error());
  outcome.rewritten = *written && !outcome.created;
  if (outcome.rewritten && outcome.reason.empty())
    outcome.reason = "content or mode differed from its rendering (same key)";
  return outcome;
}

}  // namespace hardway
