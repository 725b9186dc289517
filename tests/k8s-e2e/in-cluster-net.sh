#!/usr/bin/env bash
# Runs a command with the node agent's hosts file as /etc/hosts (private mount namespace), so it
# resolves Service DNS names (<svc>.<ns>.svc, <pod>.<headless>.<ns>.svc) the way pods do.
# Usage: in-cluster-net.sh HOSTS_FILE COMMAND [ARGS...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 HOSTS_FILE COMMAND [ARGS...]" >&2; exit 2; }
hosts="$1"; shift
exec unshare --mount --propagation private -- /bin/sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$@"
