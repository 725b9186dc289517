#!/usr/bin/env bash
# Stop the control plane started by start-control-plane.sh DIR. Idempotent: stopping a plane that
# is not running (or a DIR that does not exist) succeeds. Only processes named by DIR/pids/*.pid
# whose command line is the expected binary are signalled. State (etcd data, certs) is kept;
# pass --purge to delete DIR as well.
#
# Usage: tests/k8s/stop-control-plane.sh DIR [--purge]
set -euo pipefail

log() { echo "stop-control-plane: $*" >&2; }
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 DIR [--purge]" >&2; exit 2; }
PURGE=0; [ "${2:-}" = "--purge" ] && PURGE=1
[ -n "${2:-}" ] && [ "$PURGE" = 0 ] && { echo "usage: $0 DIR [--purge]" >&2; exit 2; }
if [ ! -d "$1" ]; then log "nothing to stop: $1 does not exist"; exit 0; fi
DIR="$(cd "$1" && pwd)"
PIDS="$DIR/pids"
TIMEOUT="${RMQ_K8S_STOP_TIMEOUT:-20}"

ours() { # ours NAME PID -> 0 if PID is alive and runs binary NAME
  kill -0 "$2" 2>/dev/null && tr '\0' ' ' < "/proc/$2/cmdline" 2>/dev/null | grep -q -- "$1"
}

# Reverse start order: clients of the apiserver first, etcd last.
for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f="$PIDS/$name.pid"
  [ -f "$f" ] || continue
  pid="$(cat "$f" 2>/dev/null || true)"
  if [ -n "$pid" ] && ours "$name" "$pid"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(date +%s) + TIMEOUT ))
    while ours "$name" "$pid" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
    if ours "$name" "$pid"; then
      log "$name (pid $pid) did not exit after ${TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$f"
done

if [ "$PURGE" = 1 ]; then
  rm -rf "$DIR"
  log "stopped and removed $DIR"
else
  log "stopped (state kept in $DIR)"
fi
