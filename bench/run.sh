#!/usr/bin/env bash
# Side-by-side benchmark: Apache RocketMQ (Java, 5.5.0 and 4.9.7) vs rocketmq-rust vs rmq, one after another on
# 127.0.0.1 with identical settings, driven by the same Java program over the official
# rocketmq-client 5.3.3 (bench/driver) and/or by the native driver (bench/native, `rmq-bench`:
# the same phases over rmq-protocol's async client, plus open-loop phases). Besides the saturated
# phases, every broker is measured under a fixed offered load (50 % and 80 % of its own peak),
# consuming while producing (end-to-end latency) and with many topics and consumer groups (RSS and
# CPU idle and under load). Writes results JSON and renders BENCHMARKS.md.
#
#   bench/run.sh            full run (3 repetitions, each < 40 min with both drivers, < 20 with one):
#                           every peer, 1 M backlog, writes bench/results/latest.json and BENCHMARKS.md
#                           Each broker run has two legs, each on a fresh broker and store: the phases
#                           before the first fill, then fill/consume/the 4 KiB fill (bench/run-peer.sh)
#   bench/run.sh --quick    smoke run (< 2 min warm, one repetition): short phases, 20 k backlog; results
#                           go to the run dir only. Never builds rocketmq-rust; skips unavailable peers.
#
# Options:
#   --peers LIST        comma list, run in this order (default apache,apache4,rocketmq-rust,rmq;
#                       --quick: apache,rocketmq-rust,rmq). apache = Apache RocketMQ 5.5.0, the newest
#                       5.x whose broker resolves on Maven Central (5.5.1 publishes rocketmq-broker but
#                       not rocketmq-namesrv/-client/-srvutil/-filter/-auth; RMQ_APACHE_VERSION
#                       overrides); apache4 = Apache 4.9.7 (4.9.8 server jars are not on Maven Central;
#                       RMQ_APACHE_VERSION_4 overrides).
#   --repeat N          run every peer x driver N times (default 3; --quick: 1), a fresh broker each
#                       time, the repetitions interleaved (all peers once, then again); the report
#                       shows the median of every cell with min-max, ratios from the medians
#   --out DIR           run dir (default ~/.cache/rmq-test/bench/runs/<mode>-<timestamp>)
#   --md FILE           where to render the markdown (full default: <repo>/BENCHMARKS.md;
#                       quick default: <run dir>/BENCHMARKS.md)
#   --results FILE      where to copy results JSON (full default: bench/results/latest.json)
#   --no-build-rust     full run: do not build rocketmq-rust if it is not cached (skip it)
#   --label NAME        also save the results as bench/results/history/NAME.json (before/after
#                       table of BENCHMARKS.md); with --label, BENCHMARKS.md and latest.json are only
#                       written when --md/--results name them
#   --measure-ms M --warmup-ms W --backlog N   override the phase sizes
#   --big-fill N        full run: the messages of the last phase, a batch fill of 4 KiB bodies after
#                       `consume` (default 150000, ~620 MB of commit log: the append path against
#                       the disk's bandwidth, which 128 B messages cannot reach on 2 cores)
#   --plan P            override the phase plan (e.g. sync:128:64,sync:1024:64; see bench/driver);
#                       open-loop phases (open:SIZE:RATE) run under the native driver only
#   --driver D          java, native or both (default: both; --quick: java): which load driver(s)
#                       run every peer's phases; with both, each peer runs twice (a fresh broker
#                       each time) and the report shows the two side by side
#   --open-plan P       open-loop phases the native driver adds before `fill` (default
#                       open:128:5000,open:1024:5000; --quick: open:128:1000; "" for none)
#   --pct-plan P        latency under a fixed offered load, both drivers, before `fill`: openpct:SIZE:PCT
#                       offers PCT % of the broker's own peak for SIZE, the best msgs/s of the
#                       closed-loop phases (sync, async) of SIZE that ran before it in the same
#                       broker run (default and --quick: openpct:128:50,openpct:128:80; "" for none)
#   --e2e-plan P        consumption while producing, both drivers, before `fill`: e2e:SIZE:RATE sends
#                       RATE msgs/s to a fresh topic read by a consumer (Java: DefaultMQPushConsumer;
#                       native: long-polling pulls), latency send -> delivery (default
#                       e2e:128:2000; --quick: e2e:128:500; "" for none)
#   --scale-plan P      the broker with many topics and groups, run by the first driver of --driver
#                       only (to save time; the report names it), before `fill`: scale:TOPICS:GROUPS:RATE
#                       (default scale:1000:100:2000: 1,000 topics x 8 queues, 100 consumer groups,
#                       2,000 msgs/s under load; --quick: scale:50:10:500; "" for none)
#   --settle-ms S       scale: quiet time before the idle sample (default 30000; --quick: 1000)
#                       With --plan, the pct, e2e and scale phases are only added when their
#                       option is given.
#   --pin               native driver runs: pin the driver to the last CPU (rmq-bench --cpu) and
#                       the broker to the others (taskset), so they do not share a core
#
# Every phase's JSON carries how busy the machine was around it (measured by the driver):
# /proc/loadavg before and after, the CPU steal over the phase (steal jiffies of /proc/stat as a
# share of all), the CPU every process used and what is left of it after the broker's and the
# driver's own (othersCpuPct); the report marks busy phases (bench/report_reps.py) and counts
# them. Each peer run's meta.json also has the load average before and after it.
#
# Nothing here asserts on timings: the exit status is 0 when the harness itself worked (a peer
# that failed or was skipped is reported in the table, not as an error), 1 when rmq itself could
# not be benchmarked. Environment: RMQ_TEST_CACHE, RMQ_BENCH_WORK (scratch dir, default $TMPDIR),
# RMQ_BENCH_TARGET_DIR (cargo target dir for the release build, default ~/.cache/rmq-target-bench),
# RMQ_BENCH_BIN_DIR (use the rmq-broker/rmq-namesrv found there instead of building; for the test
# command's smoke run, e.g. RMQ_BENCH_BIN_DIR=target/debug bench/run.sh --quick — the report names
# the build, and debug numbers mean nothing; RMQ_BENCH_REV names their revision),
# RMQ_BENCH_BROKER_SET (extra rmq broker.conf keys, "k=v k=v", e.g. httpEnable=false),
# RMQ_BENCH_SCRAPE_S (scrape the rmq broker's /metrics every N seconds while it runs, as a
# Prometheus would; bench/metrics-overhead.sh uses both), RMQ_BENCH_NATIVE (a prebuilt rmq-bench
# to use instead of building it with bench/build-native.sh).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
export RMQ_TEST_CACHE="$CACHE"
T_START=$(date +%s)

# the arguments as a shell would need them again (an empty plan stays '')
ORIG_ARGS=""
(($#)) && ORIG_ARGS="$(printf '%q ' "$@")" && ORIG_ARGS="${ORIG_ARGS% }"
QUICK=0 PEERS="" OUT="" MD="" RESULTS="" BUILD_RUST=1 LABEL="" PLAN_OVERRIDE="" REPEAT=""
MEASURE_MS="" WARMUP_MS="" BACKLOG="" BIG_FILL="" DRIVERS="" OPEN_PLAN="" OPEN_PLAN_SET=0 PIN=0
PCT_PLAN="" PCT_PLAN_SET=0 E2E_PLAN="" E2E_PLAN_SET=0 SCALE_PLAN="" SCALE_PLAN_SET=0 SETTLE_MS=""
while (($#)); do
  case "$1" in
    --quick) QUICK=1; shift;;
    --peers) PEERS="$2"; shift 2;;
    --out) OUT="$2"; shift 2;;
    --md) MD="$2"; shift 2;;
    --results) RESULTS="$2"; shift 2;;
    --no-build-rust) BUILD_RUST=0; shift;;
    --label) LABEL="$2"; shift 2;;
    --plan) PLAN_OVERRIDE="$2"; shift 2;;
    --measure-ms) MEASURE_MS="$2"; shift 2;;
    --warmup-ms) WARMUP_MS="$2"; shift 2;;
    --backlog) BACKLOG="$2"; shift 2;;
    --big-fill) BIG_FILL="$2"; shift 2;;
    --driver) DRIVERS="$2"; shift 2;;
    --open-plan) OPEN_PLAN="$2"; OPEN_PLAN_SET=1; shift 2;;
    --pct-plan) PCT_PLAN="$2"; PCT_PLAN_SET=1; shift 2;;
    --e2e-plan) E2E_PLAN="$2"; E2E_PLAN_SET=1; shift 2;;
    --scale-plan) SCALE_PLAN="$2"; SCALE_PLAN_SET=1; shift 2;;
    --settle-ms) SETTLE_MS="$2"; shift 2;;
    --pin) PIN=1; shift;;
    --repeat) REPEAT="$2"; shift 2;;
    -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0"; exit 0;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2;;
  esac
done

log() { echo "bench[$(( $(date +%s) - T_START ))s]: $*" >&2; }

if ((QUICK)); then
  MODE=quick
  : "${PEERS:=apache,rocketmq-rust,rmq}"
  : "${MEASURE_MS:=1000}" "${WARMUP_MS:=300}" "${BACKLOG:=20000}"
  INITIAL_WARMUP_MS=500 PHASE_TIMEOUT_MS=20000 DD_MB=128 NET_S=1
  PLAN="sync:128:1,sync:128:64,sync:1024:16,async:128,fill:128:$BACKLOG,consume"
  BUILD_RUST=0
  : "${DRIVERS:=java}" "${REPEAT:=1}"
  ((OPEN_PLAN_SET)) || OPEN_PLAN="open:128:1000"
  DEF_PCT="openpct:128:50,openpct:128:80" DEF_E2E="e2e:128:500" DEF_SCALE="scale:50:10:500"
  : "${SETTLE_MS:=1000}"
else
  MODE=full
  : "${PEERS:=apache,apache4,rocketmq-rust,rmq}"
  : "${MEASURE_MS:=8000}" "${WARMUP_MS:=2000}" "${BACKLOG:=1000000}" "${BIG_FILL:=150000}"
  INITIAL_WARMUP_MS=3000 PHASE_TIMEOUT_MS=75000 DD_MB=1024 NET_S=3
  PLAN="sync:128:1,sync:128:16,sync:128:64,sync:1024:1,sync:1024:16,sync:1024:64,async:128,async:1024,fill:128:$BACKLOG,consume,fill:4096:$BIG_FILL"
  : "${DRIVERS:=both}" "${REPEAT:=3}"
  ((OPEN_PLAN_SET)) || OPEN_PLAN="open:128:5000,open:1024:5000"
  DEF_PCT="openpct:128:50,openpct:128:80" DEF_E2E="e2e:128:2000" DEF_SCALE="scale:1000:100:2000"
  : "${SETTLE_MS:=30000}"
fi
# the fixed-load phases: added to the default plan; with --plan only when asked for
if [[ -z "$PLAN_OVERRIDE" ]]; then
  ((PCT_PLAN_SET)) || PCT_PLAN="$DEF_PCT"
  ((E2E_PLAN_SET)) || E2E_PLAN="$DEF_E2E"
  ((SCALE_PLAN_SET)) || SCALE_PLAN="$DEF_SCALE"
fi
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --repeat '$REPEAT': write a count of 1 or more" >&2; exit 2; }
APACHE_VERSION="${RMQ_APACHE_VERSION:-5.5.0}" APACHE_VERSION_4="${RMQ_APACHE_VERSION_4:-4.9.7}"
case "$DRIVERS" in
  java) driver_list=(java);; native) driver_list=(native);; both) driver_list=(java native);;
  *) echo "run.sh: --driver '$DRIVERS': write java, native or both" >&2; exit 2;;
esac
has_driver() { [[ " ${driver_list[*]} " == *" $1 "* ]]; }
IFS=',' read -r -a peer_list <<<"$PEERS"
for peer in "${peer_list[@]}"; do
  case "$peer" in rmq|apache|apache4|rocketmq-rust) ;; *) echo "run.sh: unknown peer '$peer' (rmq, apache, apache4, rocketmq-rust)" >&2; exit 2;; esac
done
[[ -n "$PLAN_OVERRIDE" ]] && PLAN="$PLAN_OVERRIDE"
# The Java driver has no open:SIZE:RATE phases; both drivers run the plan with the fixed-load
# phases (openpct, e2e; the native driver's open ones first) inserted before the first fill (the
# backlog must be consumed right after it is filled); scale goes after them, for the first driver
# only. The phases from the first fill on run on a fresh broker (bench/run-peer.sh says why).
# shellcheck source=run-plan.sh
. "$HERE/run-plan.sh"
FIXED_PLAN="$(join_plans "$PCT_PLAN" "$E2E_PLAN")"
PLAN_JAVA="$(plan_insert "$(plan_java "$PLAN")" "$FIXED_PLAN")"
PLAN_NATIVE="$(plan_insert "$PLAN" "$(join_plans "$OPEN_PLAN" "$FIXED_PLAN")")"
if [[ "${driver_list[0]}" == java ]]; then PLAN_JAVA="$(plan_before_tail "$PLAN_JAVA" "$SCALE_PLAN")"
else PLAN_NATIVE="$(plan_before_tail "$PLAN_NATIVE" "$SCALE_PLAN")"; fi
TS="$(date -u +%Y%m%dT%H%M%SZ)"
: "${OUT:=$CACHE/bench/runs/$MODE-$TS}"
if ((QUICK)) || [[ -n "$LABEL" ]]; then : "${MD:=$OUT/BENCHMARKS.md}"; else : "${MD:=$ROOT/BENCHMARKS.md}" "${RESULTS:=$HERE/results/latest.json}"; fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK_PARENT="${RMQ_BENCH_WORK:-${TMPDIR:-/tmp}}"
WORK="$(mktemp -d "$WORK_PARENT/rmq-bench.XXXXXX")"
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
APACHE_SH="$ROOT/tests/peers/apache.sh"

# ---------------------------------------------------------------------------------------------
# cleanup: everything we start is recorded here and stopped on exit
PIDS=()        # processes we spawned directly
APACHE_DIRS=() # apache.sh dirs to stop
cleanup() {
  local p d
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  for d in "${APACHE_DIRS[@]}"; do "$APACHE_SH" stop --dir "$d" >/dev/null 2>&1 || true; done
  PIDS=() APACHE_DIRS=()
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

stop_pid() { # pid: TERM, wait up to 10 s, KILL
  local pid="$1" i=0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((i < 100)); do sleep 0.1; i=$((i + 1)); done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
forget_pid() { local p keep=(); for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done; PIDS=("${keep[@]}"); }

now_ms() { date +%s%3N; }
# shellcheck source=ports.sh
. "$HERE/ports.sh"
wait_log() { # file pattern pid timeout_s
  local f="$1" pat="$2" pid="$3" t="$4" i=0
  while ((i < t * 10)); do
    grep -q "$pat" "$f" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
# Why a process that wrote its log to FILE stopped: its first ERROR / panic lines, else its last
# lines (ANSI colours removed, one line, at most 600 characters).
exit_reason() { # file
  local lines
  lines="$(sed 's/\x1b\[[0-9;]*m//g' "$1" 2>/dev/null | grep -E -m 3 'ERROR|panicked|[Ee]rror:|FATAL|Rolling back' || true)"
  # else the last lines that are not routine INFO/DEBUG logging (a request log says nothing)
  [[ -n "$lines" ]] || lines="$(sed 's/\x1b\[[0-9;]*m//g' "$1" 2>/dev/null | grep -Ev ' (INFO|DEBUG|TRACE) ' | tail -n 5)"
  [[ -n "$lines" ]] || lines="its log has no error line; free disk at its end: $(df -P -h "$(dirname "$1")" | awk 'NR == 2 { print $4 }')"
  printf '%s' "$lines" | tr -s ' \n' '  ' | cut -c1-600
}
# After a broker that listens on Q-2 (fast), Q and Q+1 (HA) exited: which of them another process
# holds now (rocketmq-rust's own log only says "Service lifecycle operation failed" then).
ports_taken() { # Q
  local p out=""
  for p in $(($1 - 2)) "$1" $(($1 + 1)); do port_free "$p" || out="$out $p"; done
  [[ -z "$out" ]] || printf '; port(s)%s already in use by another process' "$out"
}
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
skip_peer() { # name reason
  log "SKIP $1: $2"
  mkdir -p "$OUT/peers/$1"
  printf '{"peer":%s,"skipped":true,"reason":%s}\n' "$(json_str "$1")" "$(json_str "$2")" >"$OUT/peers/$1/meta.json"
}

# ---------------------------------------------------------------------------------------------
# prerequisites
need=(cargo python3 dd getconf)
has_driver java && need+=(java mvn)
[[ ",$PEERS," == *",apache"* ]] && need+=(java)
((PIN)) && need+=(taskset)
for t in "${need[@]}"; do
  command -v "$t" >/dev/null || { echo "run.sh: '$t' is not installed" >&2; exit 1; }
done
log "mode=$MODE peers=$PEERS drivers=${driver_list[*]} repeat=$REPEAT out=$OUT work=$WORK"

DRIVER="" CLIENT_VERSION="" NATIVE="" NATIVE_CPU="" BROKER_CPUS=""
export RMQ_BENCH_DRIVER_OPTS="-Xms1g -Xmx1g -XX:+UseG1GC -Drocketmq.client.logRoot=$WORK/client-logs -Drocketmq.client.logLevel=WARN -Drocketmq.client.logFileMaxIndex=2"
if has_driver java; then
  log "building the load driver (cached)"
  DRIVER_DIR="$("$HERE/build-driver.sh")"
  DRIVER="$DRIVER_DIR/driver"
  CLIENT_VERSION="$(cat "$DRIVER_DIR/client-version")"
fi
if has_driver native; then
  log "building the native load driver (cargo, incremental)"
  NATIVE="$("$HERE/build-native.sh")" || { echo "run.sh: the native driver could not be built" >&2; exit 1; }
  if ((PIN)); then
    ncpu="$(getconf _NPROCESSORS_ONLN)"
    if ((ncpu >= 2)); then NATIVE_CPU=$((ncpu - 1)); BROKER_CPUS="0"; ((ncpu > 2)) && BROKER_CPUS="0-$((ncpu - 2))"
    else log "--pin: one CPU only, nothing to pin"; fi
  fi
fi

RMQ_TARGET="${RMQ_BENCH_TARGET_DIR:-$HOME/.cache/rmq-target-bench}"
if [[ -n "${RMQ_BENCH_BIN_DIR:-}" ]]; then
  # prebuilt binaries (e.g. the test command's debug build): no compile; the report says so
  RMQ_BIN="$(cd "$RMQ_BENCH_BIN_DIR" && pwd)"
  RMQ_BUILD="prebuilt $RMQ_BIN"
  RMQ_REV="${RMQ_BENCH_REV:-}"
  [[ -x "$RMQ_BIN/rmq-broker" && -x "$RMQ_BIN/rmq-namesrv" ]] || { echo "run.sh: no rmq-broker/rmq-namesrv in $RMQ_BIN" >&2; exit 1; }
else
  log "building rmq (release, CARGO_TARGET_DIR=$RMQ_TARGET)"
  t_build=$(date +%s)
  (cd "$ROOT" && CARGO_TARGET_DIR="$RMQ_TARGET" cargo build --release --quiet -p rmq-broker -p rmq-namesrv >&2) \
    || { echo "run.sh: cargo build --release of rmq failed" >&2; exit 1; }
  log "rmq build done in $(( $(date +%s) - t_build ))s"
  RMQ_BIN="$RMQ_TARGET/release"
  RMQ_BUILD="release"
fi
if [[ -z "${RMQ_REV:-}" ]]; then
  RMQ_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [[ -n "$(git -C "$ROOT" status --porcelain -- broker 2>/dev/null)" ]]; then RMQ_REV="$RMQ_REV+dirty"; fi
fi

# rocketmq-rust: the cached build, or (full run only) build it now
RUST_VERSION="${RMQ_ROCKETMQ_RUST_VERSION:-1.0.0}"
RUST_BIN=""
if [[ ",$PEERS," == *",rocketmq-rust,"* ]]; then
  if RUST_BIN="$("$HERE/build-rocketmq-rust.sh" --version "$RUST_VERSION" --check 2>/dev/null)"; then :
  elif ((BUILD_RUST)); then
    log "building rocketmq-rust $RUST_VERSION from crates.io (cold: long; cached afterwards)"
    RUST_BIN="$("$HERE/build-rocketmq-rust.sh" --version "$RUST_VERSION")" || RUST_BIN=""
  fi
fi

# ---------------------------------------------------------------------------------------------
# machine and limits
python3 "$HERE/report.py" machine --store-dir "$WORK" >"$OUT/machine.json"
log "limit: sequential write of ${DD_MB} MiB with fdatasync into the store disk ($WORK)"
dd_out="$(LC_ALL=C dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$DD_MB" conv=fdatasync 2>&1 | tail -n 1)" || dd_out=""
rm -f "$WORK/dd.bin"
log "limit: the same with O_DIRECT (the device itself, no page cache)"
dd_direct="$(LC_ALL=C dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$DD_MB" oflag=direct conv=fdatasync 2>&1 | tail -n 1)" || dd_direct=""
rm -f "$WORK/dd.bin"
log "limit: loopback TCP"
net_json="" net_native=""
if has_driver java; then
  net_json="$(timeout 60 "$DRIVER" net --seconds "$NET_S" 2>>"$OUT/driver-net.err" | tail -n 1)" || net_json='{"ok":false}'
fi
if has_driver native; then
  net_native="$(timeout 60 "$NATIVE" net --seconds "$NET_S" 2>>"$OUT/driver-net.err" | tail -n 1)" || net_native='{"ok":false}'
fi
printf '{"dd":%s,"ddDirect":%s,"ddMiB":%s,"net":%s,"netNative":%s}\n' "$(json_str "$dd_out")" "$(json_str "$dd_direct")" "$DD_MB" \
  "${net_json:-${net_native:-null}}" "${net_native:-null}" >"$OUT/limits.json"

# ---------------------------------------------------------------------------------------------
# One peer: nameserver; the load driver (started before the broker, it watches the nameserver for
# the broker's registration, then creates the topics, samples the idle broker and runs the plan, all
# in one JVM); the broker; stop. ns_* / broker_* set globals and, on failure, ERR and return 1.
NS_PORT="" BR_PORT="" BR_PID="" NS_PID="" DRV_PID="" PDIR="" ERR="" T_SPAWN="" PEER_VERSION="" BR_PIDFILE="" LOAD_PLAN=""

ns_rmq() {
  "$RMQ_BIN/rmq-namesrv" --listen-addr 127.0.0.1 --listen-port "$NS_PORT" --kv-config-path "$PDIR/kv.json" \
      >"$PDIR/namesrv.out" 2>&1 &
  NS_PID=$!; PIDS+=("$NS_PID")
  wait_log "$PDIR/namesrv.out" "boot success" "$NS_PID" 30 || { ERR="rmq-namesrv did not boot: $(tail -n 3 "$PDIR/namesrv.out" | tr '\n' ' ')"; return 1; }
  PEER_VERSION="$RMQ_REV"
}
broker_rmq() {
  BR_PIDFILE="$PDIR/broker.pid"
  "$RMQ_BIN/rmq-broker" -n "127.0.0.1:$NS_PORT" --listen-addr 127.0.0.1 --listen-port "$BR_PORT" \
      --broker-ip1 127.0.0.1 --store-dir "$PDIR/store" --broker-name broker-a --cluster DefaultCluster \
      --set flushDiskType=ASYNC_FLUSH --set mappedFileSizeCommitLog=67108864 --set brokerRole=ASYNC_MASTER \
      --set autoCreateTopicEnable=true --set autoCreateSubscriptionGroup=true "${EXTRA_SET[@]}" \
      >"$PDIR/broker.out" 2>&1 &
  BR_PID=$!; PIDS+=("$BR_PID"); echo "$BR_PID" >"$BR_PIDFILE"
  wait_log "$PDIR/broker.out" "boot success" "$BR_PID" 60 || { ERR="rmq-broker did not boot: $(tail -n 3 "$PDIR/broker.out" | tr '\n' ' ')"; return 1; }
  [[ -n "${RMQ_BENCH_SCRAPE_S:-}" ]] && scrape_loop "$BR_PID" "$((BR_PORT + 7))" "$RMQ_BENCH_SCRAPE_S" "$OUT/scrapes"
  return 0
}
# Scrapes http://127.0.0.1:PORT/metrics every EVERY seconds while PID lives (background; one
# line per scrape answered goes to FILE, a failed scrape's error to FILE.err).
scrape_loop() { # pid port every file
  ( while kill -0 "$1" 2>/dev/null; do
      curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$2/metrics" 2>>"$4.err" && echo ok >>"$4"
      sleep "$3"
    done ) &
  PIDS+=($!)
}
EXTRA_SET=()
for kv in ${RMQ_BENCH_BROKER_SET:-}; do EXTRA_SET+=(--set "$kv"); done

ns_apache() { # version
  APACHE_DIRS+=("$PDIR/ns")
  "$APACHE_SH" start --version "$1" --namesrv-port "$NS_PORT" --no-broker --dir "$PDIR/ns" \
      >"$PDIR/ns-start.out" 2>&1 || { ERR="Apache $1 nameserver did not start: $(tail -n 3 "$PDIR/ns-start.out" | tr '\n' ' ')"; return 1; }
  NS_PID="$(cat "$PDIR/ns/namesrv.pid")"
  PEER_VERSION="$1"
}
broker_apache() { # version
  APACHE_DIRS+=("$PDIR/broker")
  BR_PIDFILE="$PDIR/broker/broker.pid"   # written by apache.sh right after the spawn
  "$APACHE_SH" start --version "$1" --namesrv-addr "127.0.0.1:$NS_PORT" --broker-port "$BR_PORT" \
      --dir "$PDIR/broker" --xmx 1g --conf brokerClusterName=DefaultCluster --conf flushDiskType=ASYNC_FLUSH \
      >"$PDIR/broker-start.out" 2>&1 || { ERR="Apache $1 broker did not start: $(tail -n 3 "$PDIR/broker-start.out" | tr '\n' ' ')"; return 1; }
  BR_PID="$(cat "$BR_PIDFILE")"
}

ns_rocketmq_rust() {
  local home="$PDIR/home" i=0
  mkdir -p "$home/conf" "$PDIR/store" "$PDIR/nsstore"
  (cd "$home" && HOME="$home" NO_COLOR=1 ROCKETMQ_HOME="$home" ROCKETMQ_SECURITY_PROFILE=development-insecure-loopback exec \
    "$RUST_BIN/rocketmq-namesrv-rust" --rocketmqHome "$home" --listenPort "$NS_PORT" --bindAddress 127.0.0.1 \
      --kvConfigPath "$PDIR/nsstore/kvConfig.json") >"$PDIR/namesrv.out" 2>&1 &
  NS_PID=$!; PIDS+=("$NS_PID")
  until ! port_free "$NS_PORT"; do
    kill -0 "$NS_PID" 2>/dev/null || { ERR="rocketmq-namesrv-rust exited: $(exit_reason "$PDIR/namesrv.out")$(port_free "$NS_PORT" || echo "; port $NS_PORT already in use by another process")"; return 1; }
    ((i++ < 300)) || { ERR="rocketmq-namesrv-rust did not listen within 30 s"; return 1; }
    sleep 0.1
  done
  PEER_VERSION="$RUST_VERSION"
}
# rocketmq-rust 1.0.0 aborts its start-up ("Rolling back broker startup") when the store's disk
# is more than 90 % full counting the blocks reserved for root as used (1 - available/size): its
# diskSpaceWarningLevelRatio is capped at 90. Says so before trying, instead of that message.
rust_disk_refusal() { # dir
  local size avail mount
  read -r size avail mount < <(df -P -k "$1" | awk 'NR == 2 { print $2, $4, $6 }')
  [[ -n "$size" && "$size" -gt 0 ]] || return 1
  ((avail * 10 > size)) && return 1
  echo "rocketmq-rust 1.0.0 refuses to start on a disk more than 90 % full and $mount has $((avail / 1048576)) of $((size / 1048576)) GiB available; free space there and re-run"
}
broker_rocketmq_rust() {
  local home="$PDIR/home" i=0 refusal
  if refusal="$(rust_disk_refusal "$PDIR")"; then ERR="$refusal"; return 1; fi
  cat >"$home/conf/broker.toml" <<EOT
[broker]
namesrvAddr = "127.0.0.1:$NS_PORT"
brokerIp1 = "127.0.0.1"
listenPort = $BR_PORT
storePathRootDir = "$PDIR/store"
autoCreateTopicEnable = true
autoCreateSubscriptionGroup = true

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "broker-a"
brokerClusterName = "DefaultCluster"
brokerId = 0

[store]
storeType = "LocalFile"
brokerRole = "ASYNC_MASTER"
flushDiskType = "ASYNC_FLUSH"
mappedFileSizeCommitLog = 67108864
# rocketmq-rust 1.0.0 writes each consume-queue file in full when it creates it (Apache's are
# sparse): at its default 6 MB (300,000 entries) the scale phase's 8,000 queues filled the 30 GB
# left on this machine's disk, and the broker died. 30,000 entries (600 KB) a file keep it near 5 GB.
mappedFileSizeConsumeQueue = 600000
storePathRootDir = "$PDIR/store"
haListenAddress = "127.0.0.1"
haListenPort = $((BR_PORT + 1))
# rocketmq-rust 1.0.0 reads a missing deleteFileBatchMax from a TOML as 0 (its built-in default
# and Apache's is 10) and then warns every 10 s that it cannot delete files
deleteFileBatchMax = 10
EOT
  BR_PIDFILE="$PDIR/broker.pid"
  (cd "$home" && HOME="$home" NO_COLOR=1 ROCKETMQ_HOME="$home" ROCKETMQ_SECURITY_PROFILE=development-insecure-loopback exec \
    "$RUST_BIN/rocketmq-broker-rust" -c "$home/conf/broker.toml" -n "127.0.0.1:$NS_PORT") >"$PDIR/broker.out" 2>&1 &
  BR_PID=$!; PIDS+=("$BR_PID"); echo "$BR_PID" >"$BR_PIDFILE"
  until ! port_free "$BR_PORT"; do
    kill -0 "$BR_PID" 2>/dev/null || { ERR="rocketmq-broker-rust exited: $(exit_reason "$PDIR/broker.out")$(ports_taken "$BR_PORT")"; return 1; }
    ((i++ < 600)) || { ERR="rocketmq-broker-rust did not listen within 60 s"; return 1; }
    sleep 0.1
  done
}

rss_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status" 2>/dev/null || true; }
# the three load averages as a JSON list, e.g. [0.52,1.25,2.00]
loadavg_json() { local a b c _; read -r a b c _ </proc/loadavg && echo "[$a,$b,$c]" || echo null; }

stop_peer() {
  local p d
  for p in "$DRV_PID" "$BR_PID" "$NS_PID"; do
    [[ -n "$p" ]] || continue
    case " ${PIDS[*]} " in *" $p "*) stop_pid "$p"; forget_pid "$p";; esac
  done
  for d in "$PDIR/broker" "$PDIR/ns"; do
    [[ -f "$d/.rmq-apache-peer" ]] && { "$APACHE_SH" stop --dir "$d" --keep >/dev/null 2>&1 || true; }
  done
  APACHE_DIRS=()
}

copy_logs() { # dest dir: keep the interesting logs of a peer in the run dir (not the store)
  local f
  for f in namesrv.out broker.out ns-start.out broker-start.out load.err broker/broker.out ns/namesrv.out; do
    [[ -f "$PDIR/$f" ]] && tail -c 200000 "$PDIR/$f" >"$1/$(echo "$f" | tr / -)" || true
  done
}

# shellcheck source=run-peer.sh
. "$HERE/run-peer.sh"

# ---------------------------------------------------------------------------------------------
RMQ_OK=1
printf '%s\n' "${peer_list[@]}" >"$OUT/peers.txt"
# which peers can run at all (a skipped one is recorded once, whatever --repeat)
runnable=()
for peer in "${peer_list[@]}"; do
  case "$peer" in
    apache|apache4)
      v="$APACHE_VERSION"; [[ "$peer" == apache4 ]] && v="$APACHE_VERSION_4"
      if [[ ! -f "$CACHE/apache/$v/.complete" ]] && ((QUICK)); then
        skip_peer "$peer" "Apache $v jars not cached (run tests/peers/apache.sh fetch --version $v)"; continue
      fi
      "$APACHE_SH" fetch --version "$v" >/dev/null 2>"$OUT/apache-fetch-$v.err" || { skip_peer "$peer" "cannot fetch Apache $v jars from Maven"; continue; }
      ;;
    rocketmq-rust)
      if [[ -z "$RUST_BIN" ]]; then
        if ((QUICK)); then skip_peer "$peer" "rocketmq-rust $RUST_VERSION is not built yet (bench/build-rocketmq-rust.sh; --quick never builds it)"
        else skip_peer "$peer" "rocketmq-rust $RUST_VERSION could not be built: $(tail -n 3 "$CACHE/rocketmq-rust/$RUST_VERSION/build.log" 2>/dev/null | tr '\n' ' ')"; fi
        continue
      fi
      ;;
  esac
  runnable+=("$peer")
done
# repetitions interleaved, so that a slow drift of the machine's load spreads over every peer
for rep in $(seq 1 "$REPEAT"); do
  for peer in "${runnable[@]}"; do
    for drv in "${driver_list[@]}"; do
      if ! run_peer "$peer" "$drv" "$rep"; then [[ "$peer" == rmq ]] && RMQ_OK=0; fi
    done
  done
done

# ---------------------------------------------------------------------------------------------
cat >"$OUT/run.json" <<EOF
{"mode":"$MODE","timestamp":"$TS","repeat":$REPEAT,"plan":"$PLAN_JAVA","nativePlan":"$PLAN_NATIVE","drivers":"$(IFS=,; echo "${driver_list[*]}")","nativeCpu":$(json_str "$NATIVE_CPU"),"brokerCpus":$(json_str "$BROKER_CPUS"),"pctPlan":$(json_str "$PCT_PLAN"),"e2ePlan":$(json_str "$E2E_PLAN"),"scalePlan":$(json_str "$SCALE_PLAN"),"settleMs":$SETTLE_MS,"warmupMs":$WARMUP_MS,"measureMs":$MEASURE_MS,"initialWarmupMs":$INITIAL_WARMUP_MS,"phaseTimeoutMs":$PHASE_TIMEOUT_MS,"backlog":$BACKLOG,"clientVersion":"$CLIENT_VERSION","driverOpts":$(json_str "$RMQ_BENCH_DRIVER_OPTS"),"rmqRev":"$RMQ_REV","rmqBuild":$(json_str "$RMQ_BUILD"),"wallS":$(( $(date +%s) - T_START )),"command":$(json_str "bench/run.sh${ORIG_ARGS:+ $ORIG_ARGS}")}
EOF
if [[ -n "$LABEL" ]]; then
  mkdir -p "$HERE/results/history"
  python3 "$HERE/report.py" render --run "$OUT" --md "$OUT/BENCHMARKS.md" --json "$HERE/results/history/$LABEL.json"
fi
python3 "$HERE/report.py" render --run "$OUT" --md "$MD" ${RESULTS:+--json "$RESULTS"}
log "results: $OUT  markdown: $MD${RESULTS:+  json: $RESULTS}"
log "total $(( $(date +%s) - T_START ))s"
((RMQ_OK)) || { log "rmq could not be benchmarked"; exit 1; }
