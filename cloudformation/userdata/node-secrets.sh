#!/bin/bash
# rmq-node-secrets: spec.security's secrets on an rmq node. Each SSM SecureString parameter
# /rmq/<cluster>/<secret>/<key> becomes the file <dir>/<secret>/<key> (dirs 0750, files 0640,
# group rmq: what the servers' `aclFile`, `tls.*` and `innerClientCredentialsDir` keys point at).
# An artefact like the binaries: node-bootstrap.sh downloads it from the artefact bucket, checks
# its SHA-256 against the user data (RMQ_SECRETS_SHA256) and runs `install` before the server
# starts. See "Secrets" in cloudformation/README.md.
#
#   rmq-node-secrets install REGION CLUSTER DIR SECRET/KEY...
#       fetch every file now (fails unless all arrive), then install rmq-secrets.timer, which
#       runs `sync` every 60 s: a `rmqctl aws secrets put` (rotation) reaches the servers'
#       file-watch reload within about a minute, without a restart.
#   rmq-node-secrets sync REGION CLUSTER DIR SECRET/KEY...
#       fetch every file; a changed one is written to a temporary file in its directory and
#       renamed over the old one (atomic: a reader sees the old or the new file, never half),
#       an unchanged one is left alone (no spurious reload). A failed fetch keeps the old file.
#
# Values are never printed. Needs the AWS CLI and the node role's ssm:GetParameter and
# kms:Decrypt (via SSM) on /rmq/<cluster>/*. Sandbox: RMQ_ROOT (units under it), RMQ_NO_SYSTEMD=1
# (no units enabled), as in node-bootstrap.sh.
set -Eeuo pipefail
umask 027

log() { echo "rmq-secrets: $*" >&2; }
usage() { log "usage: $0 install|sync REGION CLUSTER DIR SECRET/KEY..."; exit 2; }
[ $# -ge 5 ] || usage
MODE=$1 REGION=$2 CLUSTER=$3 DIR=$4
shift 4
case "$MODE" in install|sync) ;; *) usage ;; esac
[[ "$CLUSTER" =~ ^[a-z0-9][a-z0-9-]*$ ]] || { log "bad cluster name ${CLUSTER@Q}"; exit 2; }
for item in "$@"; do
  # secret: a DNS-1123 name; key: letters, digits, '._-', not starting with '.' (no path tricks).
  [[ "$item" =~ ^[a-z0-9][a-z0-9.-]*/[A-Za-z0-9_-][A-Za-z0-9_.-]*$ ]] ||
    { log "bad secret file ${item@Q} (want SECRET/KEY)"; exit 2; }
done

if [ "$MODE" = install ] && [ "${RMQ_NO_SYSTEMD:-}" != 1 ]; then
  id rmq >/dev/null 2>&1 || useradd --system --home-dir /var/lib/rmq --shell /sbin/nologin rmq
fi
GROUP=$(id -gn rmq 2>/dev/null || id -gn)
REGION_ARG=()
if [ -n "$REGION" ]; then REGION_ARG=(--region "$REGION"); fi

# fetch SECRET/KEY: the parameter's value into DIR/SECRET/KEY when it changed.
fetch() {
  local item=$1 d="$DIR/${1%/*}" key=${1#*/} name="/rmq/$CLUSTER/$1" tmp
  install -d -m 0750 -g "$GROUP" "$DIR" "$d"
  tmp=$(mktemp "$d/.$key.XXXXXX")
  # Text output is the value plus one newline, which `head -c -1` takes off again.
  if ! aws ssm get-parameter "${REGION_ARG[@]}" --name "$name" --with-decryption \
      --query Parameter.Value --output text 2>"$tmp.err" | head -c -1 >"$tmp"; then
    log "cannot read $name: $(tr -s '\n' ' ' <"$tmp.err")"
    rm -f "$tmp" "$tmp.err"
    return 1
  fi
  rm -f "$tmp.err"
  chmod 0640 "$tmp"
  chgrp "$GROUP" "$tmp"
  if cmp -s "$tmp" "$d/$key"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$d/$key"
    log "updated $d/$key from $name"
  fi
}

failed=0
for item in "$@"; do fetch "$item" || failed=$((failed + 1)); done
if [ "$failed" != 0 ]; then
  log "$failed of $# secret files not fetched (the old files, if any, are kept)"
  exit 1
fi
[ "$MODE" = install ] || exit 0

UNIT_DIR="${RMQ_ROOT:-}/etc/systemd/system"
SELF=$(readlink -f "$0")
mkdir -p "$UNIT_DIR"
cat >"$UNIT_DIR/rmq-secrets.service" <<EOF
[Unit]
Description=rmq: refresh spec.security's secrets from SSM /rmq/$CLUSTER/
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=$SELF sync '$REGION' $CLUSTER $DIR $*
EOF
cat >"$UNIT_DIR/rmq-secrets.timer" <<EOF
[Unit]
Description=rmq: refresh spec.security's secrets every 60 s

[Timer]
OnBootSec=30
OnUnitActiveSec=60
AccuracySec=5

[Install]
WantedBy=timers.target
EOF
chmod 0644 "$UNIT_DIR/rmq-secrets.service" "$UNIT_DIR/rmq-secrets.timer"
if [ "${RMQ_NO_SYSTEMD:-}" != 1 ]; then
  systemctl daemon-reload
  systemctl enable --now rmq-secrets.timer
fi
log "$# secret files in $DIR, refreshed every 60 s by rmq-secrets.timer"
