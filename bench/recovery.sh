#!/usr/bin/env bash
# Recovery after a power loss: how long a broker with a --store-mib commit log takes from process
# start to (a) its "boot success" stdout line and (b) being listed in its nameserver's cluster
# info (GET_BROKER_CLUSTER_INFO polled every 10 ms from the moment the process is spawned), in
# three cases, each --runs times (median and every value reported):
#
#   clean      graceful SIGTERM stop, sync, drop the page cache, start (normal recovery)
#   powerloss  kill -9 while a producer is sending, sync, drop the page cache, start (abnormal
#              recovery from the checkpoint; a real power loss also empties the page cache)
#   worst      kill -9 mid-produce, then delete the checkpoint file and consumequeue/, drop the
#              page cache, start: recovery scans the whole commit log from its first segment and
#              rebuilds every consume queue (rmq: broker/store/src/recovery.rs safe_start; Apache:
#              recoverAbnormally from the first file)
#
#   bench/recovery.sh [--store-mib 1024] [--body 4096] [--runs 3] [--peers rmq,apache] [--out DIR]
#
# Both brokers run with flushDiskType=SYNC_FLUSH (an acknowledged message is on disk) and the
# default 1 GiB commit-log segment, on 127.0.0.1 only, with the store in a temporary directory
# on the real disk (under $TMPDIR, default /var/tmp; refused on tmpfs), removed on exit, also on
# failure. Each broker registers with a nameserver of its own kind (rmq-namesrv; Apache namesrv
# started by tests/peers/apache.sh --no-broker). The store is filled with the Java harness
# (batch sends of 16 messages of --body bytes over 4 topics x 4 queues; the traffic killed
# mid-way is async sends). After every recovery the broker's commitLogMaxOffset
# (GET_BROKER_RUNTIME_INFO) is checked: after a clean stop equal to the offset before it, after
# a kill -9 above the commit-log offset of the last message the producer had acknowledged (from
# its offsetMsgId).
#
# Needs root (drop_caches), java 17 and the harnesses (tests/build-harnesses.sh), rmq release
# binaries (RMQ_BENCH_BIN_DIR, with RMQ_BENCH_REV naming their revision; default: built with
# `nice cargo build --release` into ~/.cache/rmq-target-bench) and, for the Apache peer,
# ~/.cache/rmq-test/apache/5.3.3. Prints one JSON line, writes DIR/recovery.json and copies it
# to bench/results/recovery.json (only when every check passed and --store-mib is 1024 or more);
# `python3 bench/report.py render --from-json bench/results/latest.json --md BENCHMARKS.md`
# renders it into BENCHMARKS.md. Exit 1 when a check fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
STORE_MIB=1024 BODY=4096 RUNS=3 PEERS="rmq,apache" OUT=""
while (($#)); do
  case "$1" in
    --store-mib|--body|--runs|--peers|--out)
      [[ $# -ge 2 ]] || { echo "recovery.sh: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in
        --store-mib) STORE_MIB="$2";; --body) BODY="$2";; --runs) RUNS="$2";;
        --peers) PEERS="$2";; --out) OUT="$2";;
      esac
      shift 2;;
    -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "recovery.sh: unknown argument '$1' (see --help)" >&2; exit 2;;
  esac
done
for v in STORE_MIB BODY RUNS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "recovery.sh: --$(tr 'A-Z_' 'a-z-' <<<"$v") must be a positive integer, not '${!v}'" >&2; exit 2; }
done
for p in ${PEERS//,/ }; do
  [[ "$p" == rmq || "$p" == apache ]] || { echo "recovery.sh: unknown peer '$p' in --peers (rmq, apache)" >&2; exit 2; }
done
[[ "$(id -u)" == 0 ]] || { echo "recovery.sh: needs root to drop the page cache (/proc/sys/vm/drop_caches)" >&2; exit 2; }
OUT="${OUT:-$CACHE/bench/recovery-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
log() { echo "recovery[$SECONDS s]: $*" >&2; }

# shellcheck disable=SC1091
[[ -f "$CACHE/harness.env" ]] && source "$CACHE/harness.env"
JAVA="${RMQ_JAVA_HARNESS_5:?build the client harnesses first: tests/build-harnesses.sh}"
BIN="${RMQ_BENCH_BIN_DIR:-}"
if [[ -z "$BIN" ]]; then
  log "building release binaries (nice, CARGO_TARGET_DIR=$HOME/.cache/rmq-target-bench)"
  (cd "$ROOT" && nice -n 19 env CARGO_TARGET_DIR="$HOME/.cache/rmq-target-bench" \
     cargo build --release --quiet -p rmq-broker -p rmq-namesrv)
  BIN="$HOME/.cache/rmq-target-bench/release"
fi
[[ -x "$BIN/rmq-broker" && -x "$BIN/rmq-namesrv" ]] || { echo "recovery.sh: no rmq-broker/rmq-namesrv in $BIN" >&2; exit 2; }
APACHE_HOME="${RMQ_APACHE_HOME:-$CACHE/apache/5.3.3}"

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "${RMQ_BENCH_BIN_DIR:-}" ]]; then
  REV="${RMQ_BENCH_REV:-prebuilt}" # prebuilt binaries: RMQ_BENCH_REV names their revision (as in bench/run.sh)
else
  REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] || REV="$REV+dirty"
fi
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/rmq-recovery.XXXXXX")"
FSTYPE="$(df -P -T "$WORK" | tail -n 1 | awk '{print $2}')"
PIDFILES=() JOBS=()
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
  local f p
  for p in "${JOBS[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "${PIDFILES[@]}"; do
    [[ -f "$f" ]] || continue
    p="$(cat "$f")"
    kill -KILL "$p" 2>/dev/null || true
  done
  for p in "${JOBS[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -d "$WORK/apache-ns" ]] && "$ROOT/tests/peers/apache.sh" stop --dir "$WORK/apache-ns" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[[ "$FSTYPE" != tmpfs ]] || { echo "recovery.sh: $WORK is on tmpfs; set TMPDIR to a directory on a real disk" >&2; exit 2; }

# The helpers and the per-peer measurements (they read the globals set above and below).
# shellcheck source-path=SCRIPTDIR source=recovery-lib.sh
source "$HERE/recovery-lib.sh"
# shellcheck source-path=SCRIPTDIR source=recovery-peer.sh
source "$HERE/recovery-peer.sh"

# ------------------------------------------------------------------------------------------------
# Disk reference and the shared nameserver.
disk_reference
start_namesrv
: >"$OUT/runs.jsonl"

TOPICS=4 QUEUES=4
MSG_BYTES=$((BODY + 250)) # record header + topic + properties, roughly
FILL_COUNT=$((STORE_MIB * 1024 * 1024 / MSG_BYTES))
KILL_GROWTH=$((4 * 1024 * 1024))
TARGET=$((STORE_MIB * 1024 * 1024))

for p in ${PEERS//,/ }; do
  log "=== $p"
  run_peer "$p" || log "$p: aborted (see above)"
done

LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
META="$WORK/meta.json"
write_meta "$META"
set +e
results report "$OUT" "$META"
RC=$?
set -e
if ((RC == 0 && STORE_MIB >= 1024)); then
  cp "$OUT/recovery.json" "$ROOT/bench/results/recovery.json"
  log "copied to bench/results/recovery.json"
fi
exit "$RC"
