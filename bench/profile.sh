#!/usr/bin/env bash
# Profile rmq-broker under the benchmark load (default: 64 threads of sync 128 B sends).
#
#   bench/profile.sh [--seconds 15] [--plan sync:128:64] [--tool perf|callgrind|stat] [--out DIR]
#                    [--bin-dir DIR]   (rmq-broker/rmq-namesrv to profile; default: release build)
#                    [--label NAME]    callgrind: also save the per-message figures as
#                                      bench/results/profile/NAME.json (a table in BENCHMARKS.md)
#                    [--driver java|native]  the load: the Java client (default) or the native
#                                      driver (bench/native, `rmq-bench`: our own client's headers
#                                      and pipelining, e.g. --plan async:1024)
#
# perf: `perf record -e cpu-clock --call-graph dwarf` attached to the broker for the measured window
# (hardware counters are often unavailable in VMs; cpu-clock sampling works), then a flat
# `perf report --no-children` and a caller view into DIR. stat: `perf stat` of the broker for the
# measured window (CPU time, context switches, syscalls by kind) divided by the messages sent in
# it (--label saves bench/results/profile/stat-NAME.json). callgrind: the broker runs under
# valgrind (slow, ~50x; instruction counts do not depend on how busy the machine is) for the
# whole run; bench/callgrind_per_msg.py divides by the MessageStore::put calls (= instructions per
# stored message; start-up is a small constant next to the load, and the request-path figure
# excludes it).
# Uses the release build in RMQ_BENCH_TARGET_DIR (~/.cache/rmq-target-bench) and the bench driver.
# RMQ_BENCH_BROKER_SET: extra broker.conf keys, "k=v k=v" (e.g. commitLogWriteBack=16384).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SECONDS_LOAD=15 PLAN="sync:128:64" TOOL=perf OUT="" BIN="" LABEL="" DRIVER_KIND=java
while (($#)); do
  case "$1" in
    --seconds) SECONDS_LOAD="$2"; shift 2;;
    --plan) PLAN="$2"; shift 2;;
    --tool) TOOL="$2"; shift 2;;
    --out) OUT="$2"; shift 2;;
    --bin-dir) BIN="$2"; shift 2;;
    --label) LABEL="$2"; shift 2;;
    --driver) DRIVER_KIND="$2"; shift 2;;
    *) sed -n '2,/^set -e/{/^#/p}' "$0" >&2; exit 2;;
  esac
done
: "${OUT:=${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}/bench/profile-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
TARGET="${RMQ_BENCH_TARGET_DIR:-$HOME/.cache/rmq-target-bench}"
if [[ -z "$BIN" ]]; then
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet -p rmq-broker -p rmq-namesrv)
  BIN="$TARGET/release"
fi
case "$DRIVER_KIND" in
  java) DRIVER="$("$HERE/build-driver.sh")/driver";;
  native) DRIVER="$("$HERE/build-native.sh")";;
  *) echo "profile.sh: --driver must be java or native, not '$DRIVER_KIND'" >&2; exit 2;;
esac
export RMQ_BENCH_DRIVER_OPTS="-Xms1g -Xmx1g -XX:+UseG1GC -Drocketmq.client.logRoot=$OUT/client-logs -Drocketmq.client.logLevel=WARN"
W="$(mktemp -d "${TMPDIR:-/tmp}/rmq-profile.XXXXXX")"
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; sleep 1
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
NP=$((21000 + RANDOM % 4000 * 2)); BP=$((NP + 4000))
"$BIN/rmq-namesrv" --listen-addr 127.0.0.1 --listen-port "$NP" --kv-config-path "$W/kv.json" >"$W/ns.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q 'boot success' "$W/ns.out" && break; sleep 0.1; done
BROKER=("$BIN/rmq-broker" -n "127.0.0.1:$NP" --listen-addr 127.0.0.1 --listen-port "$BP" --broker-ip1 127.0.0.1
  --store-dir "$W/store" --broker-name broker-a --set flushDiskType=ASYNC_FLUSH --set mappedFileSizeCommitLog=67108864)
for kv in ${RMQ_BENCH_BROKER_SET:-}; do BROKER+=(--set "$kv"); done
if [[ "$TOOL" == callgrind ]]; then
  valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" --dump-instr=no \
    "${BROKER[@]}" >"$W/broker.out" 2>&1 &
else
  "${BROKER[@]}" >"$W/broker.out" 2>&1 &
fi
BPID=$!; PIDS+=("$BPID")
for _ in $(seq 600); do grep -q 'boot success' "$W/broker.out" && break; sleep 0.1; done
echo "$BPID" >"$W/broker.pid"
WARM=3000
if [[ "$TOOL" == stat ]]; then
  ( sleep $(( (WARM + 2000) / 1000 + 2 )); exec perf stat -x, -o "$OUT/perf-stat.csv" \
      -e task-clock,context-switches,raw_syscalls:sys_enter,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_pwrite64,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait \
      -p "$BPID" -- sleep "$SECONDS_LOAD" ) >"$OUT/perf-stat.out" 2>&1 &
  PERF_PID=$!
fi
if [[ "$TOOL" == perf ]]; then
  # attach for the measured window only
  ( sleep $(( (WARM + 2000) / 1000 + 2 )); exec perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$BPID" -o "$OUT/perf.data" -- sleep "$SECONDS_LOAD" ) \
    >"$OUT/perf-record.out" 2>&1 &
  PERF_PID=$!
fi
"$DRIVER" load --namesrv "127.0.0.1:$NP" --broker "127.0.0.1:$BP" --broker-pid-file "$W/broker.pid" \
  --create-topics BenchTest,BenchTestBacklog --queues 8 --topic BenchTest --plan "$PLAN" \
  --initial-warmup-ms "$WARM" --warmup-ms 2000 --measure-ms $((SECONDS_LOAD * 1000 + 2000)) --phase-timeout-ms 120000 \
  | tee "$OUT/load.jsonl"
if [[ "$TOOL" == perf ]]; then
  wait "$PERF_PID" || true
  perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio --percent-limit 0.5 -g none >"$OUT/flat.txt" 2>/dev/null || true
  perf report -i "$OUT/perf.data" --no-children --sort dso --stdio -g none >"$OUT/dso.txt" 2>/dev/null || true
  perf report -i "$OUT/perf.data" --children --sort symbol --stdio --percent-limit 2 -g caller,0.5,callee --max-stack 30 >"$OUT/children.txt" 2>/dev/null || true
  echo "== top symbols (self) =="; grep -v '^#' "$OUT/flat.txt" | grep -v '^$' | head -40
elif [[ "$TOOL" == stat ]]; then
  wait "$PERF_PID" || true
  python3 - "$OUT/perf-stat.csv" "$OUT/load.jsonl" "$SECONDS_LOAD" "${LABEL:+$HERE/results/profile/stat-$LABEL.json}" "$LABEL" <<'PY' | tee "$OUT/stat-per-msg.txt"
import json, sys
csv, load, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
tps = [json.loads(l) for l in open(load) if '"sync"' in l or '"async"' in l][-1]["tps"]
msgs = tps * secs
vals = {}
for line in open(csv):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].replace(".", "").isdigit():
        vals[f[2]] = float(f[0])
out = {"label": sys.argv[5] if len(sys.argv) > 5 else "", "tps": round(tps), "perMsg": {}}
print("broker, %.0f msgs/s over %.0f s:" % (tps, secs))
for k, v in vals.items():
    per = v / msgs * (1000.0 if k == "task-clock" else 1.0)   # task-clock is in ms -> us
    name = "cpu us" if k == "task-clock" else k.replace("syscalls:sys_enter_", "").replace("raw_syscalls:sys_enter", "syscalls")
    out["perMsg"][name] = round(per, 3)
    print("  %-18s %10.3f per message" % (name, per))
if len(sys.argv) > 4 and sys.argv[4]:
    json.dump(out, open(sys.argv[4], "w"), indent=1)
PY
else
  kill -TERM "$BPID" 2>/dev/null || true
  for _ in $(seq 1200); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.1; done
  wait "$BPID" 2>/dev/null || true
  dump="$(ls -t "$OUT"/callgrind.out.* | head -n 1)"
  callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | head -80 >"$OUT/callgrind-inclusive.txt" || true
  callgrind_annotate "$dump" 2>/dev/null | head -60 >"$OUT/callgrind-self.txt" || true
  json_out=""
  if [[ -n "$LABEL" ]]; then mkdir -p "$HERE/results/profile"; json_out="$HERE/results/profile/$LABEL.json"; fi
  python3 "$HERE/callgrind_per_msg.py" "$dump" ${json_out:+"$json_out" "$LABEL"} | tee "$OUT/ir-per-msg.txt"
  head -40 "$OUT/callgrind-self.txt"
fi
echo "profile in $OUT"
