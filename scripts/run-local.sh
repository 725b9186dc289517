#!/usr/bin/env bash
# Starts one rmq nameserver (127.0.0.1:9876) and one broker (127.0.0.1:10911) in the foreground,
# data under ./.rmq-local; Ctrl-C stops both gracefully.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -q -p rmq-namesrv -p rmq-broker
BIN="${CARGO_TARGET_DIR:-target}/release"
DATA="${RMQ_LOCAL_DIR:-.rmq-local}"
mkdir -p "$DATA"
"$BIN/rmq-namesrv" --listen-addr 127.0.0.1 --listen-port 9876 --kv-config-path "$DATA/namesrv/kvConfig.json" &
NS=$!
trap 'kill -TERM $NS ${BROKER:-} 2>/dev/null; wait' INT TERM EXIT
"$BIN/rmq-broker" -n 127.0.0.1:9876 --listen-addr 127.0.0.1 --listen-port 10911 --broker-ip1 127.0.0.1 \
  --broker-name broker-a --store-dir "$DATA/broker-a" &
BROKER=$!
wait
