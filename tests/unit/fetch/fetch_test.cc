// `hardway fetch` end to end against a fake mirror on 127.0.0.1: the
// artifacts folder, its SHA256SUMS and manifest, the cache, pinned sums,
// mismatches that install nothing, and the per-architecture layout.
#include "fetch/fetch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fetch/layout.h"
#include "fetch_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using namespace fetch_test;

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "www";
    log_ = tmp_.path() / "requests.log";
    options_.download.retry_delay = std::chrono::milliseconds(10);
  }

  // An inventory in tmp_ whose mirror is the server; `artifacts_extra` goes
  // into the artifacts section.
  Cluster Make(const std::string& hosts,
               const std::string& artifacts_extra = "") {
    std::string yaml =
        "cluster: {name: demo}\nartifacts:\n  dir: artifacts\n  cache: cache\n";
    if (server_) yaml += "  mirror: " + server_->url() + "\n";
    yaml += artifacts_extra + "hosts:\n" + hosts;
    return ClusterFrom(yaml, tmp_.path() / "inventory.yaml");
  }
  static constexpr const char* kOneAmd64 =
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane, "
      "worker]}\n";

  void StartMirror(const Cluster& shape, std::vector<std::string> extra = {}) {
    mirror_ = BuildFakeMirror(root_, shape);
    server_ = std::make_unique<MirrorServer>(root_, log_, std::move(extra));
    ASSERT_GT(server_->port(), 0);
  }
  fs::path Artifacts() const { return tmp_.path() / "artifacts"; }

  TempDir tmp_;
  fs::path root_, log_;
  FakeMirror mirror_;
  FetchOptions options_;
  std::unique_ptr<MirrorServer> server_;
};

TEST_F(FetchTest, FillsAndVerifiesTheArtifactsFolder) {
  StartMirror(Make(kOneAmd64));
  Cluster cluster = Make(kOneAmd64);
  auto report = Fetch(cluster, options_);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->artifacts_dir, Artifacts());
  EXPECT_EQ(report->cache_dir, tmp_.path() / "cache");
  ASSERT_EQ(report->files.size(), 11u);
  for (const FetchedFile& f : report->files)
    EXPECT_TRUE(f.downloaded) << f.name;

  // Every artifact the playbook uploads, flat, executable, with the mirror's
  // bytes.
  for (const char* name :
       {"etcd", "etcdctl", "kube-apiserver", "kube-controller-manager",
        "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "containerd",
        "containerd-shim-runc-v2", "ctr", "runc", "cni/bridge",
        "cni/host-local", "cni/loopback", "crictl"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(mirror_.artifacts.contains(name));
    auto bytes = ReadFile(Artifacts() / name);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(*bytes, mirror_.artifacts.at(name));
    EXPECT_EQ(fs::status(Artifacts() / name).permissions() & fs::perms::all,
              fs::perms(0755));
    EXPECT_EQ(ElfArchOfFile(Artifacts() / name), "amd64");
  }
  EXPECT_FALSE(fs::exists(Artifacts() / "README.md"));
  EXPECT_EQ(report->manifest.entries.size(), mirror_.artifacts.size());
  EXPECT_EQ(report->artifacts_changed, mirror_.artifacts.size());

  // SHA256SUMS in sha256sum format, and the manifest with name/version/arch.
  auto sums = ReadFile(Artifacts() / "SHA256SUMS");
  ASSERT_TRUE(sums);
  EXPECT_THAT(*sums, HasSubstr(Sha256Hex(mirror_.artifacts.at("cni/bridge")) +
                               "  cni/bridge\n"));
  EXPECT_THAT(*sums,
              HasSubstr(Sha256Hex(mirror_.artifacts.at("etcd")) + "  etcd\n"));
  auto manifest = ReadManifest(Artifacts());
  ASSERT_TRUE(manifest) << manifest.error().ToString();
  EXPECT_EQ(manifest->entries, report->manifest.entries);
  const ManifestEntry* etcdctl = nullptr;
  for (const ManifestEntry& e : manifest->entries) {
    if (e.path == "etcdctl") etcdctl = &e;
  }
  ASSERT_NE(etcdctl, nullptr);
  EXPECT_EQ(etcdctl->name, "etcdctl");
  EXPECT_EQ(etcdctl->release, "etcd");
  EXPECT_EQ(etcdctl->version, "v3.6.0");
  EXPECT_EQ(etcdctl->arch, "amd64");
  EXPECT_EQ(etcdctl->sha256, Sha256Hex(mirror_.artifacts.at("etcdctl")));
  EXPECT_EQ(etcdctl->url, server_->url() +
                              "/etcd-io/etcd/releases/download/v3.6.0/"
                              "etcd-v3.6.0-linux-amd64.tar.gz");
}

TEST_F(FetchTest, EverythingCachedDownloadsNothing) {
  StartMirror(Make(kOneAmd64));
  Cluster cluster = Make(kOneAmd64);
  ASSERT_TRUE(Fetch(cluster, options_));
  const size_t requests = ReadLog(log_).size();
  EXPECT_EQ(requests, 22u);  // 11 files and their checksums
  auto again = Fetch(cluster, options_);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(ReadLog(log_).size(), requests);
  for (const FetchedFile& f : again->files)
    EXPECT_FALSE(f.downloaded) << f.name;
  EXPECT_EQ(again->artifacts_changed, 0u);

  // An artifact damaged in the folder is restored from the cache, offline.
  Put(Artifacts() / "kubelet", "damaged");
  auto repaired = Fetch(cluster, options_);
  ASSERT_TRUE(repaired) << repaired.error().ToString();
  EXPECT_EQ(repaired->artifacts_changed, 1u);
  EXPECT_EQ(*ReadFile(Artifacts() / "kubelet"),
            mirror_.artifacts.at("kubelet"));
  EXPECT_EQ(ReadLog(log_).size(), requests);
}

TEST_F(FetchTest, ChecksumMismatchInstallsNothing) {
  StartMirror(Make(kOneAmd64));
  // The published sum of runc no longer matches the file.
  Put(root_ / "opencontainers/runc/releases/download/v1.3.0/runc.amd64",
      "tampered");
  Cluster cluster = Make(kOneAmd64);
  auto report = Fetch(cluster, options_);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kValidation);
  EXPECT_THAT(report.error().message,
              HasSubstr("runc v1.3.0 (amd64): sha256 mismatch"));
  EXPECT_THAT(report.error().message, HasSubstr(Sha256Hex("tampered")));
  EXPECT_THAT(report.error().message,
              HasSubstr(mirror_.file_sha256.at("runc/amd64")));
  EXPECT_THAT(report.error().message,
              HasSubstr("published at " + server_->url() +
                        "/opencontainers/runc/releases/download/v1.3.0/"
                        "runc.sha256sum"));
  EXPECT_EQ(report.error().where,
            server_->url() +
                "/opencontainers/runc/releases/download/v1.3.0/runc.amd64");
  EXPECT_FALSE(fs::exists(Artifacts()));  // not even the files that did verify
  EXPECT_FALSE(fs::exists(tmp_.path() /
                          "cache/downloads/runc/v1.3.0/amd64/runc.amd64.part"));
  EXPECT_FALSE(
      fs::exists(tmp_.path() / "cache/downloads/runc/v1.3.0/amd64/runc.amd64"));
  // The others are cached, verified, for the next run.
  EXPECT_TRUE(fs::exists(tmp_.path() /
                         "cache/downloads/kubelet/v1.32.3/amd64/kubelet"));
}

TEST_F(FetchTest, PinnedSha256WinsOverThePublishedOne) {
  StartMirror(Make(kOneAmd64));
  // The mirror publishes a wrong sum for kubelet; the inventory pins the right
  // one.
  Put(root_ / "release/v1.32.3/bin/linux/amd64/kubelet.sha256",
      std::string(64, 'f') + "\n");
  const std::string right = mirror_.file_sha256.at("kubelet/amd64");
  Cluster pinned = Make(kOneAmd64, "  sha256: {kubelet: " + right + "}\n");
  auto report = Fetch(pinned, options_);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(*ReadFile(Artifacts() / "kubelet"),
            mirror_.artifacts.at("kubelet"));
  for (const std::string& line :
       ReadLog(log_)) {  // the published sum was not asked for
    EXPECT_THAT(line, ::testing::Not(HasSubstr("kubelet.sha256"))) << line;
  }

  // A pin that does not match refuses the file, even when the cache had it.
  const std::string wrong(64, 'a');
  Cluster wrong_pin =
      Make(kOneAmd64, "  sha256: {kube-proxy/amd64: " + wrong + "}\n");
  auto refused = Fetch(wrong_pin, options_);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              HasSubstr("kube-proxy v1.32.3 (amd64): sha256 mismatch"));
  EXPECT_THAT(refused.error().message,
              HasSubstr("pinned in artifacts.sha256.kube-proxy/amd64"));
  EXPECT_THAT(refused.error().message, HasSubstr(wrong));
  EXPECT_THAT(refused.error().message,
              HasSubstr(mirror_.file_sha256.at("kube-proxy/amd64")));
}

TEST_F(FetchTest, MissingReleaseNamesUrlAndStatus) {
  StartMirror(Make(kOneAmd64));
  Cluster cluster = Make(kOneAmd64, "  versions: {crictl: v9.9.9}\n");
  auto report = Fetch(cluster, options_);
  ASSERT_FALSE(report);
  EXPECT_THAT(report.error().message, HasSubstr("crictl v9.9.9 (amd64)"));
  EXPECT_THAT(report.error().message, HasSubstr("HTTP 404"));
  EXPECT_THAT(
      report.error().where,
      HasSubstr("/kubernetes-sigs/cri-tools/releases/download/v9.9.9/"));
  EXPECT_THAT(report.error().hint, HasSubstr("artifacts.versions"));
  EXPECT_FALSE(fs::exists(Artifacts()));
}

TEST_F(FetchTest, RetriesAndResumesOnTheWay) {
  StartMirror(
      Make(kOneAmd64),
      {"--fail", "/release/v1.32.3/bin/linux/amd64/kube-scheduler:2", "--cut",
       "/etcd-io/etcd/releases/download/v3.6.0/"
       "etcd-v3.6.0-linux-amd64.tar.gz"});
  Cluster cluster = Make(kOneAmd64);
  auto report = Fetch(cluster, options_);
  ASSERT_TRUE(report) << report.error().ToString();
  for (const FetchedFile& f : report->files) {
    if (f.name == "kube-scheduler") {
      EXPECT_EQ(f.requests, 3);
    }
    if (f.name == "etcd") {
      EXPECT_TRUE(f.resumed);
      EXPECT_EQ(f.requests, 2);
    }
  }
  EXPECT_EQ(*ReadFile(Artifacts() / "etcd"), mirror_.artifacts.at("etcd"));
}

TEST_F(FetchTest, TwoArchitecturesGetASubfolderEach) {
  const std::string hosts =
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n"
      "  - {name: w-0, address: 10.240.0.20, roles: [worker], arch: arm64}\n";
  StartMirror(Make(hosts));
  options_.parallel = 2;
  auto report = Fetch(Make(hosts), options_);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->files.size(), 22u);
  EXPECT_EQ(ElfArchOfFile(Artifacts() / "amd64/kubelet"), "amd64");
  EXPECT_EQ(ElfArchOfFile(Artifacts() / "arm64/kubelet"), "arm64");
  EXPECT_EQ(ElfArchOfFile(Artifacts() / "arm64/cni/bridge"), "arm64");
  EXPECT_FALSE(fs::exists(Artifacts() / "kubelet"));
  auto sums = ReadFile(Artifacts() / "SHA256SUMS");
  EXPECT_THAT(*sums, HasSubstr("  arm64/etcd\n"));
  EXPECT_THAT(*sums, HasSubstr("  amd64/etcd\n"));
}

TEST_F(FetchTest, Sha256SumsKeepsFilesAddedByHand) {
  StartMirror(Make(kOneAmd64));
  Put(Artifacts() / "extra-tool", "mine");
  Put(Artifacts() / "SHA256SUMS", Sha256Hex("mine") + "  ./extra-tool\n" +
                                      std::string(64, '0') + "  gone-tool\n" +
                                      std::string(64, '1') + "  kubelet\n");
  auto report = Fetch(Make(kOneAmd64), options_);
  ASSERT_TRUE(report) << report.error().ToString();
  auto sums = *ReadFile(Artifacts() / "SHA256SUMS");
  EXPECT_THAT(sums, HasSubstr(Sha256Hex("mine") + "  extra-tool\n"));
  EXPECT_THAT(sums, ::testing::Not(HasSubstr("gone-tool")));
  EXPECT_THAT(sums, HasSubstr(Sha256Hex(mirror_.artifacts.at("kubelet")) +
                              "  kubelet\n"));
  EXPECT_THAT(sums, ::testing::Not(HasSubstr(std::string(64, '1'))));
}

}  // namespace
}  // namespace hardway
