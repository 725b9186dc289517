#!/usr/bin/env bash
# Builds (or finds cached) rmq-harness-rust, the harness over the crates.io `rocketmq-client-rust`
# client (see tests/harness.md), and prints `export RMQ_RUST_HARNESS=...` lines on stdout.
# Progress goes to stderr. Idempotent and independent of tests/build-harnesses.sh:
#   - the binary is keyed by a hash of the sources + Cargo.lock + rustc version:
#       $RMQ_TEST_CACHE/rust-client/<hash>/rmq-harness-rust   (a warm run only hashes: < 1 s)
#   - the exports go to $RMQ_TEST_CACHE/rust-harness.env (ours alone) and are merged into
#     $RMQ_TEST_CACHE/harness.env (other lines kept; build-harnesses.sh rewrites that file, so the
#     e2e crate reads rust-harness.env too).
#
#   eval "$(tests/rust-client/build.sh)"
#
# Cold build: debug profile, dependencies unoptimised (opt-level 0) and without debug info.
# Cache root: RMQ_TEST_CACHE (~/.cache/rmq-test); cargo target dir: $RMQ_TEST_CACHE/rust-client/target.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
ROOT="$CACHE/rust-client"
log() { echo "rust-client/build.sh: $*" >&2; }
die() { echo "rust-client/build.sh: $*" >&2; exit 1; }
while (($#)); do
  case "$1" in
    -h|--help) sed -n '2,15p' "$0" >&2; exit 0;;
    *) die "unknown argument '$1'";;
  esac
done
for t in cargo rustc sha256sum flock; do command -v "$t" >/dev/null || die "'$t' is not installed"; done
mkdir -p "$ROOT"

hash="$(
  cd "$HERE"
  {
    rustc -V
    for f in Cargo.toml Cargo.lock build.rs $(find src -type f -name '*.rs' | LC_ALL=C sort); do
      printf '%s\n' "$f"; sha256sum <"$f"
    done
  } | sha256sum | cut -c1-16
)"
dir="$ROOT/$hash"
bin="$dir/rmq-harness-rust"
version="$(awk '/^name = "rocketmq-client-rust"$/{f=1;next} f&&/^version = /{gsub(/"/,"",$3);print $3;exit}' "$HERE/Cargo.lock")"

if [[ ! -x "$bin" ]]; then
  exec 8>"$ROOT/.build.lock"
  flock -w 3600 8 || die "another build holds $ROOT/.build.lock"
  if [[ ! -x "$bin" ]]; then
    t0=$(date +%s)
    log "building rmq-harness-rust ($hash, rocketmq-client-rust $version); cold builds take minutes"
    (cd "$HERE" && CARGO_TARGET_DIR="$ROOT/target" cargo build --locked --bin rmq-harness-rust >&2) \
      || die "cargo build failed"
    mkdir -p "$dir"
    cp "$ROOT/target/debug/rmq-harness-rust" "$bin.tmp"
    mv "$bin.tmp" "$bin"
    find "$ROOT" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" ! -name target -exec rm -rf {} + 2>/dev/null || true
    log "built in $(( $(date +%s) - t0 ))s"
  fi
  exec 8>&-
fi
"$bin" version >/dev/null || die "$bin does not run"

exports="export RMQ_RUST_HARNESS='$bin'
export RMQ_RUST_CLIENT_VERSION='$version'"
printf '%s\n' "$exports" >"$CACHE/rust-harness.env.tmp.$$"
mv "$CACHE/rust-harness.env.tmp.$$" "$CACHE/rust-harness.env"

# Merge into harness.env, keeping every other line. Take build-harnesses.sh's lock briefly so we
# do not interleave with its write; if it is busy building, it rewrites the file anyway and the
# e2e crate still finds us through rust-harness.env.
env_file="$CACHE/harness.env"
exec 9>"$CACHE/.build.lock"
if flock -w 5 9; then
  { [[ -f "$env_file" ]] && grep -v '^export RMQ_RUST_' "$env_file" || true; printf '%s\n' "$exports"; } \
    >"$env_file.rust.$$"
  mv "$env_file.rust.$$" "$env_file"
else
  log "$CACHE/.build.lock is busy: not merged into harness.env (rust-harness.env is written)"
fi
exec 9>&-
printf '%s\n' "$exports"
log "ready: $bin"
