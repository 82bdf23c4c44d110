#!/usr/bin/env bash
# Installs hardway's build and test dependencies from Debian's packages.
# Safe to re-run: apt-get skips what is installed; the index is refreshed at most hourly.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config clang-format
  libssh2-1-dev libssl-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libkainjow-mustache-dev nlohmann-json3-dev
  libcurl4-openssl-dev libarchive-dev
  # fetch tests: a local HTTP mirror
  python3
  # ssh tier: a real sshd and client, peers for the benchmarks
  openssh-server openssh-client pssh sudo
  # benchmarks and testbed
  openssl debootstrap systemd-container iproute2 graphviz
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
stamp=/var/lib/apt/periodic/hardway-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60 2>/dev/null)" ]; then
  $SUDO apt-get update -q
  $SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
