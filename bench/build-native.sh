#!/usr/bin/env bash
# Build (cargo, incremental) the native load driver bench/native (`rmq-bench`: the Java driver's
# phases over rmq-protocol's async client) and print the path of the binary.
#   cargo build --release -p rmq-bench, into RMQ_BENCH_TARGET_DIR (default ~/.cache/rmq-target-bench,
#   the target dir bench/run.sh builds rmq's release binaries in)
# RMQ_BENCH_NATIVE=/path/to/rmq-bench: use that binary instead (nothing is built).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
if [[ -n "${RMQ_BENCH_NATIVE:-}" ]]; then
  [[ -x "$RMQ_BENCH_NATIVE" ]] || { echo "build-native: RMQ_BENCH_NATIVE=$RMQ_BENCH_NATIVE is not an executable" >&2; exit 1; }
  echo "$RMQ_BENCH_NATIVE"; exit 0
fi
command -v cargo >/dev/null || { echo "build-native: 'cargo' is not installed" >&2; exit 1; }
TARGET="${RMQ_BENCH_TARGET_DIR:-$HOME/.cache/rmq-target-bench}"
echo "build-native: cargo build --release -p rmq-bench (CARGO_TARGET_DIR=$TARGET)" >&2
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" nice cargo build --release --quiet -p rmq-bench >&2) \
  || { echo "build-native: cargo build --release -p rmq-bench failed" >&2; exit 1; }
[[ -x "$TARGET/release/rmq-bench" ]] || { echo "build-native: no $TARGET/release/rmq-bench after the build" >&2; exit 1; }
echo "$TARGET/release/rmq-bench"
