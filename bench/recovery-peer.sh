# shellcheck shell=bash
# bench/recovery-peer.sh: one peer's measurements for bench/recovery.sh (sourced by it, after
# bench/recovery-lib.sh): start the broker on an empty store, fill the store to --store-mib, then
# --runs times the three cases of the header of recovery.sh (clean, powerloss, worst), each a
# timed start and a check of the recovered commit log, one row of OUT/runs.jsonl per start.

# The Apache peer's own nameserver (started once, not timed: the broker's registration is judged
# by Apache) and broker.conf. 0 ready, 1 failed, 2 skipped (no jars or no bind_loopback shim).
prepare_apache() { # peer
  local peer="$1"
  [[ -d "$APACHE_HOME/lib" ]] || { log "apache: no $APACHE_HOME/lib (tests/build-harnesses.sh); skipped"; return 2; }
  NS="127.0.0.1:$(port)"
  "$ROOT/tests/peers/apache.sh" start --version "$(basename "$APACHE_HOME")" --no-broker --namesrv-port "${NS##*:}" \
    --dir "$WORK/apache-ns" >"$OUT/apache-namesrv.txt" 2>&1 || { cat "$OUT/apache-namesrv.txt" >&2; return 1; }
  local shims=("$CACHE"/apache/bind_loopback-*.so)
  SHIM="${shims[0]}"
  [[ -f "$SHIM" ]] || { log "apache: no bind_loopback shim (run tests/peers/apache.sh once); skipped"; return 2; }
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
  return 0
}

# Fills the running broker's commit log to about --store-mib (97 % of it; at most 5 rounds of
# batch sends from TOPICS producers at once), then the fill row.
fill_store() { # peer
  local peer="$1"
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
    cur="$(jget "$(probe maxoffset "$ADDR")" maxOffset)"
    # the client compresses bodies of 4 KiB and more: size the next round from what was stored
    count=$(( (TARGET - cur) / (cur / sent + 1) / TOPICS + 1 ))
    log "$peer: round $round: commit log at $cur bytes"
  done
  local fill_s=$((SECONDS - t0)) before="$cur"
  log "$peer: filled to $before bytes in ${fill_s} s"
  results merge "$OUT/runs.jsonl" peer="$peer" case=fill seconds="$fill_s" storeBytes="${before:-null}" messages="$sent"
}

# What the last start read (rmq only): STORE_OPEN_JSON (its store-opened fields, else {}) and
# SCANNED_BYTES (see scanned_bytes; else null).
read_store_open() { # peer checkpoint_json
  STORE_OPEN_JSON='{}' SCANNED_BYTES=null
  if [[ "$1" == rmq ]]; then
    STORE_OPEN_JSON="$(probe storeopened "$PDIR/broker.log")"
    SCANNED_BYTES="$(scanned_bytes "$2" "$STORE_OPEN_JSON")"
  fi
}

# Case clean, repetition REP: SIGTERM, drop the page cache, start; ok when the max offset is the
# one before the stop. 1 when the broker did not start.
case_clean() { # peer rep
  local peer="$1" rep="$2" before after cp okv
  before="$(jget "$(probe maxoffset "$ADDR")" maxOffset)"
  stop_broker TERM
  drop_caches
  cp="$(probe checkpoint "$STORE/checkpoint")"
  start_broker "$peer" "clean $rep" || return 1
  after="$(jget "$(probe maxoffset "$ADDR")" maxOffset)"
  okv=false; [[ -n "$after" && "$after" == "$before" ]] && okv=true
  read_store_open "$peer" "$cp"
  results merge "$OUT/runs.jsonl" "$START_JSON" "$cp" "$STORE_OPEN_JSON" \
    peer="$peer" case=clean rep="$rep" maxBefore="${before:-null}" maxAfter="${after:-null}" storeBytes="${after:-null}" \
    scannedBytes="$SCANNED_BYTES" check="max offset after == before" ok="$okv"
  return 0
}

# Case powerloss or worst (TAG), repetition REP: kill -9 under traffic (worst: then delete the
# checkpoint and consumequeue/), drop the page cache, start; ok when the max offset is above the
# last acknowledged message's. 1 when the broker did not start.
case_killed() { # peer tag rep
  local peer="$1" tag="$2" rep="$3" base ack cp acked_max after am okv
  base="$(jget "$(probe maxoffset "$ADDR")" maxOffset)"
  ack="$PDIR/acked-$tag-$rep.tsv"
  traffic_then_kill "$base" "Recovery$((rep % TOPICS))" "k$tag$rep" "$ack"
  if [[ "$tag" == worst ]]; then
    rm -f "$STORE/checkpoint"
    rm -rf "$STORE/consumequeue"
  fi
  drop_caches
  cp="$(probe checkpoint "$STORE/checkpoint")"
  acked_max="$(probe acked "$ack")"
  start_broker "$peer" "$tag $rep" || return 1
  after="$(jget "$(probe maxoffset "$ADDR")" maxOffset)"
  am="$(jget "$acked_max" ackedMaxOffset)"
  okv=false; [[ -n "$after" && -n "$am" ]] && ((am >= 0 && after > am)) && okv=true
  read_store_open "$peer" "$cp"
  results merge "$OUT/runs.jsonl" "$START_JSON" "$cp" "$STORE_OPEN_JSON" "$acked_max" peer="$peer" case="$tag" rep="$rep" \
    killedAt="${KILLED_AT:-null}" maxBefore="${base:-null}" maxAfter="${after:-null}" storeBytes="${after:-null}" \
    scannedBytes="$SCANNED_BYTES" check="max offset after > last acknowledged offset" ok="$okv"
  return 0
}

# One peer (rmq or apache) from an empty store to its last case; its logs to OUT/PEER-logs.
# 1 when it had to stop early (0 also when the apache peer was skipped).
run_peer() { # peer
  local peer="$1" rep tag rc
  PDIR="$WORK/$peer"; STORE="$PDIR/store"; ADDR="127.0.0.1:$(port)"
  mkdir -p "$PDIR/logs"
  PIDFILES+=("$PDIR/broker.pid")
  NS="$RMQ_NS"
  if [[ "$peer" == apache ]]; then
    prepare_apache "$peer" || { rc=$?; ((rc == 2)) && return 0; return 1; }
  fi
  start_broker "$peer" "empty store"
  results merge "$OUT/runs.jsonl" "$START_JSON" peer="$peer" case=fresh rep=1 check="started" ok=true
  fill_store "$peer"
  for ((rep = 1; rep <= RUNS; rep++)); do
    case_clean "$peer" "$rep" || return 1
    for tag in powerloss worst; do
      case_killed "$peer" "$tag" "$rep" || return 1
    done
  done
  stop_broker TERM
  mkdir -p "$OUT/$peer-logs"
  cp -r "$PDIR"/broker.log "$PDIR"/broker.out "$PDIR"/logs "$OUT/$peer-logs/" 2>/dev/null || true
  rm -rf "$STORE"
}
