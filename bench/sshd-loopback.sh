#!/usr/bin/env bash
# Starts N OpenSSH sshd processes on 127.0.0.1 for benchmarks, or stops them.
#   bench/sshd-loopback.sh start N DIR   -> DIR/id_ed25519 (client key), DIR/known_hosts,
#                                           DIR/hosts ("127.0.0.1:PORT" lines), DIR/pids,
#                                           DIR/home-PORT (each sshd's working folder)
#   bench/sshd-loopback.sh stop DIR
# Needs root (sshd runs as root with a private config; nothing system-wide is changed except
# creating /run/sshd, sshd's privilege separation folder).
set -euo pipefail

cmd="${1:?start|stop}"
if [ "$cmd" = stop ]; then
  dir="${2:?DIR}"
  if [ -f "$dir/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$dir/pids"
    rm -f "$dir/pids"
  fi
  exit 0
fi

n="${2:?N}"
dir="${3:?DIR}"
mkdir -p "$dir" /run/sshd
[ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C hardway-bench -f "$dir/id_ed25519"
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
: >"$dir/known_hosts"
: >"$dir/hosts"

free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-60000 -n 1)
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

for i in $(seq 1 "$n"); do
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    d="$dir/sshd-$i"
    mkdir -p "$d" "$dir/home-$port"
    [ -f "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C '' -f "$d/host_key"
    # Each sshd's commands start in its own folder (BASH_ENV is read by root's bash for
    # `bash -c`), so relative scp destinations of different "hosts" do not collide.
    echo "cd $dir/home-$port" >"$d/env.sh"
    cat >"$d/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $d/host_key
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 200
MaxSessions 200
Subsystem sftp internal-sftp
LogLevel ERROR
SetEnv SHLVL=1 BASH_ENV=$d/env.sh
CFG
    /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>>"$d/log" &
    pid=$!
    ok=""
    for _ in $(seq 1 200); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=1; break; fi
      sleep 0.05
    done
    if [ -n "$ok" ]; then break; fi
    kill "$pid" 2>/dev/null || true
  done
  [ -n "$ok" ] || { echo "sshd $i did not start: $(cat "$d/log")" >&2; exit 1; }
  echo "$pid" >>"$dir/pids"
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >>"$dir/known_hosts"
  echo "127.0.0.1:$port" >>"$dir/hosts"
done
