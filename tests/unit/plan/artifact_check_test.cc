#include "plan/artifact_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "fetch/bundle.h"
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
  // manifest.json as `hardway fetch` writes it: path -> sha256.
  void WriteManifestJson(const std::map<std::string, std::string>& sums) {
    ArtifactManifestJson manifest;
    for (const auto& [path, sha] : sums) {
      manifest.entries.push_back(ManifestEntry{
          path, path, path, "v1.0.0", "amd64", sha, "http://mirror/" + path});
    }
    ASSERT_TRUE(WriteFileAtomic(dir_ / "manifest.json",
                                ManifestToJson(manifest), fs::perms(0644)));
  }

  fs::path dir_;
  Plan plan_;
};

TEST_F(ArtifactCheckTest, MatchingManifestPasses) {
  WriteManifest(Sha256Hex("etcd-binary") + "  etcd\n" +
                Sha256Hex("bridge-binary") + "  ./cni/bridge\n");
  auto check = VerifyArtifacts(plan_, dir_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_EQ(check->manifests, std::vector<fs::path>{dir_ / "SHA256SUMS"});
  EXPECT_EQ(check->warning, "");
}

TEST_F(ArtifactCheckTest, MismatchNamesTheArtifactAndBothSums) {
  WriteManifest(Sha256Hex("something else") + "  etcd\n" +
                Sha256Hex("bridge-binary") + "  cni/bridge\n");
  auto status = VerifyArtifacts(plan_, dir_);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::kValidation);
  EXPECT_NE(status.error().message.find(
                "etcd: sha256 " + Sha256Hex("etcd-binary") +
                " does not match " + Sha256Hex("something else") + " in " +
                (dir_ / "SHA256SUMS").string()),
            std::string::npos)
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

TEST_F(ArtifactCheckTest, FetchManifestAloneIsEnough) {
  // What `hardway fetch` leaves when SHA256SUMS is gone: manifest.json only.
  WriteManifestJson({{"etcd", Sha256Hex("etcd-binary")},
                     {"cni/bridge", Sha256Hex("bridge-binary")}});
  auto check = VerifyArtifacts(plan_, dir_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_EQ(check->manifests, std::vector<fs::path>{dir_ / "manifest.json"});
  EXPECT_EQ(check->warning, "");

  // A replaced binary is caught by it.
  ASSERT_TRUE(WriteFileAtomic(dir_ / "etcd", "replaced", fs::perms(0755)));
  plan_.phases.front().steps.front().sha256 = Sha256Hex("replaced");
  auto status = VerifyArtifacts(plan_, dir_);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find(
                "etcd: sha256 " + Sha256Hex("replaced") + " does not match " +
                Sha256Hex("etcd-binary") + " in " +
                (dir_ / "manifest.json").string()),
            std::string::npos)
      << status.error().message;
  EXPECT_NE(status.error().hint.find("remove manifest.json"),
            std::string::npos);
}

TEST_F(ArtifactCheckTest, EveryManifestListingAnArtifactMustAgree) {
  // fetch wrote manifest.json; SHA256SUMS also lists a file added by hand.
  WriteManifestJson({{"etcd", Sha256Hex("etcd-binary")}});
  WriteManifest(Sha256Hex("etcd-binary") + "  etcd\n" +
                Sha256Hex("bridge-binary") + "  cni/bridge\n");
  auto check = VerifyArtifacts(plan_, dir_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_EQ(check->manifests, (std::vector<fs::path>{dir_ / "manifest.json",
                                                     dir_ / "SHA256SUMS"}));

  // SHA256SUMS regenerated after a swap, manifest.json not: still refused,
  // by manifest.json.
  WriteManifestJson({{"etcd", Sha256Hex("old etcd")}});
  auto status = VerifyArtifacts(plan_, dir_);
  ASSERT_FALSE(status);
  const std::string& m = status.error().message;
  EXPECT_NE(m.find("etcd: sha256 " + Sha256Hex("etcd-binary") +
                   " does not match " + Sha256Hex("old etcd") + " in " +
                   (dir_ / "manifest.json").string()),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("cni/bridge"), std::string::npos) << m;

  // Listed in neither.
  WriteManifest(Sha256Hex("etcd-binary") + "  etcd\n");
  WriteManifestJson({{"etcd", Sha256Hex("etcd-binary")}});
  status = VerifyArtifacts(plan_, dir_);
  ASSERT_FALSE(status);
  EXPECT_NE(
      status.error().message.find("cni/bridge: not listed in " +
                                  (dir_ / "manifest.json").string() + " or " +
                                  (dir_ / "SHA256SUMS").string()),
      std::string::npos)
      << status.error().message;
}

TEST_F(ArtifactCheckTest, UnreadableFetchManifestIsAnError) {
  ASSERT_TRUE(
      WriteFileAtomic(dir_ / "manifest.json", "{not json", fs::perms(0644)));
  auto status = VerifyArtifacts(plan_, dir_);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().where, (dir_ / "manifest.json").string());
}

TEST_F(ArtifactCheckTest, NoManifestChecksPresenceOnlyAndWarns) {
  auto check = VerifyArtifacts(plan_, dir_);
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_TRUE(check->manifests.empty());
  EXPECT_NE(check->warning.find("the artifacts in " + dir_.string() +
                                " are not verified"),
            std::string::npos)
      << check->warning;
  EXPECT_NE(check->warning.find("hardway fetch"), std::string::npos);
  EXPECT_NE(check->warning.find("sha256sum > SHA256SUMS"), std::string::npos);
  // Nothing uploaded from the folder: nothing to warn about.
  EXPECT_EQ(VerifyArtifacts(Plan{}, dir_)->warning, "");
}

// The first 20 bytes of an ELF executable for `machine` (62 x86-64, 183
// aarch64), then some text.
std::string FakeElf(unsigned machine, const std::string& text) {
  std::string h(20, '\0');
  h[0] = 0x7f;
  h[1] = 'E';
  h[2] = 'L';
  h[3] = 'F';
  h[4] = 2;  // 64-bit
  h[5] = 1;  // little endian
  h[18] = static_cast<char>(machine & 0xff);
  h[19] = static_cast<char>(machine >> 8);
  return h + text;
}

Cluster ArchCluster() {
  auto inv = ParseInventory(
      "cluster: {name: demo}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n"
      "  - {name: w-0, address: 10.240.0.20, roles: [worker], arch: arm64}\n"
      "  - {name: w-1, address: 10.240.0.21, roles: [worker], arch: arm64}\n"
      "  - {name: w-2, address: 10.240.0.22, roles: [worker], arch: arm64}\n",
      "/srv/inv.yaml");
  EXPECT_TRUE(inv);
  return Cluster::Resolve(inv ? *inv : Inventory{});
}

class ArtifactArchTest : public ArtifactCheckTest {
 protected:
  // An upload of artifact `name` (already written) to `host`.
  void UploadTo(const std::string& name, const std::string& host) {
    Step step;
    step.kind = StepKind::kUpload;
    step.host = host;
    step.source = (dir_ / name).string();
    step.source_label = "artifact " + name;
    step.sha256 = Sha256Hex(*ReadFile(dir_ / name));
    plan_.phases.front().steps.push_back(step);
  }
  Cluster cluster_ = ArchCluster();
};

TEST_F(ArtifactArchTest, ExecutableForAnotherCpuIsRefusedNamingTheHost) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "amd64/kubelet", FakeElf(62, "kubelet"),
                              fs::perms(0755)));
  ASSERT_TRUE(WriteFileAtomic(dir_ / "arm64/kubelet", FakeElf(62, "kubelet"),
                              fs::perms(0755)));
  ASSERT_TRUE(WriteFileAtomic(dir_ / "amd64/etcd", FakeElf(62, "etcd"),
                              fs::perms(0755)));
  UploadTo("amd64/etcd", "c-0");
  UploadTo("arm64/kubelet", "w-0");  // an x86-64 binary in the arm64 folder
  UploadTo("arm64/kubelet", "w-1");
  UploadTo("arm64/kubelet", "w-2");
  auto status = VerifyArtifacts(plan_, dir_, &cluster_);
  ASSERT_FALSE(status);
  const std::string& m = status.error().message;
  EXPECT_NE(m.find("arm64/kubelet: built for amd64 (ELF header), but host w-0 "
                   "(and 2 more arm64 hosts) is arm64 (hosts[].arch)"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("amd64/etcd"), std::string::npos) << m;
  EXPECT_NE(status.error().hint.find("hardway fetch"), std::string::npos);
  // Without the cluster, only presence and sums are checked.
  EXPECT_TRUE(VerifyArtifacts(plan_, dir_));
}

TEST_F(ArtifactArchTest, MatchingArchitecturesAndNonElfFilesPass) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "arm64/kubelet", FakeElf(183, "kubelet"),
                              fs::perms(0755)));
  ASSERT_TRUE(WriteFileAtomic(dir_ / "amd64/etcd", FakeElf(62, "etcd"),
                              fs::perms(0755)));
  UploadTo("arm64/kubelet", "w-0");
  UploadTo("amd64/etcd", "c-0");
  UploadTo("etcd", "w-1");  // "etcd-binary": a script or data, not ELF
  auto status = VerifyArtifacts(plan_, dir_, &cluster_);
  EXPECT_TRUE(status) << status.error().ToString();
}

TEST_F(ArtifactArchTest, Arm64BinaryOnTheDefaultAmd64Host) {
  ASSERT_TRUE(
      WriteFileAtomic(dir_ / "etcd", FakeElf(183, "etcd"), fs::perms(0755)));
  plan_.phases.front().steps.clear();
  UploadTo("etcd", "c-0");
  auto status = VerifyArtifacts(plan_, dir_, &cluster_);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find(
                "etcd: built for arm64 (ELF header), but host c-0 is amd64"),
            std::string::npos)
      << status.error().message;
}

TEST(ArtifactManifest, BadLineNamesFileAndLine) {
  auto parsed =
      ParseArtifactManifest("# comment\nnot a checksum\n", "/a/SHA256SUMS");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().where, "/a/SHA256SUMS:2");
}

}  // namespace
}  // namespace hardway
