// The release list and URL templating: official URLs per version and
// architecture, mirror rewriting, per-release overrides and pinned sums.
#include "fetch/releases.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "fetch_test_util.h"

namespace hardway {
namespace {

using fetch_test::ClusterFrom;
using ::testing::HasSubstr;

const char* kHosts =
    "hosts:\n"
    "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n"
    "  - {name: w-0, address: 10.240.0.20, roles: [worker]}\n";

std::vector<FetchItem> Resolve(const std::string& yaml) {
  auto releases = LoadReleases(DefaultReleasesFile());
  EXPECT_TRUE(releases) << releases.error().ToString();
  Cluster cluster = ClusterFrom(yaml, "/srv/inv.yaml");
  auto items = ResolveFetch(*releases, cluster);
  EXPECT_TRUE(items) << items.error().ToString();
  return items ? *items : std::vector<FetchItem>{};
}

const FetchItem* Find(const std::vector<FetchItem>& items,
                      const std::string& name, const std::string& arch) {
  for (const FetchItem& i : items) {
    if (i.name == name && i.arch == arch) return &i;
  }
  return nullptr;
}

TEST(ReleasesTest, ShippedListCoversEveryReleaseName) {
  auto releases = LoadReleases(DefaultReleasesFile());
  ASSERT_TRUE(releases) << releases.error().ToString();
  std::set<std::string> names;
  for (const ReleaseSpec& s : releases->specs) names.insert(s.name);
  std::set<std::string> expected(ReleaseNames().begin(), ReleaseNames().end());
  EXPECT_EQ(names, expected);
}

TEST(ReleasesTest, OfficialUrlsForTheDefaultVersionsOnAmd64) {
  auto items = Resolve("cluster: {name: demo}\n" + std::string(kHosts));
  ASSERT_EQ(items.size(), 11u);  // one architecture
  const FetchItem* api = Find(items, "kube-apiserver", "amd64");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->url,
            "https://dl.k8s.io/release/v1.32.3/bin/linux/amd64/kube-apiserver");
  EXPECT_EQ(api->checksum_url,
            "https://dl.k8s.io/release/v1.32.3/bin/linux/amd64/"
            "kube-apiserver.sha256");
  EXPECT_EQ(api->checksum, ChecksumSource::kFile);
  EXPECT_FALSE(api->archive);
  EXPECT_EQ(api->files, (std::vector<std::pair<std::string, std::string>>{
                            {"kube-apiserver", ""}}));

  const FetchItem* etcd = Find(items, "etcd", "amd64");
  ASSERT_NE(etcd, nullptr);
  EXPECT_EQ(etcd->url,
            "https://github.com/etcd-io/etcd/releases/download/v3.6.0/"
            "etcd-v3.6.0-linux-amd64.tar.gz");
  EXPECT_EQ(
      etcd->checksum_url,
      "https://github.com/etcd-io/etcd/releases/download/v3.6.0/SHA256SUMS");
  EXPECT_EQ(etcd->checksum, ChecksumSource::kList);
  EXPECT_EQ(etcd->filename, "etcd-v3.6.0-linux-amd64.tar.gz");
  EXPECT_EQ(etcd->files, (std::vector<std::pair<std::string, std::string>>{
                             {"etcd", "etcd-v3.6.0-linux-amd64/etcd"},
                             {"etcdctl", "etcd-v3.6.0-linux-amd64/etcdctl"}}));

  const FetchItem* containerd = Find(items, "containerd", "amd64");
  ASSERT_NE(containerd, nullptr);
  EXPECT_EQ(
      containerd->url,
      "https://github.com/containerd/containerd/releases/download/v2.1.0/"
      "containerd-2.1.0-linux-amd64.tar.gz");  // the bare version in the name
  EXPECT_EQ(containerd->checksum_url, containerd->url + ".sha256sum");

  const FetchItem* runc = Find(items, "runc", "amd64");
  ASSERT_NE(runc, nullptr);
  EXPECT_EQ(runc->url,
            "https://github.com/opencontainers/runc/releases/download/v1.3.0/"
            "runc.amd64");
  EXPECT_EQ(runc->checksum_url,
            "https://github.com/opencontainers/runc/releases/download/v1.3.0/"
            "runc.sha256sum");
  EXPECT_EQ(runc->files,
            (std::vector<std::pair<std::string, std::string>>{{"runc", ""}}));

  const FetchItem* cni = Find(items, "cni_plugins", "amd64");
  ASSERT_NE(cni, nullptr);
  EXPECT_EQ(
      cni->url,
      "https://github.com/containernetworking/plugins/releases/download/v1.6.2/"
      "cni-plugins-linux-amd64-v1.6.2.tgz");
  EXPECT_EQ(cni->checksum_url, cni->url + ".sha256");
  EXPECT_EQ(cni->files.front(),
            (std::pair<std::string, std::string>{"cni/bridge", "bridge"}));

  const FetchItem* crictl = Find(items, "crictl", "amd64");
  ASSERT_NE(crictl, nullptr);
  EXPECT_EQ(
      crictl->url,
      "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.32.0/"
      "crictl-v1.32.0-linux-amd64.tar.gz");
}

TEST(ReleasesTest, VersionsAndArchitecturesFromTheInventory) {
  auto items = Resolve(
      "cluster: {name: demo, kubernetes_version: v1.33.1}\n"
      "artifacts: {versions: {etcd: v3.6.2, containerd: v2.1.4}}\n"
      "hosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n"
      "  - {name: w-0, address: 10.240.0.20, roles: [worker], arch: arm64}\n");
  ASSERT_EQ(items.size(), 22u);  // both architectures
  const FetchItem* kubelet = Find(items, "kubelet", "arm64");
  ASSERT_NE(kubelet, nullptr);
  EXPECT_EQ(kubelet->url,
            "https://dl.k8s.io/release/v1.33.1/bin/linux/arm64/kubelet");
  // Hosts of two architectures: one subfolder each.
  EXPECT_EQ(kubelet->files.front().first, "arm64/kubelet");
  EXPECT_EQ(Find(items, "kubelet", "amd64")->files.front().first,
            "amd64/kubelet");
  const FetchItem* etcd = Find(items, "etcd", "arm64");
  EXPECT_EQ(etcd->url,
            "https://github.com/etcd-io/etcd/releases/download/v3.6.2/"
            "etcd-v3.6.2-linux-arm64.tar.gz");
  EXPECT_EQ(etcd->files.front(),
            (std::pair<std::string, std::string>{
                "arm64/etcd", "etcd-v3.6.2-linux-arm64/etcd"}));
  EXPECT_EQ(Find(items, "containerd", "arm64")->url,
            "https://github.com/containerd/containerd/releases/download/v2.1.4/"
            "containerd-2.1.4-linux-arm64.tar.gz");
  EXPECT_EQ(Find(items, "cni_plugins", "arm64")->files.front().first,
            "arm64/cni/bridge");
}

TEST(ReleasesTest, MirrorReplacesSchemeAndHost) {
  EXPECT_EQ(
      ApplyMirror("https://dl.k8s.io/release/v1.32.3/bin/linux/amd64/kubelet",
                  "http://10.0.0.5:8080/k8s"),
      "http://10.0.0.5:8080/k8s/release/v1.32.3/bin/linux/amd64/kubelet");
  EXPECT_EQ(ApplyMirror("https://github.com/a/b", "file:///srv/mirror/"),
            "file:///srv/mirror/a/b");
  EXPECT_EQ(ApplyMirror("https://github.com/a/b", ""),
            "https://github.com/a/b");

  auto items = Resolve(
      "cluster: {name: demo}\nartifacts: {mirror: \"http://m.local/k8s\"}\n" +
      std::string(kHosts));
  const FetchItem* etcd = Find(items, "etcd", "amd64");
  EXPECT_EQ(etcd->url,
            "http://m.local/k8s/etcd-io/etcd/releases/download/v3.6.0/"
            "etcd-v3.6.0-linux-amd64.tar.gz");
  // The checksum is looked up next to the mirrored file.
  EXPECT_EQ(
      etcd->checksum_url,
      "http://m.local/k8s/etcd-io/etcd/releases/download/v3.6.0/SHA256SUMS");
  EXPECT_EQ(
      Find(items, "kubectl", "amd64")->checksum_url,
      "http://m.local/k8s/release/v1.32.3/bin/linux/amd64/kubectl.sha256");
}

TEST(ReleasesTest, UrlOverridePerReleaseAndArchWins) {
  auto items = Resolve(
      "cluster: {name: demo}\n"
      "artifacts:\n"
      "  mirror: http://m.local\n"
      "  urls:\n"
      "    runc: "
      "\"https://files.local/runc/{{version}}/"
      "runc-{{bare_version}}.{{arch}}\"\n"
      "    runc/arm64: \"https://arm.local/runc.{{arch}}\"\n"
      "hosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n"
      "  - {name: w-0, address: 10.240.0.20, roles: [worker], arch: arm64}\n");
  const FetchItem* amd = Find(items, "runc", "amd64");
  EXPECT_EQ(amd->url,
            "https://files.local/runc/v1.3.0/runc-1.3.0.amd64");  // no mirror
  EXPECT_EQ(amd->checksum_url,
            "https://files.local/runc/v1.3.0/runc.sha256sum");
  EXPECT_EQ(amd->filename, "runc-1.3.0.amd64");
  EXPECT_EQ(Find(items, "runc", "arm64")->url, "https://arm.local/runc.arm64");
  EXPECT_EQ(
      Find(items, "etcd", "arm64")->url.rfind("http://m.local/etcd-io/", 0),
      0u);
}

TEST(ReleasesTest, PinnedSha256PerReleaseAndArch) {
  const std::string a(64, 'a'), b(64, 'b');
  auto items =
      Resolve("cluster: {name: demo}\nartifacts:\n  sha256: {kubelet: " + a +
              ", kubelet/amd64: " + b + ", etcd: " + a + "}\n" + kHosts);
  EXPECT_EQ(Find(items, "kubelet", "amd64")->pinned_sha256, b);
  EXPECT_EQ(Find(items, "kubelet", "amd64")->pin_key, "kubelet/amd64");
  EXPECT_EQ(Find(items, "etcd", "amd64")->pinned_sha256, a);
  EXPECT_EQ(Find(items, "etcd", "amd64")->pin_key, "etcd");
  EXPECT_EQ(Find(items, "runc", "amd64")->pinned_sha256, "");
}

TEST(ReleasesTest, ExpandTemplate) {
  std::map<std::string, std::string> vars = {{"version", "v1"},
                                             {"arch", "arm64"}};
  EXPECT_EQ(*ExpandTemplate("a-{{version}}-{{arch}}-{{version}}", vars),
            "a-v1-arm64-v1");
  auto unknown = ExpandTemplate("x{{versoin}}", vars);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message,
              HasSubstr("unknown variable {{versoin}}"));
  EXPECT_FALSE(ExpandTemplate("x{{version", vars));
}

TEST(ReleasesTest, BadReleaseListsNameTheLine) {
  auto unknown = ParseReleases(
      "releases:\n  kubelett: {version: kubernetes, url: u, sha256: s, "
      "binary: b}\n",
      "r.yaml");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().where, "r.yaml:2:3");
  auto no_sum = ParseReleases(
      "releases:\n  runc: {version: runc, url: u, binary: runc}\n", "r.yaml");
  ASSERT_FALSE(no_sum);
  EXPECT_THAT(no_sum.error().message,
              HasSubstr("where its sha256 is published"));
  auto escape = ParseReleases(
      "releases:\n  runc: {version: runc, url: u, sha256: s, binary: "
      "../runc}\n",
      "r.yaml");
  ASSERT_FALSE(escape);
  EXPECT_THAT(escape.error().message, HasSubstr("inside the artifacts folder"));
  auto bad_version = ParseReleases(
      "releases:\n  runc: {version: runcc, url: u, sha256: s, binary: runc}\n",
      "r.yaml");
  ASSERT_FALSE(bad_version);
}

}  // namespace
}  // namespace hardway
