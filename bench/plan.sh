#!/usr/bin/env bash
# `hardway plan` for a generated 1,000-host inventory (3 controllers + 997 workers): the time to
# load the inventory, check the existing PKI (EnsurePki: 1,000 kubelet certificates and
# kubeconfigs, nothing reissued), load the playbook, render every template and hash every file
# for every host, and print the whole plan (about 36,000 steps).
# Target: under 1 s.
#
# The first `plan` after `certs` parses and verifies every leaf and records them in the state
# dir's .pki-verified.json (src/pki/verify_memo.h); the timed runs find them there, as every
# later `plan` or `up` does. One more run without that memo shows the full check's cost.
#
#   bench/plan.sh [path/to/hardway]            (default: build/hardway)
#   HOSTS=1000 RUNS=5 bench/plan.sh build/hardway
#   ARTIFACTS=DIR bench/plan.sh                (a real artifacts folder, e.g. from
#                                               scripts/artifacts.sh; default: generated
#                                               1 MiB stand-in files, ARTIFACT_KIB to change)
#
# The PKI is issued once before timing (that is `hardway certs`, benchmarked by bench/pki.sh).
# Prints every run and the fastest and median; exits 1 when the median misses the target.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
hardway=${1:-$here/build/hardway}
[[ -x $hardway ]] || { echo "no hardway binary at $hardway (build it, or pass its path)" >&2; exit 2; }
hosts=${HOSTS:-1000}
runs=${RUNS:-5}
target=${TARGET_SECONDS:-1.0}
(( hosts >= 4 )) || { echo "HOSTS must be at least 4" >&2; exit 2; }
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/hardway-bench-plan.XXXXXX")
trap 'rm -rf "$work"' EXIT

workers=$((hosts - 3))
inventory=$work/inventory.yaml
{
  echo "cluster:"
  echo "  name: bench"
  echo "  pod_cidr: 10.64.0.0/10          # room for a /24 per worker"
  echo "  service_cidr: 10.32.0.0/24"
  echo "artifacts: {dir: ${ARTIFACTS:-./artifacts}}"
  echo "hosts:"
  for i in 0 1 2; do
    echo "  - {name: controller-$i, address: 10.240.0.1$i, roles: [etcd, controlplane]}"
  done
  for ((i = 0; i < workers; i++)); do
    echo "  - {name: node-$i, address: 10.241.$((i / 250)).$((1 + i % 250)), roles: [worker]}"
  done
} >"$inventory"

if [[ -z ${ARTIFACTS:-} ]]; then
  kib=${ARTIFACT_KIB:-1024}
  mkdir -p "$work/artifacts/cni"
  for f in etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy \
           containerd containerd-shim-runc-v2 runc cni/bridge cni/host-local cni/loopback; do
    head -c $((kib * 1024)) /dev/urandom >"$work/artifacts/$f"
  done
fi

now() { date +%s.%N; }
calc() { awk "BEGIN { print ($1) }"; }

t0=$(now)
"$hardway" certs -i "$inventory" >/dev/null
t1=$(now)
printf 'setup: %d hosts (3 controllers, %d workers); PKI issued in %.2f s (not timed below)\n' \
  "$hosts" "$workers" "$(calc "$t1 - $t0")"

"$hardway" plan -i "$inventory" >"$work/plan.txt"
steps=$(head -n1 "$work/plan.txt" | sed -n 's/.* \([0-9]*\) steps$/\1/p')
printf 'plan: %s steps, %s lines, %s bytes of output\n' "$steps" "$(wc -l <"$work/plan.txt")" \
  "$(wc -c <"$work/plan.txt")"

times=()
for ((r = 1; r <= runs; r++)); do
  t0=$(now)
  "$hardway" plan -i "$inventory" >/dev/null
  t1=$(now)
  t=$(calc "$t1 - $t0")
  times+=("$t")
  printf 'run %d: %.3f s\n' "$r" "$t"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
fastest=$(echo "$sorted" | head -n1)
median=$(echo "$sorted" | sed -n "$(((runs + 1) / 2))p")
json_t0=$(now)
"$hardway" plan -i "$inventory" --output json >/dev/null
json_t1=$(now)
memo=$work/state/bench/.pki-verified.json
[[ -f $memo ]] || { echo "no verification memo at $memo" >&2; exit 2; }
rm "$memo"
full_t0=$(now)
"$hardway" plan -i "$inventory" >/dev/null
full_t1=$(now)
printf 'hardway plan, %d hosts: fastest %.3f s, median %.3f s (target < %s s); --output json %.3f s;\n' \
  "$hosts" "$fastest" "$median" "$target" "$(calc "$json_t1 - $json_t0")"
printf '  without the verification memo (every leaf parsed and verified) %.3f s; load average %s\n' \
  "$(calc "$full_t1 - $full_t0")" "$(cut -d' ' -f1-3 /proc/loadavg)"
if (($(calc "$median >= $target"))); then
  echo "MISSED the target" >&2
  exit 1
fi
