#!/usr/bin/env bash
# Two hardway builds on the same testbed, interleaved (A B, B A, ...), so that the
# machine's noise falls on both alike: per round, reset, `up` from nothing, then two
# no-change re-runs (the second is counted). Prints the median of each build's totals and of
# each phase, and the ratio B / A. Needs root and a booted testbed (scripts/demo.sh).
#   bench/testbed-ab.sh OLD/hardway NEW/hardway [ROUNDS]     # default 4 rounds
# A build of an older commit for A:  git worktree add /tmp/old COMMIT &&
#   cmake -S /tmp/old -B /tmp/old-build && cmake --build /tmp/old-build --target hardway
# Each build runs with its own playbooks (its source tree's); both share the state dir.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
a="$1" b="$2" rounds="${3:-4}"
work="${HARDWAY_DEMO_DIR:-/var/tmp/hardway-demo}"
inventory="$work/inventory.yaml"
[ -f "$inventory" ] || { echo "run scripts/demo.sh first (it boots the testbed)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for round in $(seq "$rounds"); do
  order="A B"
  [ $((round % 2)) = 0 ] && order="B A"
  for which in $order; do
    hw="$a"
    [ "$which" = B ] && hw="$b"
    "$b" reset -i "$inventory" --yes >/dev/null
    "$hw" up -i "$inventory" --output json >"$out/$which-first-$round.json"
    "$hw" up -i "$inventory" --output json >/dev/null
    "$hw" up -i "$inventory" --output json >"$out/$which-rerun-$round.json"
  done
done

# "phase ms" lines of one run's JSON events, then "total ms" from its summary.
durations() {
  sed -n 's/.*"duration_ms":\([0-9]*\).*"event":"phase_done".*"phase":"\([^"]*\)".*/\2 \1/p' "$1"
  sed -n 's/.*"duration_ms":\([0-9]*\).*"event":"summary".*/total \1/p' "$1"
}
for kind in first rerun; do
  echo "== $kind (median of $rounds rounds, ms)"
  for which in A B; do
    for f in "$out/$which-$kind-"*.json; do durations "$f" | sed "s/^/$which /"; done
  done | awk '
    { v[$1 " " $2] = v[$1 " " $2] " " $3; if (!seen[$2]++) order[++n] = $2 }
    function median(s,   a, k, i, j, t) {
      k = split(s, a)
      for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j] < a[j - 1]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    END {
      printf "  %-30s %9s %9s %7s\n", "", "A", "B", "B/A"
      for (i = 1; i <= n; i++) {
        p = order[i]; ma = median(v["A " p]); mb = median(v["B " p])
        printf "  %-30s %9.0f %9.0f %7s\n", p, ma, mb, (ma > 0 ? sprintf("%.2f", mb / ma) : "-")
      }
    }'
done
