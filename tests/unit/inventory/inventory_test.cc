// Inventory loading: defaults, every field, and one test per validation rule
// asserting the message and the file:line:col it points at.
#include "inventory/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace hardway {
namespace {

using ::testing::HasSubstr;

// A valid hosts section to append to cluster-level snippets (lines counted by
// the tests).
constexpr const char* kTwoHosts =
    "hosts:\n"
    "  - name: controller-0\n"
    "    address: 10.240.0.10\n"
    "    roles: [etcd, controlplane]\n"
    "  - name: node-0\n"
    "    address: 10.240.0.20\n"
    "    roles: [worker]\n";

std::string Dump(const std::vector<Error>& errors) {
  std::string out;
  for (const Error& e : errors) out += e.ToString() + "\n";
  return out;
}

std::vector<Error> Errors(const std::string& text) {
  auto inv = ParseInventory(text, "inv.yaml");
  if (inv) return {};
  return inv.error();
}

// Exactly one error at `line:col` whose message contains `message` (and hint
// contains `hint`).
::testing::AssertionResult HasError(const std::string& text, int line, int col,
                                    const std::string& message,
                                    const std::string& hint = "") {
  std::vector<Error> errors = Errors(text);
  const std::string where =
      "inv.yaml:" + std::to_string(line) + ":" + std::to_string(col);
  int found = 0;
  for (const Error& e : errors) {
    if (e.where == where && e.message.find(message) != std::string::npos &&
        e.hint.find(hint) != std::string::npos) {
      ++found;
      if (e.kind != ErrorKind::kValidation) {
        return ::testing::AssertionFailure() << "wrong kind: " << e.ToString();
      }
    }
  }
  if (found == 1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << found << " errors at " << where << " matching \"" << message
         << "\" / hint \"" << hint << "\"; got:\n"
         << Dump(errors);
}

Inventory ParseOk(const std::string& text) {
  auto inv = ParseInventory(text, "/srv/clusters/inv.yaml");
  EXPECT_TRUE(inv) << (inv ? "" : Dump(inv.error()));
  return inv ? *inv : Inventory{};
}

// ---- defaults and every field
// -------------------------------------------------------------

TEST(InventoryTest, MinimalInventoryGetsTheHardWaysDefaults) {
  Inventory inv = ParseOk(std::string("cluster: {name: demo}\n") + kTwoHosts);
  EXPECT_EQ(inv.path, "/srv/clusters/inv.yaml");
  EXPECT_EQ(inv.cluster.name, "demo");
  EXPECT_EQ(inv.cluster.kubernetes_version, "v1.32.3");
  EXPECT_EQ(inv.cluster.domain, "cluster.local");
  EXPECT_EQ(inv.cluster.service_cidr.ToString(), "10.32.0.0/24");
  EXPECT_EQ(inv.cluster.pod_cidr.ToString(), "10.200.0.0/16");
  EXPECT_EQ(inv.cluster.api_endpoint, "");
  EXPECT_TRUE(inv.cluster.extra_sans.empty());
  EXPECT_TRUE(inv.cluster.extra_args.empty());
  EXPECT_EQ(inv.pki.key_algorithm, KeyAlgorithm::kEcdsaP256);
  EXPECT_EQ(inv.pki.ca_validity, std::chrono::hours(87600));
  EXPECT_EQ(inv.pki.cert_validity, std::chrono::hours(8760));
  EXPECT_EQ(inv.pki.renew_before, std::chrono::hours(720));
  EXPECT_EQ(inv.encryption.provider, EncryptionProvider::kAescbc);
  EXPECT_EQ(inv.ssh.user, "root");
  EXPECT_EQ(inv.ssh.port, 22);
  EXPECT_EQ(inv.ssh.identity_file, "~/.ssh/id_ed25519");
  EXPECT_TRUE(inv.ssh.agent);
  EXPECT_EQ(inv.ssh.known_hosts, "~/.ssh/known_hosts");
  EXPECT_EQ(inv.ssh.host_key_policy, HostKeyPolicy::kStrict);
  EXPECT_FALSE(inv.ssh.bastion);
  EXPECT_EQ(inv.ssh.connect_timeout, std::chrono::seconds(10));
  EXPECT_EQ(inv.artifacts.dir, "./artifacts");
  ASSERT_EQ(inv.hosts.size(), 2u);
  const HostSpec& c0 = inv.hosts[0];
  EXPECT_EQ(c0.name, "controller-0");
  EXPECT_EQ(c0.address, "10.240.0.10");
  EXPECT_EQ(c0.fqdn, "");
  EXPECT_EQ(c0.roles, (std::vector<Role>{Role::kEtcd, Role::kControlplane}));
  EXPECT_FALSE(c0.pod_cidr);
  EXPECT_EQ(c0.line, 3);
  EXPECT_EQ(c0.ssh.user, "root");
  EXPECT_EQ(c0.ssh.host_key, "");
  EXPECT_EQ(inv.hosts[1].roles, std::vector<Role>{Role::kWorker});
  EXPECT_EQ(inv.hosts[1].line, 6);
}

TEST(InventoryTest, ReadsEveryField) {
  Inventory inv = ParseOk(R"(cluster:
  name: prod-1
  kubernetes_version: v1.33.0-rc.1
  domain: k8s.internal
  service_cidr: 10.96.0.0/16
  pod_cidr: 10.244.0.0/16
  api_endpoint: lb.example.com:443
  extra_sans: [k8s.example.com, "*.k8s.example.com", 203.0.113.10]
  extra_args:
    kube-apiserver: {--audit-log-maxage: "30", v: 2}
    kubelet:
      max-pods: 50
    etcd: {}
pki:
  key_algorithm: rsa-3072
  ca_validity: 43800h
  cert_validity: 2160h
  renew_before: 1d
encryption: {provider: secretbox}
ssh:
  user: admin
  port: 2200
  identity_file: keys/id_ed25519
  agent: false
  known_hosts: ./known_hosts
  host_key_policy: accept-new
  bastion: {address: 203.0.113.5, port: 2022, user: jump, identity_file: keys/jump,
            host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB comment"}
  connect_timeout: 1m30s
artifacts: {dir: /opt/artifacts}
hosts:
  - name: controller-0
    address: 10.240.0.10
    fqdn: controller-0.example.com
    roles: [etcd, controlplane, worker]
    pod_cidr: 10.244.7.0/24
    host_key: ssh-rsa AAAAB3NzaC1yc2E=
  - name: node-0
    address: 10.240.0.20
    roles: [worker]
    ssh: {user: debian, port: 2222, identity_file: other, agent: true, known_hosts: kh,
          host_key_policy: strict, connect_timeout: 5s, bastion: {port: 22}}
  - name: node-1
    address: 10.240.0.21
    roles: [worker]
    ssh: {bastion: ~}
)");
  EXPECT_EQ(inv.cluster.name, "prod-1");
  EXPECT_EQ(inv.cluster.kubernetes_version, "v1.33.0-rc.1");
  EXPECT_EQ(inv.cluster.domain, "k8s.internal");
  EXPECT_EQ(inv.cluster.service_cidr.ToString(), "10.96.0.0/16");
  EXPECT_EQ(inv.cluster.pod_cidr.ToString(), "10.244.0.0/16");
  EXPECT_EQ(inv.cluster.api_endpoint, "lb.example.com:443");
  EXPECT_EQ(inv.cluster.extra_sans,
            (std::vector<std::string>{"k8s.example.com", "*.k8s.example.com",
                                      "203.0.113.10"}));
  using Flags = std::map<std::string, std::string>;
  EXPECT_EQ(inv.cluster.extra_args.at("kube-apiserver"),
            (Flags{{"--audit-log-maxage", "30"}, {"--v", "2"}}));
  EXPECT_EQ(inv.cluster.extra_args.at("kubelet"),
            (Flags{{"--max-pods", "50"}}));
  EXPECT_TRUE(inv.cluster.extra_args.at("etcd").empty());
  EXPECT_EQ(inv.pki.key_algorithm, KeyAlgorithm::kRsa3072);
  EXPECT_EQ(inv.pki.ca_validity, std::chrono::hours(43800));
  EXPECT_EQ(inv.pki.cert_validity, std::chrono::hours(2160));
  EXPECT_EQ(inv.pki.renew_before, std::chrono::hours(24));
  EXPECT_EQ(inv.encryption.provider, EncryptionProvider::kSecretbox);
  EXPECT_EQ(inv.ssh.user, "admin");
  EXPECT_EQ(inv.ssh.port, 2200);
  EXPECT_EQ(inv.ssh.identity_file, "keys/id_ed25519");
  EXPECT_FALSE(inv.ssh.agent);
  EXPECT_EQ(inv.ssh.known_hosts, "./known_hosts");
  EXPECT_EQ(inv.ssh.host_key_policy, HostKeyPolicy::kAcceptNew);
  EXPECT_EQ(inv.ssh.connect_timeout, std::chrono::seconds(90));
  ASSERT_TRUE(inv.ssh.bastion);
  EXPECT_EQ(inv.ssh.bastion->address, "203.0.113.5");
  EXPECT_EQ(inv.ssh.bastion->port, 2022);
  EXPECT_EQ(inv.ssh.bastion->user, "jump");
  EXPECT_EQ(inv.ssh.bastion->identity_file, "keys/jump");
  EXPECT_EQ(inv.ssh.bastion->host_key,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB");  // no comment
  EXPECT_EQ(inv.artifacts.dir, "/opt/artifacts");
  ASSERT_EQ(inv.hosts.size(), 3u);

  const HostSpec& c0 = inv.hosts[0];
  EXPECT_EQ(c0.fqdn, "controller-0.example.com");
  EXPECT_EQ(c0.roles.size(), 3u);
  EXPECT_EQ(c0.pod_cidr->ToString(), "10.244.7.0/24");
  EXPECT_EQ(c0.ssh.host_key, "ssh-rsa AAAAB3NzaC1yc2E=");
  EXPECT_EQ(c0.ssh.user, "admin");  // inherited
  EXPECT_EQ(c0.ssh.port, 2200);
  ASSERT_TRUE(c0.ssh.bastion);

  const HostSpec& n0 = inv.hosts[1];
  EXPECT_EQ(n0.ssh.user, "debian");
  EXPECT_EQ(n0.ssh.port, 2222);
  EXPECT_EQ(n0.ssh.identity_file, "other");
  EXPECT_TRUE(n0.ssh.agent);
  EXPECT_EQ(n0.ssh.known_hosts, "kh");
  EXPECT_EQ(n0.ssh.host_key_policy, HostKeyPolicy::kStrict);
  EXPECT_EQ(n0.ssh.connect_timeout, std::chrono::seconds(5));
  EXPECT_EQ(n0.ssh.host_key, "");  // pins are per host, never inherited
  ASSERT_TRUE(n0.ssh.bastion);     // only the port is overridden
  EXPECT_EQ(n0.ssh.bastion->address, "203.0.113.5");
  EXPECT_EQ(n0.ssh.bastion->user, "jump");
  EXPECT_EQ(n0.ssh.bastion->port, 22);

  EXPECT_FALSE(inv.hosts[2].ssh.bastion);  // "bastion: ~" reaches it directly
  EXPECT_EQ(inv.hosts[2].ssh.user, "admin");
}

TEST(InventoryTest, HostBastionWithoutGlobalOne) {
  Inventory inv = ParseOk(std::string("cluster: {name: demo}\n") + kTwoHosts +
                          "    ssh: {bastion: {address: jump.example.com}}\n");
  EXPECT_FALSE(inv.ssh.bastion);
  EXPECT_FALSE(inv.hosts[0].ssh.bastion);
  ASSERT_TRUE(inv.hosts[1].ssh.bastion);
  EXPECT_EQ(inv.hosts[1].ssh.bastion->address, "jump.example.com");
  EXPECT_EQ(inv.hosts[1].ssh.bastion->user, "root");
  EXPECT_EQ(inv.hosts[1].ssh.bastion->port, 22);
}

TEST(InventoryTest, SectionsMayComeInAnyOrder) {
  // hosts before ssh: hosts still inherit the ssh section.
  Inventory inv = ParseOk(std::string(kTwoHosts) +
                          "ssh: {user: admin}\ncluster: {name: demo}\n");
  EXPECT_EQ(inv.hosts[0].ssh.user, "admin");
}

TEST(InventoryTest, LoadsExampleInventory) {
  auto inv = LoadInventory(std::filesystem::path(HARDWAY_TEST_DATA) /
                           "../../inventory/example.yaml");
  ASSERT_TRUE(inv) << Dump(inv.error());
  EXPECT_EQ(inv->cluster.name, "demo");
  ASSERT_EQ(inv->hosts.size(), 3u);
  EXPECT_EQ(inv->hosts[0].name, "controller-0");
  EXPECT_EQ(inv->hosts[0].address, "10.240.0.10");
  EXPECT_EQ(inv->hosts[1].ssh.user, "debian");
  EXPECT_EQ(inv->hosts[1].ssh.port, 2222);
  EXPECT_EQ(inv->hosts[1].pod_cidr->ToString(), "10.200.0.0/24");
}

TEST(InventoryTest, LoadsThreeControllersFiveWorkers) {
  auto inv = LoadInventory(std::filesystem::path(HARDWAY_TEST_DATA) /
                           "inventories/3c5w.yaml");
  ASSERT_TRUE(inv) << Dump(inv.error());
  EXPECT_EQ(inv->hosts.size(), 8u);
}

TEST(InventoryTest, MissingFileIsAnError) {
  auto inv = LoadInventory("/nonexistent/inventory.yaml");
  ASSERT_FALSE(inv);
  ASSERT_EQ(inv.error().size(), 1u);
  EXPECT_EQ(inv.error()[0].where, "/nonexistent/inventory.yaml");
  EXPECT_THAT(inv.error()[0].message, HasSubstr("cannot read"));
}

TEST(InventoryTest, NamesRolesAlgorithmsProviders) {
  EXPECT_EQ(RoleName(Role::kEtcd), "etcd");
  EXPECT_EQ(RoleName(Role::kControlplane), "controlplane");
  EXPECT_EQ(RoleName(Role::kWorker), "worker");
  for (Role r : {Role::kEtcd, Role::kControlplane, Role::kWorker}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_FALSE(ParseRole("master"));
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kEcdsaP256), "ecdsa-p256");
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kEcdsaP384), "ecdsa-p384");
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kRsa2048), "rsa-2048");
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kRsa3072), "rsa-3072");
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kRsa4096), "rsa-4096");
  EXPECT_EQ(EncryptionProviderName(EncryptionProvider::kAescbc), "aescbc");
  EXPECT_EQ(EncryptionProviderName(EncryptionProvider::kSecretbox),
            "secretbox");
}

TEST(InventoryTest, AcceptsEveryKeyAlgorithmAndProvider) {
  for (KeyAlgorithm k : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEcdsaP384,
                         KeyAlgorithm::kRsa2048, KeyAlgorithm::kRsa3072,
                         KeyAlgorithm::kRsa4096}) {
    Inventory inv =
        ParseOk("cluster: {name: demo}\npki: {key_algorithm: " +
                std::string(KeyAlgorithmName(k)) + "}\n" + kTwoHosts);
    EXPECT_EQ(inv.pki.key_algorithm, k);
  }
}

TEST(InventoryTest, ClusterWithoutWorkersIsAllowed) {
  ParseOk(
      "cluster: {name: demo}\nhosts:\n  - {name: c0, address: 10.0.0.1, roles: "
      "[etcd, controlplane]}\n");
}

// ---- one test per validation rule
// ---------------------------------------------------------

TEST(InventoryValidationTest, YamlSyntaxError) {
  EXPECT_TRUE(HasError("cluster:\n  name: demo\n   bad: [\n", 3, 7,
                       "YAML syntax error"));
  auto inv = LoadInventory(std::filesystem::path(HARDWAY_TEST_DATA) /
                           "inventories/bad-syntax.yaml");
  ASSERT_FALSE(inv);
  ASSERT_EQ(inv.error().size(), 1u);
  EXPECT_THAT(inv.error()[0].where, HasSubstr("bad-syntax.yaml:6:4"));
  EXPECT_THAT(inv.error()[0].message, HasSubstr("YAML syntax error"));
  EXPECT_THAT(inv.error()[0].hint, HasSubstr("indentation"));
}

TEST(InventoryValidationTest, EmptyFile) {
  EXPECT_TRUE(
      HasError("", 1, 1, "the inventory is empty", "cluster.name and hosts"));
  EXPECT_TRUE(HasError("# only a comment\n", 1, 1, "the inventory is empty"));
}

TEST(InventoryValidationTest, RootNotAMapping) {
  EXPECT_TRUE(HasError("- a\n- b\n", 1, 1, "must be a mapping"));
}

TEST(InventoryValidationTest, UnknownKeyWithDidYouMean) {
  std::string text = "cluster:\n  name: demo\n  pod_cdir: 10.200.0.0/16\n" +
                     std::string(kTwoHosts);
  EXPECT_TRUE(HasError(text, 3, 3, "unknown key 'pod_cdir' in cluster",
                       "did you mean 'pod_cidr'?"));
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\nssh: {usr: x}\n" + std::string(kTwoHosts), 2, 7,
      "unknown key 'usr' in ssh", "did you mean 'user'?"));
  EXPECT_TRUE(
      HasError("cluster: {name: demo}\nhost:\n" + std::string(kTwoHosts), 2, 1,
               "unknown key 'host' in the top level", "did you mean 'hosts'?"));
  EXPECT_TRUE(HasError(std::string("cluster: {name: demo}\n") + kTwoHosts +
                           "    adress: 10.0.0.9\n",
                       9, 5, "unknown key 'adress' in hosts[1]",
                       "did you mean 'address'?"));
}

TEST(InventoryValidationTest, UnknownKeyFarFromAnyListsValidKeys) {
  std::string text =
      "cluster: {name: demo}\nfrobnicate: 1\n" + std::string(kTwoHosts);
  EXPECT_TRUE(HasError(
      text, 2, 1, "unknown key 'frobnicate'",
      "valid keys here: cluster, pki, encryption, ssh, artifacts, hosts"));
  std::vector<Error> errors = Errors(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].hint, ::testing::Not(HasSubstr("did you mean")));
}

TEST(InventoryValidationTest, HostKeyInSshSectionPointsToHosts) {
  EXPECT_TRUE(
      HasError("cluster: {name: demo}\nssh:\n  host_key: ssh-ed25519 AAAA\n" +
                   std::string(kTwoHosts),
               3, 3, "unknown key 'host_key' in ssh", "hosts[].host_key"));
}

TEST(InventoryValidationTest, DuplicateKey) {
  std::string text =
      "cluster:\n  name: demo\n  name: other\n" + std::string(kTwoHosts);
  EXPECT_TRUE(
      HasError(text, 3, 3, "duplicate key 'name' in cluster", "line 2"));
}

TEST(InventoryValidationTest, MissingRequiredSections) {
  EXPECT_TRUE(HasError(kTwoHosts, 1, 1, "missing required section 'cluster'"));
  EXPECT_TRUE(HasError("cluster: {name: demo}\n", 1, 1,
                       "missing required section 'hosts'"));
}

TEST(InventoryValidationTest, MissingClusterName) {
  EXPECT_TRUE(HasError(
      "pki: {}\ncluster:\n  domain: cluster.local\n" + std::string(kTwoHosts),
      2, 1, "missing required field cluster.name", "name: demo"));
}

TEST(InventoryValidationTest, MissingHostFields) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n  - {roles: [etcd, controlplane]}\n"
      "  - {name: node-0, roles: [worker]}\n  - {name: node-1, address: "
      "10.0.0.3}\n";
  EXPECT_TRUE(HasError(text, 3, 5, "missing required field hosts[0].name"));
  EXPECT_TRUE(HasError(text, 3, 5, "missing required field hosts[0].address"));
  EXPECT_TRUE(
      HasError(text, 4, 5, "missing required field host node-0.address"));
  EXPECT_TRUE(HasError(text, 5, 5, "missing required field host node-1.roles"));
}

TEST(InventoryValidationTest, WrongTypes) {
  std::string text = "cluster: demo\n" + std::string(kTwoHosts);
  EXPECT_TRUE(
      HasError(text, 1, 10, "cluster must be a mapping", "valid keys here"));
  EXPECT_TRUE(HasError("cluster: {name: [a, b]}\n" + std::string(kTwoHosts), 1,
                       17, "cluster.name must be a name, got a list"));
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\nssh: {port: {a: 1}}\n" + std::string(kTwoHosts),
      2, 13, "ssh.port must be a port number, got a mapping"));
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\nssh: {agent: maybe}\n" + std::string(kTwoHosts),
      2, 14, "ssh.agent must be true or false", "true or false"));
  EXPECT_TRUE(HasError("cluster: {name: demo}\nhosts: {a: 1}\n", 2, 8,
                       "hosts must be a list"));
  EXPECT_TRUE(
      HasError("cluster: {name: demo}\nhosts: []\n", 2, 8, "hosts is empty"));
  EXPECT_TRUE(HasError("cluster: {name: demo}\nhosts:\n  - just-a-name\n", 3, 5,
                       "hosts[0] must be a mapping"));
  EXPECT_TRUE(HasError("cluster: {name: demo, extra_sans: k8s.example.com}\n" +
                           std::string(kTwoHosts),
                       1, 35, "cluster.extra_sans must be a list"));
  EXPECT_TRUE(
      HasError("cluster: {name: demo}\nhosts:\n  - {name: a, address: "
               "10.0.0.1, roles: etcd}\n",
               3, 41, "host a.roles must be a list"));
  EXPECT_TRUE(
      HasError("cluster: {name: demo}\nhosts:\n  - {name: a, address: "
               "10.0.0.1, roles: []}\n",
               3, 41, "host a.roles is empty"));
}

TEST(InventoryValidationTest, EmptyValue) {
  EXPECT_TRUE(HasError("cluster:\n  name:\n" + std::string(kTwoHosts), 2, 3,
                       "cluster.name must be a name, got nothing"));
}

TEST(InventoryValidationTest, DuplicateHostName) {
  std::string text =
      "cluster: {name: demo}\n" + std::string(kTwoHosts) +
      "  - name: node-0\n    address: 10.240.0.21\n    roles: [worker]\n";
  EXPECT_TRUE(
      HasError(text, 9, 11, "duplicate host name \"node-0\"", "line 6"));
}

TEST(InventoryValidationTest, DuplicateHostAddress) {
  std::string text =
      "cluster: {name: demo}\n" + std::string(kTwoHosts) +
      "  - name: node-1\n    address: 10.240.0.20\n    roles: [worker]\n";
  EXPECT_TRUE(HasError(text, 10, 14,
                       "duplicate host address 10.240.0.20 (host node-1)",
                       "node-0 on line 6"));
}

TEST(InventoryValidationTest, BadAddress) {
  auto with_address = [](const std::string& address) {
    return "cluster: {name: demo}\nhosts:\n  - name: c0\n    address: " +
           address + "\n    roles: [etcd, controlplane]\n";
  };
  EXPECT_TRUE(HasError(with_address("10.240.0.300"), 4, 14,
                       "\"10.240.0.300\" is not a valid IPv4 address",
                       "four numbers"));
  EXPECT_TRUE(HasError(with_address("node.example.com"), 4, 14,
                       "is not a valid IPv4 address",
                       "a DNS name goes in fqdn"));
  EXPECT_TRUE(
      HasError(with_address("\"fd00::10\""), 4, 14, "IPv6 not supported yet"));
}

TEST(InventoryValidationTest, AddressInsideClusterRanges) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n  - name: c0\n    address: 10.200.3.4\n"
      "    roles: [etcd, controlplane]\n";
  EXPECT_TRUE(
      HasError(text, 4, 14,
               "address 10.200.3.4 is inside cluster.pod_cidr 10.200.0.0/16"));
}

TEST(InventoryValidationTest, BadCidr) {
  EXPECT_TRUE(HasError("cluster:\n  name: demo\n  pod_cidr: 10.200.0.1/16\n" +
                           std::string(kTwoHosts),
                       3, 13,
                       "\"10.200.0.1/16\" is not a valid IPv4 CIDR block",
                       "host bits set; did you mean 10.200.0.0/16?"));
  EXPECT_TRUE(HasError(
      "cluster:\n  name: demo\n  service_cidr: 10.32.0.0/33\n" +
          std::string(kTwoHosts),
      3, 17,
      "cluster.service_cidr: \"10.32.0.0/33\" is not a valid IPv4 CIDR block",
      "e.g. 10.200.0.0/16"));
  EXPECT_TRUE(HasError("cluster:\n  name: demo\n  service_cidr: 10.32.0.0\n" +
                           std::string(kTwoHosts),
                       3, 17, "is not a valid IPv4 CIDR block"));
  EXPECT_TRUE(HasError("cluster:\n  name: demo\n  pod_cidr: \"fd00::/48\"\n" +
                           std::string(kTwoHosts),
                       3, 13, "IPv6 not supported yet"));
  EXPECT_TRUE(HasError(
      std::string("cluster: {name: demo}\n") + kTwoHosts +
          "    pod_cidr: 10.200.1.1/24\n",
      9, 15,
      "host node-0.pod_cidr: \"10.200.1.1/24\" is not a valid IPv4 CIDR block",
      "did you mean 10.200.1.0/24?"));
}

TEST(InventoryValidationTest, ServiceCidrTooSmall) {
  EXPECT_TRUE(
      HasError("cluster:\n  name: demo\n  service_cidr: 10.32.0.0/29\n" +
                   std::string(kTwoHosts),
               3, 17, "cluster.service_cidr 10.32.0.0/29 is too small",
               "/28 or larger"));
}

TEST(InventoryValidationTest, ServiceAndPodCidrsOverlap) {
  std::string text =
      "cluster:\n  name: demo\n  service_cidr: 10.200.0.0/24\n  pod_cidr: "
      "10.200.0.0/16\n" +
      std::string(kTwoHosts);
  EXPECT_TRUE(HasError(text, 3, 17,
                       "cluster.service_cidr 10.200.0.0/24 overlaps "
                       "cluster.pod_cidr 10.200.0.0/16",
                       "must not overlap"));
  // Only pod_cidr written: the message points at it.
  EXPECT_TRUE(HasError("cluster:\n  name: demo\n  pod_cidr: 10.0.0.0/8\n" +
                           std::string(kTwoHosts),
                       3, 13, "overlaps cluster.pod_cidr 10.0.0.0/8"));
}

TEST(InventoryValidationTest, NodePodCidrOutsideClusters) {
  std::string text = std::string("cluster: {name: demo}\n") + kTwoHosts +
                     "    pod_cidr: 10.201.0.0/24\n";
  EXPECT_TRUE(HasError(text, 9, 15,
                       "host node-0 pod_cidr 10.201.0.0/24 is outside "
                       "cluster.pod_cidr 10.200.0.0/16",
                       "leave pod_cidr out"));
}

TEST(InventoryValidationTest, NodePodCidrsOverlap) {
  auto inv = LoadInventory(std::filesystem::path(HARDWAY_TEST_DATA) /
                           "inventories/bad-topology.yaml");
  ASSERT_FALSE(inv);
  std::string all = Dump(inv.error());
  EXPECT_THAT(all, HasSubstr("bad-topology.yaml:8:69: host node-1 pod_cidr "
                             "10.200.0.0/23 overlaps node-0's "
                             "pod_cidr 10.200.0.0/24"));
  EXPECT_THAT(
      all,
      HasSubstr("bad-topology.yaml:5:1: no host has the controlplane role"));
  EXPECT_EQ(inv.error().size(), 2u) << all;
}

TEST(InventoryValidationTest, PodCidrOnNonWorker) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n  - name: c0\n    address: 10.0.0.1\n"
      "    roles: [etcd, controlplane]\n    pod_cidr: 10.200.0.0/24\n";
  EXPECT_TRUE(
      HasError(text, 6, 15, "host c0 has a pod_cidr but is not a worker"));
}

TEST(InventoryValidationTest, PodCidrTooSmallForWorkers) {
  std::string text =
      "cluster:\n  name: demo\n  pod_cidr: 10.200.0.0/23\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane]}\n"
      "  - {name: w0, address: 10.0.0.2, roles: [worker]}\n"
      "  - {name: w1, address: 10.0.0.3, roles: [worker]}\n"
      "  - {name: w2, address: 10.0.0.4, roles: [worker]}\n";
  EXPECT_TRUE(HasError(text, 3, 13,
                       "cluster.pod_cidr 10.200.0.0/23 is too small: 3 "
                       "worker(s) need a /24 each but "
                       "only 2 free /24 block(s) remain",
                       "a /16 holds 256 nodes"));
  // Explicit blocks take room from the automatic ones.
  std::string taken =
      "cluster:\n  name: demo\n  pod_cidr: 10.200.0.0/23\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane]}\n"
      "  - {name: w0, address: 10.0.0.2, roles: [worker]}\n"
      "  - {name: w1, address: 10.0.0.3, roles: [worker], pod_cidr: "
      "10.200.1.0/24}\n"
      "  - {name: w2, address: 10.0.0.4, roles: [worker]}\n";
  EXPECT_TRUE(
      HasError(taken, 3, 13, "2 worker(s) need a /24 each but only 1 free"));
  // A block smaller than a /24 cannot hold even one automatic node block.
  EXPECT_TRUE(
      HasError("cluster:\n  name: demo\n  pod_cidr: 10.200.0.0/25\nhosts:\n"
               "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane, "
               "worker]}\n",
               3, 13, "is too small: 1 worker(s)"));
  // With the default pod_cidr the message points at the hosts key.
  std::string many =
      "cluster: {name: demo}\nhosts:\n  - {name: c0, address: 10.0.0.1, roles: "
      "[etcd, controlplane]}\n";
  for (int i = 0; i < 257; ++i) {
    many += "  - {name: w" + std::to_string(i) + ", address: 10.1." +
            std::to_string(i / 200) + "." + std::to_string(i % 200 + 1) +
            ", roles: [worker]}\n";
  }
  EXPECT_TRUE(
      HasError(many, 2, 1, "257 worker(s) need a /24 each but only 256"));
}

TEST(InventoryValidationTest, NoEtcdOrControlplane) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n  - {name: w0, address: 10.0.0.2, roles: "
      "[worker]}\n";
  EXPECT_TRUE(HasError(text, 2, 1, "no host has the etcd role"));
  EXPECT_TRUE(HasError(text, 2, 1, "no host has the controlplane role"));
}

TEST(InventoryValidationTest, EvenNumberOfEtcdMembers) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n"
      "  - {name: c0, address: 10.0.0.1, roles: [etcd, controlplane]}\n"
      "  - {name: c1, address: 10.0.0.2, roles: [etcd]}\n";
  EXPECT_TRUE(HasError(
      text, 2, 1,
      "2 hosts have the etcd role; etcd needs an odd number (1, 3, 5 or 7)",
      "use 1 or 3"));
  std::string nine = "cluster: {name: demo}\nhosts:\n";
  for (int i = 0; i < 9; ++i) {
    nine += "  - {name: c" + std::to_string(i) + ", address: 10.0.0." +
            std::to_string(i + 1) + ", roles: [etcd, controlplane]}\n";
  }
  EXPECT_TRUE(HasError(nine, 2, 1, "9 hosts have the etcd role", "use 5 or 7"));
}

TEST(InventoryValidationTest, UnknownRole) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n  - name: c0\n    address: 10.0.0.1\n"
      "    roles: [etcd, master, wroker, worker, etcd]\n";
  EXPECT_TRUE(HasError(text, 5, 19, "unknown role \"master\" in host c0.roles",
                       "did you mean 'controlplane'?"));
  EXPECT_TRUE(HasError(text, 5, 27, "unknown role \"wroker\"",
                       "did you mean 'worker'?"));
  EXPECT_TRUE(HasError(text, 5, 43, "role etcd is listed twice"));
  // No "no host has the controlplane role" on top: the typo is the problem.
  EXPECT_EQ(Errors(text).size(), 3u) << Dump(Errors(text));
}

TEST(InventoryValidationTest, UnknownKeyAlgorithm) {
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\npki:\n  key_algorithm: ecdsa-p512\n" +
          std::string(kTwoHosts),
      3, 18, "unknown key algorithm \"ecdsa-p512\" in pki.key_algorithm",
      "use one of: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096"));
  EXPECT_TRUE(
      HasError("cluster: {name: demo}\npki:\n  key_algorithm: ecdsa-p356\n" +
                   std::string(kTwoHosts),
               3, 18, "unknown key algorithm", "did you mean 'ecdsa-p256'?"));
}

TEST(InventoryValidationTest, UnknownEncryptionProvider) {
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\nencryption:\n  provider: aesgcm\n" +
          std::string(kTwoHosts),
      3, 13, "unknown encryption provider \"aesgcm\" in encryption.provider",
      "use one of: aescbc, secretbox"));
}

TEST(InventoryValidationTest, UnknownHostKeyPolicy) {
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\nssh:\n  host_key_policy: accept\n" +
          std::string(kTwoHosts),
      3, 20, "unknown host key policy \"accept\"", "strict, accept-new"));
}

TEST(InventoryValidationTest, BadDurations) {
  std::string text =
      "cluster: {name: demo}\npki:\n  ca_validity: 10y\n  renew_before: -5h\n"
      "ssh:\n  connect_timeout: 0s\n" +
      std::string(kTwoHosts);
  EXPECT_TRUE(HasError(text, 3, 16,
                       "pki.ca_validity: \"10y\" is not a valid duration",
                       "ms, s, m, h or d"));
  EXPECT_TRUE(HasError(text, 4, 17,
                       "pki.renew_before: \"-5h\" is not a valid duration"));
  EXPECT_TRUE(HasError(text, 6, 20,
                       "ssh.connect_timeout: \"0s\" must be longer than zero"));
}

TEST(InventoryValidationTest, InconsistentValidities) {
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\npki:\n  ca_validity: 100h\n  cert_validity: "
      "200h\n"
      "  renew_before: 10h\n" +
          std::string(kTwoHosts),
      4, 18,
      "pki.cert_validity (8d 8h) is longer than pki.ca_validity (4d 4h)"));
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\npki:\n  renew_before: 8760h\n" +
          std::string(kTwoHosts),
      3, 17,
      "pki.renew_before (365d 0h) is not shorter than pki.cert_validity"));
}

TEST(InventoryValidationTest, BadPorts) {
  std::string text =
      "cluster: {name: demo}\nssh:\n  port: 0\n  bastion: {address: "
      "203.0.113.5, port: x22}\n" +
      std::string(kTwoHosts) + "    ssh: {port: 65536}\n";
  EXPECT_TRUE(HasError(text, 3, 9, "ssh.port: \"0\" is not a valid port",
                       "1 to 65535"));
  EXPECT_TRUE(
      HasError(text, 4, 41, "ssh.bastion.port: \"x22\" is not a valid port"));
  EXPECT_TRUE(HasError(text, 12, 17,
                       "host node-0.ssh.port: \"65536\" is not a valid port"));
}

TEST(InventoryValidationTest, BastionNeedsAnAddress) {
  EXPECT_TRUE(
      HasError("cluster: {name: demo}\nssh:\n  bastion: {user: jump}\n" +
                   std::string(kTwoHosts),
               3, 3, "missing required field ssh.bastion.address"));
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\nssh:\n  bastion: {address: \"jump host\"}\n" +
          std::string(kTwoHosts),
      3, 22,
      "ssh.bastion.address: \"jump host\" is neither an IPv4 address nor a DNS "
      "name"));
}

TEST(InventoryValidationTest, ClusterNameNotADnsLabel) {
  EXPECT_TRUE(
      HasError("cluster:\n  name: My_Cluster\n" + std::string(kTwoHosts), 2, 9,
               "cluster.name \"My_Cluster\" is not a DNS label", "lower case"));
  EXPECT_TRUE(HasError("cluster:\n  name: -demo\n" + std::string(kTwoHosts), 2,
                       9, "is not a DNS label"));
  EXPECT_TRUE(
      HasError("cluster:\n  name: " + std::string(64, 'a') + "\n" + kTwoHosts,
               2, 9, "is not a DNS label"));
}

TEST(InventoryValidationTest, HostNameNotADnsLabel) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n  - name: Controller.0\n    address: "
      "10.0.0.1\n"
      "    roles: [etcd, controlplane]\n";
  EXPECT_TRUE(HasError(text, 3, 11,
                       "hosts[0].name \"Controller.0\" is not a DNS-1123 label",
                       "node name and a certificate CN"));
}

TEST(InventoryValidationTest, BadFqdnDomainVersionAndSans) {
  std::string text =
      "cluster:\n  name: demo\n  domain: Cluster_Local\n  kubernetes_version: "
      "1.32\n"
      "  extra_sans: [ok.example.com, \"bad name\", \"::1\"]\n" +
      std::string(kTwoHosts) + "    fqdn: node_0.example\n";
  EXPECT_TRUE(HasError(text, 3, 11,
                       "cluster.domain \"Cluster_Local\" is not a DNS domain"));
  EXPECT_TRUE(HasError(
      text, 4, 23,
      "cluster.kubernetes_version \"1.32\" is not a Kubernetes version",
      "v1.32.3"));
  EXPECT_TRUE(
      HasError(text, 5, 32, "cluster.extra_sans[1]: \"bad name\" is neither"));
  EXPECT_TRUE(HasError(
      text, 5, 44,
      "cluster.extra_sans[2]: \"::1\" is IPv6; IPv6 not supported yet"));
  EXPECT_TRUE(HasError(
      text, 13, 11, "host node-0.fqdn \"node_0.example\" is not a DNS name"));
}

TEST(InventoryValidationTest, ApiEndpointNotHostPort) {
  auto with = [](const std::string& endpoint) {
    return "cluster:\n  name: demo\n  api_endpoint: " + endpoint + "\n" +
           std::string(kTwoHosts);
  };
  EXPECT_TRUE(HasError(with("10.240.0.10"), 3, 17,
                       "cluster.api_endpoint \"10.240.0.10\" is not host:port",
                       "e.g. 10.240.0.10:6443"));
  EXPECT_TRUE(
      HasError(with("10.240.0.10:0"), 3, 17, "\"0\" is not a valid port"));
  EXPECT_TRUE(
      HasError(with("bad_host:6443"), 3, 17,
               "\"bad_host\" is neither an IPv4 address nor a DNS name"));
  EXPECT_TRUE(HasError(with("\"[fd00::1]:6443\""), 3, 17, "is not host:port",
                       "IPv6 not supported yet"));
}

TEST(InventoryValidationTest, ExtraArgsForUnknownComponent) {
  std::string text =
      "cluster:\n  name: demo\n  extra_args:\n    kube-apiservr: {v: \"2\"}\n"
      "    containerd: {debug: \"true\"}\n" +
      std::string(kTwoHosts);
  EXPECT_TRUE(HasError(text, 4, 5,
                       "extra_args for unknown component \"kube-apiservr\"",
                       "did you mean 'kube-apiserver'?"));
  EXPECT_TRUE(HasError(text, 5, 5,
                       "extra_args for unknown component \"containerd\"",
                       "kube-proxy"));
}

TEST(InventoryValidationTest, ExtraArgsBadFlags) {
  std::string text =
      "cluster:\n  name: demo\n  extra_args:\n    kubelet:\n      --v: \"2\"\n "
      "     v: \"3\"\n"
      "      \"--bad flag\": x\n      --list: [a, b]\n    kube-proxy: "
      "[--v=2]\n" +
      std::string(kTwoHosts);
  EXPECT_TRUE(
      HasError(text, 6, 7, "duplicate flag --v in cluster.extra_args.kubelet"));
  EXPECT_TRUE(HasError(text, 7, 7, "\"--bad flag\" is not a flag name"));
  EXPECT_TRUE(HasError(
      text, 8, 15,
      "cluster.extra_args.kubelet.--list must be a single value, got a list"));
  EXPECT_TRUE(HasError(
      text, 9, 17,
      "cluster.extra_args.kube-proxy must be a mapping of flag to value"));
}

TEST(InventoryValidationTest, BadHostKey) {
  std::string text = std::string("cluster: {name: demo}\n") + kTwoHosts +
                     "    host_key: ssh-dss AAAA\n" +
                     "  - {name: node-1, address: 10.0.0.9, roles: [worker], "
                     "host_key: ssh-ed25519}\n";
  EXPECT_TRUE(HasError(
      text, 9, 15, "host node-0.host_key: unknown host key type \"ssh-dss\"",
      "ssh-keyscan"));
  EXPECT_TRUE(HasError(
      text, 10, 66, "the key after \"ssh-ed25519\" is missing or not base64"));
}

TEST(InventoryValidationTest, BadUser) {
  EXPECT_TRUE(HasError("cluster: {name: demo}\nssh: {user: \"root@host\"}\n" +
                           std::string(kTwoHosts),
                       2, 13, "ssh.user \"root@host\" is not a user name"));
}

TEST(InventoryValidationTest, ReportsEveryErrorSortedByPosition) {
  auto inv = LoadInventory(std::filesystem::path(HARDWAY_TEST_DATA) /
                           "inventories/bad-many.yaml");
  ASSERT_FALSE(inv);
  const std::vector<Error>& errors = inv.error();
  std::vector<std::string> expected = {
      "bad-many.yaml:3:9: cluster.name \"Demo_Cluster\" is not a DNS label",
      "bad-many.yaml:4:3: unknown key 'servce_cidr' in cluster",
      "bad-many.yaml:7:18: unknown key algorithm \"rsa-1024\"",
      "bad-many.yaml:8:18: pki.cert_validity: \"1year\" is not a valid "
      "duration",
      "bad-many.yaml:9:24: unknown encryption provider \"aesgcm\"",
      "bad-many.yaml:11:9: ssh.port: \"70000\" is not a valid port",

      "bad-many.yaml:14:35: duplicate host address 10.240.0.10 (host "
      "controller-1)",
      "bad-many.yaml:15:29: host node-0.address: \"10.240.0.300\" is not a "
      "valid IPv4 address",
      "bad-many.yaml:15:51: unknown role \"wroker\" in host node-0.roles",
      "bad-many.yaml:16:18: artifacts.dir must be a file path, got a list",
  };
  ASSERT_EQ(errors.size(), expected.size()) << Dump(errors);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_THAT(errors[i].ToString(), HasSubstr(expected[i])) << i;
    EXPECT_FALSE(errors[i].hint.empty()) << errors[i].ToString();
  }
}

}  // namespace
}  // namespace hardway

namespace hardway {
namespace {

TEST(InventoryTest, EmptySectionsMeanDefaults) {
  Inventory inv = ParseOk(
      std::string(
          "cluster: {name: demo}\npki:\nssh:\n  # nothing yet\nencryption:\n") +
      kTwoHosts + "    ssh:\n");
  EXPECT_EQ(inv.pki.key_algorithm, KeyAlgorithm::kEcdsaP256);
  EXPECT_EQ(inv.hosts[1].ssh.user, "root");
}

TEST(InventoryValidationTest, EmptyClusterSection) {
  EXPECT_TRUE(HasError("cluster:\n" + std::string(kTwoHosts), 1, 1,
                       "missing required field cluster.name"));
}

TEST(InventoryValidationTest, EmptyHostEntry) {
  EXPECT_TRUE(
      HasError(std::string("cluster: {name: demo}\n") + kTwoHosts + "  -\n", 2,
               1, "hosts[2] is empty"));
}

}  // namespace
}  // namespace hardway

namespace hardway {
namespace {

// The schema exactly as the issue shows it (bastion included).
TEST(InventoryTest, IssueSchemaExample) {
  Inventory inv = ParseOk(R"(cluster:
  name: demo
  kubernetes_version: v1.32.3
  domain: cluster.local
  service_cidr: 10.32.0.0/24
  pod_cidr: 10.200.0.0/16          # a /24 per node unless a host sets its own
  api_endpoint: 10.240.0.10:6443   # optional: a load balancer; default: first controller
  extra_sans: []
pki:
  key_algorithm: ecdsa-p256        # ecdsa-p256 | ecdsa-p384 | rsa-2048 | rsa-3072 | rsa-4096
  ca_validity: 87600h
  cert_validity: 8760h
  renew_before: 720h
encryption: {provider: aescbc}     # aescbc | secretbox
ssh:
  user: root
  port: 22
  identity_file: ~/.ssh/id_ed25519
  agent: true
  known_hosts: ~/.ssh/known_hosts
  host_key_policy: strict          # strict | accept-new
  bastion: {address: 203.0.113.5, port: 22, user: jump}   # optional
  connect_timeout: 10s
artifacts: {dir: ./artifacts}      # etcd, etcdctl, kube-*, kubelet, containerd, runc, cni/
hosts:
  - {name: controller-0, address: 10.240.0.10, roles: [etcd, controlplane]}
  - {name: node-0, address: 10.240.0.20, roles: [worker], pod_cidr: 10.200.0.0/24,
     ssh: {user: debian, port: 2222}}
)");
  ASSERT_EQ(inv.hosts.size(), 2u);
  EXPECT_EQ(inv.cluster.api_endpoint, "10.240.0.10:6443");
  ASSERT_TRUE(inv.ssh.bastion);
  EXPECT_EQ(inv.ssh.bastion->user, "jump");
  EXPECT_EQ(inv.hosts[1].ssh.user, "debian");
  EXPECT_EQ(inv.hosts[1].ssh.port, 2222);
  ASSERT_TRUE(inv.hosts[1].ssh.bastion);  // inherited
  EXPECT_EQ(inv.hosts[1].ssh.bastion->address, "203.0.113.5");
  EXPECT_EQ(inv.hosts[1].pod_cidr->ToString(), "10.200.0.0/24");
}

}  // namespace
}  // namespace hardway

namespace hardway {
namespace {

TEST(InventoryValidationTest, BadClusterCidrCausesNoFollowUpErrors) {
  // Only the bad pod_cidr is reported: nothing is compared against the default
  // it fell back to.
  std::string text =
      "cluster:\n  name: demo\n  pod_cidr: 10.32.0.1/16\n  service_cidr: "
      "10.32.0.0/24/1\n"
      "hosts:\n  - {name: c0, address: 10.32.0.5, roles: [etcd, "
      "controlplane]}\n"
      "  - {name: w0, address: 10.200.0.5, roles: [worker], pod_cidr: "
      "10.32.1.0/24}\n";
  std::vector<Error> errors = Errors(text);
  ASSERT_EQ(errors.size(), 2u) << Dump(errors);
  EXPECT_TRUE(HasError(text, 3, 13,
                       "cluster.pod_cidr: \"10.32.0.1/16\" is not a valid"));
  EXPECT_TRUE(HasError(
      text, 4, 17, "cluster.service_cidr: \"10.32.0.0/24/1\" is not a valid"));
}

}  // namespace
}  // namespace hardway

namespace hardway {
namespace {

// ---- artifacts section and host architecture (hardway fetch)
// --------------------------------------------

TEST(InventoryTest, ArtifactDefaultsAreTheHardWays) {
  Inventory inv = ParseOk("cluster: {name: demo}\n" + std::string(kTwoHosts));
  EXPECT_EQ(inv.artifacts.versions.etcd, "v3.6.0");
  EXPECT_EQ(inv.artifacts.versions.containerd, "v2.1.0");
  EXPECT_EQ(inv.artifacts.versions.runc, "v1.3.0");
  EXPECT_EQ(inv.artifacts.versions.cni_plugins, "v1.6.2");
  EXPECT_EQ(inv.artifacts.versions.crictl, "v1.32.0");
  EXPECT_TRUE(inv.artifacts.bundle.empty());
  EXPECT_TRUE(inv.artifacts.mirror.empty());
  EXPECT_TRUE(inv.artifacts.cache.empty());
  EXPECT_TRUE(inv.artifacts.urls.empty());
  EXPECT_TRUE(inv.artifacts.sha256.empty());
  EXPECT_EQ(inv.hosts[0].arch, "amd64");
}

TEST(InventoryTest, ReadsArtifactSettingsAndArch) {
  const std::string sha(64, 'a');
  Inventory inv = ParseOk(
      "cluster: {name: demo}\n"
      "artifacts:\n"
      "  dir: bin\n"
      "  bundle: k8s.tar\n"
      "  cache: /var/cache/hw\n"
      "  mirror: http://mirror.local:8080/k8s/\n"
      "  versions: {etcd: v3.6.1, containerd: v2.1.3, runc: v1.3.1, "
      "cni_plugins: v1.6.1, crictl: v1.33.0}\n"
      "  urls: {runc/arm64: \"https://m/runc-{{version}}.{{arch}}\"}\n"
      "  sha256: {etcd/amd64: " +
      std::string(64, 'A') + ", kubelet: " + sha +
      "}\n"
      "hosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane], "
      "arch: arm64}\n");
  EXPECT_EQ(inv.artifacts.dir, "bin");
  EXPECT_EQ(inv.artifacts.bundle, "k8s.tar");
  EXPECT_EQ(inv.artifacts.cache, "/var/cache/hw");
  EXPECT_EQ(inv.artifacts.mirror, "http://mirror.local:8080/k8s");
  EXPECT_EQ(inv.artifacts.versions.etcd, "v3.6.1");
  EXPECT_EQ(inv.artifacts.versions.containerd, "v2.1.3");
  EXPECT_EQ(inv.artifacts.versions.runc, "v1.3.1");
  EXPECT_EQ(inv.artifacts.versions.cni_plugins, "v1.6.1");
  EXPECT_EQ(inv.artifacts.versions.crictl, "v1.33.0");
  EXPECT_EQ(inv.artifacts.urls.at("runc/arm64"),
            "https://m/runc-{{version}}.{{arch}}");
  EXPECT_EQ(inv.artifacts.sha256.at("etcd/amd64"), std::string(64, 'a'));
  EXPECT_EQ(inv.artifacts.sha256.at("kubelet"), sha);
  EXPECT_EQ(inv.hosts[0].arch, "arm64");
}

TEST(InventoryValidationTest, UnknownArchPointsAtIt) {
  std::string text =
      "cluster: {name: demo}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n"
      "  - name: w-0\n"
      "    address: 10.240.0.20\n"
      "    roles: [worker]\n"
      "    arch: x86_64\n";
  EXPECT_TRUE(HasError(text, 7, 11,
                       "unknown architecture \"x86_64\" in host w-0.arch",
                       "did you mean 'amd64'?"));
  EXPECT_TRUE(HasError(
      "cluster: {name: demo}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane], "
      "arch: arm46}\n",
      3, 74, "unknown architecture \"arm46\"", "did you mean 'arm64'?"));
}

TEST(InventoryValidationTest, BadArtifactSettings) {
  const std::string head = "cluster: {name: demo}\nartifacts:\n";
  EXPECT_TRUE(HasError(head + "  mirorr: http://m\n" + kTwoHosts, 3, 3,
                       "unknown key 'mirorr' in artifacts",
                       "did you mean 'mirror'?"));
  EXPECT_TRUE(HasError(head + "  mirror: ftp://m\n" + kTwoHosts, 3, 11,
                       "artifacts.mirror: \"ftp://m\" is not an http, https or "
                       "file URL"));
  EXPECT_TRUE(HasError(head + "  mirror: http://m/{{arch}}\n" + kTwoHosts, 3,
                       11, "unknown variable {{arch}}"));
  EXPECT_TRUE(HasError(head + "  versions: {etdc: v3.6.0}\n" + kTwoHosts, 3, 14,
                       "unknown key 'etdc' in artifacts.versions",
                       "did you mean 'etcd'?"));
  EXPECT_TRUE(HasError(head + "  versions: {containerd: 2.1.0}\n" + kTwoHosts,
                       3, 26, "is not a release version",
                       "with its leading v: v2.1.0"));
  EXPECT_TRUE(
      HasError(head + "  urls: {kubelett: \"http://m/k\"}\n" + kTwoHosts, 3, 10,
               "unknown release \"kubelett\" in artifacts.urls",
               "did you mean 'kubelet'?"));
  EXPECT_TRUE(
      HasError(head + "  urls: {etcd/arm46: \"http://m/e\"}\n" + kTwoHosts, 3,
               10, "unknown architecture \"arm46\"", "did you mean 'arm64'?"));
  EXPECT_TRUE(HasError(
      head + "  urls: {etcd: \"http://m/{{versoin}}\"}\n" + kTwoHosts, 3, 16,
      "unknown variable {{versoin}}", "did you mean 'version'?"));
  EXPECT_TRUE(HasError(head + "  sha256: {runc: abc}\n" + kTwoHosts, 3, 18,
                       "artifacts.sha256.runc: \"abc\" is not a sha256"));
}

TEST(InventoryValidationTest, UnpinnedArchWithMixedHosts) {
  std::string text =
      "cluster: {name: demo}\nartifacts:\n  sha256: {etcd: " +
      std::string(64, 'b') +
      "}\nhosts:\n"
      "  - {name: c-0, address: 10.240.0.10, roles: [etcd, controlplane]}\n"
      "  - {name: w-0, address: 10.240.0.20, roles: [worker], arch: arm64}\n";
  EXPECT_TRUE(HasError(text, 3, 18,
                       "artifacts.sha256.etcd pins one file, but the hosts are "
                       "amd64 and arm64",
                       "etcd/amd64: ..., etcd/arm64: ..."));
}

}  // namespace
}  // namespace hardway
