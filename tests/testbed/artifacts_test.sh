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
"$dir/etcd" --version | grep -q '^etcd Version: 3\.' || fail "etcd --version: $("$dir/etcd" --version 2>&1)"
ETCDCTL_API=3 "$dir/etcdctl" version | grep -q '^etcdctl version: 3\.' || fail "etcdctl version"
"$dir/runc" --version | grep -q '^runc version' || fail "runc --version"
"$dir/containerd" --version | grep -q '^containerd ' || fail "containerd --version"

before=$(cd "$dir" && find . -type f -printf '%p %T@ %s\n' | sort)
"$here/scripts/artifacts.sh" "$dir" >/dev/null
after=$(cd "$dir" && find . -type f -printf '%p %T@ %s\n' | sort)
[ "$before" = "$after" ] || fail "a second run changed files:
$(diff <(echo "$before") <(echo "$after"))"

echo "replaced" >"$dir/runc"
"$here/scripts/artifacts.sh" "$dir" >/dev/null
"$dir/runc" --version | grep -q '^runc version' || fail "a damaged runc was not restored"

if "$here/scripts/artifacts.sh" 2>/dev/null; then fail "no argument was accepted"; fi
echo "artifacts_test: PASS"
