#!/usr/bin/env bash
# Fills an artifacts folder with the real binaries hardway installs, taken from Debian's
# packages (apt-get download + dpkg -x; nothing is installed on this machine):
#   DIR/etcd DIR/etcdctl                       etcd-server, etcd-client
#   DIR/containerd DIR/containerd-shim-runc-v2 DIR/ctr   containerd
#   DIR/runc                                   runc
#   DIR/cni/<plugin>                           containernetworking-plugins
# The .debs are cached in ${HARDWAY_CACHE:-/var/cache/hardway}/debs. Files already identical are
# left alone (same mtime); other files in DIR (e.g. the kube-* binaries) are never touched.
# Usage: scripts/artifacts.sh DIR
set -euo pipefail

die() { printf 'artifacts: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: scripts/artifacts.sh DIR"
dir="$1"
cache="${HARDWAY_CACHE:-/var/cache/hardway}/debs"
mkdir -p "$dir/cni" "$cache"

# package -> "path-in-package:name-in-DIR" (a trailing / copies every file of that folder into
# the named subfolder).
declare -A layout=(
  [etcd-server]="usr/bin/etcd:etcd"
  [etcd-client]="usr/bin/etcdctl:etcdctl"
  [containerd]="usr/bin/containerd:containerd usr/bin/containerd-shim-runc-v2:containerd-shim-runc-v2 usr/bin/ctr:ctr"
  [runc]="usr/sbin/runc:runc"
  [containernetworking-plugins]="usr/lib/cni/:cni"
)
packages=(etcd-server etcd-client containerd runc containernetworking-plugins)

# The version apt would install of each package. apt-cache can take seconds on a busy machine,
# so its answer is kept in the cache together with a fingerprint of apt's package lists, and
# asked again only when those lists change (apt-get update).
declare -A version=()
lists_fingerprint() {
  { echo "${packages[*]}"; find /var/lib/apt/lists -maxdepth 1 -type f -printf '%f %s %T@\n' | sort; } |
    sha256sum | cut -d' ' -f1
}
read_candidates() {
  local p v fp memo="$cache/candidates"
  version=()
  fp=$(lists_fingerprint)
  if [ -f "$memo" ] && [ "$(head -n1 "$memo")" = "$fp" ]; then
    while read -r p v; do version[$p]="$v"; done < <(tail -n +2 "$memo")
    return 0
  fi
  while read -r p v; do
    [ "$v" = "(none)" ] || version[$p]="$v"
  done < <(apt-cache policy "${packages[@]}" 2>/dev/null |
    awk '/^[^ ]/ { sub(":$", "", $1); p = $1 } /Candidate:/ { print p, $2 }')
  if [ "${#version[@]}" -eq "${#packages[@]}" ]; then
    { echo "$fp"; for p in "${packages[@]}"; do echo "$p ${version[$p]}"; done; } >"$memo.tmp.$$"
    mv -f "$memo.tmp.$$" "$memo"
  fi
}
read_candidates
# apt's index may be missing on a fresh machine; refresh it once if a package is unknown.
if [ "${#version[@]}" -ne "${#packages[@]}" ]; then
  if [ "$(id -u)" -ne 0 ]; then die "apt does not know all of ${packages[*]}; run apt-get update"; fi
  apt-get update -q >&2
  read_candidates
fi

exec 9>"$cache/.lock"
flock 9

# Copies src to dst only when the content differs, through a temporary file renamed into place.
put() {
  local src="$1" dst="$2"
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then return 0; fi
  install -m 0755 "$src" "$dst.tmp.$$"
  mv -f "$dst.tmp.$$" "$dst"
  echo "artifacts: $dst" >&2
}

arch=$(dpkg --print-architecture)
for p in "${packages[@]}"; do
  v="${version[$p]:-}"
  [ -n "$v" ] || die "no installable version of $p in apt's sources"

  # apt-get download escapes the epoch colon in file names.
  deb="$cache/${p}_${v//:/%3a}_${arch}.deb"
  [ -f "$deb" ] || deb=$(ls "$cache/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -n1) || true
  if [ -z "$deb" ] || [ ! -f "$deb" ]; then
    (cd "$cache" && apt-get download -q "$p=$v" >&2) || die "apt-get download $p=$v failed"
    deb=$(ls "$cache/${p}_${v//:/%3a}_"*.deb | head -n1)
  fi
  x="$cache/x/$(basename "$deb" .deb)"
  if [ ! -d "$x" ]; then
    rm -rf "$x.tmp"
    mkdir -p "$x.tmp"
    dpkg -x "$deb" "$x.tmp" || die "dpkg -x $deb failed (corrupt download? delete it and re-run)"
    mv "$x.tmp" "$x"
  fi
  for entry in ${layout[$p]}; do
    from="${entry%%:*}"
    to="${entry#*:}"
    if [[ "$from" == */ ]]; then
      found=0
      for f in "$x/$from"*; do
        [ -f "$f" ] || continue
        put "$f" "$dir/$to/$(basename "$f")"
        found=1
      done
      [ "$found" -eq 1 ] || die "$p $v has no files in /$from"
    else
      [ -f "$x/$from" ] || die "$p $v has no /$from"
      put "$x/$from" "$dir/$to"
    fi
  done
  printf '%s %s\n' "$p" "$v"
done
