#!/usr/bin/env bash
# Undoes tests/k8s/start-node.sh DIR, also after a failure half-way: stops kubelet and
# kube-proxy, kills every container through containerd, stops containerd and its shims, unmounts
# everything mounted under DIR (overlay roots, volumes) and removes the pod cgroups. The network
# namespace (pod bridge, iptables rules) goes with `tests/k8s/sandbox.sh destroy`.
#
#   tests/k8s/stop-node.sh DIR
set -uo pipefail
DIR="${1:?usage: $0 DIR}"
[[ -d "$DIR" ]] || exit 0
DIR="$(cd "$DIR" && pwd)"
SOCK="$DIR/containerd/containerd.sock"

stop_pid() { # stop_pid NAME: TERM, then KILL after 10 s
  local f="$DIR/pids/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  kill -TERM "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$f"
}

stop_pid kubelet
stop_pid kube-proxy
if [[ -S "$SOCK" ]]; then
  for t in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
  done
  sleep 1
  for t in $(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$SOCK" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1
  done
fi
stop_pid containerd
# shims whose containerd is gone (they name our socket on their command line)
pkill -KILL -f "containerd-shim-runc-v2 .*-address $SOCK" 2>/dev/null

# every mount under DIR, deepest first (DIR itself may be one: the kubelet root bind-mounts itself)
for _ in 1 2 3; do
  mounts="$(findmnt -rn -o TARGET | grep -E "^$DIR(/|$)" | sort -r)"
  [[ -z "$mounts" ]] && break
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done <<<"$mounts"
done
left="$(findmnt -rn -o TARGET | grep -E "^$DIR(/|$)")"
[[ -z "$left" ]] || { echo "stop-node: still mounted under $DIR:" >&2; echo "$left" >&2; }

# the pod cgroups: any process still in one is a container process containerd did not reap
# (pods live in their own network namespaces, so removing the sandbox's does not end them);
# kill those, then remove the cgroups deepest first (rmdir works once a cgroup holds no process)
if [[ -f "$DIR/cgroup-root" ]]; then
  root="$(cat "$DIR/cgroup-root")"
  for _ in 1 2 3; do
    pids="$(find /sys/fs/cgroup/*/"${root#/}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)"
    [[ -z "$pids" ]] && break
    kill -KILL $pids 2>/dev/null
    sleep 0.5
  done
  for c in /sys/fs/cgroup/*/; do
    [[ -n "$root" && -d "$c${root#/}" ]] || continue
    find "$c${root#/}" -depth -type d -exec rmdir {} + 2>/dev/null
  done
fi
# what containerd and the CNI plugins leave outside DIR: an empty socket directory, result caches
rm -f /var/lib/cni/results/rmq-e2e-* 2>/dev/null
rmdir /run/containerd/s /run/containerd 2>/dev/null
exit 0
