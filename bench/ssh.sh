#!/usr/bin/env bash
# SSH benchmarks: hardway's transport against OpenSSH and pssh, all on loopback sshd.
#   bench/ssh.sh            (needs root, a build in $HARDWAY_BUILD_DIR or ./build with the
#                            ssh_bench target, and the Debian packages openssh-server, pssh)
# Prints each figure and the ratio peer/hardway (> 1: hardway is faster / sends less).
# ONLY=connect|exec|upload|listing runs one section; HOSTS, COMMANDS, UPLOAD_MB, UPLOAD_HOSTS,
# LISTING_HOSTS resize.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${HARDWAY_BUILD_DIR:-$here/build}"
bench="$build/bench/ssh_bench"
[ -x "$bench" ] || { echo "build the ssh_bench target first (cmake --build $build --target ssh_bench)" >&2; exit 1; }
hosts_n="${HOSTS:-16}"
commands_n="${COMMANDS:-20}"
upload_mb="${UPLOAD_MB:-400}"
upload_hosts="${UPLOAD_HOSTS:-4}"
listing_hosts="${LISTING_HOSTS:-5}"

work="$(mktemp -d /tmp/hardway-bench-ssh.XXXXXX)"
cleanup() { "$here/bench/sshd-loopback.sh" stop "$work"; rm -rf "$work"; }
trap cleanup EXIT
"$here/bench/sshd-loopback.sh" start "$hosts_n" "$work"
key="$work/id_ed25519"
kh="$work/known_hosts"
head -n "$upload_hosts" "$work/hosts" >"$work/hosts-upload"
ssh_opts=(-o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$kh"
          -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -i "$key")

only="${ONLY:-}"
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
secs_of() { sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$1"; }
bytes_of() { sed -n 's/.*bytes_sent=\([0-9]*\).*/\1/p' <<<"$1"; }

if want connect; then
echo "== connect + auth + one command, per host ($hosts_n hosts, one after another)"
t0=$(now)
while IFS=: read -r addr port; do
  ssh -n "${ssh_opts[@]}" -p "$port" "root@$addr" true
done <"$work/hosts"
ssh_per=$(awk -v a="$t0" -v b="$(now)" -v n="$hosts_n" 'BEGIN { printf "%.1f", (b - a) * 1000 / n }')
out=$("$bench" "$work/hosts" "$key" "$kh" connect)
hw_per=$(awk -v s="$(secs_of "$out")" -v n="$hosts_n" 'BEGIN { printf "%.1f", s * 1000 / n }')
echo "   ssh: ${ssh_per} ms/host   hardway: ${hw_per} ms/host   ratio: $(ratio "$ssh_per" "$hw_per")x"

fi

if want exec; then
echo "== $hosts_n hosts x $commands_n small commands (true), including connection setup"
cm=(-O ControlMaster=auto -O "ControlPath=$work/cm-%h-%p" -O ControlPersist=60)
t0=$(now)
for _ in $(seq 1 "$commands_n"); do
  parallel-ssh -h "$work/hosts" -l root -p "$hosts_n" -t 0 "${cm[@]}" \
    -x "${ssh_opts[*]}" true >/dev/null
done
pssh_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
out=$("$bench" "$work/hosts" "$key" "$kh" exec "$commands_n")
hw_s=$(secs_of "$out")
echo "   parallel-ssh (ControlMaster): ${pssh_s} s   hardway: ${hw_s} s   ratio: $(ratio "$pssh_s" "$hw_s")x"
while IFS=: read -r addr port; do
  ssh -n -O exit -o "ControlPath=$work/cm-$addr-$port" "root@$addr" 2>/dev/null || true
done <"$work/hosts"

fi

if want upload; then
echo "== ${upload_mb} MB to $upload_hosts hosts"
head -c "$((upload_mb << 20))" /dev/urandom >"$work/big.bin"
t0=$(now)
parallel-scp -h "$work/hosts-upload" -l root -p "$upload_hosts" -t 0 -x "${ssh_opts[*]}" \
  "$work/big.bin" pscp-big.bin >/dev/null
pscp_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
out=$("$bench" "$work/hosts-upload" "$key" "$kh" upload "$work/big.bin" "$work/home-%p/hw-big.bin")
hw_s=$(secs_of "$out")
echo "   parallel-scp: ${pscp_s} s   hardway: ${hw_s} s (incl. the remote sha256 check)   ratio: $(ratio "$pscp_s" "$hw_s")x"
for d in "$work"/home-*; do
  if [ -f "$d/hw-big.bin" ]; then cmp -s "$work/big.bin" "$d/hw-big.bin" || { echo "hardway upload differs in $d" >&2; exit 1; }; fi
done

echo "== re-upload of the unchanged file to $upload_hosts hosts: bytes sent"
out=$("$bench" "$work/hosts-upload" "$key" "$kh" upload "$work/big.bin" "$work/home-%p/hw-big.bin")
pscp_bytes=$((upload_hosts * (upload_mb << 20)))  # scp always sends the whole file
echo "   parallel-scp: ${pscp_bytes} bytes   hardway: $(bytes_of "$out") bytes in $(secs_of "$out") s"
fi

if want listing; then
echo "== re-run listing: sha256 of 6 files (64 MB, binaries' sizes) on $listing_hosts hosts at once"
head -n "$listing_hosts" "$work/hosts" >"$work/hosts-listing"
mkdir -p "$work/bin"
files=()
for mb in 24 16 12 6 4 2; do
  head -c "$((mb << 20))" /dev/urandom >"$work/bin/f$mb"
  files+=("$work/bin/f$mb")
done
sleep 0.2  # older than the memo's racy margin (100 ms), as a re-run's files are
out=$("$bench" "$work/hosts-listing" "$key" "$kh" listing - 5 "${files[@]}")
plain_s=$(secs_of "$out")
out=$("$bench" "$work/hosts-listing" "$key" "$kh" listing "$work/state" 5 "${files[@]}")
memo_s=$(secs_of "$out")
echo "   hashing every file: ${plain_s} s   stat-keyed memo: ${memo_s} s   ratio: $(ratio "$plain_s" "$memo_s")x"
fi
