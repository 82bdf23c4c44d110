#include "pki/encryption.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include "pki_test_util.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

fs::path Template() {
  return fs::path(HARDWAY_SOURCE_DIR) /
         "playbooks/templates/encryption-config.yaml";
}

TEST(Encryption, MadeOnceWith32RandomBytesAndKeptAcrossRuns) {
  fs::path path = testing::FreshDir("enc") / "encryption-config.yaml";
  auto first =
      EnsureEncryptionConfig(EncryptionProvider::kAescbc, path, Template());
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(testing::Mode(path), 0600u);
  auto text = *ReadFile(path);
  YAML::Node doc = YAML::Load(text);
  EXPECT_EQ(doc["kind"].as<std::string>(), "EncryptionConfiguration");
  EXPECT_EQ(doc["apiVersion"].as<std::string>(), "apiserver.config.k8s.io/v1");
  YAML::Node res = doc["resources"][0];
  EXPECT_EQ(res["resources"][0].as<std::string>(), "secrets");
  YAML::Node key = res["providers"][0]["aescbc"]["keys"][0];
  EXPECT_EQ(key["name"].as<std::string>(), "key1");
  std::string secret = key["secret"].as<std::string>();
  unsigned char raw[64];
  EXPECT_EQ(EVP_DecodeBlock(
                raw, reinterpret_cast<const unsigned char*>(secret.data()),
                static_cast<int>(secret.size())),
            33);  // 32 bytes + 1 for the padding EVP_DecodeBlock counts
  EXPECT_TRUE(res["providers"][1]["identity"]);

  struct stat before {};
  ::stat(path.c_str(), &before);
  auto second =
      EnsureEncryptionConfig(EncryptionProvider::kAescbc, path, Template());
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created || second->rewritten);
  EXPECT_EQ(*ReadFile(path), text);
  struct stat after {};
  ::stat(path.c_str(), &after);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);

  // Another state dir gets another key.
  fs::path other = testing::FreshDir("enc2") / "encryption-config.yaml";
  ASSERT_TRUE(
      EnsureEncryptionConfig(EncryptionProvider::kAescbc, other, Template()));
  EXPECT_NE(ParseEncryptionConfig(*ReadFile(other), "x")->secret, secret);
}

TEST(Encryption, ProviderChangeKeepsTheKeyAndOldProviderForReading) {
  fs::path path = testing::FreshDir("enc3") / "encryption-config.yaml";
  ASSERT_TRUE(
      EnsureEncryptionConfig(EncryptionProvider::kAescbc, path, Template()));
  std::string secret = ParseEncryptionConfig(*ReadFile(path), "x")->secret;
  auto changed =
      EnsureEncryptionConfig(EncryptionProvider::kSecretbox, path, Template());
  ASSERT_TRUE(changed);
  EXPECT_TRUE(changed->rewritten);
  EXPECT_THAT(changed->reason, HasSubstr("aescbc -> secretbox"));
  auto parsed = ParseEncryptionConfig(*ReadFile(path), "x");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->secret, secret);
  EXPECT_THAT(parsed->providers, ElementsAre("secretbox", "aescbc"));
  // And back: aescbc first again, secretbox still readable.
  ASSERT_TRUE(
      EnsureEncryptionConfig(EncryptionProvider::kAescbc, path, Template()));
  EXPECT_THAT(ParseEncryptionConfig(*ReadFile(path), "x")->providers,
              ElementsAre("aescbc", "secretbox"));
}

TEST(Encryption, ForeignOrBrokenFileIsAnErrorNotReplaced) {
  fs::path path = testing::FreshDir("enc4") / "encryption-config.yaml";
  ASSERT_TRUE(WriteFileAtomic(path, "resources: [{providers: [{kms: {}}]}]\n",
                              fs::perms(0600)));
  auto result =
      EnsureEncryptionConfig(EncryptionProvider::kAescbc, path, Template());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kPki);
  EXPECT_THAT(result.error().message, HasSubstr("provider kms"));
  EXPECT_THAT(result.error().hint, HasSubstr("unreadable"));
  ASSERT_TRUE(WriteFileAtomic(path, "{{{ not yaml", fs::perms(0600)));
  EXPECT_FALSE(
      EnsureEncryptionConfig(EncryptionProvider::kAescbc, path, Template()));
  EXPECT_EQ(*ReadFile(path), "{{{ not yaml");
}

}  // namespace
}  // namespace hardway
