// Health gates: named predicates retried (every <= 250 ms, with jitter) until a
// deadline. Each gate checks every host of its phase through that host's own
// SSH connection: systemd units active and not restarting, ports open, HTTPS
// with the right CA, name and client certificate (etcd /health and member list,
// apiserver /readyz, /healthz, RBAC objects, nodes Ready), pod routes, uploaded
// files, preflight facts. A failing verdict carries the unit's status and
// journal so the user sees why without logging in.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "inventory/cluster.h"
#include "remote/transport.h"
#include "run/outcome.h"

namespace hardway {

// The part of the Cluster the gates need; tests build it by hand.
struct GateHost {
  std::string name;
  std::string address;
  std::vector<Role> roles;
  std::optional<Cidr> pod_cidr;
  bool Has(Role role) const;
};

struct Topology {
  std::vector<GateHost> hosts;  // inventory order
  const GateHost* host(std::string_view name) const;
  std::vector<const GateHost*> with(Role role) const;
};

Topology TopologyOf(const Cluster& cluster);  // topology.cc

// The transport of a host, connected on first use and kept (the runner's pool).
class TransportSource {
 public:
  virtual ~TransportSource() = default;
  virtual Result<Transport*> Get(const std::string& host) = 0;
};

// Parsed `systemctl show -p ActiveState,SubState,NRestarts,LoadState U...`
// blocks.
struct UnitState {
  std::string active_state;
  std::string sub_state;
  std::string load_state;
  std::string unit_file_state;  // "enabled", "disabled", "static", ""
  int n_restarts = -1;
  // NeedDaemonReload=yes: the unit file on disk changed since systemd loaded
  // it.
  bool need_daemon_reload = false;
  // ActiveEnterTimestampMonotonic: when the unit last became active, in
  // microseconds of the host's CLOCK_MONOTONIC; 0 when not shown or never.
  int64_t active_enter_us = 0;
};

// `cat /proc/uptime; systemctl show ...` output: the host's monotonic clock in
// microseconds (0 when the first line is not an uptime) and the unit blocks.
struct UnitSnapshot {
  int64_t host_now_us = 0;
  std::vector<UnitState> units;
};

// A gate's own commands (GateCommands) as this run already asked them of a
// host, in one call between `asked_from` and `asked_to` (this machine's
// clock).
struct GateLook {
  std::map<std::string, ExecResult> results;  // command -> its answer
  std::chrono::system_clock::time_point asked_from, asked_to;
};

struct GateContext {
  const Topology* topology = nullptr;
  // The pki gate checks the state dir against the certificate table of this
  // cluster.
  const Cluster* cluster = nullptr;
  std::filesystem::path state_dir;
  TransportSource* transports = nullptr;
  const Plan* plan = nullptr;
  std::string expected_arch;  // preflight: `uname -m` of the artifacts; empty:
                              // not checked
  std::chrono::milliseconds poll{
      250};  // retry interval (jittered down to half)
  std::chrono::milliseconds settle{
      1000};  // a unit must stay up, restart count still, this long
  const std::atomic<bool>* interrupted = nullptr;
  std::string
      rbac_manifest;  // YAML of the objects the rbac gate expects (and applies)
  int parallel = 16;
  // files_present and prepared: hosts where this run, moments ago, found
  // everything the gate checks already in place (every file's sha256, mode and
  // owner; every step's check) and then changed nothing. The gate takes that
  // instead of asking the host again.
  std::set<std::string> verified_by_run;
  // Unit gates: per host, each unit's state (a UnitSnapshot of that one unit)
  // that this run read before the phase changed anything, on hosts where it
  // then changed nothing. A gate's first look at a host takes it instead of
  // asking again (later looks, and the health checks, still ask the host).
  std::map<std::string, std::map<std::string, UnitSnapshot>> unit_states_by_run;
  // Preflight and pod-routes gates: per host, the gate's own commands as this
  // run asked them before the phase (or, in the survey, the run) changed
  // anything, on hosts where nothing changed since. The gate's first check of
  // such a host takes them; a retry asks the host.
  std::map<std::string, GateLook> gate_looks_by_run;
  bool diagnostics =
      true;  // fetch systemctl status + journal for failing units
};

// The commands a phase's gate runs on each host that the runner can ask
// ahead, with what it asks before the phase (preflight's facts, pod-routes'
// `ip route`); empty for the other gates.
std::vector<std::string> GateCommands(const Phase& phase);

// Runs the phase's gate until it passes or `timeout` (default: the gate's own)
// runs out.
GateReport RunGate(
    const Phase& phase, const GateContext& ctx,
    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// `systemctl status UNIT --no-pager` and `journalctl -u UNIT -n 50 --no-pager`
// of a host.
std::string UnitDiagnostics(Transport& transport, const std::string& unit);

// Paths in the state dir the gates use.
struct TlsOptions;
TlsOptions EtcdClientTls(const std::filesystem::path& state_dir,
                         const std::string& address);
TlsOptions AdminTls(const std::filesystem::path& state_dir,
                    const std::string& address);

// Parses the blocks of `systemctl show -p ... U...` (see UnitState).
std::vector<UnitState> ParseSystemctlShow(const std::string& out);

// The `check:` commands of run steps, all in one remote call (each in its own
// subshell, stdout and stderr together): per step, the exit code and the last
// lines it printed.
struct StepCheckResult {
  int exit_code = 0;
  std::string said;
};
Result<std::vector<StepCheckResult>> RunStepChecks(
    Transport& t, const std::vector<const Step*>& steps);
// A check's exit code and what it said (stderr, else stdout), trimmed.
StepCheckResult CheckResultOf(const ExecResult& r);

// `cat /proc/uptime; systemctl show -p ... U.service...`: everything the
// systemd step and the unit gates read of a unit, in one command (parse with
// ParseUnitSnapshot).
std::string UnitStateCommand(const std::vector<std::string>& units);

UnitSnapshot ParseUnitSnapshot(const std::string& out);

// The owning process of each listening TCP port in `ss -Htlnp` output.
std::map<int, std::string> ParseListeningPorts(const std::string& ss_out);

}  // namespace hardway
