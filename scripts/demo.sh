#!/usr/bin/env bash
# The main job, on a fresh machine of this kind (Debian 12, root): install the dependencies
# from Debian's packages, build hardway, boot the throwaway testbed (3 controllers + 2 workers,
# systemd-nspawn machines on a private bridge), run `hardway up` against it, and show how to
# use the cluster. Tear down with: tests/testbed/testbed down
#
# The Kubernetes server binaries cannot be downloaded here, so the testbed's artifacts folder
# gets the test-only stand-ins (tests/standins/) under their names; etcd, containerd, runc and
# the CNI plugins are Debian's real ones. On real VMs the same playbooks use the real binaries.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${HARDWAY_BUILD_DIR:-$here/build}"
work="${HARDWAY_DEMO_DIR:-/var/tmp/hardway-demo}"
artifacts="$work/artifacts"

"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target hardway standin

mkdir -p "$artifacts"
"$here/scripts/artifacts.sh" "$artifacts" >/dev/null
cp -f "$build"/tests/standins/bin/* "$artifacts/"
# The manifest `hardway up` checks every artifact against before uploading anything.
(cd "$artifacts" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum >SHA256SUMS)

"$here/tests/testbed/testbed" up 5 --controllers 3 --artifacts "$artifacts"
inventory="$work/inventory.yaml"
cp "$("$here/tests/testbed/testbed" inventory)" "$inventory"

hw="$build/hardway"
"$hw" validate -i "$inventory"
"$hw" up -i "$inventory"
"$hw" check -i "$inventory"

state="$work/state/testbed"
cat <<MSG

The cluster is up. Use it with the admin kubeconfig:
  kubectl --kubeconfig $state/kubeconfigs/admin.kubeconfig get --raw /readyz
  $hw kubeconfig -i $inventory > admin.kubeconfig
Look around:   $hw exec -i $inventory -- systemctl is-active etcd kube-apiserver kubelet
Tear it down:  $here/tests/testbed/testbed down
MSG
