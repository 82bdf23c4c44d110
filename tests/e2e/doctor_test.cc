// End-to-end: `hardway doctor` on the nspawn testbed (3 controllers + 2
// workers). The cluster comes up clean; then it is broken on purpose, one
// fault at a time, and doctor must name the exact cause and host in its table
// row and exit non-zero; `hardway up` then repairs the fault and doctor is
// clean again. Faulty certificates are made here with the pki module, signed
// by the state dir's own CAs, and written into the machines with
// `testbed exec`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "pki/kubeconfig.h"
#include "pki/x509.h"
#include "util/files.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::hours;

struct Cmd {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Cmd Sh(const std::string& command) {
  Cmd result;
  FILE* pipe = ::popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
    result.out.append(buf, n);
  int status = ::pclose(pipe);
  result.code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

const fs::path kWork = "/var/tmp/hardway-e2e-doctor";
const std::string kHardway = HARDWAY_BINARY;
const std::string kTestbed = HARDWAY_TESTBED;

fs::path Inventory() { return kWork / "inventory.yaml"; }
fs::path State() { return kWork / "state"; }
fs::path Artifacts() { return kWork / "artifacts"; }
fs::path Pki(const std::string& name) { return State() / "pki" / name; }

// A command inside a machine without its sshd (nsenter).
Cmd InMachine(const std::string& machine, const std::string& command) {
  return Sh(kTestbed + " exec " + machine + " /bin/sh -c " + Quote(command));
}

std::string HardwayCmd(const std::string& verb, const std::string& extra = "") {
  return kHardway + " " + verb + " -i " + Inventory().string() + " --state " +
         State().string() + " " + extra;
}

Cmd Up() { return Sh(HardwayCmd("up", "--output json")); }
Cmd Doctor() { return Sh(HardwayCmd("doctor")); }

// The table row matching `pattern` (ECMAScript regex over one line), or "".
std::string Row(const Cmd& doctor, const std::string& pattern) {
  std::regex re(pattern);
  std::istringstream lines(doctor.out);
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, re)) return line;
  }
  return "";
}

std::string Escape(const std::string& literal) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(literal, special, R"(\$&)");
}

// "CHECK  SUBJECT  FAIL  CAUSE..." with the columns' padding in between.
std::string FailRow(const std::string& check, const std::string& subject,
                    const std::string& cause_prefix) {
  return "^" + Escape(check) + " +" + Escape(subject) + " +FAIL +" +
         Escape(cause_prefix);
}

std::string Slurp(const fs::path& p) {
  auto bytes = hardway::ReadFile(p);
  EXPECT_TRUE(bytes) << p;
  return bytes.value_or("");
}

// Writes `bytes` over `path` in the machine; an existing file keeps its mode
// and owner (the shell truncates it in place).
void Put(const std::string& machine, const std::string& path,
         const std::string& bytes) {
  Cmd put =
      InMachine(machine, "umask 077; echo " + hardway::Base64Encode(bytes) +
                             " | base64 -d > " + path);
  ASSERT_EQ(put.code, 0) << put.out;
}

// The state dir's leaf `stem`, issued again with its own key by the state dir's
// CA `ca`, changed by `edit`.
std::string Reissue(const std::string& stem, const std::string& ca,
                    const std::function<void(hardway::IssueRequest&)>& edit) {
  auto leaf = hardway::LoadCertificate(Pki(stem + ".crt"));
  auto key = hardway::LoadPrivateKey(Pki(stem + ".key"));
  auto ca_cert = hardway::LoadCertificate(Pki(ca + ".crt"));
  auto ca_key = hardway::LoadPrivateKey(Pki(ca + ".key"));
  EXPECT_TRUE(leaf && key && ca_cert && ca_key) << stem;
  if (!leaf || !key || !ca_cert || !ca_key) return "";
  hardway::CertInfo info = hardway::InspectCertificate(leaf->get());
  hardway::IssueRequest req;
  req.cn = info.cn;
  req.orgs = info.orgs;
  req.client_auth = info.client_auth;
  req.server_auth = info.server_auth;
  req.dns_sans = info.dns_sans;
  req.ip_sans = info.ip_sans;
  req.not_before = std::chrono::system_clock::now() - hours(1);
  req.not_after = info.not_after;
  edit(req);
  auto cert =
      hardway::IssueCertificate(req, key->get(), ca_cert->get(), ca_key->get());
  EXPECT_TRUE(cert) << (cert ? "" : cert.error().ToString());
  return cert ? hardway::CertificateToPem(cert->get()) : "";
}

// After each fault: doctor has named it; `up` repairs it; doctor is clean.
void RepairedByUp(const std::string& fault) {
  Cmd up = Up();
  ASSERT_EQ(up.code, 0) << fault << ": up did not repair it:\n" << up.out;
  Cmd clean = Doctor();
  EXPECT_EQ(clean.code, 0) << fault << ": doctor after up:\n" << clean.out;
}

class Environment : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the e2e tier needs root (CI runs as root)";
    fs::remove_all(State());
    fs::create_directories(Artifacts());
    Cmd artifacts =
        Sh(std::string(HARDWAY_ARTIFACTS_SCRIPT) + " " + Artifacts().string());
    ASSERT_EQ(artifacts.code, 0) << artifacts.out;
    Cmd standins = Sh("cp -f " + std::string(HARDWAY_STANDINS_DIR) + "/* " +
                      Artifacts().string() + "/");
    ASSERT_EQ(standins.code, 0) << standins.out;
    Cmd manifest =
        Sh("cd " + Artifacts().string() +
           " && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > "
           "SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS");
    ASSERT_EQ(manifest.code, 0) << manifest.out;
    Cmd up = Sh(kTestbed + " up 5 --controllers 3 --artifacts " +
                Artifacts().string());
    ASSERT_EQ(up.code, 0) << up.out;
    std::string generated = Sh(kTestbed + " inventory").out;
    generated = generated.substr(0, generated.find('\n'));
    fs::copy_file(generated, Inventory(), fs::copy_options::overwrite_existing);
  }
  void TearDown() override {
    if (std::getenv("HARDWAY_E2E_KEEP")) return;
    Sh(kTestbed + " down");
  }
};

TEST(Doctor, CleanAfterUpAndEveryLinkTestedLive) {
  Cmd up = Up();
  ASSERT_EQ(up.code, 0) << up.out;
  Cmd doctor = Doctor();
  ASSERT_EQ(doctor.code, 0) << doctor.out;
  EXPECT_NE(Row(doctor, "^doctor: 0 failed, "), "") << doctor.out;
  EXPECT_NE(
      Row(doctor,
          "^link +hardway → kube-apiserver controller-2 +ok +mutual TLS to "
          "10\\.213\\.0\\.12:6443"),
      "")
      << doctor.out;
  EXPECT_NE(Row(doctor, "^link +etcd controller-0 → etcd controller-1 +ok "),
            "")
      << doctor.out;

  Cmd as_json = Sh(HardwayCmd("doctor", "--output json") + " 2>/dev/null");
  ASSERT_EQ(as_json.code, 0) << as_json.out;
  json findings = json::parse(as_json.out, nullptr, false);
  ASSERT_TRUE(findings.is_array()) << as_json.out;
  size_t links = 0;
  for (const json& f : findings) {
    EXPECT_NE(f.value("verdict", ""), "fail") << f.dump();
    if (f.value("check", "") == "link") ++links;
  }
  // 9 apiserver→etcd, 6 peer, 6 controller-manager/scheduler, 2 kubelet, 2
  // kube-proxy, 6 apiserver→kubelet, 3 hardway→etcd, 3 hardway→apiserver.
  EXPECT_EQ(links, 37u);
}

TEST(Doctor, ExpiredKubeletClientCertificate) {
  std::string expired =
      Reissue("kubelet-node-1", "ca", [](hardway::IssueRequest& r) {
        auto now = std::chrono::system_clock::now();
        r.not_before = now - hours(24 * 40);
        r.not_after = now - hours(24 * 3 + 1);
      });
  std::string kubeconfig =
      Slurp(State() / "kubeconfigs" / "kubelet-node-1.kubeconfig");
  std::string old = hardway::Base64Encode(Slurp(Pki("kubelet-node-1.crt")));
  size_t at = kubeconfig.find(old);
  ASSERT_NE(at, std::string::npos);
  kubeconfig.replace(at, old.size(), hardway::Base64Encode(expired));
  Put("node-1", "/etc/kubernetes/kubelet.conf", kubeconfig);

  Cmd doctor = Doctor();
  EXPECT_EQ(doctor.code, 5) << doctor.out;
  auto cert = hardway::ParseCertificatePem(expired, "expired");
  ASSERT_TRUE(cert);
  std::string date =
      hardway::FormatDate(hardway::InspectCertificate(cert->get()).not_after);
  EXPECT_NE(
      Row(doctor,
          FailRow("link", "kubelet node-1 → kube-apiserver controller-0",
                  "client certificate expired " + date + " (3 days ago)")),
      "")
      << doctor.out;
  EXPECT_NE(
      Row(doctor,
          FailRow(
              "cert",
              "kubelet-node-1 cert in /etc/kubernetes/kubelet.conf on node-1",
              "expired " + date + " (3 days ago)")),
      "")
      << doctor.out;
  RepairedByUp("expired kubelet certificate");
}

TEST(Doctor, EtcdClientCertificateFromTheClusterCa) {
  std::string wrong =
      Reissue("apiserver-etcd-client", "ca", [](hardway::IssueRequest&) {});
  Put("controller-0", "/etc/kubernetes/pki/apiserver-etcd-client.crt", wrong);

  Cmd doctor = Doctor();
  EXPECT_EQ(doctor.code, 5) << doctor.out;
  for (const char* member : {"controller-0", "controller-1", "controller-2"}) {
    EXPECT_NE(
        Row(doctor,
            FailRow("link",
                    std::string("kube-apiserver controller-0 → etcd ") + member,
                    std::string("etcd ") + member +
                        " rejects apiserver-etcd-client from controller-0: "
                        "signed by ca, etcd trusts etcd/ca")),
        "")
        << doctor.out;
  }
  EXPECT_NE(
      Row(doctor, FailRow("cert", "apiserver-etcd-client cert on controller-0",
                          "signed by ca, etcd trusts etcd/ca")),
      "")
      << doctor.out;
  RepairedByUp("etcd client certificate from the cluster CA");
}

TEST(Doctor, ApiserverCertificateWithoutOneControllersAddress) {
  std::string lacking = Reissue(
      "apiserver", "ca",
      [](hardway::IssueRequest& r) { std::erase(r.ip_sans, "10.213.0.11"); });
  // Not restarted: the stand-in kube-apiserver refuses to start with a cert
  // that does not cover its --advertise-address, so the running one keeps
  // serving the good cert and only the deployed file is wrong, which is what
  // doctor must find.
  Put("controller-1", "/etc/kubernetes/pki/apiserver.crt", lacking);

  Cmd doctor = Doctor();
  EXPECT_EQ(doctor.code, 5) << doctor.out;
  EXPECT_NE(Row(doctor, FailRow("cert", "apiserver cert on controller-1",
                                "lacks SAN 10.213.0.11, which hardway dials")),
            "")
      << doctor.out;
  EXPECT_NE(
      Row(doctor,
          FailRow("file", "controller-1 /etc/kubernetes/pki/apiserver.crt",
                  "differs from the state dir (pki/apiserver.crt)")),
      "")
      << doctor.out;
  RepairedByUp("apiserver certificate without 10.213.0.11");
}

TEST(Doctor, PrivateKeyReadableByOthers) {
  ASSERT_EQ(
      InMachine("controller-2", "chmod 0644 /etc/kubernetes/pki/apiserver.key")
          .code,
      0);
  Cmd doctor = Doctor();
  EXPECT_EQ(doctor.code, 5) << doctor.out;
  EXPECT_NE(
      Row(doctor,
          FailRow("file", "controller-2 /etc/kubernetes/pki/apiserver.key",
                  "mode 0644, want 0600 (a private key readable by other "
                  "users)")),
      "")
      << doctor.out;
  RepairedByUp("key chmod 0644");
  Cmd mode =
      InMachine("controller-2", "stat -c %a /etc/kubernetes/pki/apiserver.key");
  EXPECT_EQ(mode.out, "600\n");
}

TEST(Doctor, StoppedScheduler) {
  ASSERT_EQ(InMachine("controller-1", "systemctl stop kube-scheduler").code, 0);
  Cmd doctor = Doctor();
  EXPECT_EQ(doctor.code, 5) << doctor.out;
  EXPECT_NE(Row(doctor, FailRow("unit", "kube-scheduler on controller-1",
                                "inactive (dead)")),
            "")
      << doctor.out;
  RepairedByUp("kube-scheduler stopped");
}

TEST(Doctor, UnitFileEditedByHand) {
  ASSERT_EQ(
      InMachine(
          "node-0",
          "echo '# tuned by hand' >> /etc/systemd/system/kube-proxy.service")
          .code,
      0);
  Cmd doctor = Doctor();
  EXPECT_EQ(doctor.code, 5) << doctor.out;
  EXPECT_NE(Row(doctor,
                FailRow("file", "node-0 /etc/systemd/system/kube-proxy.service",
                        "unit kube-proxy: differs from what hardway renders "
                        "(template units/kube-proxy.service) — edited by hand? "
                        "`hardway up` puts it back")),
            "")
      << doctor.out;
  RepairedByUp("kube-proxy.service edited by hand");
}

TEST(Doctor, NeverChangesAHost) {
  // Everything doctor touches, before and after a run: same bytes, modes,
  // mtimes.
  const std::string listing =
      "find /etc/kubernetes /etc/systemd/system /var/lib/kubelet "
      "/var/lib/kube-proxy "
      "/usr/local/bin -type f -exec stat -c '%n %a %Y %s' {} + | sort; "
      "systemctl show -p NRestarts,ActiveEnterTimestamp etcd kube-apiserver "
      "kube-controller-manager kube-scheduler";
  std::string before = InMachine("controller-0", listing).out;
  Cmd doctor = Doctor();
  EXPECT_EQ(doctor.code, 0) << doctor.out;
  EXPECT_EQ(InMachine("controller-0", listing).out, before);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new Environment);
  return RUN_ALL_TESTS();
}
