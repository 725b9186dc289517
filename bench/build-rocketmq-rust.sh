#!/usr/bin/env bash
# Build (once) the rocketmq-rust nameserver and broker from crates.io into a cache:
#   ~/.cache/rmq-test/rocketmq-rust/<version>/bin/{rocketmq-namesrv-rust,rocketmq-broker-rust}
# Prints the bin dir on stdout when both binaries exist. Cold build is long (~20-40 min on 2
# cores); bench/run.sh --quick never calls this, it only uses a finished cache.
#   bench/build-rocketmq-rust.sh [--version 1.0.0] [--check]   (--check: no build, exit 1 if absent)
set -euo pipefail
CACHE_ROOT="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
VERSION="${RMQ_ROCKETMQ_RUST_VERSION:-1.0.0}"
CHECK=0
while (($#)); do
  case "$1" in
    --version) VERSION="$2"; shift 2;;
    --check) CHECK=1; shift;;
    *) echo "usage: $0 [--version V] [--check]" >&2; exit 2;;
  esac
done
ROOT="$CACHE_ROOT/rocketmq-rust/$VERSION"
BIN="$ROOT/bin"
if [[ -x "$BIN/rocketmq-namesrv-rust" && -x "$BIN/rocketmq-broker-rust" ]]; then echo "$BIN"; exit 0; fi
if ((CHECK)); then echo "rocketmq-rust $VERSION not built (run bench/build-rocketmq-rust.sh)" >&2; exit 1; fi
mkdir -p "$ROOT"
exec 9>"$ROOT/.build.lock"
flock 9
if [[ -x "$BIN/rocketmq-namesrv-rust" && -x "$BIN/rocketmq-broker-rust" ]]; then echo "$BIN"; exit 0; fi
export CARGO_TARGET_DIR="$CACHE_ROOT/rocketmq-rust/target"
LOG="$ROOT/build.log"
echo "build-rocketmq-rust: cargo install rocketmq-namesrv@$VERSION rocketmq-broker@$VERSION --locked (log $LOG)" >&2
for c in rocketmq-namesrv rocketmq-broker; do
  if ! nice -n 10 cargo install "$c@$VERSION" --locked --root "$ROOT" -j "${RMQ_BUILD_JOBS:-2}" >>"$LOG" 2>&1; then
    echo "build-rocketmq-rust: --locked build of $c failed; retrying without --locked" >&2
    nice -n 10 cargo install "$c@$VERSION" --root "$ROOT" -j "${RMQ_BUILD_JOBS:-2}" >>"$LOG" 2>&1 \
      || { echo "build-rocketmq-rust: cargo install $c@$VERSION failed; tail of $LOG:" >&2; tail -n 40 "$LOG" >&2; exit 1; }
  fi
done
echo "$BIN"
