#!/usr/bin/env bash
# Retention soak: pushes many times a small volume's size through one rmq broker whose store
# lives on that volume (a tmpfs of --volume-mib), with second-scale retention on, and reports:
# the disk usage peak (sampled with df every 0.2 s) against the budget (the warning ratio, 90 %,
# where writes would be refused), the producer's failures, what retention deleted, and whether a
# consumer that fell behind retention keeps going. The check interval scales with the volume
# (cleanResourceInterval = volume MiB / 2 ms): on a tiny volume one 10 s interval of ingest is
# more than the whole disk.
#
#   bench/soak-retention.sh [--volume-mib 256] [--factor 10] [--body 4096] [--out DIR]
#
# Needs root (it mounts the tmpfs; unmounted on exit, also on failure), the Java client harness
# (tests/build-harnesses.sh) and rmq binaries (RMQ_BENCH_BIN_DIR, default target/release; built
# with `cargo build --release -p rmq-broker -p rmq-namesrv` when missing). Prints one JSON line
# and writes it to DIR/soak.json. Exit 1 when a check fails: the peak at or above the budget, a
# producer failure without the broker having refused writes for a full disk, nothing deleted,
# or the consumer not receiving every message produced after the flood.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
VOLUME_MIB=256 FACTOR=10 BODY=4096 OUT=""
while (($#)); do
  case "$1" in
    --volume-mib) VOLUME_MIB="$2"; shift 2;;
    --factor) FACTOR="$2"; shift 2;;
    --body) BODY="$2"; shift 2;;
    --out) OUT="$2"; shift 2;;
    -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0"; exit 0;;
    *) echo "soak-retention.sh: unknown argument '$1' (see --help)" >&2; exit 2;;
  esac
done
OUT="${OUT:-$CACHE/bench/soak-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
log() { echo "soak[$SECONDS s]: $*" >&2; }

[[ "$(id -u)" == 0 ]] || { echo "soak-retention.sh: needs root to mount a tmpfs of ${VOLUME_MIB} MiB" >&2; exit 2; }
# shellcheck disable=SC1091
[[ -f "$CACHE/harness.env" ]] && source "$CACHE/harness.env"
JAVA="${RMQ_JAVA_HARNESS_5:?build the client harnesses first: tests/build-harnesses.sh}"
BIN="${RMQ_BENCH_BIN_DIR:-$ROOT/target/release}"
if [[ ! -x "$BIN/rmq-broker" ]]; then
  log "building release binaries"
  (cd "$ROOT" && cargo build --release --quiet -p rmq-broker -p rmq-namesrv)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi

LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
VOL="$(mktemp -d /tmp/rmq-soak-vol.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  umount -l "$VOL" 2>/dev/null || true
  rmdir "$VOL" 2>/dev/null || true
}
trap cleanup EXIT
mount -t tmpfs -o "size=${VOLUME_MIB}m" rmq-soak "$VOL"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# every port picked free (the broker's defaults, main+1 for HA and main+7 for HTTP, may be taken
# by another test running beside this one)
NS="127.0.0.1:$(port)"; BR_PORT="$(port)"; HA_PORT="$(port)"; HTTP_PORT="$(port)"
"$BIN/rmq-namesrv" --listen-addr 127.0.0.1 --listen-port "${NS##*:}" --http-listen-port "$(port)" \
  --kv-config-path "$OUT/kv.json" >"$OUT/namesrv.log" 2>&1 &
PIDS+=($!)
# the broker registers at start and then every 30 s: start it once the nameserver answers
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/${NS##*:}") 2>/dev/null && break; sleep 0.1; done
SEGMENT=$((VOLUME_MIB * 1024 * 1024 / 32))
ALL_HOURS="$(seq -f %02g 0 23 | paste -sd';')"
"$BIN/rmq-broker" -n "$NS" --listen-addr 127.0.0.1 --listen-port "$BR_PORT" --broker-ip1 127.0.0.1 \
  --store-dir "$VOL/store" --set haListenPort="$HA_PORT" --set httpListenPort="$HTTP_PORT" \
  --set mappedFileSizeCommitLog="$SEGMENT" --set fileReservedTime=0.0003 \
  --set "deleteWhen=$ALL_HOURS" --set cleanResourceInterval=$((VOLUME_MIB / 2)) --set deleteCommitLogFilesInterval=0 \
  --set deleteFileBatchMax=100 --set mappedFileSizeConsumeQueue=$((SEGMENT / 64)) \
  --set maxIndexNum=$((SEGMENT / 1024)) >"$OUT/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "boot success" "$OUT/broker.log" && break; sleep 0.1; done
grep -q "boot success" "$OUT/broker.log" || { tail -5 "$OUT/broker.log" >&2; exit 1; }
sleep 1

# df every 0.2 s: the peak share of the volume in use.
( while true; do df -B1 --output=used,avail "$VOL" | tail -1; sleep 0.2; done ) >"$OUT/df.log" &
PIDS+=($!)

TOPIC=Soak GROUP=soak-behind
"$JAVA" produce --namesrv "$NS" --topic "$TOPIC" --count 200 --prefix s --send-timeout-ms 10000 >"$OUT/p-start.json"
"$JAVA" consume --namesrv "$NS" --topic "$TOPIC" --group "$GROUP" --prefix s --expect 200 --timeout-ms 60000 >"$OUT/c-start.json"
COUNT=$((VOLUME_MIB * 1024 * 1024 * FACTOR / BODY))
log "pushing $COUNT messages of $BODY bytes ($((VOLUME_MIB * FACTOR)) MiB) through a ${VOLUME_MIB} MiB volume"
T0=$SECONDS
"$JAVA" produce --namesrv "$NS" --topic "$TOPIC" --count "$COUNT" --prefix f --body-size "$BODY" \
  --mode batch --batch-size 16 --send-timeout-ms 10000 --timeout-ms 1800000 >"$OUT/p-flood.json" || true
FLOOD_S=$((SECONDS - T0))
"$JAVA" produce --namesrv "$NS" --topic "$TOPIC" --count 500 --prefix t --send-timeout-ms 10000 >"$OUT/p-tail.json" || true
"$JAVA" consume --namesrv "$NS" --topic "$TOPIC" --group "$GROUP" --prefix t --expect 500 --timeout-ms 180000 >"$OUT/c-tail.json" || true

export SOAK_COMMAND="bench/soak-retention.sh --volume-mib $VOLUME_MIB --factor $FACTOR --body $BODY"
export SOAK_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
export SOAK_LOADAVG="$LOADAVG" SOAK_BIN="$BIN"
python3 - "$OUT" "$VOLUME_MIB" "$FACTOR" "$BODY" "$COUNT" "$FLOOD_S" "$SEGMENT" <<'EOF'
import json, os, re, sys, pathlib, datetime
out = pathlib.Path(sys.argv[1]); vol_mib, factor, body, count, flood_s, segment = map(int, sys.argv[2:8])
def load(n):
    try: return json.loads((out / n).read_text().strip().splitlines()[-1])
    except Exception as e: return {"ok": False, "error": str(e)}
ratios = []
for line in (out / "df.log").read_text().splitlines():
    f = line.split()
    if len(f) == 2 and f[0].isdigit(): ratios.append(int(f[0]) / (int(f[0]) + int(f[1])))
log = (out / "broker.log").read_text()
deleted = sum(int(m) for m in re.findall(r"retention deleted old commit-log segments.*?segments=(\d+)", log))
skipped = sum(int(m) for m in re.findall(r"consumer fell behind retention.*?skipped=(\d+)", log))
flood, tail, ctail = load("p-flood.json"), load("p-tail.json"), load("c-tail.json")
refused = "disk full: refusing writes" in log
peak = max(ratios) if ratios else 1.0
budget = 0.90  # diskSpaceWarningLevelRatio: above it the broker refuses writes
r = {
    "command": os.environ["SOAK_COMMAND"], "rev": os.environ["SOAK_REV"], "binaries": os.environ["SOAK_BIN"],
    "at": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), "loadavg": os.environ["SOAK_LOADAVG"],
    "volumeMiB": vol_mib, "pushedMiB": vol_mib * factor, "factor": factor, "bodyBytes": body,
    "messages": count, "floodSeconds": flood_s,
    "msgsPerSec": round(flood.get("sent", 0) / max(flood_s, 1)),
    "peakDiskUsed": round(peak, 4), "budget": round(budget, 4), "samples": len(ratios),
    "producerSent": flood.get("sent"), "producerFailed": flood.get("failed"),
    "producerErrors": flood.get("errors"), "brokerRefusedWrites": refused,
    "segmentsDeleted": deleted, "consumerSkipped": skipped,
    "tailConsumed": ctail.get("distinct"), "tailProduced": tail.get("sent"),
}
checks = {
    "peak under budget": peak < budget and not refused,
    "no producer failure below the warning ratio": flood.get("failed") == 0 or refused,
    "consumer behind retention keeps going": ctail.get("distinct") == 500 and tail.get("sent") == 500,
    "retention deleted segments": deleted > 0,
}
r["checks"] = checks; r["ok"] = all(checks.values())
(out / "soak.json").write_text(json.dumps(r) + "\n"); print(json.dumps(r))
sys.exit(0 if r["ok"] else 1)
EOF
