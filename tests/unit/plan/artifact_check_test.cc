#include "plan/artifact_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "util/files.h"
#include "util/sha256.h"

namespace hardway {
namespace {
namespace fs = std::filesystem;

class ArtifactCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hardway-artifacts-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "cni");
    Add("etcd", "etcd-binary");
    Add("cni/bridge", "bridge-binary");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Add(const std::string& name, const std::string& content) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / name, content, fs::perms(0755)));
    Phase& phase = plan_.phases.empty() ? plan_.phases.emplace_back()
                                        : plan_.phases.front();
    Step step;
    step.kind = StepKind::kUpload;
    step.source = (dir_ / name).string();
    step.source_label = "artifact " + name;
    step.sha256 = Sha256Hex(content);
    step.size = content.size();
    phase.steps.push_back(step);
  }
  void WriteManifest(const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / "SHA256SUMS", text, fs::perms(0644)));
  }

  fs::path dir_;
  Plan plan_;
};

TEST_F(ArtifactCheckTest, MatchingManifestPasses) {
  WriteManifest(Sha256Hex("etcd-binary") + "  etcd\n" +
                Sha256Hex("bridge-binary") + "  ./cni/bridge\n");
  auto status = VerifyArtifacts(plan_, dir_);
  EXPECT_TRUE(status) << status.error().ToString();
}

TEST_F(ArtifactCheckTest, MismatchNamesTheArtifact) {
  WriteManifest(Sha256Hex("something else") + "  etcd\n" +
                Sha256Hex("bridge-binary") + "  cni/bridge\n");
  auto status = VerifyArtifacts(plan_, dir_);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("etcd: sha256"), std::string::npos)
      << status.error().message;
  EXPECT_EQ(status.error().message.find("cni/bridge"), std::string::npos);
}

TEST_F(ArtifactCheckTest, UnlistedAndMissingAreRefused) {
  WriteManifest(Sha256Hex("etcd-binary") + "  etcd\n");
  plan_.phases.front().steps.front().missing = true;
  auto status = VerifyArtifacts(plan_, dir_);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("etcd: missing"), std::string::npos);
  EXPECT_NE(status.error().message.find("cni/bridge: not listed"),
            std::string::npos);
}

TEST_F(ArtifactCheckTest, NoManifestChecksPresenceOnly) {
  EXPECT_TRUE(VerifyArtifacts(plan_, dir_));
}

TEST(ArtifactManifest, BadLineNamesFileAndLine) {
  auto parsed =
      ParseArtifactManifest("# comment\nnot a checksum\n", "/a/SHA256SUMS");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().where, "/a/SHA256SUMS:2");
}

}  // namespace
}  // namespace hardway
