#!/usr/bin/env bash
# The main job: set up this machine, build hardway, and show what `hardway up` does.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${HARDWAY_BUILD_DIR:-$here/build}"

"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target hardway
"$build/hardway" validate -i "$here/inventory/example.yaml"
"$build/hardway" plan -i "$here/inventory/example.yaml"
