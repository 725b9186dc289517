#!/usr/bin/env bash
# Installs (once) the Debian packages of the test node and its image builds: containerd, runc,
# the CNI plugins, iptables, conntrack (kube-proxy), buildah (images from the Dockerfile),
# catatonit (the pause image), jq and curl (the suite's checks). Nothing is started.
#
#   tests/k8s/install-node-packages.sh
set -euo pipefail
log() { echo "install-node-packages: $*" >&2; }
want=(containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins
      iptables:iptables conntrack:conntrack buildah:buildah catatonit:catatonit jq:jq curl:curl
      nsenter:util-linux openssl:openssl ip:iproute2)
missing=()
for p in "${want[@]}"; do
  cmd="${p%%:*}" pkg="${p#*:}"
  if [[ "$cmd" == /* ]]; then [[ -x "$cmd" ]] && continue; else command -v "$cmd" >/dev/null && continue; fi
  missing+=("$pkg")
done
((${#missing[@]} == 0)) && { log "all present"; exit 0; }
command -v apt-get >/dev/null || { log "missing ${missing[*]} and no apt-get: install them by hand"; exit 1; }
[[ "$(id -u)" == 0 ]] || { log "missing ${missing[*]}: run as root (or install them with sudo apt-get install)"; exit 1; }
log "installing ${missing[*]} with apt-get"
# Only the package installation: the postinst scripts must not start containerd as a service.
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
  apt-get update -qq >&2 || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
log "installed ${missing[*]}"
