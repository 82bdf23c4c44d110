// `hardway up` checks the artifacts before it contacts any host: the real
// binary, an artifacts folder filled by `hardway fetch` from a fake mirror on
// 127.0.0.1, and a host whose SSH port is a loopback listener that counts the
// connections made to it (and closes them).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "../fetch/fetch_test_util.h"
#include "../testing/tls_server.h"
#include "cli_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace fetch_test;

using cli_test::CommandResult;
using cli_test::Hardway;

class UpArtifactCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ssh_.Start([this](int fd) {
      ++connections_;
      ::close(fd);
    });
    const std::string hosts =
        "hosts:\n"
        "  - {name: c-0, address: 127.0.0.1, roles: [etcd, controlplane, "
        "worker]}\n";
    Cluster shape = ClusterFrom("cluster: {name: demo}\n" + hosts,
                                tmp_.path() / "shape.yaml");
    mirror_ = BuildFakeMirror(tmp_.path() / "www", shape);
    MirrorServer server(tmp_.path() / "www", tmp_.path() / "log");
    ASSERT_GT(server.port(), 0);
    Put(Inventory(),
        "cluster: {name: demo}\n"
        "artifacts: {dir: artifacts, cache: cache, mirror: " +
            server.url() +
            "}\n"
            "ssh: {port: " +
            std::to_string(ssh_.port()) +
            ", connect_timeout: 1s, agent: false, identity_file: id_none, "
            "known_hosts: known_hosts}\n" +
            hosts);
    CommandResult fetch = Hardway("fetch -i " + Inventory().string());
    ASSERT_EQ(fetch.exit_code, 0) << fetch.output;
    ASSERT_TRUE(fs::exists(Artifacts() / "manifest.json"));
    ASSERT_TRUE(fs::exists(Artifacts() / "SHA256SUMS"));
  }

  fs::path Inventory() const { return tmp_.path() / "inventory.yaml"; }
  fs::path Artifacts() const { return tmp_.path() / "artifacts"; }
  CommandResult Up() {
    // The state dir in the test's folder, never the default beside the
    // inventory of the repo.
    return Hardway("up -i " + Inventory().string() + " --state " +
                   (tmp_.path() / "state").string() + " </dev/null");
  }
  // Overwrites the fetched kubelet; returns its new sha256.
  std::string CorruptKubelet() {
    const std::string bytes = mirror_.artifacts.at("kubelet") + "tampered";
    Put(Artifacts() / "kubelet", bytes);
    return Sha256Hex(bytes);
  }

  TempDir tmp_;
  FakeMirror mirror_;
  testing::LoopbackListener ssh_;
  std::atomic<int> connections_{0};
};

TEST_F(UpArtifactCheckTest, CorruptArtifactIsRefusedBeforeAnyHostIsContacted) {
  const std::string corrupt = CorruptKubelet();
  const std::string good = Sha256Hex(mirror_.artifacts.at("kubelet"));
  CommandResult r = Up();
  EXPECT_EQ(r.exit_code, 1) << r.output;  // validation, docs/exit-codes.md
  EXPECT_THAT(r.output, HasSubstr("artifacts refused before any upload:"));
  // Against both manifests fetch wrote, each named, with both sums.
  for (const char* manifest : {"manifest.json", "SHA256SUMS"}) {
    EXPECT_THAT(r.output,
                HasSubstr("kubelet: sha256 " + corrupt + " does not match " +
                          good + " in " + (Artifacts() / manifest).string()))
        << r.output;
  }
  EXPECT_THAT(r.output, Not(HasSubstr("kube-proxy:")));
  EXPECT_THAT(r.output, Not(HasSubstr("cannot connect")));
  EXPECT_EQ(connections_, 0);
}

TEST_F(UpArtifactCheckTest, FetchManifestAloneRefusesIt) {
  // Without SHA256SUMS the check used to look at presence only.
  fs::remove(Artifacts() / "SHA256SUMS");
  const std::string corrupt = CorruptKubelet();
  CommandResult r = Up();
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("kubelet: sha256 " + corrupt + " does not match " +
                        Sha256Hex(mirror_.artifacts.at("kubelet")) + " in " +
                        (Artifacts() / "manifest.json").string()));
  EXPECT_THAT(r.output, Not(HasSubstr("cannot connect")));
  EXPECT_EQ(connections_, 0);
}

// The control: without a manifest nothing is refused, `up` says the artifacts
// are not verified and goes on to the host, and the listener sees it (so the
// zero above means something).
TEST_F(UpArtifactCheckTest, WithoutAManifestUpWarnsThenContactsTheHost) {
  fs::remove(Artifacts() / "SHA256SUMS");
  fs::remove(Artifacts() / "manifest.json");
  CorruptKubelet();
  CommandResult r = Up();
  EXPECT_EQ(r.exit_code, 3) << r.output;  // connection
  EXPECT_THAT(r.output, HasSubstr("hardway: warning: the artifacts in " +
                                  Artifacts().string() + " are not verified"));
  EXPECT_THAT(r.output, HasSubstr("`hardway fetch -i INVENTORY` writes both"));
  EXPECT_THAT(r.output, HasSubstr("cannot connect"));
  EXPECT_GE(connections_, 1);
}

}  // namespace
}  // namespace hardway
