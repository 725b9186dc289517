# shellcheck shell=bash
# bench/recovery-lib.sh: the helpers of bench/recovery.sh (sourced by it, after its options and
# environment are set): the Python probes, the disk reference, the shared nameserver, starting and
# stopping a broker with its timings, traffic that a kill -9 interrupts, and the run's meta.json.
# They read and set the globals of recovery.sh: WORK, OUT, BIN, NS, RMQ_NS, PDIR, STORE, ADDR,
# QUEUES, BODY, SHIM, APACHE_HOME, JOBS, START_JSON, KILLED_AT, ...

PROBE="$HERE/recovery_probe.py"
RESULTS="$HERE/recovery_results.py"
# the probes of a broker (bench/recovery_probe.py) and the results (bench/recovery_results.py)
probe() { python3 "$PROBE" "$@"; }
results() { python3 "$RESULTS" "$@"; }
# the value of KEY in the JSON object TEXT ("" when missing or null)
jget() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
# a free TCP port on 127.0.0.1
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# whether the process of PIDFILE lives
alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_gone() { # pidfile timeout_s
  local i=0
  while alive "$1" && ((i < $2 * 10)); do sleep 0.1; i=$((i + 1)); done
  ! alive "$1"
}

# The disk under WORK: DF (df -h line), DD (direct 512 MiB write) and DD_READ (direct read of a
# 512 MiB file after dropping the page cache), the lines dd ended with.
disk_reference() {
  log "store under $WORK ($FSTYPE); dd reference write"
  DF="$(df -P -T -h "$WORK" | tail -n 1)"
  DD="$(dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=512 oflag=direct conv=fdatasync 2>&1 | tail -n 1)"
  rm -f "$WORK/dd.tmp"
  drop_caches
  DD_READ="$(dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=512 conv=fdatasync 2>/dev/null; drop_caches; dd if="$WORK/dd.tmp" of=/dev/null bs=1M iflag=direct 2>&1 | tail -n 1)"
  rm -f "$WORK/dd.tmp"
}

# The rmq nameserver every rmq broker registers with (RMQ_NS, also NS); exit 1 if it does not boot.
start_namesrv() {
  RMQ_NS="127.0.0.1:$(port)" NS=""
  "$BIN/rmq-namesrv" --listen-addr 127.0.0.1 --listen-port "${RMQ_NS##*:}" --kv-config-path "$WORK/kv.json" >"$OUT/namesrv.log" 2>&1 &
  JOBS+=($!)
  for _ in $(seq 100); do grep -q "boot success" "$OUT/namesrv.log" && break; sleep 0.1; done
  NS="$RMQ_NS"
  grep -q "boot success" "$OUT/namesrv.log" || { tail -5 "$OUT/namesrv.log" >&2; exit 1; }
}

# Timed start of the peer's broker on ADDR with the store STORE (sets START_JSON: pid, bootMs,
# registeredMs, exited); 1 when it did not boot and register within 600 s.
start_broker() { # peer label
  local peer="$1" label="$2" res
  if [[ "$peer" == rmq ]]; then
    res="$(probe start "$PDIR/broker.log" "$PDIR/broker.pid" "$NS" "$ADDR" 600 "$PDIR" -- \
      "$BIN/rmq-broker" -n "$NS" --listen-addr 127.0.0.1 --listen-port "${ADDR##*:}" --broker-ip1 127.0.0.1 \
      --store-dir "$STORE" --set flushDiskType=SYNC_FLUSH --set autoCreateTopicEnable=true \
      --set "defaultTopicQueueNums=$QUEUES")" || { log "$peer $label: start failed: $res"; tail -20 "$PDIR/broker.log" >&2; return 1; }
  else
    res="$(cd "$PDIR" && RMQ_BIND_IP=127.0.0.1 LD_PRELOAD="$SHIM" ROCKETMQ_HOME="$PDIR" \
      python3 "$PROBE" start "$PDIR/broker.out" "$PDIR/broker.pid" "$NS" "$ADDR" 600 "$PDIR" -- \
      java -Xms64m -Xmx1g -XX:MaxDirectMemorySize=512m -XX:+UseG1GC -Djava.net.preferIPv4Stack=true \
      --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
      --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
      --add-exports=java.base/sun.nio.ch=ALL-UNNAMED \
      "-Drocketmq.home.dir=$PDIR" "-Duser.home=$PDIR" "-Drocketmq.client.logRoot=$PDIR/logs" \
      -cp "$APACHE_HOME/lib/*" org.apache.rocketmq.broker.BrokerStartup -c "$PDIR/broker.conf")" \
      || { log "$peer $label: start failed: $res"; tail -20 "$PDIR/broker.out" >&2; return 1; }
  fi
  # shellcheck disable=SC2034 # read by run_peer and the cases (bench/recovery-peer.sh)
  START_JSON="$res"
  log "$peer $label: boot $(jget "$res" bootMs) ms, registered $(jget "$res" registeredMs) ms"
}

# Stops the broker with SIGTERM or SIGKILL (KILL after 300 s if TERM did not stop it), then waits
# (60 s at most) until the nameserver no longer lists it.
stop_broker() { # TERM|KILL
  local pid; pid="$(cat "$PDIR/broker.pid")"
  kill "-$1" "$pid" 2>/dev/null || true
  wait_gone "$PDIR/broker.pid" 300 || { log "broker $pid did not stop; killing"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$PDIR/broker.pid" 30; }
  # the nameserver drops the broker when its connection closes
  local i=0
  while probe listed "$NS" "$ADDR" && ((i < 600)); do sleep 0.1; i=$((i + 1)); done
}

# A producer running while the broker is killed: once the commit log grew by KILL_GROWTH bytes
# past $1 (traffic is flowing), and 0.5 s more, kill -9 the broker (KILLED_AT: its offset just
# before); returns when the producer gave up. The producer's acknowledgements go to ACKED_FILE.
traffic_then_kill() { # base_offset topic prefix acked_file
  "$JAVA" produce --namesrv "$NS" --topic "$2" --count 2000000 --prefix "$3" --body-size "$BODY" --mode async \
    --inflight 32 --timeout-ms 15000 --send-timeout-ms 3000 --out "$4" >"$4.json" 2>>"$OUT/producer.err" &
  local prod=$! i=0 cur
  JOBS+=("$prod")
  while ((i < 200)); do
    cur="$(jget "$(probe maxoffset "$ADDR" 2)" maxOffset)"
    [[ -n "$cur" ]] && ((cur - $1 >= KILL_GROWTH)) && break
    sleep 0.1; i=$((i + 1))
  done
  sleep 0.5
  # shellcheck disable=SC2034 # read by case_killed (bench/recovery-peer.sh)
  KILLED_AT="$(jget "$(probe maxoffset "$ADDR" 2)" maxOffset)"
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

# The run's settings and machine as JSON in FILE (the report adds the peers and checks).
write_meta() { # file
  python3 - "$1" <<EOF
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
}
