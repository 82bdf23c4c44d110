// Doctor's checks as pure functions of facts already gathered (remote file
// listings, certificate PEM, CA PEM, unit states, clock readings, the words a
// TLS attempt ended with): no I/O, so each is unit-tested with local files.
// Every cause is in words and names the file, certificate, host and the party
// concerned; none ever contains key material.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "doctor/finding.h"
#include "pki/x509.h"
#include "plan/plan.h"
#include "run/gates.h"
#include "trust/links.h"
#include "util/error.h"

namespace hardway {

// The cluster's CAs from the state dir by stem ("ca", "etcd/ca",
// "front-proxy-ca"), to name who signed a certificate.
struct CaSet {
  std::map<std::string, X509Ptr> cas;
  // The stem of the CA that signed `cert` (its key verifies the signature),
  // else "CN=<issuer> (no CA of this cluster)".
  std::string SignerOf(X509* cert) const;
  // The stem when `ca` is one of ours (same certificate), else "CN=<subject>
  // (no CA of this cluster)".
  std::string NameOf(X509* ca) const;
};
CaSet LoadCaSet(const std::filesystem::path& state_dir);

// What a host holds at a planned destination (Sha256Of + stat).
struct RemoteFile {
  std::string sha256;
  std::string mode;   // as stat %a prints it: "600", "644"
  std::string owner;  // "root:root"; empty when unknown
};

// One planned upload or render against what the host holds (null: absent).
// verdict ok with an empty cause when it is exactly as planned.
Finding CheckPlannedFile(const std::string& host, const Step& step,
                         const RemoteFile* remote);

// "unit kube-scheduler" for /etc/systemd/system/kube-scheduler.service; "" for
// other paths.
std::string UnitOfPath(const std::string& dest);

// Someone who verifies a certificate when it is presented: the CA it trusts,
// as deployed where it runs.
struct Verifier {
  std::string who;        // "etcd controller-1", "hardway"
  std::string component;  // "etcd", "kube-apiserver", "hardway"
  std::string trusts;     // the stem the link table says it trusts: "etcd/ca"
  std::string ca_pem;     // the CA it really trusts (deployed); empty: unknown
};

// A name a certificate is dialed at and who dials it there.
struct Dial {
  std::string name;  // "10.240.0.11", "127.0.0.1"
  std::string who;   // "hardway", "kubelet", "kube-scheduler"
};

// A certificate as deployed on a host (or in the state dir for hardway's own).
struct DeployedCert {
  std::string host;   // "" for hardway's machine
  std::string name;   // table name: "apiserver", "kubelet-node-1"
  std::string where;  // path on the host (the kubeconfig's for embedded certs)
  bool in_kubeconfig = false;
  // A CA certificate: hardway never reissues one, so renewing it is by hand.
  bool is_ca = false;
  // Name the file in Subject(): another cert of the same name lives on the
  // host too (a kubelet's serving cert beside its kubeconfig).
  bool show_where = false;
  std::string pem;
  // The private key beside it (or embedded); empty: not checked here.
  std::string key_pem;
  std::string key_where;
  std::vector<Verifier> verifiers;  // those it is presented to
  std::vector<Dial> dials;          // names it is dialed at (serving certs)

  // "apiserver cert on controller-1", "kubelet-node-1 cert in
  // /etc/kubernetes/kubelet.conf on node-1", "admin cert in the state dir".
  std::string Subject() const;
};

// Expiry and renew_before, the chain against the CA each verifier trusts, the
// SANs against every name it is dialed at, and the key. One finding.
Finding CheckDeployedCert(const DeployedCert& cert, const CaSet& cas,
                          TimePoint now,
                          std::chrono::milliseconds renew_before);

// The host's clock against ours (offset = host - local at the midpoint of a
// round trip of `round_trip_seconds`, which bounds the error). Fails at >= 1 s
// like preflight.
Finding CheckClock(const std::string& host, double offset_seconds,
                   double round_trip_seconds);

// One host's clock as CheckClock takes it.
struct ClockReading {
  std::string host;
  double offset = 0;      // seconds, host - this machine
  double round_trip = 0;  // seconds; the offset is within ± half of it
};

// The hosts' clocks against each other: the two furthest apart (largest and
// smallest offset) and their gap, give or take half of each one's round trip.
// Fails when the gap is >= 1 s even at the near end of that range (etcd and
// TLS between hosts need < 1 s, and two hosts each within 1 s of this machine
// can still be 2 s apart); a warning when only the uncertainty reaches 1 s.
// Nothing to say (nullopt) with fewer than two readings.
std::optional<Finding> CheckClockSpread(
    const std::vector<ClockReading>& readings);

// A unit's state from `systemctl show` and the tail of its journal (shown
// when it is not active or has restarted).
Finding CheckUnit(const std::string& host, const std::string& unit,
                  const UnitState& state, const std::string& journal_tail);

// What a live link test saw, with the deployed facts of both sides, to say
// why it failed in words.
struct LinkFacts {
  const Link* link = nullptr;
  std::string server_host;      // the host actually reached
  std::string client_cert_pem;  // what the client presents
  std::string server_cert_pem;  // what the server presents (deployed)
  std::string server_ca_pem;    // the CA the server verifies clients with
  std::string client_ca_pem;    // the CA the client verifies the server with
};

// The cause of a failed live test: who rejects whom and why, e.g. "etcd
// controller-1 rejects apiserver-etcd-client from controller-0: signed by ca,
// etcd trusts etcd/ca", "client certificate expired 2026-11-21 (3 days ago);
// kube-apiserver controller-0 rejects it", "apiserver cert on controller-1
// lacks SAN 10.240.0.11, which hardway dials". Ends with what TLS said.
std::string ExplainLinkFailure(const LinkFacts& facts,
                               const std::string& tls_error, const CaSet& cas,
                               TimePoint now);

// The client credentials inside a kubeconfig (current context's user and
// cluster). Errors never quote the file.
struct KubeconfigCredentials {
  std::string server;
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};
Result<KubeconfigCredentials> ParseKubeconfigCredentials(
    const std::string& yaml, const std::string& where);

}  // namespace hardway
