#include "pki/kubeconfig.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <string_view>

#include "util/files.h"

namespace hardway {

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string RenderKubeconfigWithEmitter(const KubeconfigContent& c) {
  // yaml-cpp's emitter quotes names when they need it (user names hold ':').
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq
      << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.cluster_name;
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "certificate-authority-data" << YAML::Value
      << Base64Encode(c.ca_pem);
  out << YAML::Key << "server" << YAML::Value << c.server;
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq
      << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.user;
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "client-certificate-data" << YAML::Value
      << Base64Encode(c.cert_pem);
  out << YAML::Key << "client-key-data" << YAML::Value
      << Base64Encode(c.key_pem);
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq
      << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "default";
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << c.cluster_name;
  out << YAML::Key << "user" << YAML::Value << c.user;
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "current-context" << YAML::Value << "default";
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

namespace {

// True when yaml-cpp's emitter writes `s` as a plain scalar, judged
// conservatively (false may still be plain; true always is).
bool EmitsPlain(std::string_view s) {
  if (s.empty() || s == "null" || s == "Null" || s == "NULL") return false;
  auto alnum = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9');
  };
  // A first character that starts no YAML indicator ('-', ':', '?', ...), and
  // no ':' last ("a:" would read as a key).
  if (!alnum(s.front()) && s.front() != '/' && s.front() != '+') return false;
  if (s.back() == ':') return false;
  for (char ch : s) {
    if (!alnum(ch) &&
        std::string_view("+/=._:-").find(ch) == std::string_view::npos)
      return false;
  }
  return true;
}

}  // namespace

std::string RenderKubeconfig(const KubeconfigContent& c) {
  // yaml-cpp's emitter runs its plain-scalar regexes over every character of
  // the long base64 values: a tenth of `hardway plan`'s time on a 1,000-host
  // inventory. The document's shape is fixed, so it is written directly when
  // every value is one the emitter leaves plain (base64, DNS names, URLs,
  // "system:node:x"); anything else goes through the emitter, which knows
  // how to quote it. Either way the bytes are the emitter's (kubeconfig_test
  // compares the two).
  std::string ca = Base64Encode(c.ca_pem);
  std::string cert = Base64Encode(c.cert_pem);
  std::string key = Base64Encode(c.key_pem);
  for (std::string_view v :
       {std::string_view(c.cluster_name), std::string_view(c.server),
        std::string_view(c.user), std::string_view(ca), std::string_view(cert),
        std::string_view(key)}) {
    if (!EmitsPlain(v)) return RenderKubeconfigWithEmitter(c);
  }
  std::string out;
  out.reserve(ca.size() + cert.size() + key.size() + 512);
  out += "apiVersion: v1\nkind: Config\nclusters:\n  - name: ";
  out += c.cluster_name;
  out += "\n    cluster:\n      certificate-authority-data: ";
  out += ca;
  out += "\n      server: ";
  out += c.server;
  out += "\nusers:\n  - name: ";
  out += c.user;
  out += "\n    user:\n      client-certificate-data: ";
  out += cert;
  out += "\n      client-key-data: ";
  out += key;
  out += "\ncontexts:\n  - name: default\n    context:\n      cluster: ";
  out += c.cluster_name;
  out += "\n      user: ";
  out += c.user;
  out += "\ncurrent-context: default\n";
  return out;
}

Result<std::string> BuildKubeconfig(const Cluster& cluster,
                                    const KubeconfigSpec& spec,
                                    const std::filesystem::path& state_dir) {
  KubeconfigContent content;
  content.cluster_name = cluster.name();
  content.server = spec.server;
  content.user = spec.user;
  auto ca = ReadFile(state_dir / "pki" / (spec.ca + ".crt"));
  if (!ca) return std::unexpected(ca.error());
  auto cert = ReadFile(state_dir / "pki" / (spec.cert + ".crt"));
  if (!cert) return std::unexpected(cert.error());
  auto key = ReadFile(state_dir / "pki" / (spec.cert + ".key"));
  if (!key) return std::unexpected(key.error());
  content.ca_pem = std::move(*ca);
  content.cert_pem = std::move(*cert);
  content.key_pem = std::move(*key);
  return RenderKubeconfig(content);
}

}  // namespace hardway
