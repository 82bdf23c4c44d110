#!/usr/bin/env bash
# PKI for 3 controllers + 50 workers: `hardway certs` against the hard way's method (a shell
# loop of `openssl genrsa|ecparam` + `openssl req` + `openssl x509 -req`, one certificate at a
# time) producing the same certificates: 3 CAs, the service-account key pair, 65 leaves with the
# same subjects, usages and SANs. Prints both times and the ratio, for ecdsa-p256 and rsa-4096.
#
#   bench/pki.sh [path/to/hardway]        (default: build/hardway)
#   ALGORITHMS="ecdsa-p256" RUNS=5 bench/pki.sh build/hardway
#   BENCH_DIR=/dev/shm bench/pki.sh       (where the state dirs go; default $TMPDIR or /tmp)
#
# Each configuration runs RUNS times (default 3 for ecdsa, 1 for rsa) and the fastest run of
# each side counts. hardway also writes the kubeconfigs and fsyncs every file; the loop does
# neither, so the comparison leans towards the loop.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
hardway=${1:-$here/build/hardway}
[[ -x $hardway ]] || { echo "no hardway binary at $hardway (build it, or pass its path)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 2; }
algorithms=${ALGORITHMS:-"ecdsa-p256 rsa-4096"}
workers=${WORKERS:-50}
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/hardway-bench-pki.XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }

write_inventory() {  # $1 algorithm, $2 file
  {
    echo "cluster: {name: bench}"
    echo "pki: {key_algorithm: $1}"
    echo "hosts:"
    for i in 0 1 2; do
      echo "  - {name: controller-$i, address: 10.240.0.1$i, roles: [etcd, controlplane]}"
    done
    for ((i = 0; i < workers; i++)); do
      echo "  - {name: node-$i, address: 10.240.$((1 + i / 200)).$((10 + i % 200)), roles: [worker]}"
    done
  } >"$2"
}

# --- the hard way's method ---------------------------------------------------------------
genkey() {  # $1 algorithm, $2 out
  case $1 in
    ecdsa-p256) openssl ecparam -name prime256v1 -genkey -noout -out "$2" 2>/dev/null ;;
    ecdsa-p384) openssl ecparam -name secp384r1 -genkey -noout -out "$2" 2>/dev/null ;;
    rsa-*) openssl genrsa -out "$2" "${1#rsa-}" 2>/dev/null ;;
  esac
}

ca() {  # $1 algorithm, $2 name, $3 CN
  genkey "$1" "$2.key"
  printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$2.cnf"
  openssl req -x509 -new -sha256 -key "$2.key" -days 3650 -subj "/CN=$3" \
    -config "$2.cnf" -extensions v3 -out "$2.crt"
}

leaf() {  # $1 algorithm, $2 name, $3 CA, $4 subject, $5 EKU, $6 SANs (may be empty)
  genkey "$1" "$2.key"
  openssl req -new -sha256 -key "$2.key" -subj "$4" -out "$2.csr"
  {
    printf '[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature%s\n' \
      "$([[ $1 == rsa-* ]] && echo ,keyEncipherment)"
    printf 'extendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$5"
    [[ -n $6 ]] && printf 'subjectAltName=%s\n' "$6"
  } >"$2.ext"
  openssl x509 -req -sha256 -in "$2.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
    -days 365 -extfile "$2.ext" -extensions v3 -out "$2.crt" 2>/dev/null
}

hard_way() {  # $1 algorithm, $2 dir
  local a=$1 i addr
  mkdir -p "$2/etcd" && cd "$2"
  ca "$a" ca kubernetes-ca
  ca "$a" front-proxy-ca front-proxy-ca
  ca "$a" etcd/ca etcd-ca
  genkey "$a" sa.key && openssl pkey -in sa.key -pubout -out sa.pub
  leaf "$a" admin ca "/O=system:masters/CN=admin" clientAuth ""
  for ((i = 0; i < workers; i++)); do
    addr=10.240.$((1 + i / 200)).$((10 + i % 200))
    leaf "$a" "kubelet-node-$i" ca "/O=system:nodes/CN=system:node:node-$i" \
      serverAuth,clientAuth "DNS:node-$i,IP:$addr"
  done
  leaf "$a" kube-proxy ca "/O=system:node-proxier/CN=system:kube-proxy" clientAuth ""
  leaf "$a" kube-controller-manager ca "/CN=system:kube-controller-manager" clientAuth ""
  leaf "$a" kube-scheduler ca "/CN=system:kube-scheduler" clientAuth ""
  leaf "$a" apiserver ca "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:10.32.0.1,DNS:controller-0,IP:10.240.0.10,DNS:controller-1,IP:10.240.0.11,DNS:controller-2,IP:10.240.0.12,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  leaf "$a" apiserver-kubelet-client ca "/CN=kube-apiserver-kubelet-client" clientAuth ""
  leaf "$a" front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth ""
  for i in 0 1 2; do
    leaf "$a" "etcd/server-controller-$i" etcd/ca "/CN=controller-$i" serverAuth,clientAuth \
      "DNS:controller-$i,IP:10.240.0.1$i,IP:127.0.0.1,DNS:localhost"
    leaf "$a" "etcd/peer-controller-$i" etcd/ca "/CN=controller-$i" serverAuth,clientAuth \
      "DNS:controller-$i,IP:10.240.0.1$i"
  done
  leaf "$a" apiserver-etcd-client etcd/ca "/CN=kube-apiserver-etcd-client" clientAuth ""
  leaf "$a" etcd/healthcheck-client etcd/ca "/CN=hardway-etcd-healthcheck" clientAuth ""
  head -c 32 /dev/urandom | base64 >encryption-key
}

count_certs() { find "$1" -name '*.crt' | wc -l; }

printf '%-11s %4s %12s %12s %8s\n' algorithm certs "hard way" hardway ratio
for algorithm in $algorithms; do
  runs=${RUNS:-$([[ $algorithm == rsa-* ]] && echo 1 || echo 3)}
  inventory=$work/inventory-$algorithm.yaml
  write_inventory "$algorithm" "$inventory"
  best_loop= best_hw=
  for ((run = 0; run < runs; run++)); do
    dir=$work/loop-$algorithm-$run
    t0=$(now); (hard_way "$algorithm" "$dir"); t1=$(now)
    loop_certs=$(count_certs "$dir")
    state=$work/state-$algorithm-$run
    t2=$(now); "$hardway" certs -i "$inventory" --state "$state" >/dev/null; t3=$(now)
    hw_certs=$(count_certs "$state/pki")
    if [[ $loop_certs != "$hw_certs" ]]; then
      echo "certificate counts differ: loop $loop_certs, hardway $hw_certs" >&2
      exit 1
    fi
    best_loop=$(awk -v a="$t1" -v b="$t0" -v best="$best_loop" \
      'BEGIN { d = a - b; if (best == "" || d < best) best = d; printf "%.3f", best }')
    best_hw=$(awk -v a="$t3" -v b="$t2" -v best="$best_hw" \
      'BEGIN { d = a - b; if (best == "" || d < best) best = d; printf "%.3f", best }')
    rm -rf "$dir" "$state"
  done
  ratio=$(awk -v l="$best_loop" -v h="$best_hw" 'BEGIN { printf "%.1fx", l / h }')
  printf '%-11s %4s %11ss %11ss %8s\n' "$algorithm" "$hw_certs" "$best_loop" "$best_hw" "$ratio"
done
