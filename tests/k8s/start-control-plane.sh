#!/usr/bin/env bash
# Start a local Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager +
# kube-scheduler) on 127.0.0.1 with all state under DIR. Idempotent: if the plane in DIR is
# already up and ready, it only prints the environment again.
#
# Usage: tests/k8s/start-control-plane.sh DIR
#
# Prints (stdout) shell lines to eval, and writes the same to DIR/env:
#   export KUBECONFIG=DIR/kubeconfig  PATH=<bin>:$PATH  RMQ_K8S_DIR=DIR
#   RMQ_K8S_APISERVER=https://127.0.0.1:<port>  RMQ_K8S_TOKEN=<admin bearer token>
#   RMQ_K8S_CA=DIR/pki/ca.crt  RMQ_K8S_BIN=<bin>
# Logs go to stderr and DIR/logs/*.log.
#
# Optional environment:
#   RMQ_K8S_BIN               use binaries from this dir instead of build-control-plane.sh
#   RMQ_K8S_APISERVER_PORT    apiserver secure port (default: a free ephemeral port)
#   RMQ_K8S_ETCD_PORT         etcd client port (default: a free ephemeral port)
#   RMQ_K8S_SERVICE_CIDR      --service-cluster-ip-range (default 10.96.0.0/16)
#   RMQ_K8S_SCHEDULER=0       do not start kube-scheduler (default 1 = start it)
#   RMQ_K8S_KCM_CONTROLLERS   --controllers for kube-controller-manager (default "*")
#   RMQ_K8S_START_TIMEOUT     seconds to wait for readiness (default 120)
#   RMQ_K8S_ETCD_FSYNC=1      keep etcd fsync (default: --unsafe-no-fsync, faster for tests)
#   RMQ_K8S_VERBOSITY         klog -v for the k8s components (default 1)
#   RMQ_K8S_ADVERTISE_ADDRESS the address nodes and pods reach the apiserver at (a real node:
#                             tests/k8s/start-node.sh); the apiserver then listens on every
#                             address of its network namespace and keeps the `kubernetes`
#                             Service's endpoint. Default: 127.0.0.1 only, no endpoint.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "start-control-plane: $*" >&2; }
die() { echo "start-control-plane: ERROR: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
mkdir -p "$1" || die "cannot create $1"
DIR="$(cd "$1" && pwd)"
PKI="$DIR/pki"; LOGS="$DIR/logs"; PIDS="$DIR/pids"
mkdir -p "$PKI" "$LOGS" "$PIDS"
TIMEOUT="${RMQ_K8S_START_TIMEOUT:-120}"
V="${RMQ_K8S_VERBOSITY:-1}"

# ---- tools -----------------------------------------------------------------------------------
need_cmd() { # need_cmd CMD DEBIAN_PACKAGE
  command -v "$1" >/dev/null && return 0
  command -v apt-get >/dev/null || die "'$1' is missing and apt-get is not available"
  log "installing $2 (for '$1') with apt-get"
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >&2 || die "apt-get install $2 failed"
  command -v "$1" >/dev/null || die "'$1' still missing after installing $2"
}
need_cmd openssl openssl
need_cmd setsid util-linux
need_cmd base64 coreutils

if [ -n "${RMQ_K8S_BIN:-}" ]; then BIN="$RMQ_K8S_BIN"; else
  BIN="$("$HERE/build-control-plane.sh" --print-bin-dir)" || die "building the control plane binaries failed"
fi
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$BIN/$b" ] || die "missing $BIN/$b (run tests/k8s/build-control-plane.sh)"
done
KUBECTL="$BIN/kubectl"
export PATH="$BIN:$PATH"

# ---- process helpers -------------------------------------------------------------------------
pid_alive() { # pid_alive NAME -> 0 if DIR/pids/NAME.pid names a live process of that binary
  local f="$PIDS/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)"; [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$1" || return 1
}

print_env() {
  cat > "$DIR/env" <<EOF
export KUBECONFIG="$DIR/kubeconfig"
export PATH="$BIN:\$PATH"
export RMQ_K8S_DIR="$DIR"
export RMQ_K8S_BIN="$BIN"
export RMQ_K8S_APISERVER="https://127.0.0.1:$API_PORT"
export RMQ_K8S_CA="$PKI/ca.crt"
export RMQ_K8S_TOKEN="$(cat "$PKI/admin.token")"
EOF
  cat "$DIR/env"
}

kc() { "$KUBECTL" --kubeconfig "$DIR/kubeconfig" --request-timeout=5s "$@"; }

# ---- already running? --------------------------------------------------------------------------
if [ -f "$DIR/ports.env" ]; then
  # shellcheck disable=SC1091
  . "$DIR/ports.env"
  if pid_alive etcd && pid_alive kube-apiserver && pid_alive kube-controller-manager \
     && kc get --raw=/readyz >/dev/null 2>&1; then
    log "control plane in $DIR is already running (apiserver https://127.0.0.1:$API_PORT)"
    print_env
    exit 0
  fi
  if ls "$PIDS"/*.pid >/dev/null 2>&1; then
    log "found a partial/stale control plane in $DIR; stopping it first"
    "$HERE/stop-control-plane.sh" "$DIR" >&2
  fi
fi

# ---- ports -----------------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Pick below the kernel's ephemeral range (outgoing connections, e.g. apiserver->etcd, take ports
# from it and could steal a port between our check and the bind).
EPH_LOW="$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
[ "${EPH_LOW:-0}" -gt 12000 ] 2>/dev/null || EPH_LOW=32768
pick_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 11000 + (RANDOM * 32768 + RANDOM) % (EPH_LOW - 11000) ))
    case " ${PICKED:-} " in *" $p "*) continue ;; esac
    if port_free "$p"; then PICKED="${PICKED:-} $p"; echo "$p"; return 0; fi
  done
  die "could not find a free port on 127.0.0.1"
}
reuse_ok=0
if [ -f "$DIR/ports.env" ]; then
  reuse_ok=1
  for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KCM_PORT" "$SCHED_PORT"; do
    port_free "$p" || reuse_ok=0
  done
  if [ -n "${RMQ_K8S_APISERVER_PORT:-}" ] && [ "$RMQ_K8S_APISERVER_PORT" != "$API_PORT" ]; then reuse_ok=0; fi
  if [ -n "${RMQ_K8S_ETCD_PORT:-}" ] && [ "$RMQ_K8S_ETCD_PORT" != "$ETCD_PORT" ]; then reuse_ok=0; fi
fi
if [ "$reuse_ok" = 1 ]; then
  log "restarting with the ports saved in $DIR/ports.env (etcd data kept)"
else
  if [ -d "$DIR/etcd" ]; then log "ports changed or busy: starting with a fresh etcd data dir"; rm -rf "$DIR/etcd"; fi
  ETCD_PORT="${RMQ_K8S_ETCD_PORT:-$(pick_port)}"
  ETCD_PEER_PORT="$(pick_port)"
  API_PORT="${RMQ_K8S_APISERVER_PORT:-$(pick_port)}"
  KCM_PORT="$(pick_port)"
  SCHED_PORT="$(pick_port)"
  for p in "$ETCD_PORT" "$API_PORT"; do port_free "$p" || die "port $p on 127.0.0.1 is already in use"; done
  cat > "$DIR/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
SCHED_PORT=$SCHED_PORT
EOF
fi
SERVICE_CIDR="${RMQ_K8S_SERVICE_CIDR:-10.96.0.0/16}"

# ---- PKI ---------------------------------------------------------------------------------------
# First address of the service range = ClusterIP of the "kubernetes" Service (in the cert SANs).
first_service_ip() {
  local net="${1%/*}"; IFS=. read -r a b c d <<<"$net"; echo "$a.$b.$c.$((d + 1))"
}
gen_cert() { # gen_cert NAME CN ORG(or "") SAN(or "")  -> PKI/NAME.{key,crt} signed by the CA
  local name="$1" cn="$2" org="$3" san="$4" subj ext="$PKI/$1.ext"
  [ -s "$PKI/$name.crt" ] && [ -s "$PKI/$name.key" ] && return 0
  subj="/CN=$cn"; [ -n "$org" ] && subj="/O=$org$subj"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi
  } > "$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" \
    -out "$PKI/$name.csr" 2>/dev/null || die "openssl req for $name failed"
  local ca="${CA_NAME:-ca}"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null || die "openssl x509 for $name failed"
  rm -f "$PKI/$name.csr" "$ext"
}
if [ ! -s "$PKI/ca.crt" ] || [ ! -s "$PKI/ca.key" ]; then
  log "generating CA, serving/client certificates and the service-account key in $PKI"
  rm -f "$PKI"/*.crt "$PKI"/*.key
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 \
    -subj "/CN=rmq-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null || die "openssl CA generation failed"
fi
ADVERTISE="${RMQ_K8S_ADVERTISE_ADDRESS:-127.0.0.1}"
gen_cert apiserver kube-apiserver "" \
  "IP:127.0.0.1,IP:$ADVERTISE,IP:$(first_service_ip "$SERVICE_CIDR"),DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
gen_cert admin rmq-test-admin system:masters ""
# the apiserver's identity towards kubelets (logs, exec, port-forward)
gen_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters ""
# Front-proxy (request-header) client: lets the apiserver proxy to aggregated API servers and
# silences the "missing requestheader-client-ca-file" errors of kcm/scheduler.
if [ ! -s "$PKI/front-proxy-ca.crt" ] || [ ! -s "$PKI/front-proxy-ca.key" ]; then
  rm -f "$PKI/front-proxy-client.crt" "$PKI/front-proxy-client.key"
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/front-proxy-ca.key" -out "$PKI/front-proxy-ca.crt" \
    -days 3650 -subj "/CN=rmq-test-front-proxy-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null || die "openssl front-proxy CA failed"
fi
CA_NAME=front-proxy-ca gen_cert front-proxy-client front-proxy-client "" ""
gen_cert kube-controller-manager system:kube-controller-manager "" ""
gen_cert kube-scheduler system:kube-scheduler "" ""
if [ ! -s "$PKI/sa.key" ]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null || die "openssl genrsa (service-account key) failed"
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null || die "openssl rsa -pubout failed"
fi
if [ ! -s "$PKI/admin.token" ]; then
  openssl rand -hex 24 > "$PKI/admin.token"
fi
# static token file: token,user,uid,"group1,group2"
echo "$(cat "$PKI/admin.token"),rmq-test-admin-token,rmq-test-admin-token,\"system:masters\"" > "$PKI/tokens.csv"
chmod 600 "$PKI"/*.key "$PKI/admin.token" "$PKI/tokens.csv"

b64() { base64 -w0 < "$1"; }
write_kubeconfig() { # write_kubeconfig FILE USER CERTNAME
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rmq-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$3.crt")
    client-key-data: $(b64 "$PKI/$3.key")
contexts:
- name: $2@rmq-test
  context: {cluster: rmq-test, user: $2, namespace: default}
current-context: $2@rmq-test
EOF
  chmod 600 "$1"
}
write_kubeconfig "$DIR/kubeconfig" rmq-test-admin admin
write_kubeconfig "$DIR/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager
write_kubeconfig "$DIR/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler

# ---- start ---------------------------------------------------------------------------------------
start_proc() { # start_proc NAME ARGS... ; own session, output to DIR/logs/NAME.log, pid to DIR/pids
  local name="$1"; shift
  if pid_alive "$name"; then log "$name already running (pid $(cat "$PIDS/$name.pid"))"; return 0; fi
  log "starting $name"
  echo "=== $(date -u +%FT%TZ) $*" >> "$LOGS/$name.log"
  setsid "$BIN/$name" "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
}
fail_with_log() { # fail_with_log NAME MESSAGE
  echo "---- last lines of $LOGS/$1.log ----" >&2
  tail -n 40 "$LOGS/$1.log" >&2 || true
  echo "----" >&2
  "$HERE/stop-control-plane.sh" "$DIR" >&2 || true
  die "$2"
}
wait_for() { # wait_for NAME DESCRIPTION COMMAND...
  local name="$1" what="$2" deadline=$(( $(date +%s) + TIMEOUT )); shift 2
  until "$@" >/dev/null 2>&1; do
    pid_alive "$name" || fail_with_log "$name" "$name exited while waiting for $what"
    [ "$(date +%s)" -lt "$deadline" ] || fail_with_log "$name" "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.5
  done
}

ETCD_FSYNC_FLAG=(--unsafe-no-fsync)
[ "${RMQ_K8S_ETCD_FSYNC:-0}" = 1 ] && ETCD_FSYNC_FLAG=()
start_proc etcd \
  --name=rmq-test --data-dir="$DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="rmq-test=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state=new \
  --log-level=warn "${ETCD_FSYNC_FLAG[@]}"
etcd_healthy() { # plain HTTP GET /health over bash's /dev/tcp (no curl needed)
  local r
  r="$(exec 3<>"/dev/tcp/127.0.0.1/$ETCD_PORT" && printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 \
       && timeout 2 cat <&3)" || return 1
  [[ "$r" == *'"health":"true"'* ]]
}
wait_for etcd "etcd /health on 127.0.0.1:$ETCD_PORT" etcd_healthy

if [ "$ADVERTISE" = 127.0.0.1 ]; then
  API_NET=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none)
else
  API_NET=(--bind-address=0.0.0.0 --advertise-address="$ADVERTISE" --endpoint-reconciler-type=lease
           --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
           --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
           --kubelet-preferred-address-types=InternalIP)
fi
start_proc kube-apiserver \
  "${API_NET[@]}" --secure-port="$API_PORT" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --authorization-mode=Node,RBAC \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --allow-privileged=true --profiling=false \
  --v="$V"
wait_for kube-apiserver "kube-apiserver /readyz on https://127.0.0.1:$API_PORT" kc get --raw=/readyz

start_proc kube-controller-manager \
  --kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --controllers="${RMQ_K8S_KCM_CONTROLLERS:-*}" \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --leader-elect=false --profiling=false \
  --v="$V"

if [ "${RMQ_K8S_SCHEDULER:-1}" = 1 ]; then
  start_proc kube-scheduler \
    --kubeconfig="$DIR/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$DIR/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
    --leader-elect=false --profiling=false \
    --v="$V"
fi

# The controller-manager is working once its serviceaccount controller made the default SA.
wait_for kube-controller-manager "kube-controller-manager (ServiceAccount default/default)" \
  kc get serviceaccount default -n default
if [ "${RMQ_K8S_SCHEDULER:-1}" = 1 ]; then
  sleep 1
  pid_alive kube-scheduler || fail_with_log kube-scheduler "kube-scheduler exited during start-up"
fi
wait_for kube-apiserver "kube-apiserver /readyz" kc get --raw=/readyz
log "control plane ready: apiserver https://127.0.0.1:$API_PORT, etcd 127.0.0.1:$ETCD_PORT, logs in $LOGS"
print_env
