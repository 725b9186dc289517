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

# ------------------------------------------------------------------------------------------------
# The helper: timed start, remoting calls (cluster info, runtime info), offsets.
RQ="$WORK/rq.py"
cat >"$RQ" <<'PYEOF'
import json, os, re, socket, struct, subprocess, sys, time

def rpc(addr, code, ext=None, timeout=2.0, sock=None):
    host, port = addr.rsplit(":", 1)
    own = sock is None
    s = sock or socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    try:
        hdr = json.dumps({"code": code, "language": "JAVA", "version": 399, "opaque": int(time.time() * 1000) & 0x7fffffff,
                          "flag": 0, "extFields": ext or {}, "serializeTypeCurrentRPC": "JSON"}).encode()
        s.sendall(struct.pack(">II", 4 + len(hdr), len(hdr)) + hdr)
        def rd(n):
            b = b""
            while len(b) < n:
                c = s.recv(n - len(b))
                if not c: raise ConnectionError("closed")
                b += c
            return b
        total, hl = struct.unpack(">II", rd(8))
        hl &= 0xFFFFFF
        rest = rd(total - 4)
        return json.loads(rest[:hl]), rest[hl:]
    finally:
        if own: s.close()

def listed(ns, addr, sock=None):
    h, body = rpc(ns, 106, sock=sock)  # GET_BROKER_CLUSTER_INFO
    return h.get("code") == 0 and ('"%s"' % addr).encode() in body

def max_offset(addr, wait_s=30):
    end = time.time() + wait_s
    while True:
        try:
            h, body = rpc(addr, 28)  # GET_BROKER_RUNTIME_INFO
            m = re.search(rb'"commitLogMaxOffset"\s*:\s*"?(\d+)', body)
            if h.get("code") == 0 and m: return int(m.group(1))
        except Exception:
            pass
        if time.time() > end: return None
        time.sleep(0.2)

def start(a):
    # start LOG PIDFILE NS ADDR TIMEOUT_S CWD -- cmd...   (env from the caller)
    logf, pidf, ns, addr, tmo, cwd = a[:6]; cmd = a[7:]
    out = open(logf, "ab")
    out.seek(0, 2)
    pos0 = out.tell()  # the log is appended to across restarts: only new lines count
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    open(pidf, "w").write("%d\n" % p.pid)
    boot = reg = None; pos = pos0; sock = None; last_poll = 0.0
    deadline = t0 + float(tmo)
    while (boot is None or reg is None) and time.monotonic() < deadline:
        now = time.monotonic()
        if boot is None:
            with open(logf, "rb") as f:
                f.seek(pos); chunk = f.read()
            if b"boot success" in chunk:
                boot = now - t0
            else:
                pos += max(0, len(chunk) - 64)
        if reg is None and now - last_poll >= 0.01:
            last_poll = now
            try:
                if sock is None: sock = socket.create_connection(tuple([ns.rsplit(":", 1)[0], int(ns.rsplit(":", 1)[1])]), timeout=2)
                if listed(ns, addr, sock): reg = time.monotonic() - t0
            except Exception:
                sock = None
        if p.poll() is not None:
            break
        time.sleep(0.002)
    r = {"pid": p.pid, "bootMs": None if boot is None else round(boot * 1000), "registeredMs": None if reg is None else round(reg * 1000),
         "exited": p.poll()}
    print(json.dumps(r))
    return 0 if boot is not None and reg is not None else 1

def acked(path):
    # --out lines: index, msgId, offsetMsgId, brokerName, queueId, queueOffset, status
    best, n = -1, 0
    try:
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 7 and f[6] == "SEND_OK" and len(f[2]) >= 32:
                n += 1; best = max(best, int(f[2][-16:], 16))
    except OSError:
        pass
    print(json.dumps({"ackedMaxOffset": best, "acked": n}))

def checkpoint(path):
    try:
        b = open(path, "rb").read()
    except OSError:
        print(json.dumps({"checkpoint": None})); return
    import zlib
    best = None
    for s in (b[0:64], b[64:128]):
        if len(s) == 64 and struct.unpack(">I", s[60:64])[0] == zlib.crc32(s[:60]) and s[:4] == b"RMQC":
            seq, clf, cqf = struct.unpack(">Qqq", s[8:32])
            if best is None or seq > best[0]: best = (seq, clf, cqf)
    print(json.dumps({"checkpoint": None if best is None else {"commitLogFlushed": best[1], "cqFlushed": best[2]}}))

def store_opened(path):
    r = {}
    try:
        for line in open(path, errors="replace"):
            if "message store opened" in line:
                r = {k: int(v) for k, v in re.findall(r"\b(end|truncated|redispatched|queues|elapsed_ms)=(\d+)", line)}
    except OSError:
        pass
    print(json.dumps({"storeOpen": r or None}))

def merge(a):
    # merge OUTFILE JSON... key=value...: one row of runs.jsonl
    row = {}
    for x in a[1:]:
        if x.startswith("{"): row.update(json.loads(x))
        else:
            k, v = x.split("=", 1)
            try: row[k] = json.loads(v)
            except ValueError: row[k] = v
    with open(a[0], "a") as f: f.write(json.dumps(row) + "\n")

def median(v):
    v = sorted(x for x in v if x is not None)
    return None if not v else (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)

def report(a):
    out, meta = a[0], json.loads(open(a[1]).read())
    rows = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
    peers = {}
    for r in rows:
        p = peers.setdefault(r["peer"], {"cases": {}})
        if r["case"] == "fill":
            p["fill"] = r; continue
        c = p["cases"].setdefault(r["case"], {"runs": []})
        c["runs"].append(r)
    checks = {}
    for name, p in peers.items():
        for cname, c in p["cases"].items():
            c["medianBootMs"] = median([x.get("bootMs") for x in c["runs"]])
            c["medianRegisteredMs"] = median([x.get("registeredMs") for x in c["runs"]])
            c["medianScannedBytes"] = median([x.get("scannedBytes") for x in c["runs"]])
            c["medianStoreOpenMs"] = median([(x.get("storeOpen") or {}).get("elapsed_ms") for x in c["runs"]])
            for x in c["runs"]:
                checks["%s %s run %s: %s" % (name, cname, x.get("rep"), x.get("check", "?"))] = bool(x.get("ok"))
    meta["peers"] = peers
    meta["checks"] = checks
    meta["ok"] = bool(checks) and all(checks.values())
    s = json.dumps(meta)
    open(os.path.join(out, "recovery.json"), "w").write(s + "\n")
    print(s)
    return 0 if meta["ok"] else 1

if __name__ == "__main__":
    c, a = sys.argv[1], sys.argv[2:]
    if c == "start": sys.exit(start(a))
    elif c == "listed":
        try: sys.exit(0 if listed(a[0], a[1]) else 1)
        except Exception: sys.exit(1)
    elif c == "maxoffset": print(json.dumps({"maxOffset": max_offset(a[0], float(a[1]) if len(a) > 1 else 30)}))
    elif c == "acked": acked(a[0])
    elif c == "checkpoint": checkpoint(a[0])
    elif c == "storeopened": store_opened(a[0])
    elif c == "merge": merge(a)
    elif c == "report": sys.exit(report(a))
    else: sys.exit("rq.py: unknown command " + c)
PYEOF
rq() { python3 "$RQ" "$@"; }
jget() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_gone() { # pidfile timeout_s
  local i=0
  while alive "$1" && ((i < $2 * 10)); do sleep 0.1; i=$((i + 1)); done
  ! alive "$1"
}

# ------------------------------------------------------------------------------------------------
# Disk reference and the shared nameserver.
log "store under $WORK ($FSTYPE); dd reference write"
DF="$(df -P -T -h "$WORK" | tail -n 1)"
DD="$(dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=512 oflag=direct conv=fdatasync 2>&1 | tail -n 1)"
rm -f "$WORK/dd.tmp"
drop_caches
DD_READ="$(dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=512 conv=fdatasync 2>/dev/null; drop_caches; dd if="$WORK/dd.tmp" of=/dev/null bs=1M iflag=direct 2>&1 | tail -n 1)"
rm -f "$WORK/dd.tmp"
RMQ_NS="127.0.0.1:$(port)" NS=""
"$BIN/rmq-namesrv" --listen-addr 127.0.0.1 --listen-port "${RMQ_NS##*:}" --kv-config-path "$WORK/kv.json" >"$OUT/namesrv.log" 2>&1 &
JOBS+=($!)
for _ in $(seq 100); do grep -q "boot success" "$OUT/namesrv.log" && break; sleep 0.1; done
NS="$RMQ_NS"
grep -q "boot success" "$OUT/namesrv.log" || { tail -5 "$OUT/namesrv.log" >&2; exit 1; }
: >"$OUT/runs.jsonl"

TOPICS=4 QUEUES=4
MSG_BYTES=$((BODY + 250)) # record header + topic + properties, roughly
FILL_COUNT=$((STORE_MIB * 1024 * 1024 / MSG_BYTES))
KILL_GROWTH=$((4 * 1024 * 1024))
TARGET=$((STORE_MIB * 1024 * 1024))

# Per-peer: start_broker LABEL (timed start; sets START_JSON), the store dir, the addr.
start_broker() { # peer label
  local peer="$1" label="$2" res
  if [[ "$peer" == rmq ]]; then
    res="$(rq start "$PDIR/broker.log" "$PDIR/broker.pid" "$NS" "$ADDR" 600 "$PDIR" -- \
      "$BIN/rmq-broker" -n "$NS" --listen-addr 127.0.0.1 --listen-port "${ADDR##*:}" --broker-ip1 127.0.0.1 \
      --store-dir "$STORE" --set flushDiskType=SYNC_FLUSH --set autoCreateTopicEnable=true \
      --set defaultTopicQueueNums=$QUEUES)" || { log "$peer $label: start failed: $res"; tail -20 "$PDIR/broker.log" >&2; return 1; }
  else
    res="$(cd "$PDIR" && RMQ_BIND_IP=127.0.0.1 LD_PRELOAD="$SHIM" ROCKETMQ_HOME="$PDIR" \
      python3 "$RQ" start "$PDIR/broker.out" "$PDIR/broker.pid" "$NS" "$ADDR" 600 "$PDIR" -- \
      java -Xms64m -Xmx1g -XX:MaxDirectMemorySize=512m -XX:+UseG1GC -Djava.net.preferIPv4Stack=true \
      --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
      --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
      --add-exports=java.base/sun.nio.ch=ALL-UNNAMED \
      "-Drocketmq.home.dir=$PDIR" "-Duser.home=$PDIR" "-Drocketmq.client.logRoot=$PDIR/logs" \
      -cp "$APACHE_HOME/lib/*" org.apache.rocketmq.broker.BrokerStartup -c "$PDIR/broker.conf")" \
      || { log "$peer $label: start failed: $res"; tail -20 "$PDIR/broker.out" >&2; return 1; }
  fi
  START_JSON="$res"
  log "$peer $label: boot $(jget "$res" bootMs) ms, registered $(jget "$res" registeredMs) ms"
}

stop_broker() { # TERM|KILL
  local pid; pid="$(cat "$PDIR/broker.pid")"
  kill "-$1" "$pid" 2>/dev/null || true
  wait_gone "$PDIR/broker.pid" 300 || { log "broker $pid did not stop; killing"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$PDIR/broker.pid" 30; }
  # the nameserver drops the broker when its connection closes
  local i=0
  while rq listed "$NS" "$ADDR" && ((i < 600)); do sleep 0.1; i=$((i + 1)); done
}

# A producer running while the broker is killed: returns once the commit log grew by
# KILL_GROWTH bytes past $1 (traffic is flowing), leaves PROD_PID running.
traffic_then_kill() { # base_offset topic prefix acked_file
  "$JAVA" produce --namesrv "$NS" --topic "$2" --count 2000000 --prefix "$3" --body-size "$BODY" --mode async \
    --inflight 32 --timeout-ms 15000 --send-timeout-ms 3000 --out "$4" >"$4.json" 2>>"$OUT/producer.err" &
  local prod=$! i=0 cur
  JOBS+=("$prod")
  while ((i < 200)); do
    cur="$(jget "$(rq maxoffset "$ADDR" 2)" maxOffset)"
    [[ -n "$cur" ]] && ((cur - $1 >= KILL_GROWTH)) && break
    sleep 0.1; i=$((i + 1))
  done
  sleep 0.5
  KILLED_AT="$(jget "$(rq maxoffset "$ADDR" 2)" maxOffset)"
  stop_broker KILL
  wait "$prod" 2>/dev/null || true
}

# rmq: where recovery started (the checkpoint's min(commit_log_flushed, cq_flushed), 0 without
# one: consumequeue/ is gone too) to the recovered end plus the cut tail.
scanned_bytes() { # checkpoint_json store_opened_json
  python3 -c 'import json,sys; c=json.loads(sys.argv[1])["checkpoint"]; s=json.loads(sys.argv[2])["storeOpen"] or {}
frm = 0 if c is None else min(c["commitLogFlushed"], c["cqFlushed"])
print(s["end"] + s.get("truncated", 0) - frm if "end" in s else "null")' "$1" "$2"
}

run_peer() {
  local peer="$1" rep tag before after ack acked_max am cp scanned so okv base
  PDIR="$WORK/$peer"; STORE="$PDIR/store"; ADDR="127.0.0.1:$(port)"
  mkdir -p "$PDIR/logs"
  PIDFILES+=("$PDIR/broker.pid")
  NS="$RMQ_NS"
  if [[ "$peer" == apache ]]; then
    [[ -d "$APACHE_HOME/lib" ]] || { log "apache: no $APACHE_HOME/lib (tests/build-harnesses.sh); skipped"; return 0; }
    # its own nameserver (started once, not timed): the broker's registration is judged by Apache
    NS="127.0.0.1:$(port)"
    "$ROOT/tests/peers/apache.sh" start --version "$(basename "$APACHE_HOME")" --no-broker --namesrv-port "${NS##*:}" \
      --dir "$WORK/apache-ns" >"$OUT/apache-namesrv.txt" 2>&1 || { cat "$OUT/apache-namesrv.txt" >&2; return 1; }
    local shims=("$CACHE"/apache/bind_loopback-*.so)
    SHIM="${shims[0]}"
    [[ -f "$SHIM" ]] || { log "apache: no bind_loopback shim (run tests/peers/apache.sh once); skipped"; return 0; }
    cat >"$PDIR/broker.conf" <<EOF
brokerClusterName=DefaultCluster
brokerName=broker-$peer
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=SYNC_FLUSH
namesrvAddr=$NS
brokerIP1=127.0.0.1
brokerIP2=127.0.0.1
listenPort=${ADDR##*:}
haListenPort=$(port)
bindAddress=127.0.0.1
storePathRootDir=$STORE
storePathCommitLog=$STORE/commitlog
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
defaultTopicQueueNums=$QUEUES
diskMaxUsedSpaceRatio=95
timerWheelEnable=false
EOF
  fi
  start_broker "$peer" "empty store"
  rq merge "$OUT/runs.jsonl" "$START_JSON" peer="$peer" case=fresh rep=1 check="started" ok=true

  log "$peer: filling ${STORE_MIB} MiB with messages of $BODY bytes over $TOPICS topics"
  local t0=$SECONDS pids=() i round=0 count=$((FILL_COUNT / TOPICS)) sent=0 cur=0
  while ((cur < TARGET * 97 / 100 && round < 5)); do
    pids=()
    for ((i = 0; i < TOPICS; i++)); do
      "$JAVA" produce --namesrv "$NS" --topic "Recovery$i" --count "$count" --prefix "f$round-$i" --body-size "$BODY" \
        --mode batch --batch-size 16 --send-timeout-ms 10000 --timeout-ms 1800000 >"$PDIR/fill-$round-$i.json" 2>>"$OUT/producer.err" &
      pids+=($!); JOBS+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    sent=$((sent + count * TOPICS)); round=$((round + 1))
    cur="$(jget "$(rq maxoffset "$ADDR")" maxOffset)"
    # the client compresses bodies of 4 KiB and more: size the next round from what was stored
    count=$(( (TARGET - cur) / (cur / sent + 1) / TOPICS + 1 ))
    log "$peer: round $round: commit log at $cur bytes"
  done
  local fill_s=$((SECONDS - t0))
  before="$cur"
  log "$peer: filled to $before bytes in ${fill_s} s"
  rq merge "$OUT/runs.jsonl" peer="$peer" case=fill seconds="$fill_s" storeBytes="${before:-null}" messages="$sent"

  for ((rep = 1; rep <= RUNS; rep++)); do
    # clean
    before="$(jget "$(rq maxoffset "$ADDR")" maxOffset)"
    stop_broker TERM
    drop_caches
    cp="$(rq checkpoint "$STORE/checkpoint")"
    start_broker "$peer" "clean $rep" || return 1
    after="$(jget "$(rq maxoffset "$ADDR")" maxOffset)"
    okv=false; [[ -n "$after" && "$after" == "$before" ]] && okv=true
    so='{}' scanned=null
    if [[ "$peer" == rmq ]]; then so="$(rq storeopened "$PDIR/broker.log")"; scanned="$(scanned_bytes "$cp" "$so")"; fi
    rq merge "$OUT/runs.jsonl" "$START_JSON" "$cp" "$so" \
      peer="$peer" case=clean rep="$rep" maxBefore="${before:-null}" maxAfter="${after:-null}" storeBytes="${after:-null}" \
      scannedBytes="$scanned" check="max offset after == before" ok="$okv"

    for tag in powerloss worst; do
      base="$(jget "$(rq maxoffset "$ADDR")" maxOffset)"
      ack="$PDIR/acked-$tag-$rep.tsv"
      traffic_then_kill "$base" "Recovery$((rep % TOPICS))" "k$tag$rep" "$ack"
      if [[ "$tag" == worst ]]; then
        rm -f "$STORE/checkpoint"
        rm -rf "$STORE/consumequeue"
      fi
      drop_caches
      cp="$(rq checkpoint "$STORE/checkpoint")"
      acked_max="$(rq acked "$ack")"
      start_broker "$peer" "$tag $rep" || return 1
      after="$(jget "$(rq maxoffset "$ADDR")" maxOffset)"
      am="$(jget "$acked_max" ackedMaxOffset)"
      okv=false; [[ -n "$after" && -n "$am" ]] && ((am >= 0 && after > am)) && okv=true
      so='{}' scanned=null
      if [[ "$peer" == rmq ]]; then so="$(rq storeopened "$PDIR/broker.log")"; scanned="$(scanned_bytes "$cp" "$so")"; fi
      rq merge "$OUT/runs.jsonl" "$START_JSON" "$cp" "$so" "$acked_max" peer="$peer" case="$tag" rep="$rep" \
        killedAt="${KILLED_AT:-null}" maxBefore="${base:-null}" maxAfter="${after:-null}" storeBytes="${after:-null}" \
        scannedBytes="$scanned" check="max offset after > last acknowledged offset" ok="$okv"
    done
  done
  stop_broker TERM
  mkdir -p "$OUT/$peer-logs"
  cp -r "$PDIR"/broker.log "$PDIR"/broker.out "$PDIR"/logs "$OUT/$peer-logs/" 2>/dev/null || true
  rm -rf "$STORE"
}

for p in ${PEERS//,/ }; do
  log "=== $p"
  run_peer "$p" || log "$p: aborted (see above)"
done

LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
META="$WORK/meta.json"
python3 - "$META" <<EOF
import json, sys
json.dump({
  "command": "bench/recovery.sh --store-mib $STORE_MIB --body $BODY --runs $RUNS --peers $PEERS",
  "rev": "$REV",
  "at": "$(date -u +%Y-%m-%d\ %H:%M)", "loadavgStart": "$LOAD_START", "loadavgEnd": "$LOAD_END",
  "storeMiB": $STORE_MIB, "bodyBytes": $BODY, "runs": $RUNS, "topics": $TOPICS, "queuesPerTopic": $QUEUES,
  "flushDiskType": "SYNC_FLUSH", "segmentBytes": 1073741824, "killAfterGrowthBytes": $KILL_GROWTH,
  "apacheVersion": "$(basename "$APACHE_HOME")", "binaries": "$BIN",
  "disk": {"df": "$DF", "fs": "$FSTYPE", "ddWrite": "$DD", "ddRead": "$DD_READ"},
}, open(sys.argv[1], "w"))
EOF
set +e
rq report "$OUT" "$META"
RC=$?
set -e
if ((RC == 0 && STORE_MIB >= 1024)); then
  cp "$OUT/recovery.json" "$ROOT/bench/results/recovery.json"
  log "copied to bench/results/recovery.json"
fi
exit "$RC"
