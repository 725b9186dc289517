#!/usr/bin/env bash
# Automatic failover under load (controller mode, issue 19): 1 rmq-namesrv, 3 rmq-controller
# replicas and a broker group of 2 rmq-brokers with enableControllerMode=true and
# allAckInSyncStateSet=true, all on 127.0.0.1. A continuous Java 5 sync producer (the harness's
# `produce --stop-file`) and a Java 5 push consumer run throughout; the current master is
# killed -9 --kills times, each time --min-delay..--max-delay s (seeded) after the group is
# back to two in-sync members, and every killed broker is restarted at once (it comes back as
# slave). Per kill it measures, from the SIGKILL:
#
#   elect_ms   until a controller's GET_REPLICA_INFO names another master
#   route_ms   until the nameserver's cluster info (GET_BROKER_CLUSTER_INFO) lists it as brokerId 0
#   ack_ms     until the first acknowledged send started after the kill, by a probe client that
#              sends SEND_MESSAGE_V2 (WAIT=true) every 20 ms and re-reads the route
#              (GET_ROUTEINFO_BY_TOPIC) after every failure. (The Java client re-reads its route
#              only every 30 s, pollNameServerInterval, so its own outage is up to that: see
#              java_max_gap_ms.)
#
# At the end the producer stops, the consumer is told how many were sent (--expect-file) and
# settles; the JSON has acknowledged sends, distinct consumed, lost (acknowledged, never consumed:
# must be 0 with allAckInSyncStateSet), duplicates, and min/median/p90/max per measure.
#
#   bench/failover.sh [--kills 20] [--min-delay 2] [--max-delay 8] [--seed 19] [--budget 280]
#                     [--out bench/results/failover.json]
#
# Binaries from RMQ_BENCH_BIN_DIR (default $CARGO_TARGET_DIR/debug or target/debug), the Java 5
# harness from ~/.cache/rmq-test/harness.env (tests/build-harnesses.sh). Bounded by --budget
# seconds (kills stop early when it would be exceeded); everything started runs in its own
# process group under a temporary directory, and both are removed on exit, also on failure.
# Exit 1 when something acknowledged was lost or a failover did not complete. Numbers from a
# shared or loaded machine are indicative only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KILLS=20 MIN_DELAY=2 MAX_DELAY=8 SEED=19 BUDGET=280 OUT="$HERE/results/failover.json"
while (($#)); do
  case "$1" in
    --kills|--min-delay|--max-delay|--seed|--budget|--out)
      [[ $# -ge 2 ]] || { echo "failover.sh: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --kills) KILLS="$2";; --min-delay) MIN_DELAY="$2";; --max-delay) MAX_DELAY="$2";;
        --seed) SEED="$2";; --budget) BUDGET="$2";; --out) OUT="$2";;
      esac
      shift 2;;
    -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "failover.sh: unknown argument '$1' (see --help)" >&2; exit 2;;
  esac
done
for v in KILLS MIN_DELAY MAX_DELAY SEED BUDGET; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "failover.sh: ${v,,} must be a number, not '${!v}'" >&2; exit 2; }
done
((MIN_DELAY <= MAX_DELAY)) || { echo "failover.sh: --min-delay > --max-delay" >&2; exit 2; }

BIN="${RMQ_BENCH_BIN_DIR:-${CARGO_TARGET_DIR:-$HERE/../target}/debug}"
for b in rmq-namesrv rmq-controller rmq-broker; do
  [[ -x "$BIN/$b" ]] || { echo "failover.sh: $BIN/$b missing (set RMQ_BENCH_BIN_DIR)" >&2; exit 2; }
done
if [[ -z "${RMQ_JAVA_HARNESS_5:-}" ]]; then
  # shellcheck disable=SC1091
  source "${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}/harness.env"
fi
[[ -x "${RMQ_JAVA_HARNESS_5:-}" ]] || { echo "failover.sh: no Java 5 harness (tests/build-harnesses.sh)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmq-failover.XXXXXX")"
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
  # every process the run started is a process-group leader listed in pgids
  if [[ -f "$WORK/pgids" ]]; then
    while read -r g; do kill -TERM -- "-$g" 2>/dev/null || true; done <"$WORK/pgids"
    sleep 1
    while read -r g; do kill -KILL -- "-$g" 2>/dev/null || true; done <"$WORK/pgids"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

export FO_BIN="$BIN" FO_WORK="$WORK" FO_KILLS="$KILLS" FO_MIN="$MIN_DELAY" FO_MAX="$MAX_DELAY" \
  FO_SEED="$SEED" FO_BUDGET="$BUDGET" FO_OUT="$OUT" FO_HARNESS="$RMQ_JAVA_HARNESS_5"
timeout --kill-after=10 "$((BUDGET + 20))" python3 - <<'PY'
import json, os, random, re, signal, socket, statistics, struct, subprocess, sys, threading, time

E = os.environ
BIN, WORK, HARNESS, OUT = E["FO_BIN"], E["FO_WORK"], E["FO_HARNESS"], E["FO_OUT"]
KILLS, SEED, BUDGET = int(E["FO_KILLS"]), int(E["FO_SEED"]), float(E["FO_BUDGET"])
DMIN, DMAX = float(E["FO_MIN"]), float(E["FO_MAX"])
GROUP, TOPIC, PREFIX = "broker-fb", "FailoverBench", "fb"
HB_TIMEOUT_MS = 1500
T0 = time.monotonic()
# time kept for the end: producer stop, consumer settle (its route may be 30 s stale), JSON
DRAIN_S = 75


def log(msg):
    print(f"[{time.monotonic() - T0:7.2f}s] {msg}", file=sys.stderr, flush=True)


# --- RocketMQ remoting (JSON headers): one synchronous request per connection ---------------
_local = threading.local()
_opaque = [0]


def _conns():
    if not hasattr(_local, "c"):
        _local.c = {}
    return _local.c


def _read(sock, n):
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise OSError("closed")
        buf += part
    return buf


def rpc(addr, code, fields=None, body=b"", timeout=1.0):
    """(code, extFields, body) of the answer, or None (no answer, closed, timeout)."""
    conns = _conns()
    try:
        s = conns.get(addr)
        if s is None:
            host, port = addr.rsplit(":", 1)
            s = socket.create_connection((host, int(port)), timeout=timeout)
            conns[addr] = s
        s.settimeout(timeout)
        _opaque[0] += 1
        op = _opaque[0]
        head = json.dumps({"code": code, "flag": 0, "language": "JAVA", "opaque": op,
                           "serializeTypeCurrentRPC": "JSON", "version": 473,
                           "extFields": {k: str(v) for k, v in (fields or {}).items()}}).encode()
        s.sendall(struct.pack(">II", 4 + len(head) + len(body), len(head)) + head + body)
        while True:
            total, hlen = struct.unpack(">II", _read(s, 8))
            hlen &= 0xFFFFFF
            data = _read(s, total - 4)
            h = json.loads(data[:hlen])
            if h.get("opaque") == op:
                return h.get("code"), h.get("extFields") or {}, data[hlen:]
    except (OSError, ValueError, struct.error):
        s = conns.pop(addr, None)
        if s is not None:
            s.close()
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- processes: each in its own process group, listed for the shell's trap -------------------
def spawn(name, argv, **kw):
    f = open(os.path.join(WORK, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=kw.pop("stdout", f), stderr=f, start_new_session=True, **kw)
    with open(os.path.join(WORK, "pgids"), "a") as g:
        g.write(f"{p.pid}\n")
    return p


def wait_for(what, cond, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise RuntimeError(f"timed out waiting for {what}")


def wait_log(name, text, timeout=30):
    path = os.path.join(WORK, name + ".log")
    wait_for(f"{name}: {text}", lambda: os.path.exists(path) and text in open(path, errors="replace").read(), timeout, 0.1)


def start_cluster():
    ns = f"127.0.0.1:{free_port()}"
    spawn("namesrv", [f"{BIN}/rmq-namesrv", "--listen-addr", "127.0.0.1", "--listen-port", ns.split(":")[1],
                      "--http-listen-port", "0", "--kv-config-path", f"{WORK}/kv.json"])
    wait_log("namesrv", "boot success")
    ctrls = [(f"n{i}", f"127.0.0.1:{free_port()}") for i in range(3)]
    peers = "".join(f"{i}-{a};" for i, a in ctrls)
    for cid, _ in ctrls:
        conf = f"{WORK}/{cid}.conf"
        with open(conf, "w") as f:
            f.write(f"controllerDLegerGroup=rmq-bench\ncontrollerDLegerPeers={peers}\n"
                    f"controllerDLegerSelfId={cid}\ncontrollerStorePath={WORK}/{cid}-store\n"
                    "listenAddr=127.0.0.1\nscanNotActiveBrokerInterval=300\n"
                    "raftHeartbeatIntervalMs=100\nraftElectionTimeoutMs=800\n")
        spawn(cid, [f"{BIN}/rmq-controller", "-c", conf])
    for cid, _ in ctrls:
        wait_log(cid, "boot success")
    brokers = []
    for i in range(2):
        port, ha, http = free_port(), free_port(), free_port()
        argv = [f"{BIN}/rmq-broker", "-n", ns, "--listen-addr", "127.0.0.1", "--broker-ip1", "127.0.0.1",
                "--listen-port", str(port), "--broker-name", GROUP, "--store-dir", f"{WORK}/b{i}-store"]
        for kv in ("enableControllerMode=true", "controllerAddr=" + ";".join(a for _, a in ctrls),
                   f"controllerHeartBeatTimeoutMills={HB_TIMEOUT_MS}", "syncBrokerMetadataPeriod=500",
                   "checkSyncStateSetPeriod=500", "haMaxTimeSlaveNotCatchup=5000",
                   "haSendHeartbeatInterval=1000", "allAckInSyncStateSet=true",
                   # a few MiB of store: writes go on while a shared disk is above 90%
                   "diskSpaceWarningLevelRatio=99",
                   f"haListenPort={ha}", f"httpListenPort={http}"):
            argv += ["--set", kv]
        b = {"name": f"b{i}", "addr": f"127.0.0.1:{port}", "argv": argv, "proc": None}
        b["proc"] = spawn(b["name"], argv)
        wait_log(b["name"], "boot success")
        brokers.append(b)
    return ns, [a for _, a in ctrls], brokers


def replica_info(ctrls):
    """(master address, epoch, in-sync ids) from the leading controller, or None."""
    for a in ctrls:
        r = rpc(a, 1005, timeout=0.5)
        if r and r[1].get("isLeader") == "true":
            info = rpc(a, 1004, {"brokerName": GROUP}, timeout=0.5)
            if info and info[0] == 0:
                body = json.loads(info[2] or b"{}")
                return (info[1].get("masterAddress", ""), int(info[1].get("masterEpoch", -1)),
                        sorted(body.get("syncStateSet", [])))
    return None


def route_master(ns):
    r = rpc(ns, 106, timeout=0.5)
    if not r or r[0] != 0:
        return None
    try:
        return json.loads(r[2])["brokerAddrTable"][GROUP]["brokerAddrs"].get("0")
    except (ValueError, KeyError):
        return None


def route_for_topic(ns):
    """The master address of the topic's route (as a client reads it), or None."""
    r = rpc(ns, 105, {"topic": TOPIC}, timeout=0.5)
    if not r or r[0] != 0:
        return None
    m = re.search(rb'"brokerAddrs"\s*:\s*\{([^}]*)\}', r[2])
    a = m and re.search(rb'(?:^|,)\s*"?0"?\s*:\s*"([^"]+)"', m.group(1))
    return a.group(1).decode() if a else None


class Probe(threading.Thread):
    """A client that sends one message every 20 ms and re-reads the route after a failure;
    keeps (send start, acknowledged) per send."""

    def __init__(self, ns):
        super().__init__(daemon=True)
        self.ns, self.sends, self.stop = ns, [], threading.Event()

    def run(self):
        master, i = None, 0
        while not self.stop.is_set():
            started = time.monotonic()
            master = master or route_for_topic(self.ns)
            ok = False
            if master:
                h = {"a": "fb-probe", "b": TOPIC, "c": "TBW102", "d": 4, "e": i % 4, "f": 0, "g": 0,
                     "h": 0, "i": "WAIT\u0001true\u0002", "j": 0, "k": "false", "m": "false"}
                r = rpc(master, 310, h, f"probe-{i}".encode(), timeout=2.0)
                ok = bool(r) and r[0] == 0
                if not ok:
                    master = None
            self.sends.append((started, ok))
            i += 1
            time.sleep(0.02)

    def first_ack_after(self, t):
        return next((s for s, ok in list(self.sends) if ok and s >= t), None)


def start_clients(ns):
    stop, expect = f"{WORK}/producer.stop", f"{WORK}/consumer.expect"
    base = ["--namesrv", ns, "--topic", TOPIC, "--prefix", PREFIX]
    prod = spawn("producer", [HARNESS, "produce", *base, "--count", "50000000", "--mode", "sync",
                              "--stop-file", stop, "--send-timeout-ms", "3000", "--group", "fb-producer",
                              "--timeout-ms", str(int(BUDGET * 1000))],
                 stdout=open(f"{WORK}/producer.json", "wb"))
    cons = spawn("consumer", [HARNESS, "consume", *base, "--group", "fb-consumer", "--from", "first",
                              "--expect-file", expect, "--settle-ms", str((DRAIN_S - 25) * 1000),
                              "--timeout-ms", str(int(BUDGET * 1000))],
                 stdout=open(f"{WORK}/consumer.json", "wb"))
    return prod, cons, stop, expect


def index_of(brokers, addr):
    return next((i for i, b in enumerate(brokers) if b["addr"] == addr), None)


def one_kill(n, ns, ctrls, brokers, probe, rng):
    """Waits until both brokers are in sync, sleeps the seeded delay, kills the master and
    times the failover; restarts the killed broker."""
    wait_for("two in-sync members", lambda: (v := replica_info(ctrls)) and len(v[2]) == 2 and v[0], 60, 0.1)
    delay = round(rng.uniform(DMIN, DMAX), 2)
    time.sleep(delay)
    old_addr, epoch, _ = replica_info(ctrls)
    victim = index_of(brokers, old_addr)
    b = brokers[victim]
    b["proc"].kill()
    killed = time.monotonic()
    b["proc"].wait()
    elected = wait_for("a new master", lambda: (v := replica_info(ctrls)) and v[0] and v[0] != old_addr and v, 30)
    t_elect = time.monotonic()
    wait_for("the route", lambda: route_master(ns) == elected[0], 30)
    t_route = time.monotonic()
    ack = wait_for("an acknowledged send", lambda: probe.first_ack_after(killed), 30)
    b["proc"] = spawn(b["name"], b["argv"])
    row = {"kill": n, "delay_s": delay, "killed": b["name"], "epoch": [epoch, elected[1]],
           "elect_ms": round((t_elect - killed) * 1000), "route_ms": round((t_route - killed) * 1000),
           "ack_ms": round((ack - killed) * 1000)}
    log(f"kill {n}: {row}")
    return row


def stats(values):
    v = sorted(values)
    if not v:
        return {}
    return {"min": v[0], "median": statistics.median(v), "p90": v[min(len(v) - 1, int(0.9 * len(v)))],
            "max": v[-1], "n": len(v)}


def ranges(text):
    out = set()
    for part in filter(None, (text or "").split(",")):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def finish(prod, cons, stop, expect, kills, probe, failure):
    probe.stop.set()
    open(stop, "w").close()
    prod.wait(timeout=30)
    p = json.loads(open(f"{WORK}/producer.json").read() or "{}")
    with open(expect, "w") as f:
        f.write(f"{p.get('requested', 0)};")
    cons.wait(timeout=DRAIN_S)
    c = json.loads(open(f"{WORK}/consumer.json").read() or "{}")
    acked, consumed = ranges(p.get("acked")), ranges(c.get("ranges"))
    lost = sorted(acked - consumed)
    result = {
        "bench": "failover", "kills": len(kills), "kills_asked": KILLS, "seed": SEED,
        "delay_s": [DMIN, DMAX], "heartbeat_timeout_ms": HB_TIMEOUT_MS, "all_ack_in_sync_state_set": True,
        "binaries": BIN, "elect_ms": stats([k["elect_ms"] for k in kills]),
        "route_ms": stats([k["route_ms"] for k in kills]), "ack_ms": stats([k["ack_ms"] for k in kills]),
        "acked": len(acked), "sent_unacked": p.get("failed"), "consumed_distinct": len(consumed & acked),
        "consumed_unacked": len(consumed - acked), "lost": len(lost), "lost_sample": lost[:20],
        "duplicates": c.get("duplicates"), "java_max_gap_ms": p.get("maxGapMs"),
        "java_errors": (p.get("errors") or [])[:3], "probe_sends": len(probe.sends),
        "probe_acked": sum(1 for _, ok in probe.sends if ok), "per_kill": kills,
        "elapsed_s": round(time.monotonic() - T0, 1), "failure": failure,
        "note": "indicative only: one run on a shared, loaded 2-core machine",
    }
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1)
    for m in ("elect_ms", "route_ms", "ack_ms"):
        s = result[m]
        print(f"{m:9} min {s.get('min')} median {s.get('median')} p90 {s.get('p90')} max {s.get('max')} (n={s.get('n')})")
    print(f"acked {result['acked']}  consumed {result['consumed_distinct']}  lost {result['lost']}  "
          f"duplicates {result['duplicates']}  kills {len(kills)}/{KILLS}  java max gap {result['java_max_gap_ms']} ms  "
          f"elapsed {result['elapsed_s']} s  -> {OUT}")
    return 1 if failure or lost else 0


def main():
    ns, ctrls, brokers = start_cluster()
    wait_for("broker b0 master", lambda: (v := replica_info(ctrls)) and v[0] == brokers[0]["addr"], 30, 0.1)
    wait_for("the route", lambda: route_master(ns) == brokers[0]["addr"], 30)
    h = {"topic": TOPIC, "defaultTopic": "TBW102", "readQueueNums": 4, "writeQueueNums": 4, "perm": 6,
         "topicFilterType": "SINGLE_TAG", "topicSysFlag": 0, "order": "false"}
    assert (rpc(brokers[0]["addr"], 17, h, timeout=3) or [None])[0] == 0, "cannot create the topic"
    log(f"cluster up: namesrv {ns}, controllers {ctrls}, brokers {[b['addr'] for b in brokers]}")
    prod, cons, stop, expect = start_clients(ns)
    probe = Probe(ns)
    probe.start()
    rng, kills, failure = random.Random(SEED), [], None
    try:
        for n in range(1, KILLS + 1):
            if time.monotonic() - T0 + DMAX + 15 > BUDGET - DRAIN_S:
                log(f"budget: stopping after {n - 1} kills")
                break
            kills.append(one_kill(n, ns, ctrls, brokers, probe, rng))
        wait_for("two in-sync members", lambda: (v := replica_info(ctrls)) and len(v[2]) == 2, 60, 0.1)
    except (RuntimeError, AssertionError) as e:
        failure = str(e)
        log(f"FAILED: {e}")
    return finish(prod, cons, stop, expect, kills, probe, failure)


sys.exit(main())
PY
