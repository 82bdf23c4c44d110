#!/usr/bin/env bash
# Proves the testbed itself (CTest label e2e): two machines boot, answer SSH exactly the way
# hardway will reach them (the generated inventory's key and known_hosts, strict host key
# checking), run systemd, reach each other over the bridge and nothing beyond it; a second
# `up` replaces a running testbed; `down` leaves no bridge, mount, cgroup or nspawn process.
# It uses its own state folder, bridge, subnet and machine names, so a testbed someone left
# up (or an e2e fixture) is not disturbed. Exit 77 (skipped) when not root.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
testbed="$here/testbed"
if [ "$(id -u)" -ne 0 ]; then
  echo "testbed_test: skipped: needs root (mounts, bridge, containers)"
  exit 77
fi

export HARDWAY_TESTBED_DIR="${HARDWAY_TESTBED_SELFTEST_DIR:-/var/tmp/hardway-testbed-selftest}"
export HARDWAY_TESTBED_BRIDGE=hwbr-selftest
export HARDWAY_TESTBED_NET=10.213.250
export HARDWAY_TESTBED_PREFIX=selftest-
state="$HARDWAY_TESTBED_DIR"
inventory="$state/testbed-inventory.yaml"

fail() { echo "testbed_test: FAIL: $*" >&2; exit 1; }
step() { echo "--- [$SECONDS s] $*"; }

cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    "$testbed" status || true
    for log in "$state"/machines/*/console.log; do
      [ -f "$log" ] && { echo "== $log"; tail -n 15 "$log"; }
    done
  fi
  "$testbed" down || true
  exit "$rc"
}
trap cleanup EXIT

# Reads one "key: value" line of the generated inventory (the top-level ssh section).
inventory_value() { awk -v k="$1:" '$1 == k { print $2; exit }' "$inventory"; }

check_machines() {
  local key known_hosts names=() addresses=() i
  [ -f "$inventory" ] || fail "no inventory at $inventory"
  grep -qx '  name: testbed' "$inventory" || fail "inventory lacks cluster name testbed"
  grep -qx '  host_key_policy: strict' "$inventory" || fail "inventory's host key policy is not strict"
  key=$(inventory_value identity_file)
  known_hosts=$(inventory_value known_hosts)
  [ -f "$key" ] && [ -f "$known_hosts" ] || fail "identity file or known_hosts missing: $key $known_hosts"
  [ "$(stat -c %a "$key")" = 600 ] || fail "$key is not 0600"
  mapfile -t names < <(awk '$1 == "-" && $2 == "name:" { print $3 }' "$inventory")
  mapfile -t addresses < <(awk '$1 == "address:" { print $2 }' "$inventory")
  [ "${#names[@]}" -eq 2 ] && [ "${#addresses[@]}" -eq 2 ] || fail "expected 2 hosts in $inventory"
  [ "${names[0]}" = selftest-controller-0 ] && [ "${names[1]}" = selftest-node-0 ] ||
    fail "unexpected host names: ${names[*]}"
  grep -A2 -- "- name: selftest-controller-0" "$inventory" | grep -q 'roles: \[etcd, controlplane\]' ||
    fail "controller roles wrong"
  grep -A2 -- "- name: selftest-node-0" "$inventory" | grep -q 'roles: \[worker\]' || fail "node roles wrong"
  [ "$(wc -l <"$known_hosts")" -eq 2 ] || fail "known_hosts should list 2 machines"
  [ "$(cut -d' ' -f3 "$known_hosts" | sort -u | wc -l)" -eq 2 ] || fail "machines share a host key"

  local ssh_opts=(-i "$key" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts"
    -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5)
  for i in 0 1; do
    local name="${names[$i]}" address="${addresses[$i]}" other="${addresses[$((1 - i))]}" out
    step "$name ($address): ssh, systemd, hostname, network"
    # One connection per machine: each check prints one line, compared as a whole.
    out=$(ssh "${ssh_opts[@]}" "root@$address" "
      echo state=\$(systemctl is-system-running)
      echo hostname=\$(hostname)
      ping -c1 -W2 $other >/dev/null && echo ping=ok || echo ping=failed
      timeout 3 bash -c '</dev/tcp/$other/22' && echo tcp22=ok || echo tcp22=failed
      echo default-route=\$(ip -4 route show default | wc -l)
      echo host-keys=\$(ls /etc/ssh/ssh_host_*_key | xargs)" </dev/null) || fail "$name: ssh failed: $out"
    want="state=running
hostname=$name
ping=ok
tcp22=ok
default-route=0
host-keys=/etc/ssh/ssh_host_ed25519_key"
    [ "$out" = "$want" ] || fail "$name: got
$out
want
$want"
  done
  step "strict host key checking: an unknown host key is refused"
  if ssh -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5 \
    "root@${addresses[0]}" true </dev/null 2>/dev/null; then
    fail "ssh accepted ${addresses[0]} without its key in known_hosts"
  fi
  step "a password login is refused"
  if ssh -o PreferredAuthentications=password -o PubkeyAuthentication=no -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" -o ConnectTimeout=5 \
    "root@${addresses[0]}" true </dev/null 2>/dev/null; then
    fail "password authentication is possible"
  fi
}

# Nothing of a testbed remains: no bridge, no overlay mount, no nspawn of ours, no cgroup.
check_gone() {
  local pid
  ip link show "$HARDWAY_TESTBED_BRIDGE" >/dev/null 2>&1 && fail "bridge $HARDWAY_TESTBED_BRIDGE still exists"
  ! grep -q " $state/" /proc/self/mounts || fail "mounts left under $state: $(grep " $state/" /proc/self/mounts)"
  for pid in "$@"; do
    [ ! -d "/proc/$pid" ] || fail "systemd-nspawn pid $pid still running"
  done
  local left
  left=$(grep -ls -- "$state/machines/" /proc/[0-9]*/cmdline || true)
  [ -z "$left" ] || fail "processes of this testbed still running: $left"
  ! ls -d /sys/fs/cgroup/*/hardway-testbed/"$HARDWAY_TESTBED_BRIDGE"-* 2>/dev/null ||
    fail "cgroups left behind"
  [ ! -e "$state/machines" ] && [ ! -e "$inventory" ] || fail "machine state or inventory left in $state"
}

nspawn_pids() { cat "$state"/machines/*/pid; }

step "testbed down (clean slate)"
"$testbed" down
# Each machine's way to systemd-nspawn's exec slowed down by 1 s, as on a busy host: up must
# wait for it, not take the process still on its way for a machine that exited.
step "testbed up 2 --controllers 1 (each machine 1 s slow to start)"
start=$SECONDS
HARDWAY_TESTBED_BOOT_DELAY=1 "$testbed" up 2 --controllers 1
echo "booted in $((SECONDS - start)) s"
check_machines
"$testbed" status | grep -c ' yes$' | grep -qx 2 || fail "status does not show 2 reachable machines"
first_pids=$(nspawn_pids)

# The next up must replace both a running machine and one whose nspawn was killed behind the
# testbed's back (its container lives on in its cgroup, holding address and layer).
step "testbed up again, over one running machine and one whose nspawn was SIGKILLed"
kill -KILL "$(cat "$state/machines/selftest-node-0/pid")"
sleep 0.5
"$testbed" up 2 --controllers 1
check_machines
# shellcheck disable=SC2086
for pid in $first_pids; do [ ! -d "/proc/$pid" ] || fail "old machine (pid $pid) still running"; done
last_pids=$(nspawn_pids)

step "testbed down"
"$testbed" down
# shellcheck disable=SC2086
check_gone $last_pids
"$testbed" down  # idempotent
echo "testbed_test: PASS"
