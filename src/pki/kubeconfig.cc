#include "pki/kubeconfig.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

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

std::string RenderKubeconfig(const KubeconfigContent& c) {
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
