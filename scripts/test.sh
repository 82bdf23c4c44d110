#!/usr/bin/env bash
# Sets up this machine (Debian packages only), builds hardway with warnings as errors, and runs
# every test tier through CTest: unit, ssh (a real sshd on loopback) and e2e (the nspawn testbed).
# Extra arguments go to ctest, e.g. `scripts/test.sh -L unit`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${HARDWAY_BUILD_DIR:-$here/build}"

"$here/scripts/install-deps.sh"
# Debian's etcd, containerd, runc and CNI plugins (apt-get download, cached): the e2e tier
# installs them, and the stand-ins' tests run against the real etcd instead of skipping.
"$here/scripts/artifacts.sh" "${HARDWAY_CACHE:-/var/cache/hardway}/artifacts" >/dev/null
cmake -S "$here" -B "$build" -DHARDWAY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
