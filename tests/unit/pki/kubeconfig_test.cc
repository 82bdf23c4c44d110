#include "pki/kubeconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <random>

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

// RenderKubeconfig writes the document itself when the emitter would leave
// every value plain; the bytes must be the emitter's either way (re-runs
// compare kubeconfigs byte for byte).
TEST(Kubeconfig, RenderIsTheEmittersDocumentByteForByte) {
  std::mt19937 rng(20240611);
  auto random_bytes = [&](size_t max) {
    std::string s(std::uniform_int_distribution<size_t>(0, max)(rng), '\0');
    for (char& ch : s) ch = static_cast<char>(rng());
    return s;
  };
  // Values as inventories give them, and values the emitter has to quote.
  std::vector<std::string> names = {"demo",
                                    "bench",
                                    "system:node:node-0",
                                    "system:kube-scheduler",
                                    "admin",
                                    "https://10.240.0.10:6443",
                                    "https://k8s.example.com:443",
                                    "null",
                                    "Null",
                                    "NULL",
                                    "~",
                                    "",
                                    "a: b",
                                    "x #y",
                                    "x#y",
                                    "-x",
                                    "-",
                                    ":a",
                                    "a:",
                                    "?a",
                                    "[a",
                                    "a]",
                                    "'a",
                                    "a'b",
                                    "@a",
                                    "`a",
                                    "a b",
                                    "a,b",
                                    "true",
                                    "123",
                                    "é",
                                    "a\"b",
                                    "+a",
                                    "/a",
                                    "a=",
                                    "a\tb",
                                    "a\nb",
                                    " a",
                                    "a "};
  const std::string alphabet = "aZ09+/=._:- #'\"[]{},&*!|>%@`?~\\";
  for (int i = 0; i < 400; ++i) {
    std::string s(std::uniform_int_distribution<size_t>(0, 6)(rng), 'a');
    for (char& ch : s)
      ch = alphabet[std::uniform_int_distribution<size_t>(
          0, alphabet.size() - 1)(rng)];
    names.push_back(s);
  }
  size_t n = 0;
  for (const std::string& name : names) {
    KubeconfigContent c{name,
                        names[n % names.size()],
                        names[(n * 7 + 3) % names.size()],
                        random_bytes(300),
                        random_bytes(300),
                        random_bytes(100)};
    ++n;
    // Each value in each position.
    for (int pos = 0; pos < 3; ++pos) {
      KubeconfigContent v = c;
      (pos == 0 ? v.cluster_name : pos == 1 ? v.server : v.user) = name;
      ASSERT_EQ(RenderKubeconfig(v), RenderKubeconfigWithEmitter(v))
          << "value [" << name << "] at " << pos;
    }
  }
  // The usual case, all plain.
  KubeconfigContent usual{
      "bench",           "https://10.240.0.10:6443", "system:node:node-0",
      random_bytes(800), random_bytes(800),          random_bytes(250)};
  EXPECT_EQ(RenderKubeconfig(usual), RenderKubeconfigWithEmitter(usual));
}

}  // namespace
}  // namespace hardway
