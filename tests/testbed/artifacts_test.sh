#!/usr/bin/env bash
# scripts/artifacts.sh lays out real binaries from Debian's packages, keeps files it does not
# own, and a second run changes nothing. Uses the shared .deb cache (a download on first run).
set -euo pipefail

here="$(cd "$(dirname "$0")/../.." && pwd)"
dir=$(mktemp -d /tmp/hardway-artifacts-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "artifacts_test: FAIL: $*" >&2; exit 1; }

echo "stand-in" >"$dir/kube-apiserver"
"$here/scripts/artifacts.sh" "$dir"

for f in etcd etcdctl containerd containerd-shim-runc-v2 runc ctr \
  cni/bridge cni/loopback cni/host-local cni/portmap; do
  [ -f "$dir/$f" ] && [ -x "$dir/$f" ] || fail "$f missing or not executable"
done
[ "$(cat "$dir/kube-apiserver")" = stand-in ] || fail "a file it does not own was changed"
# Output first, then grep: `prog | grep -q` under pipefail fails whenever grep has matched and
# exited before prog finished writing (prog then dies of SIGPIPE).
says() {  # says PATTERN CMD...: CMD's output has a line matching PATTERN
  local pattern=$1 out
  shift
  out=$("$@" 2>&1) || return 1
  grep -q -- "$pattern" <<<"$out"
}
says '^etcd Version: 3\.' "$dir/etcd" --version || fail "etcd --version: $("$dir/etcd" --version 2>&1)"
says '^etcdctl version: 3\.' env ETCDCTL_API=3 "$dir/etcdctl" version || fail "etcdctl version"
says '^runc version' "$dir/runc" --version || fail "runc --version"
says '^containerd ' "$dir/containerd" --version || fail "containerd --version"

before=$(cd "$dir" && find . -type f -printf '%p %T@ %s\n' | sort)
"$here/scripts/artifacts.sh" "$dir" >/dev/null
after=$(cd "$dir" && find . -type f -printf '%p %T@ %s\n' | sort)
[ "$before" = "$after" ] || fail "a second run changed files:
$(diff <(echo "$before") <(echo "$after"))"

echo "replaced" >"$dir/runc"
"$here/scripts/artifacts.sh" "$dir" >/dev/null
says '^runc version' "$dir/runc" --version || fail "a damaged runc was not restored"

if "$here/scripts/artifacts.sh" 2>/dev/null; then fail "no argument was accepted"; fi
echo "artifacts_test: PASS"
