#!/usr/bin/env bash
# A real Kubernetes node for the test control plane: containerd + runc (Debian), the bridge and
# host-local CNI plugins (Debian), kubelet and kube-proxy (the control plane's k8s.io/kubernetes
# build), CoreDNS (tests/k8s/go/coredns) as cluster DNS, and local PersistentVolumes. Images are
# imported into containerd from local files; nothing is pulled.
#
#   tests/k8s/start-node.sh DIR IMAGE_ARCHIVE...
#
# Run it inside the sandbox's network namespace (tests/k8s/sandbox.sh) after
# start-control-plane.sh, with its environment (RMQ_K8S_DIR, RMQ_K8S_BIN, KUBECONFIG) and:
#   RMQ_K8S_NODE_IP    the node's address in the sandbox (the control plane advertises it too)
#   RMQ_K8S_NETNS      the sandbox's name (for /etc/netns/NAME/resolv.conf)
# Each IMAGE_ARCHIVE (OCI or docker archive) is imported into containerd's k8s.io namespace.
# Writes DIR/node.env; logs in DIR/logs. tests/k8s/stop-node.sh DIR undoes everything.
#
# Choices: the node runs cgroup v1 with the cgroupfs driver under its own cgroup root
# (/rmq-e2e-<pid>), so its pods' cgroups are found and removed on stop; kubelet 1.37 still accepts
# containerd 1.6 (it falls back to its own cgroupDriver when the runtime lacks RuntimeConfig);
# kube-proxy runs in iptables mode; CoreDNS answers cluster.local only and forwards nothing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "start-node: $*" >&2; }
die() { echo "start-node: ERROR: $*" >&2; exit 1; }
[[ $# -ge 1 ]] || die "usage: $0 DIR IMAGE_ARCHIVE..."
mkdir -p "$1"; DIR="$(cd "$1" && pwd)"; shift
: "${RMQ_K8S_DIR:?start the control plane first (RMQ_K8S_DIR)}" "${RMQ_K8S_BIN:?RMQ_K8S_BIN}"
: "${RMQ_K8S_NODE_IP:?RMQ_K8S_NODE_IP}" "${RMQ_K8S_NETNS:?RMQ_K8S_NETNS}"
NODE_IP="$RMQ_K8S_NODE_IP" BIN="$RMQ_K8S_BIN" PKI="$RMQ_K8S_DIR/pki"
NODE=rmq-e2e-node
POD_CIDR="${RMQ_K8S_POD_CIDR:-10.244.0.0/24}"
CLUSTER_DNS="${RMQ_K8S_CLUSTER_DNS:-10.96.0.10}"
CGROUP_ROOT="/rmq-e2e-$$"
LOGS="$DIR/logs"; mkdir -p "$LOGS"
# the sandbox stops this node when it is destroyed, whatever happened to the script that started it
echo "$DIR" >"/etc/netns/$RMQ_K8S_NETNS/node-dir"
TIMEOUT="${RMQ_K8S_START_TIMEOUT:-120}"

# shellcheck source=node-lib.sh
. "$HERE/node-lib.sh"
need_packages

# ---- containerd -------------------------------------------------------------------------------
mkdir -p "$DIR/containerd" "$DIR/cni/net.d" "$DIR/cni/ipam"
SOCK="$DIR/containerd/containerd.sock"
render_containerd_config >"$DIR/containerd/config.toml"
render_cni_config >"$DIR/cni/net.d/10-rmq-e2e.conflist"
echo "$CGROUP_ROOT" >"$DIR/cgroup-root"
start_daemon containerd containerd --config "$DIR/containerd/config.toml"
wait_until containerd "containerd at $SOCK" ctr --address "$SOCK" version
for archive in "$@"; do
  log "importing $(basename "$archive")"
  ctr --address "$SOCK" -n k8s.io images import "$archive" >>"$LOGS/images.log" 2>&1 \
    || die "ctr images import $archive failed (see $LOGS/images.log)"
done

# ---- kubelet + kube-proxy -------------------------------------------------------------------------
node_certs
render_kubelet_config >"$DIR/kubelet/config.yaml"
start_daemon kubelet "$BIN/kubelet" --config="$DIR/kubelet/config.yaml" \
  --kubeconfig="$DIR/kubelet/kubeconfig" --root-dir="$DIR/kubelet/root" --cert-dir="$DIR/kubelet/pki" \
  --hostname-override="$NODE" --node-ip="$NODE_IP" --v=1
render_kube_proxy_config >"$DIR/kube-proxy/config.yaml"
start_daemon kube-proxy "$BIN/kube-proxy" --config="$DIR/kube-proxy/config.yaml" --v=1
wait_until kubelet "node $NODE Ready" bash -c \
  "kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"

# ---- cluster DNS and storage ------------------------------------------------------------------------
render_coredns | kubectl apply -f - >&2
render_storage | kubectl apply -f - >&2
wait_until kubelet "CoreDNS available" kubectl -n kube-system wait --for=condition=Available \
  deployment/coredns --timeout=5s
printf 'nameserver %s\nsearch svc.cluster.local cluster.local\noptions ndots:5 timeout:2 attempts:2\n' \
  "$CLUSTER_DNS" >"/etc/netns/$RMQ_K8S_NETNS/resolv.conf"
cat >"$DIR/node.env" <<EOF
export RMQ_K8S_NODE_DIR="$DIR"
export RMQ_K8S_NODE="$NODE"
export RMQ_K8S_CONTAINERD="$SOCK"
export RMQ_K8S_CGROUP_ROOT="$CGROUP_ROOT"
EOF
log "node $NODE Ready ($NODE_IP, pods $POD_CIDR, DNS $CLUSTER_DNS); logs in $LOGS"
cat "$DIR/node.env"
