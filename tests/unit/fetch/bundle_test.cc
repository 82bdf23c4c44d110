// The manifest, release archives and the offline bundle: round trips, and a
// corrupt or foreign member refused by name.
#include "fetch/bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fetch/fetch.h"
#include "fetch/layout.h"
#include "fetch_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using namespace fetch_test;

ManifestEntry Entry(const std::string& path, const std::string& content) {
  return ManifestEntry{path,
                       path,
                       "r",
                       "v1.0.0",
                       "amd64",
                       Sha256Hex(content),
                       "https://x/" + path};
}

TEST(ManifestTest, JsonRoundTrip) {
  ArtifactManifestJson m;
  m.entries = {Entry("cni/bridge", "b"), Entry("etcd", "e")};
  m.entries[1].arch = "arm64";
  auto back = ParseManifestJson(ManifestToJson(m), "m.json");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->entries, m.entries);
  EXPECT_EQ(ManifestToSha256Sums(m),
            Sha256Hex("b") + "  cni/bridge\n" + Sha256Hex("e") + "  etcd\n");
}

TEST(ManifestTest, RejectsUnsafeOrIncompleteEntries) {
  EXPECT_FALSE(ParseManifestJson("[]", "m"));
  EXPECT_FALSE(ParseManifestJson(
      "{\"artifacts\": [{\"path\": \"../etc/x\", \"sha256\": \"" +
          std::string(64, 'a') + "\"}]}",
      "m"));
  EXPECT_FALSE(ParseManifestJson(
      "{\"artifacts\": [{\"path\": \"x\", \"sha256\": \"abc\"}]}", "m"));
  auto twice = ParseManifestJson(
      "{\"artifacts\": [{\"path\": \"x\", \"sha256\": \"" +
          std::string(64, 'a') + "\"}, {\"path\": \"x\", \"sha256\": \"" +
          std::string(64, 'a') + "\"}]}",
      "m");
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, HasSubstr("lists x twice"));
}

TEST(ArchiveTest, ExtractsNamedMembers) {
  TempDir tmp;
  WriteTarGz(tmp.path() / "a.tgz",
             {{"./bridge", "B"}, {"dir/etcd", "E"}, {"other", "O"}});
  auto out = ExtractMembers(tmp.path() / "a.tgz",
                            {{"bridge", tmp.path() / "out/cni/bridge"},
                             {"dir/etcd", tmp.path() / "out/etcd"}},
                            fs::perms(0755));
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(*ReadFile(tmp.path() / "out/cni/bridge"), "B");
  EXPECT_EQ(*ReadFile(tmp.path() / "out/etcd"), "E");
  EXPECT_EQ((*out)[0].sha256, Sha256Hex("B"));
  EXPECT_TRUE((*out)[1].changed);
  EXPECT_FALSE(fs::exists(tmp.path() / "out/other"));
  // Again: same bytes, nothing rewritten.
  auto again = ExtractMembers(tmp.path() / "a.tgz",
                              {{"bridge", tmp.path() / "out/cni/bridge"}},
                              fs::perms(0755));
  ASSERT_TRUE(again);
  EXPECT_FALSE((*again)[0].changed);

  auto missing =
      ExtractMembers(tmp.path() / "a.tgz",
                     {{"dir/etcdctl", tmp.path() / "out/x"}}, fs::perms(0755));
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("no member dir/etcdctl"));
  EXPECT_THAT(missing.error().hint, HasSubstr("dir/etcd"));
  EXPECT_FALSE(fs::exists(tmp.path() / "out/x"));
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() / "artifacts";
    for (const auto& [path, content] : files_) {
      Put(dir_ / path, content);
      manifest_.entries.push_back(Entry(path, content));
    }
    bundle_ = tmp_.path() / "out/k8s.tar";
  }
  // Flips one byte of `content` inside the bundle file.
  void Corrupt(const std::string& content) {
    std::string bytes = *ReadFile(bundle_);
    size_t at = bytes.find(content);
    ASSERT_NE(at, std::string::npos);
    bytes[at] ^= 1;
    Put(bundle_, bytes);
  }

  TempDir tmp_;
  fs::path dir_, bundle_;
  std::vector<std::pair<std::string, std::string>> files_ = {
      {"cni/bridge", FakeElf("amd64", "bridge")},
      {"etcd", FakeElf("amd64", "etcd")}};
  ArtifactManifestJson manifest_;
};

TEST_F(BundleTest, RoundTrip) {
  ASSERT_TRUE(WriteBundle(dir_, manifest_, bundle_));
  auto unpacked = UnpackBundle(bundle_, tmp_.path() / "cache");
  ASSERT_TRUE(unpacked) << unpacked.error().ToString();
  EXPECT_EQ(*unpacked, tmp_.path() / "cache/bundles" / *Sha256File(bundle_));
  for (const auto& [path, content] : files_) {
    EXPECT_EQ(*ReadFile(*unpacked / path), content);
    EXPECT_EQ(fs::status(*unpacked / path).permissions() & fs::perms::all,
              fs::perms(0755));
  }
  auto manifest = ReadManifest(*unpacked);
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->entries, manifest_.entries);
  EXPECT_EQ(*ReadFile(*unpacked / "SHA256SUMS"),
            ManifestToSha256Sums(manifest_));
  // Nothing left from the unpacking besides the folder itself.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(tmp_.path() / "cache/bundles")) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
  // Same artifacts, same bundle bytes (so the same cache folder).
  std::string first = *ReadFile(bundle_);
  ASSERT_TRUE(WriteBundle(dir_, manifest_, bundle_));
  EXPECT_EQ(*ReadFile(bundle_), first);
}

TEST_F(BundleTest, CorruptMemberIsRefusedByName) {
  ASSERT_TRUE(WriteBundle(dir_, manifest_, bundle_));
  Corrupt("etcd padding");  // inside etcd's fake binary
  auto unpacked = UnpackBundle(bundle_, tmp_.path() / "cache");
  ASSERT_FALSE(unpacked);
  EXPECT_EQ(unpacked.error().kind, ErrorKind::kValidation);
  EXPECT_THAT(unpacked.error().message, HasSubstr("member etcd has sha256"));
  EXPECT_THAT(unpacked.error().message,
              HasSubstr("the manifest says " + Sha256Hex(files_[1].second)));
  EXPECT_THAT(unpacked.error().message,
              ::testing::Not(HasSubstr("cni/bridge")));
  EXPECT_EQ(unpacked.error().where, bundle_.string());
  // Nothing usable was left in the cache.
  EXPECT_TRUE(!fs::exists(tmp_.path() / "cache/bundles") ||
              fs::is_empty(tmp_.path() / "cache/bundles"));
}

TEST_F(BundleTest, MemberOutsideTheManifestIsRefused) {
  ArtifactManifestJson partial = manifest_;
  partial.entries.pop_back();  // etcd written but not listed
  ASSERT_TRUE(WriteBundle(dir_, manifest_, bundle_));
  // Rewrite the bundle's manifest.json by hand: a bundle whose etcd is
  // unlisted.
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, bundle_.c_str()), ARCHIVE_OK);
  for (const auto& [name, content] :
       std::vector<std::pair<std::string, std::string>>{
           {"manifest.json", ManifestToJson(partial)},
           {"cni/bridge", files_[0].second},
           {"etcd", files_[1].second}}) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0755);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  auto unpacked = UnpackBundle(bundle_, tmp_.path() / "cache");
  ASSERT_FALSE(unpacked);
  EXPECT_THAT(unpacked.error().message,
              HasSubstr("member etcd is not in the manifest"));
}

TEST_F(BundleTest, ChangedArtifactIsNotBundled) {
  Put(dir_ / "etcd", "changed since fetch");
  auto written = WriteBundle(dir_, manifest_, bundle_);
  ASSERT_FALSE(written);
  EXPECT_THAT(written.error().message, HasSubstr("etcd has sha256"));
  EXPECT_FALSE(fs::exists(bundle_));
}

TEST_F(BundleTest, NotATarIsRefused) {
  Put(bundle_, "just text");
  auto unpacked = UnpackBundle(bundle_, tmp_.path() / "cache");
  ASSERT_FALSE(unpacked);
  EXPECT_THAT(unpacked.error().message, HasSubstr("artifact bundle refused"));
}

TEST_F(BundleTest, InventoryBundleResolvesAgainstItsFolder) {
  ASSERT_TRUE(WriteBundle(dir_, manifest_, bundle_));
  auto inv = ParseInventory(
      "cluster: {name: demo}\nartifacts: {bundle: out/k8s.tar, cache: "
      "c}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n",
      tmp_.path() / "inventory.yaml");
  ASSERT_TRUE(inv);
  auto dir = BundleArtifactsDir(*inv);
  ASSERT_TRUE(dir) << dir.error().ToString();
  EXPECT_EQ(*dir, tmp_.path() / "c/bundles" / *Sha256File(bundle_));
  inv->artifacts.bundle.clear();
  EXPECT_EQ(*BundleArtifactsDir(*inv), fs::path());
}

TEST(LayoutTest, ElfArchitectures) {
  EXPECT_EQ(ElfArch(FakeElf("amd64", "x")), "amd64");
  EXPECT_EQ(ElfArch(FakeElf("arm64", "x")), "arm64");
  EXPECT_EQ(ElfArch("#!/bin/sh\necho not elf\n"), "");
  EXPECT_EQ(ElfArch("\x7f"
                    "ELF"),
            "");  // too short
  std::string riscv = FakeElf("amd64", "x");
  riscv[18] = static_cast<char>(243);
  EXPECT_EQ(ElfArch(riscv), "riscv64");
  EXPECT_EQ(UnameMachine("amd64"), "x86_64");
  EXPECT_EQ(UnameMachine("arm64"), "aarch64");
}

TEST(LayoutTest, FlatUnlessArchitecturesDiffer) {
  Cluster one = ClusterFrom(
      "cluster: {name: d}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane], "
      "arch: arm64}\n",
      "/i.yaml");
  EXPECT_FALSE(PerArchLayout(one));
  EXPECT_EQ(ClusterArches(one), std::vector<std::string>{"arm64"});
  EXPECT_EQ(ArtifactRelPath(false, "arm64", "etcd"), "etcd");
  Cluster two = ClusterFrom(
      "cluster: {name: d}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane], "
      "arch: arm64}\n"
      "  - {name: w-0, address: 10.240.0.20, roles: [worker]}\n",
      "/i.yaml");
  EXPECT_TRUE(PerArchLayout(two));
  EXPECT_EQ(ClusterArches(two), (std::vector<std::string>{"amd64", "arm64"}));
  EXPECT_EQ(ArtifactRelPath(true, "arm64", "cni/bridge"), "arm64/cni/bridge");
}

}  // namespace
}  // namespace hardway
