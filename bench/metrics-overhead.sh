#!/usr/bin/env bash
# What rmq's statistics and metrics cost on the send path, three variants run alternately through
# bench/run.sh --quick --peers rmq on the same machine, ROUNDS times each:
#   before  a build without them (--before DIR; optional): no per-topic statistics, no request
#           histogram, no fsync timing
#   off     this build with the HTTP listener off (httpEnable=false): statistics are still kept
#           (the admin views need them), nothing is scraped
#   on      this build with /metrics scraped every second while it runs (a Prometheus scraping
#           every 15-60 s costs less)
# The median msg/s per phase and variant and the ratios on/off and on/before go to
# bench/results/metrics-overhead.json, which bench/report.py renders into BENCHMARKS.md.
#
#   bench/metrics-overhead.sh --after DIR [--before DIR] [--rounds N] [--plan P]
#                             [--measure-ms M] [--warmup-ms W]
#       DIR: a directory holding release rmq-broker and rmq-namesrv binaries; phases of M ms
#       (8000) after W ms (2000) of warm-up: --quick's 1 s phases are too noisy for a few percent.
#
# Nothing here asserts on timings. Run it on a quiet machine (the load average is recorded).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BEFORE="" AFTER="" ROUNDS=3 PLAN="sync:128:64,sync:1024:16,async:128" MEASURE_MS=8000 WARMUP_MS=2000
BEFORE_REV="${RMQ_BEFORE_REV:-before}" AFTER_REV="${RMQ_AFTER_REV:-after}"
# the arguments as a shell would need them again (the recorded command can be pasted)
ORIG_ARGS=""
(($#)) && ORIG_ARGS="$(printf '%q ' "$@")" && ORIG_ARGS="${ORIG_ARGS% }"
while (($#)); do
  case "$1" in
    --before) BEFORE="$2"; shift 2;;
    --after) AFTER="$2"; shift 2;;
    --rounds) ROUNDS="$2"; shift 2;;
    --plan) PLAN="$2"; shift 2;;
    --measure-ms) MEASURE_MS="$2"; shift 2;;
    --warmup-ms) WARMUP_MS="$2"; shift 2;;
    *) echo "metrics-overhead.sh: unknown argument '$1' (see the header)" >&2; exit 2;;
  esac
done
[[ -n "$AFTER" ]] || { echo "metrics-overhead.sh: --after DIR is required (see the header)" >&2; exit 2; }
for d in $BEFORE "$AFTER"; do
  [[ -x "$d/rmq-broker" && -x "$d/rmq-namesrv" ]] ||
    { echo "metrics-overhead.sh: '$d' has no rmq-broker/rmq-namesrv (a directory of release binaries)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "metrics-overhead.sh: curl is required" >&2; exit 1; }
VARIANTS=(off on)
[[ -n "$BEFORE" ]] && VARIANTS=(before off on)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
runs=()
for r in $(seq 1 "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    dir="$AFTER" rev="$AFTER_REV" set="" scrape=""
    case "$v" in
      before) dir="$BEFORE" rev="$BEFORE_REV";;
      off) set="httpEnable=false";;
      on) scrape=1;;
    esac
    out="$WORK/$v-$r"
    echo "metrics-overhead: round $r, $v ($dir)" >&2
    RMQ_BENCH_BIN_DIR="$dir" RMQ_BENCH_REV="$rev" RMQ_BENCH_BROKER_SET="$set" RMQ_BENCH_SCRAPE_S="$scrape" \
      "$HERE/run.sh" --quick --peers rmq --plan "$PLAN" \
      --measure-ms "$MEASURE_MS" --warmup-ms "$WARMUP_MS" --out "$out" >/dev/null
    scrapes=0
    [[ -f "$out/scrapes" ]] && scrapes="$(wc -l <"$out/scrapes")"
    [[ "$v" != on || "$scrapes" -gt 0 ]] ||
      { echo "metrics-overhead.sh: the 'on' run scraped nothing ($(head -c 300 "$out/scrapes.err" 2>/dev/null))" >&2; exit 1; }
    runs+=("$v:$scrapes=$out/results.json")
  done
done
python3 "$HERE/report_overhead.py" collect --load-start "$LOAD_START" \
  --load-end "$(cut -d' ' -f1-3 /proc/loadavg)" --before-rev "$BEFORE_REV" --after-rev "$AFTER_REV" \
  --command "bench/metrics-overhead.sh $ORIG_ARGS" --measure-ms "$MEASURE_MS" --warmup-ms "$WARMUP_MS" --out "$HERE/results/metrics-overhead.json" "${runs[@]}"
python3 "$HERE/report.py" render --from-json "$HERE/results/latest.json" --md "$HERE/../BENCHMARKS.md"
echo "metrics-overhead: wrote bench/results/metrics-overhead.json and BENCHMARKS.md" >&2
