#!/usr/bin/env bash
# Runs the demo cluster of examples/ on 127.0.0.1 with `rmqctl local up`: 2 nameservers
# (127.0.0.1:9876, :9877), 2 broker groups of a master and a slave, topic `orders`, group
# `billing`. Stays in the foreground; Ctrl-C stops every node gracefully (data kept in
# ./.rmq-local/demo). Extra arguments go to `rmqctl local up` (e.g. --detach, --base-port 19876).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -q -p rmqctl -p rmq-namesrv -p rmq-broker
BIN="${CARGO_TARGET_DIR:-target}/release"
exec "$BIN/rmqctl" local up --bin-dir "$BIN" -f examples/cluster.yaml -f examples/topics.yaml "$@"
