// `hardway fetch`: the real binary against a fake mirror on 127.0.0.1 for an
// inventory with one amd64 host: downloads at once with --parallel, the
// progress bar on a terminal only, 404's exit code; then the bundle it
// writes, used offline by validate, plan and fetch, and refused when a member
// is corrupt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "../fetch/fetch_test_util.h"
#include "cli_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace fetch_test;

using cli_test::CommandResult;
using cli_test::Hardway;

const char* kHosts =
    "hosts:\n"
    "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane, "
    "worker]}\n";

class FetchCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cluster shape = ClusterFrom(std::string("cluster: {name: demo}\n") + kHosts,
                                tmp_.path() / "shape.yaml");
    mirror_ = BuildFakeMirror(tmp_.path() / "www", shape);
    Serve();
  }
  // (Re)starts the mirror with `extra` server options and points the
  // inventory at it; `artifacts_extra` goes into its artifacts section.
  void Serve(std::vector<std::string> extra = {},
             const std::string& artifacts_extra = "",
             const std::string& log = "log") {
    server_.reset();
    server_ = std::make_unique<MirrorServer>(tmp_.path() / "www",
                                             tmp_.path() / log, extra);
    ASSERT_GT(server_->port(), 0);
    Put(Inventory(),
        "cluster: {name: demo}\nartifacts:\n  dir: artifacts\n  cache: cache\n"
        "  mirror: " +
            server_->url() + "\n" + artifacts_extra + kHosts);
  }
  // artifacts.sha256 pinning every release file: no checksum requests.
  std::string PinAll() const {
    std::string pins = "  sha256:\n";
    for (const auto& [key, sha] : mirror_.file_sha256)
      pins += "    " + key + ": " + sha + "\n";
    return pins;
  }
  // The "HELD /path with=K" lines of a --gather server's log.
  std::vector<std::string> Held(const std::string& log) const {
    std::vector<std::string> held;
    for (const std::string& line : ReadLog(tmp_.path() / log)) {
      if (line.starts_with("HELD ")) held.push_back(line);
    }
    return held;
  }
  fs::path Inventory() const { return tmp_.path() / "inventory.yaml"; }
  fs::path Artifacts() const { return tmp_.path() / "artifacts"; }

  TempDir tmp_;
  FakeMirror mirror_;
  std::unique_ptr<MirrorServer> server_;
};

TEST_F(FetchCommandTest, FillsTheArtifactsFolderAndSha256Sums) {
  CommandResult r = Hardway("fetch -i " + Inventory().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("downloaded etcd v3.6.0 amd64"));
  EXPECT_THAT(
      r.output,
      HasSubstr("16 artifacts verified (16 written), 11 of 11 release files "
                "downloaded"));
  // SHA256SUMS lists every artifact with the sum of the file now there.
  auto sums = ReadFile(Artifacts() / "SHA256SUMS");
  ASSERT_TRUE(sums);
  std::istringstream in(*sums);
  size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    std::string name = line.substr(66);
    SCOPED_TRACE(name);
    ASSERT_TRUE(mirror_.artifacts.contains(name));
    EXPECT_EQ(line.substr(0, 64), *Sha256File(Artifacts() / name));
    EXPECT_EQ(*ReadFile(Artifacts() / name), mirror_.artifacts.at(name));
  }
  EXPECT_EQ(lines, mirror_.artifacts.size());
  for (const char* name : {"etcd", "kube-apiserver", "kubelet", "containerd",
                           "runc", "cni/bridge", "cni/loopback", "crictl"}) {
    EXPECT_TRUE(mirror_.artifacts.contains(name)) << name;
  }
  EXPECT_TRUE(fs::exists(Artifacts() / "manifest.json"));

  // Again: all from the cache.
  const size_t requests = ReadLog(tmp_.path() / "log").size();
  CommandResult again = Hardway("fetch -i " + Inventory().string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("cached     kubelet v1.32.3 amd64"));
  EXPECT_THAT(again.output, HasSubstr("(0 written), 0 of 11"));
  EXPECT_EQ(ReadLog(tmp_.path() / "log").size(), requests);
}

TEST_F(FetchCommandTest, ChecksumMismatchFailsAndInstallsNothing) {
  Put(tmp_.path() / "www/release/v1.32.3/bin/linux/amd64/kubelet", "tampered");
  CommandResult r = Hardway("fetch -i " + Inventory().string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("kubelet v1.32.3 (amd64): sha256 mismatch"));
  EXPECT_THAT(r.output, HasSubstr(Sha256Hex("tampered")));
  EXPECT_THAT(r.output, HasSubstr(mirror_.file_sha256.at("kubelet/amd64")));
  EXPECT_FALSE(fs::exists(Artifacts()));
}

TEST_F(FetchCommandTest, BundleWorksOfflineAndACorruptOneIsRefused) {
  const fs::path bundle = tmp_.path() / "k8s.tar";
  CommandResult r = Hardway("fetch -i " + Inventory().string() + " --bundle " +
                            bundle.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("bundle " + bundle.string() + " (sha256 "));
  ASSERT_TRUE(fs::exists(bundle));
  server_.reset();  // offline from here on

  fs::create_directories(tmp_.path() / "offline");
  const fs::path offline = tmp_.path() / "offline/inventory.yaml";
  Put(offline,
      "cluster: {name: demo}\nartifacts: {bundle: ../k8s.tar, cache: cache}\n" +
          std::string(kHosts));
  CommandResult fetch = Hardway("fetch -i " + offline.string());
  ASSERT_EQ(fetch.exit_code, 0) << fetch.output;
  EXPECT_THAT(fetch.output, HasSubstr("16 artifacts verified"));
  EXPECT_THAT(fetch.output, HasSubstr("nothing was downloaded"));

  const fs::path unpacked =
      tmp_.path() / "offline/cache/bundles" / *Sha256File(bundle);
  CommandResult validate = Hardway("validate -i " + offline.string());
  ASSERT_EQ(validate.exit_code, 0) << validate.output;
  EXPECT_THAT(validate.output, HasSubstr(unpacked.string()));
  // plan reads the artifacts from the bundle: none missing.
  CommandResult plan = Hardway("plan -i " + offline.string());
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_THAT(plan.output, Not(HasSubstr("MISSING")));
  EXPECT_THAT(plan.output,
              HasSubstr("sha256 " +
                        Sha256Hex(mirror_.artifacts.at("etcd")).substr(0, 12)));

  // A corrupt member: refused by name, before anything else happens.
  std::string bytes = *ReadFile(bundle);
  size_t at = bytes.find("fake runc v1.3.0 amd64 padding");
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 1;
  Put(tmp_.path() / "bad.tar", bytes);
  const fs::path bad = tmp_.path() / "offline/bad.yaml";
  Put(bad,
      "cluster: {name: demo}\nartifacts: {bundle: ../bad.tar, cache: cache}\n" +
          std::string(kHosts));
  CommandResult refused = Hardway("plan -i " + bad.string());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("artifact bundle refused: member runc has sha256"));
  EXPECT_THAT(refused.output, HasSubstr("bad.tar"));
}

TEST_F(FetchCommandTest, ParallelDownloadsAreOpenAtTheSameTime) {
  // The server holds the first requests until two are open at once (10 s at
  // most). Every release file pinned, so the first requests are downloads.
  Serve({"--gather", "2:10"}, PinAll(), "parallel.log");
  CommandResult r = Hardway("fetch --parallel 2 -i " + Inventory().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> held = Held("parallel.log");
  ASSERT_EQ(held.size(), 2u);
  for (const std::string& line : held) {
    EXPECT_THAT(line, ::testing::EndsWith(" with=2"));
    EXPECT_THAT(line, Not(HasSubstr("sha256")));
  }
  EXPECT_NE(held[0].substr(0, held[0].find(" with=")),
            held[1].substr(0, held[1].find(" with=")));
}

TEST_F(FetchCommandTest, OneAtATimeNeverHasTwoOpen) {
  // The control for the test above: with --parallel 1 the first request
  // waits out the gathering alone.
  Serve({"--gather", "2:0.3"}, PinAll(), "serial.log");
  CommandResult r = Hardway("fetch --parallel 1 -i " + Inventory().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> held = Held("serial.log");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_THAT(held[0], ::testing::EndsWith(" with=1"));
}

TEST_F(FetchCommandTest, ProgressBarOnATerminalOnly) {
  // On a terminal: the line is drawn (and erased at the end).
  CommandResult tty =
      cli_test::HardwayOnPty({"fetch", "-i", Inventory().string()});
  ASSERT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_THAT(tty.output, HasSubstr("\r\033[Kfetch: "));
  EXPECT_THAT(tty.output, HasSubstr("/11 files, "));
  EXPECT_THAT(tty.output, HasSubstr("16 artifacts verified"));

  // stderr not a terminal (the pipe of Hardway()): no bar, no escapes.
  fs::remove_all(tmp_.path() / "cache");
  CommandResult piped = Hardway("fetch -i " + Inventory().string());
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_THAT(piped.output, HasSubstr("11 of 11 release files downloaded"));
  EXPECT_THAT(piped.output, Not(HasSubstr("files, ")));
  EXPECT_THAT(piped.output, Not(HasSubstr("\033")));
}

TEST_F(FetchCommandTest, NotFoundExitsWithTheDownloadCode) {
  Serve({}, "  versions: {crictl: v9.9.9}\n");
  CommandResult r = Hardway("fetch -i " + Inventory().string());
  EXPECT_EQ(r.exit_code, 3) << r.output;  // docs/fetch.md: download failed
  EXPECT_THAT(r.output, HasSubstr("crictl v9.9.9 (amd64): "));
  EXPECT_THAT(r.output, HasSubstr("HTTP 404 Not Found"));
  EXPECT_THAT(
      r.output,
      HasSubstr(server_->url() +
                "/kubernetes-sigs/cri-tools/releases/download/v9.9.9/"));
  EXPECT_THAT(r.output, HasSubstr("is v9.9.9 a released version?"));
  EXPECT_FALSE(fs::exists(Artifacts()));
}

TEST(FetchCommandUsageTest, UnknownArchIsAValidationError) {
  TempDir tmp;
  Put(tmp.path() / "inv.yaml",
      "cluster: {name: demo}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane], "
      "arch: aarch64}\n");
  CommandResult r = Hardway("fetch -i " + (tmp.path() / "inv.yaml").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("inv.yaml:3:"));
  EXPECT_THAT(r.output, HasSubstr("unknown architecture \"aarch64\""));
  EXPECT_THAT(r.output, HasSubstr("did you mean 'arm64'?"));
}

}  // namespace
}  // namespace hardway
