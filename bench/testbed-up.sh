#!/usr/bin/env bash
# Time from `hardway up` start to all gates green on the nspawn testbed (3 controllers +
# 2 workers), then the no-change re-run. Needs root and a built tree (scripts/demo.sh builds
# and boots everything; this script reuses its folders).
#   bench/testbed-up.sh            # uses build/ and /var/tmp/hardway-demo
# Prints both times from hardway's own JSON summary (duration_ms), and two peers measured in
# the same run: the re-run without the survey, and `hardway exec -- true` on every host.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${HARDWAY_BUILD_DIR:-$here/build}"
work="${HARDWAY_DEMO_DIR:-/var/tmp/hardway-demo}"
inventory="$work/inventory.yaml"
hw="$build/hardway"
[ -f "$inventory" ] || { echo "run scripts/demo.sh first (it boots the testbed)" >&2; exit 1; }

summary() { grep '"event":"summary"' | tail -1; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

# The machine is shared: its load average says how much of the time was someone else's.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$hw" reset -i "$inventory" --yes >/dev/null
first=$("$hw" up -i "$inventory" --output json | summary)
again=$("$hw" up -i "$inventory" --output json | summary)
# The peer, in the same run: the same re-run asking phase by phase, as `up` does when the
# state dir does not say that the last whole `up` passed (no last-up.json: no survey).
rm -f "$(dirname "$inventory")"/state/*/last-up.json
per_phase=$("$hw" up -i "$inventory" --output json | summary)
# The floor, in the same run: connect to every host and run `true` (SSH handshake, sshd's
# session and PAM, one shell), which any re-run pays before it can learn anything.
floor_start=$(date +%s%N)
"$hw" exec -i "$inventory" -- true >/dev/null
floor_ms=$((($(date +%s%N) - floor_start) / 1000000))
printf 'up from nothing to all gates green: %s ms (%s bytes uploaded)\n' \
  "$(field duration_ms <<<"$first")" "$(field bytes_uploaded <<<"$first")"
printf 'no-change re-run:                    %s ms (%s bytes uploaded, %s units restarted)\n' \
  "$(field duration_ms <<<"$again")" "$(field bytes_uploaded <<<"$again")" \
  "$(field units_restarted <<<"$again")"
printf 'the same, phase by phase (peer):     %s ms (survey off)\n' \
  "$(field duration_ms <<<"$per_phase")"
printf 'connect to every host, run true:     %s ms (the floor of any re-run)\n' "$floor_ms"
again_ms=$(field duration_ms <<<"$again")
printf 're-run / phase by phase: %s   re-run / floor: %s   load average: %s before, %s after\n' \
  "$(awk -v a="$again_ms" -v b="$(field duration_ms <<<"$per_phase")" 'BEGIN { printf "%.2f", a / b }')" \
  "$(awk -v a="$again_ms" -v b="$floor_ms" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }')" \
  "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
