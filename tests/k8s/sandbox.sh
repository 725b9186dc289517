#!/usr/bin/env bash
# The network sandbox of the Kubernetes tier: one network namespace that holds the whole test
# cluster — control plane, node (kubelet, kube-proxy, containerd), the pod bridge, the Service
# rules — so every address a test sends to is inside it and nothing routes off the machine.
#
#   tests/k8s/sandbox.sh create NAME NODE_IP    netns NAME: lo up, an interface rmq-node0
#                                               carrying NODE_IP/24 (the node's address, also the
#                                               default route: packets to anything else are
#                                               dropped), forwarding and bridge netfilter on
#   tests/k8s/sandbox.sh destroy NAME           kill what still runs in it, delete it (its
#                                               interfaces and iptables rules go with it)
#   tests/k8s/sandbox.sh exec NAME CMD...       CMD in the namespace, resolving names through the
#                                               cluster DNS (/etc/netns/NAME/resolv.conf, written by
#                                               start-node.sh); the host's mounts stay visible
#
# Processes that must share the host's mount namespace (kubelet, containerd) enter with
# `nsenter --net=/run/netns/NAME`; `exec` uses `ip netns exec`, which adds a private mount
# namespace for the resolv.conf.
set -euo pipefail
die() { echo "sandbox.sh: $*" >&2; exit 1; }
command -v ip >/dev/null || die "'ip' (iproute2) is required"

create() { # each step checked: set -e does not apply inside a function called from `||`
  local name="$1" ip="$2"
  ip netns add "$name" || return 1
  ip -n "$name" link set lo up || return 1
  # A veth pair with both ends inside (this kernel has no dummy device): rmq-node0 carries the
  # node's address and the default route; what is sent to an address nobody in the namespace
  # owns goes unanswered at ARP and is dropped.
  ip -n "$name" link add rmq-node0 type veth peer name rmq-node0-end || return 1
  ip -n "$name" addr add "$ip/24" dev rmq-node0 || return 1
  ip -n "$name" link set rmq-node0 up || return 1
  ip -n "$name" link set rmq-node0-end up || return 1
  ip -n "$name" route add default dev rmq-node0 || return 1
  # per-namespace sysctls: route pods <-> Services, and let iptables see bridged pod traffic
  ip netns exec "$name" sysctl -q -w net.ipv4.ip_forward=1 || return 1
  ip netns exec "$name" sysctl -q -w net.bridge.bridge-nf-call-iptables=1 2>/dev/null \
    || echo "sandbox.sh: net.bridge.bridge-nf-call-iptables is not settable here; pod-to-Service traffic within the bridge may fail" >&2
  mkdir -p "/etc/netns/$name"
}

destroy() {
  local name="$1" pids p
  # a node started in it (start-node.sh records its directory here) is stopped first: its pods
  # live in network namespaces of their own and would outlive this one
  if [[ -f "/etc/netns/$name/node-dir" ]]; then
    "$(dirname "${BASH_SOURCE[0]}")/stop-node.sh" "$(cat "/etc/netns/$name/node-dir")" || true
  fi
  if ip netns list | grep -qw "$name"; then
    pids="$(ip netns pids "$name" 2>/dev/null || true)"
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 1 20); do [[ -z "$(ip netns pids "$name" 2>/dev/null)" ]] && break; sleep 0.5; done
    for p in $(ip netns pids "$name" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns delete "$name" 2>/dev/null || true
  fi
  rm -rf "/etc/netns/$name"
}

case "${1:-}" in
  create) [[ $# == 3 ]] || die "usage: $0 create NAME NODE_IP"
          create "$2" "$3" || { destroy "$2"; die "could not set up network namespace $2"; };;
  destroy) [[ $# == 2 ]] || die "usage: $0 destroy NAME"; destroy "$2";;
  exec) [[ $# -ge 3 ]] || die "usage: $0 exec NAME CMD..."; name="$2"; shift 2; exec ip netns exec "$name" "$@";;
  *) die "usage: $0 create NAME NODE_IP | destroy NAME | exec NAME CMD...";;
esac
