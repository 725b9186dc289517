#!/usr/bin/env bash
# A third opinion: Apache RocketMQ's own benchmark tool (org.apache.rocketmq:rocketmq-example,
# org.apache.rocketmq.example.benchmark.Producer / Consumer, unmodified, from Maven) against each
# broker, one after another on this machine, a fresh broker and store for every repetition:
#   sync 128 B x64     Producer -w 64 -s 128 -q Q128          (its defaults: 64 sending threads)
#   sync 1024 B x64    Producer -w 64 -s 1024 -q Q1K
#   send+consume 128 B Consumer (20 threads, a new group) started first, then Producer -q QMIX
# Its async mode (-y true) is left out: it sends from one thread and, with -q, prints its total
# before the sends in flight are answered (a quick run counted 9,946 of 100,000); the main
# tables measure async sends with both of our drivers.
# Each scenario gets a topic of 8 queues made with the official admin tool (mqadmin updateTopic).
# The figures are the tools' own: the Producer's "[Complete] Send TPS" (over the last 10 of its
# once-a-second samples: the run's last 10 s, so JVM start-up and warm-up are left out), the
# Consumer's best "Consume TPS" (the same 10 s window, reported every second). CPU: utime+stime
# of the Producer, the Consumer and the broker sampled once a second, taken over the last 10 s
# the Producer reported on (its "Current Time" lines) and divided by its rate.
#
#   bench/official.sh [--peers apache,apache4,rmq] [--repeat 3] [--q128 1500000] [--q1k 1200000]
#                     [--qmix 800000] [--bin-dir DIR] [--out FILE]
#       --peers: apache (5.5.0), apache4 (4.9.7), rmq, in this order; rocketmq-rust is left out
#       (at its ~1,500 msgs/s a million messages take 11 minutes; the main tables have it).
#       --bin-dir: release rmq-broker/rmq-namesrv (default: the release build bench/run.sh uses,
#       built if missing). --out: results JSON (default bench/results/official.json), which
#       bench/report.py renders into BENCHMARKS.md.
#       Each Producer run should last well over 10 s: its rate is over its last 10 s (under 2 s it
#       prints none and the cell says so), and it reports once a second only from its 10th second
#       on (a shorter run has a rate but no CPU figures). The defaults last 20-50 s here.
# Nothing here asserts on timings: the exit status is 0 when every rmq run finished with a rate,
# 1 when one did not (another broker's failure is reported in the results, not as an error).
# Run it on a quiet machine (the load average is recorded).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
M2="${RMQ_TEST_M2:-$CACHE/m2}"
EXAMPLE_VERSION="${RMQ_BENCH_EXAMPLE_VERSION:-5.5.0}"
PEERS="apache,apache4,rmq" REPEAT=3 Q128=1500000 Q1K=1200000 QMIX=800000 BIN="" OUT_JSON="$HERE/results/official.json"
ORIG_ARGS=""
(($#)) && ORIG_ARGS=" $(printf '%q ' "$@")" && ORIG_ARGS="${ORIG_ARGS% }"
while (($#)); do
  case "$1" in
    --peers) PEERS="$2"; shift 2;;
    --repeat) REPEAT="$2"; shift 2;;
    --q128) Q128="$2"; shift 2;;
    --q1k) Q1K="$2"; shift 2;;
    --qmix) QMIX="$2"; shift 2;;
    --bin-dir) BIN="$2"; shift 2;;
    --out) OUT_JSON="$2"; shift 2;;
    *) echo "official.sh: unknown argument '$1' (see the header)" >&2; exit 2;;
  esac
done
for n in "$REPEAT" "$Q128" "$Q1K" "$QMIX"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "official.sh: '$n' is not a count: write a whole number of 1 or more" >&2; exit 2; }
done
IFS=',' read -r -a PEER_LIST <<<"$PEERS"
for p in "${PEER_LIST[@]}"; do
  case "$p" in rmq|apache|apache4) ;; *) echo "official.sh: unknown peer '$p' (apache, apache4, rmq)" >&2; exit 2;; esac
done
log() { echo "official[$SECONDS s]: $*" >&2; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmq-official.XXXXXX")"
PIDS=() APACHE_DIRS=()
cleanup() {
  local p d
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for d in "${APACHE_DIRS[@]}"; do "$ROOT/tests/peers/apache.sh" stop --dir "$d" >/dev/null 2>&1 || true; done
  PIDS=() APACHE_DIRS=()
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# --- the tool's classpath (Maven, cached) and rmq's binaries -----------------------------------
classpath() {
  local dir="$CACHE/bench/official/$EXAMPLE_VERSION"
  if [[ ! -s "$dir/cp.txt" ]]; then
    mkdir -p "$dir"
    cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>rmq.bench</groupId><artifactId>official-benchmark</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-example</artifactId>
    <version>$EXAMPLE_VERSION</version></dependency></dependencies>
</project>
EOF
    (cd "$dir" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2" dependency:build-classpath \
        -Dmdep.outputFile="$dir/cp.tmp" >&2) || { echo "official.sh: maven could not resolve rocketmq-example $EXAMPLE_VERSION" >&2; exit 1; }
    printf '%s:%s\n' "$M2/org/apache/rocketmq/rocketmq-example/$EXAMPLE_VERSION/rocketmq-example-$EXAMPLE_VERSION.jar" \
      "$(cat "$dir/cp.tmp")" >"$dir/cp.txt"
  fi
  cat "$dir/cp.txt"
}
CP="$(classpath)"
if [[ -z "$BIN" && " ${PEER_LIST[*]} " == *" rmq "* ]]; then
  target="${RMQ_BENCH_TARGET_DIR:-$HOME/.cache/rmq-target-bench}"
  log "release build of rmq-broker and rmq-namesrv ($target)"
  (cd "$ROOT" && CARGO_TARGET_DIR="$target" cargo build --release --quiet -p rmq-broker -p rmq-namesrv >&2)
  BIN="$target/release"
fi
JAVA_OPTS=(-Xms1g -Xmx1g -XX:+UseG1GC -Drocketmq.client.logRoot="$WORK/client-logs" -Drocketmq.client.logLevel=WARN)
tool() { java "${JAVA_OPTS[@]}" -cp "$CP" "$@"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# shellcheck source=official-lib.sh
. "$HERE/official-lib.sh"

# --- the run --------------------------------------------------------------------------------------
CELLS="$WORK/cells.jsonl" RMQ_FAILED=""
: >"$CELLS"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
for ((rep = 1; rep <= REPEAT; rep++)); do
  for peer in "${PEER_LIST[@]}"; do
    log "== $peer, repetition $rep/$REPEAT (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    run_peer "$peer" "$rep" || { log "$peer: $ERR"; [[ "$peer" == rmq ]] && RMQ_FAILED="$ERR"; }
  done
done
python3 "$HERE/official_results.py" collect --cells "$CELLS" --out "$OUT_JSON" \
  --command "bench/official.sh$ORIG_ARGS" --rev "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --example-version "$EXAMPLE_VERSION" --load-before "$LOAD_BEFORE" --load-after "$(cut -d' ' -f1-3 /proc/loadavg)"
log "results: $OUT_JSON (bench/report.py renders them into BENCHMARKS.md)"
if [[ -n "$RMQ_FAILED" ]]; then
  log "rmq could not be benchmarked: $RMQ_FAILED"
  exit 1
fi
if grep '"peer": "rmq"' "$CELLS" | grep -q '"ok": false'; then
  log "an rmq run did not finish: $(grep '"peer": "rmq"' "$CELLS" | grep '"ok": false' | head -n 1)"
  exit 1
fi
