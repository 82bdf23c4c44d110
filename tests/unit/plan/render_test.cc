#include "plan/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using testing::MakeCluster;

const Cluster& Big() {
  static const Cluster c = MakeCluster(testing::kThreeByFive, "render-big");
  return c;
}

std::string RenderFor(const std::string& text, const std::string& host) {
  auto t = Template::Parse(text, "t");
  EXPECT_TRUE(t.has_value()) << t.error().ToString();
  RenderData data(Big());
  const Host* h = Big().host(host);
  auto hd = data.ForHost(*h);
  auto out = t->Render(data, h, hd.get());
  EXPECT_TRUE(out.has_value()) << out.error().ToString();
  return out.value_or("");
}

TEST(RenderTest, ClusterAndHostVariables) {
  EXPECT_EQ(
      RenderFor("{{host.name}} {{host.address}} {{host.pod_cidr}}", "w-1"),
      "w-1 10.0.0.21 10.200.1.0/24");
  EXPECT_EQ(RenderFor("{{cluster.etcd_initial_cluster}}", "cp-0"),
            "cp-0=https://10.0.0.10:2380,cp-1=https://10.0.0.11:2380,"
            "cp-2=https://10.0.0.12:2380");
  EXPECT_EQ(
      RenderFor("{{cluster.etcd_servers}}", "cp-0"),
      "https://10.0.0.10:2379,https://10.0.0.11:2379,https://10.0.0.12:2379");
  EXPECT_EQ(RenderFor("{{cluster.kubernetes_service_ip}} {{cluster.dns_ip}} "
                      "{{cluster.service_cidr}} {{cluster.pod_cidr}}",
                      "cp-0"),
            "10.32.0.1 10.32.0.10 10.32.0.0/24 10.200.0.0/16");
  EXPECT_EQ(RenderFor("{{cluster.api_server_url}} {{cluster.domain}}", "cp-0"),
            "https://10.0.0.10:6443 cluster.local");
}

TEST(RenderTest, NoHtmlEscaping) {
  auto t = Template::Parse("a{{cluster.name}}&<>\"'", "t");
  ASSERT_TRUE(t.has_value());
  RenderData data(Big());
  EXPECT_EQ(*t->Render(data, nullptr, nullptr), "abig&<>\"'");
}

TEST(RenderTest, ExtraArgsBecomeFlagLines) {
  EXPECT_EQ(RenderFor("x{{#extra_args.kube_apiserver}} \\\n  "
                      "{{arg}}{{/extra_args.kube_apiserver}}\n"
                      "y{{#extra_args.etcd}} {{arg}}{{/extra_args.etcd}}\n",
                      "cp-0"),
            "x \\\n  --audit-log-maxage=30\ny\n");
}

TEST(RenderTest, ExtraArgsAreQuotedForSystemd) {
  Cluster c = MakeCluster(R"(cluster:
  name: quoting
  extra_args:
    kube-apiserver: {--a: "two words", --b: "50%", --c: "$HOME"}
hosts:
  - {name: cp-0, address: 10.0.0.10, roles: [etcd, controlplane]}
)",
                          "quoting");
  auto t = Template::Parse(
      "{{#extra_args.kube_apiserver}}{{arg}}\n{{/extra_args.kube_apiserver}}",
      "t");
  ASSERT_TRUE(t.has_value());
  RenderData data(c);
  EXPECT_EQ(*t->Render(data, nullptr, nullptr),
            "\"--a=two words\"\n--b=50%%\n--c=$$HOME\n");
}

TEST(RenderTest, PodRoutesListEveryWorker) {
  auto t = Template::Parse(
      "{{#pod_routes}}{{name}} {{cidr}} {{via}}\n{{/pod_routes}}", "t");
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->UsesHost());
  RenderData data(Big());
  EXPECT_EQ(*t->Render(data, nullptr, nullptr),
            "w-0 10.200.0.0/24 10.0.0.20\nw-1 10.200.1.0/24 10.0.0.21\n"
            "w-2 10.200.2.0/24 10.0.0.22\nw-3 10.200.3.0/24 10.0.0.23\n"
            "w-4 10.200.4.0/24 10.0.0.24\n");
}

TEST(RenderTest, UnknownVariableIsAnErrorWithLine) {
  auto t = Template::Parse("line one\nname={{host.nmae}}\n", "units/x.service");
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().where, "units/x.service:2");
  EXPECT_THAT(t.error().message, HasSubstr("unknown variable 'host.nmae'"));
  EXPECT_THAT(t.error().hint, HasSubstr("host.name"));
}

TEST(RenderTest, ListItemKeysOnlyInsideTheirSection) {
  EXPECT_TRUE(Template::Parse("{{#pod_routes}}{{cidr}}{{/pod_routes}}", "t")
                  .has_value());
  EXPECT_FALSE(Template::Parse("{{cidr}}", "t").has_value());
  EXPECT_FALSE(
      Template::Parse("{{#extra_args.etcd}}{{cidr}}{{/extra_args.etcd}}", "t")
          .has_value());
}

TEST(RenderTest, MalformedTemplates) {
  auto unclosed = Template::Parse("a\n{{#pod_routes}}\nb\n", "t");
  ASSERT_FALSE(unclosed.has_value());
  EXPECT_EQ(unclosed.error().where, "t:2");
  EXPECT_THAT(unclosed.error().message, HasSubstr("never closed"));
  EXPECT_FALSE(Template::Parse("{{/pod_routes}}", "t").has_value());
  EXPECT_FALSE(Template::Parse("{{> partial}}", "t").has_value());
  EXPECT_FALSE(Template::Parse("{{=<% %>=}}", "t").has_value());
  EXPECT_FALSE(Template::Parse("{{cluster.name", "t").has_value());
  EXPECT_TRUE(Template::Parse("{{! a comment {{ }}\n{{{cluster.name}}}", "t")
                  .has_value());
}

TEST(RenderTest, PodCidrOnANonWorkerIsAnError) {
  auto t = Template::Parse("{{host.pod_cidr}}", "kubelet-config.yaml");
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->UsesHost());
  RenderData data(Big());
  const Host* cp = Big().host("cp-0");
  auto out = t->Render(data, cp, data.ForHost(*cp).get());
  ASSERT_FALSE(out.has_value());
  EXPECT_THAT(out.error().message, HasSubstr("cp-0 has no pod CIDR"));
  EXPECT_THAT(out.error().hint, HasSubstr("roles: [worker]"));
}

}  // namespace
}  // namespace hardway

namespace hardway {
namespace {

// The skeleton path (render once, fill in host values) must give the bytes
// kainjow gives when rendering for each host.
TEST(RenderTest, FastRenderingEqualsDirectRenderingForEveryTemplate) {
  namespace fs = std::filesystem;
  RenderData data(Big());
  int checked = 0;
  for (const char* dir : {"units", "playbooks/templates"}) {
    for (const auto& entry :
         fs::directory_iterator(fs::path(HARDWAY_SOURCE_DIR) / dir)) {
      // Rendered by the pki module, with its own variables.
      if (entry.path().filename() == "encryption-config.yaml") continue;
      auto text = ReadFile(entry.path());
      ASSERT_TRUE(text.has_value());
      auto t = Template::Parse(*text, entry.path().filename().string());
      ASSERT_TRUE(t.has_value()) << t.error().ToString();
      for (const Host& h : Big().hosts()) {
        if (t->variables().contains("host.pod_cidr") && !h.pod_cidr) continue;
        auto hd = data.ForHost(h);
        auto fast = t->Render(data, &h, hd.get(), Template::Mode::kFast);
        auto direct = t->Render(data, &h, hd.get(), Template::Mode::kDirect);
        ASSERT_TRUE(fast && direct);
        EXPECT_EQ(*fast, *direct) << entry.path() << " on " << h.name;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 50);
}

}  // namespace
}  // namespace hardway
