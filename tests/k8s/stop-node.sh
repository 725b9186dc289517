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

# every mount under DIR, deepest first
findmnt -rn -o TARGET | grep -F "$DIR/" | sort -r | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
done

# the pod cgroups, deepest first (a cgroup is removed with rmdir once it holds no process)
if [[ -f "$DIR/cgroup-root" ]]; then
  root="$(cat "$DIR/cgroup-root")"
  for c in /sys/fs/cgroup/*/; do
    [[ -n "$root" && -d "$c${root#/}" ]] || continue
    find "$c${root#/}" -depth -type d -exec rmdir {} + 2>/dev/null
  done
fi
exit 0
