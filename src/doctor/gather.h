// Doctor's gathering side: what to look at on each host (from the plan and the
// trust links) and one pass over the host's transport that collects it. A
// handful of read-only remote calls per host: the clock, Sha256Of of every
// planned file, one stat for their modes and owners, the credentials whose
// bytes differ from the state dir, and the units' state (with the journal of
// those that are down or have restarted).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "doctor/checks.h"
#include "plan/plan.h"
#include "remote/transport.h"
#include "run/gates.h"
#include "trust/links.h"

namespace hardway {

struct HostWork {
  std::string host;
  // Every planned upload and render of the host by destination.
  std::map<std::string, const Step*> files;
  // systemd units the plan starts on the host, in plan order.
  std::vector<std::string> units;
  // Destinations whose bytes doctor needs (certificates, keys, CA files and
  // kubeconfigs the trust links name on this host, and every certificate of
  // `certs` with its key).
  std::set<std::string> wanted;
  // Every certificate of the state dir the plan puts on the host, CAs
  // included, in destination order: the cert checks cover the ones no link
  // presents (the CAs, front-proxy-client) from these.
  struct PlannedCert {
    std::string stem;  // in the table: "ca", "etcd/ca", "front-proxy-client"
    std::string dest;  // "/etc/kubernetes/pki/front-proxy-client.crt"
    std::string key_dest;  // its key on the host; "" when that stays home
  };
  std::vector<PlannedCert> certs;
};

// One HostWork per host of the plan, in inventory order. `links` names the
// credentials; every path a link names on a host is a planned file there.
std::vector<HostWork> PlanHostWork(const Plan& plan,
                                   const std::vector<Link>& links,
                                   const std::vector<std::string>& hosts,
                                   const std::vector<std::string>& controllers);

struct HostFacts {
  std::string host;
  // The host's clock minus ours at the midpoint of the round trip (seconds).
  std::optional<double> clock_offset;
  double clock_round_trip = 0;  // seconds; bounds the offset's error
  std::string clock_error;
  bool files_listed = false;
  std::string files_error;
  std::map<std::string, RemoteFile> files;  // present destinations
  // Bytes of the wanted destinations: the state dir's file when the host's
  // sha256 matches it (nothing read remotely), else read from the host.
  std::map<std::string, std::string> contents;
  std::map<std::string, std::string> content_errors;
  std::vector<std::pair<std::string, UnitState>> units;
  std::string units_error;
  std::map<std::string, std::string> journals;  // units down or restarted
};

// The exact commands (also used by the tests). ReadOnlyTransport lets through
// these shapes and nothing else, built from the same pieces.
std::string StatCommand(const std::vector<std::string>& paths);
std::string UnitsCommand(const std::vector<std::string>& units);
std::string JournalCommand(const std::string& unit);
inline constexpr const char* kClockCommand = "date +%s.%N";
inline constexpr const char* kStatFormat = "%a %U:%G %n";
inline constexpr const char* kUnitProperties =
    "LoadState,ActiveState,SubState,NRestarts";
inline constexpr int kJournalLines = 5;

HostFacts GatherHost(Transport& transport, const HostWork& work);

}  // namespace hardway
