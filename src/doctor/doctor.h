// `hardway doctor`: over SSH, for every host and every mutual-TLS link of the
// cluster, is everything as `up` left it, and does each link really work with
// the credentials deployed? Files (present, mode, owner, same bytes as the
// state dir), certificates (expiry, renew_before, chain against the CA their
// verifier trusts, SANs against every name they are dialed at, key), units
// (active, restarts, journal), clock skew, and each link tested live over a
// tunnel from the client's host. Read-only: every transport is wrapped in
// ReadOnlyTransport. Output and exit codes: docs/doctor.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "doctor/finding.h"
#include "inventory/cluster.h"
#include "pki/x509.h"
#include "plan/plan.h"
#include "run/runner.h"

namespace hardway {

struct DoctorOptions {
  std::filesystem::path state_dir;
  int parallel = 16;  // hosts examined at once
  // Only this host: its files, units, clock and certificates, and the links
  // tested from it (those it is the client of, and hardway's to it). Empty:
  // every host.
  std::string host;
  // Longest a live link test may take once its tunnel is open.
  std::chrono::milliseconds link_timeout{5000};
  TimePoint now = std::chrono::system_clock::now();  // expiry is judged then
};

// Every finding, unsorted: per host ssh, clock, files and units; then the
// certificates; then the links. `factory` connects a host; doctor wraps each
// transport in a ReadOnlyTransport itself.
std::vector<Finding> RunDoctor(const Cluster& cluster, const Plan& plan,
                               const DoctorOptions& options,
                               const TransportFactory& factory);

struct DoctorCommandOptions {
  std::filesystem::path state_dir;
  std::string output = "text";  // text | json
  int parallel = 16;
  std::string host;
};

// Builds the plan from the state dir as it is (doctor never writes it either),
// connects over SSH, prints the table or JSON, returns the exit code.
int DoctorCommand(const Cluster& cluster, const DoctorCommandOptions& options);

}  // namespace hardway
