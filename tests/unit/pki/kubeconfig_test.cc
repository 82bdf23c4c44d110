#include "pki/kubeconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include "pki/x509.h"
#include "pki_test_util.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using testing::FreshDir;
using testing::InventoryYaml;
using testing::MakeCluster;
using testing::TestOptions;

std::string Base64Decode(const std::string& in) {
  std::string out(in.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  EXPECT_GE(n, 0);
  size_t pad = in.ends_with("==") ? 2 : in.ends_with("=") ? 1 : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

TEST(Base64, RoundTrips) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Decode(Base64Encode("hello, world")), "hello, world");
}

TEST(Kubeconfig, EveryKubeconfigParsesAndItsPairMatches) {
  Cluster cluster = MakeCluster(InventoryYaml());
  fs::path state = FreshDir("kubeconfig");
  ASSERT_TRUE(EnsurePki(cluster, state, TestOptions()));
  auto ca_pem = ReadFile(state / "pki/ca.crt");
  ASSERT_TRUE(ca_pem);
  for (const KubeconfigSpec& spec : KubeconfigTable(cluster)) {
    SCOPED_TRACE(spec.name);
    fs::path path = KubeconfigPath(state, spec);
    EXPECT_EQ(testing::Mode(path), 0600u);
    YAML::Node doc = YAML::LoadFile(path.string());
    EXPECT_EQ(doc["apiVersion"].as<std::string>(), "v1");
    EXPECT_EQ(doc["kind"].as<std::string>(), "Config");
    EXPECT_EQ(doc["current-context"].as<std::string>(), "default");
    YAML::Node cl = doc["clusters"][0];
    EXPECT_EQ(cl["name"].as<std::string>(), "test");
    EXPECT_EQ(cl["cluster"]["server"].as<std::string>(), spec.server);
    EXPECT_EQ(
        Base64Decode(
            cl["cluster"]["certificate-authority-data"].as<std::string>()),
        *ca_pem);
    YAML::Node user = doc["users"][0];
    EXPECT_EQ(user["name"].as<std::string>(), spec.user);
    EXPECT_EQ(doc["contexts"][0]["context"]["user"].as<std::string>(),
              spec.user);
    EXPECT_EQ(doc["contexts"][0]["context"]["cluster"].as<std::string>(),
              "test");
    std::string cert_pem =
        Base64Decode(user["user"]["client-certificate-data"].as<std::string>());
    std::string key_pem =
        Base64Decode(user["user"]["client-key-data"].as<std::string>());
    auto cert = ParseCertificatePem(cert_pem, spec.name);
    auto key = ParsePrivateKeyPem(key_pem, spec.name);
    ASSERT_TRUE(cert && key);
    EXPECT_TRUE(KeyMatchesCertificate(cert->get(), key->get()));
    EXPECT_EQ(cert_pem, *ReadFile(state / "pki" / (spec.cert + ".crt")));
    auto ca = ParseCertificatePem(*ca_pem, "ca");
    EXPECT_EQ(VerifyIssuedBy(cert->get(), ca->get(),
                             std::chrono::system_clock::now()),
              std::nullopt);
    // The certificate's CN is the user the apiserver will see.
    EXPECT_EQ(InspectCertificate(cert->get()).cn, spec.user);
  }
}

TEST(Kubeconfig, RenderIsByteStable) {
  KubeconfigContent c{
      "demo", "https://10.0.0.1:6443", "system:node:n0", "CA", "CERT", "KEY"};
  EXPECT_EQ(RenderKubeconfig(c), RenderKubeconfig(c));
  YAML::Node doc = YAML::Load(RenderKubeconfig(c));
  EXPECT_EQ(doc["users"][0]["name"].as<std::string>(), "system:node:n0");
}

}  // namespace
}  // namespace hardway
