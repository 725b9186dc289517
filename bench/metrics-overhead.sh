#!/usr/bin/env bash
# What the statistics and metrics cost on the send path: rmq built without them (BEFORE) and with
# them (AFTER), each run through bench/run.sh --quick --peers rmq, alternately, ROUNDS times, on
# the same machine; the median msg/s of each phase of each build and their ratio go to
# bench/results/metrics-overhead.json, which bench/report.py renders into BENCHMARKS.md.
#
#   bench/metrics-overhead.sh --before DIR --after DIR [--rounds N] [--plan P]
#       DIR: a directory holding release rmq-broker and rmq-namesrv binaries.
#
# Nothing here asserts on timings. Run it on a quiet machine (the load average is recorded).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BEFORE="" AFTER="" ROUNDS=2 PLAN="sync:128:64,sync:1024:16,async:128"
BEFORE_REV="${RMQ_BEFORE_REV:-before}" AFTER_REV="${RMQ_AFTER_REV:-after}"
ORIG_ARGS="$*"
while (($#)); do
  case "$1" in
    --before) BEFORE="$2"; shift 2;;
    --after) AFTER="$2"; shift 2;;
    --rounds) ROUNDS="$2"; shift 2;;
    --plan) PLAN="$2"; shift 2;;
    *) echo "metrics-overhead.sh: unknown argument '$1' (see the header)" >&2; exit 2;;
  esac
done
for d in "$BEFORE" "$AFTER"; do
  [[ -x "$d/rmq-broker" && -x "$d/rmq-namesrv" ]] ||
    { echo "metrics-overhead.sh: '$d' has no rmq-broker/rmq-namesrv (use --before DIR --after DIR)" >&2; exit 2; }
done
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
runs=()
for r in $(seq 1 "$ROUNDS"); do
  for build in before after; do
    dir="$BEFORE"; rev="$BEFORE_REV"
    [ "$build" = after ] && dir="$AFTER" rev="$AFTER_REV"
    out="$WORK/$build-$r"
    echo "metrics-overhead: round $r, $build ($dir)" >&2
    RMQ_BENCH_BIN_DIR="$dir" RMQ_BENCH_REV="$rev" "$HERE/run.sh" --quick --peers rmq --plan "$PLAN" \
      --out "$out" >/dev/null
    runs+=("$build=$out/results.json")
  done
done
python3 "$HERE/report_overhead.py" collect --load-start "$LOAD_START" \
  --load-end "$(cut -d' ' -f1-3 /proc/loadavg)" --before-rev "$BEFORE_REV" --after-rev "$AFTER_REV" \
  --command "bench/metrics-overhead.sh $ORIG_ARGS" --out "$HERE/results/metrics-overhead.json" "${runs[@]}"
python3 "$HERE/report.py" render --from-json "$HERE/results/latest.json" --md "$HERE/../BENCHMARKS.md"
echo "metrics-overhead: wrote bench/results/metrics-overhead.json and BENCHMARKS.md" >&2
