# shellcheck shell=bash
# One peer under one driver, for bench/run.sh (sourced; uses its globals and helpers).
#
# A peer run has up to two legs, each with a fresh nameserver, broker and store:
# - the main leg: the closed-loop, open-loop, fixed-load and end-to-end phases, then scale;
# - the backlog leg: fill, consume and the 4 KiB batch fill (the plan from its first fill on).
# The backlog phases write at the page cache's speed. On a VM whose host takes free guest memory
# back (free page reporting), page cache that grows past what the guest recently used comes from
# memory the host must back first (~0.35 GB/s here instead of ~3 GB/s): after the main leg's
# gigabytes, a fill measured that, not the broker, and it hit whichever broker had written the
# most before it. A fresh broker gives every peer the same start.

# The load command of a driver (java or native) running PLAN, in the array LOAD_CMD.
load_cmd() { # driver plan
  LOAD_PLAN="$2"
  if [[ "$1" == native ]]; then
    LOAD_CMD=("$NATIVE" load --plan "$2")
    [[ -n "$NATIVE_CPU" ]] && LOAD_CMD+=(--cpu "$NATIVE_CPU")
  else
    LOAD_CMD=("$DRIVER" load --plan "$2")
  fi
  return 0
}

# The legs of a driver's plan (see the top of this file), in the array LEGS.
leg_plans() { # driver
  local plan="$PLAN_JAVA"; [[ "$1" == native ]] && plan="$PLAN_NATIVE"
  LEGS=()
  [[ -n "$(plan_head "$plan")" ]] && LEGS+=("$(plan_head "$plan")")
  [[ -n "$(plan_tail "$plan")" ]] && LEGS+=("$(plan_tail "$plan")")
  return 0
}

# Starts the driver (which waits for the broker), then the broker; sets DRV_PID and T_SPAWN, or
# ERR and returns 1.
start_leg() { # kind version driver plan leg
  local kind="$1" ver="$2" drv="$3" i=0 idle=()
  "ns_$kind" $ver || return 1
  case "$kind" in apache) BR_PIDFILE="$PDIR/broker/broker.pid";; *) BR_PIDFILE="$PDIR/broker.pid";; esac
  load_cmd "$drv" "$4"
  (($5 == 1)) && idle=(--idle-ms 1000)  # the idle sample: once, from the first broker
  timeout "$(plan_timeout "$LOAD_PLAN")" "${LOAD_CMD[@]}" --namesrv "127.0.0.1:$NS_PORT" --broker "127.0.0.1:$BR_PORT" \
      --watch-broker-name broker-a --ready-file "$PDIR/driver.ready" --broker-pid-file "$BR_PIDFILE" \
      --create-topics BenchTest,BenchTestBacklog --queues 8 "${idle[@]}" \
      --topic BenchTest --backlog-topic BenchTestBacklog \
      --warmup-ms "$WARMUP_MS" --measure-ms "$MEASURE_MS" --initial-warmup-ms "$INITIAL_WARMUP_MS" \
      --phase-timeout-ms "$PHASE_TIMEOUT_MS" --clk-tck "$CLK_TCK" \
      --e2e-topic BenchTestE2e --settle-ms "$SETTLE_MS" \
      >"$PDIR/load.jsonl" 2>"$PDIR/load.err" &
  DRV_PID=$!; PIDS+=("$DRV_PID")
  while [[ ! -f "$PDIR/driver.ready" ]] && kill -0 "$DRV_PID" 2>/dev/null && ((i++ < 600)); do sleep 0.1; done
  [[ -f "$PDIR/driver.ready" ]] || { ERR="load driver did not start: $(tail -n 3 "$PDIR/load.err" | tr '\n' ' ')"; return 1; }
  T_SPAWN=$(now_ms)
  "broker_$kind" $ver || return 1
  if [[ "$drv" == native && -n "$BROKER_CPUS" ]]; then
    taskset -a -cp "$BROKER_CPUS" "$BR_PID" >/dev/null 2>&1 || log "$kind: could not pin the broker to CPUs $BROKER_CPUS"
  fi
  return 0
}

# One leg: a fresh nameserver, broker and store running PLAN. Appends the driver's phase lines
# to RDIR/load.jsonl (a later leg's start-up lines are left out: start-up and idle figures are the
# first broker's), keeps the logs (a later leg's in RDIR/leg-N), and sets LEG_RC (the driver's
# exit), LEG_RSS (the broker's RSS after the load), LEG_STORE_KB and T_SPAWN (first leg), or ERR
# and returns 1.
run_leg() { # name kind version driver plan leg rdir
  local name="$1" drv="$4" leg="$6" rdir="$7" logs="$7" ok=1 spawn f
  LEG_RC=0 LEG_RSS="null" LEG_STORE_KB=0
  PDIR="$WORK/$name"; rm -rf "$PDIR"; mkdir -p "$PDIR"
  NS_PORT="$(pick_port)"; BR_PORT="$(pick_port)"
  while ((BR_PORT == NS_PORT)); do BR_PORT="$(pick_port)"; done
  BR_PID="" NS_PID="" DRV_PID="" BR_PIDFILE=""
  spawn="$T_SPAWN"
  log "$name ($drv driver) leg $leg: nameserver 127.0.0.1:$NS_PORT, broker 127.0.0.1:$BR_PORT, plan $5"
  start_leg "$2" "$3" "$drv" "$5" "$leg" || ok=0
  ((leg == 1)) || T_SPAWN="$spawn"
  if ((ok)); then
    log "$name: broker pid $BR_PID booted; driver running leg $leg"
    wait "$DRV_PID" || LEG_RC=$?
    forget_pid "$DRV_PID"
    ((LEG_RC == 0)) || log "$name: $drv load driver exit $LEG_RC in leg $leg (see $rdir/load.err)"
    LEG_RSS="$(rss_kb "$BR_PID" VmRSS)"
    if ! kill -0 "$BR_PID" 2>/dev/null; then
      ok=0; ERR="broker process died during the load (leg $leg)"
      for f in "$PDIR/broker.out" "$PDIR/broker/broker.out"; do if [[ -f "$f" ]]; then ERR="$ERR: $(exit_reason "$f")"; fi; done
    fi
    LEG_STORE_KB="$(du -sk "$PDIR" 2>/dev/null | awk '{print $1}')"
  fi
  if [[ -f "$PDIR/load.jsonl" ]]; then
    if ((leg == 1)); then cat "$PDIR/load.jsonl"
    else grep -v -E '"phase":"(driver|watch|topic|idle)","ok":true' "$PDIR/load.jsonl" || true; fi >>"$rdir/load.jsonl"
  fi
  ((leg == 1)) || { logs="$rdir/leg-$leg"; mkdir -p "$logs"; }
  copy_logs "$logs"
  stop_peer
  rm -rf "$PDIR"
  ((ok))
}

# One peer under one driver, repetition REP: results in peers/NAME (java) or peers/NAME/native
# (native driver); repetitions after the first in peers/NAME/rep-REP and peers/NAME/rep-REP/native.
run_peer() { # name driver rep
  local name="$1" drv="$2" rep="${3:-1}" kind="" ver="" t0 after_rss="null" load_rc=0 store_kb=0 ok=1 rdir
  local load0 load1 plan leg=0
  t0=$(date +%s)
  load0="$(loadavg_json)"
  rdir="$OUT/peers/$name"; ((rep > 1)) && rdir="$rdir/rep-$rep"; [[ "$drv" == native ]] && rdir="$rdir/native"
  mkdir -p "$rdir"; rm -f "$rdir/load.jsonl"
  PEER_VERSION="" T_SPAWN="" ERR=""
  case "$name" in
    rmq) kind=rmq;;
    apache) kind=apache; ver="$APACHE_VERSION";;
    apache4) kind=apache; ver="$APACHE_VERSION_4";;
    rocketmq-rust) kind=rocketmq_rust;;
  esac
  log "== $name ($drv driver, repetition $rep/$REPEAT): load average $(cut -d' ' -f1-3 /proc/loadavg)"
  leg_plans "$drv"
  for plan in "${LEGS[@]}"; do
    leg=$((leg + 1))
    run_leg "$name" "$kind" "$ver" "$drv" "$plan" "$leg" "$rdir" || ok=0
    ((LEG_RC == 0)) || load_rc="$LEG_RC"
    ((leg == 1)) && after_rss="$LEG_RSS"
    store_kb=$((store_kb + ${LEG_STORE_KB:-0}))
    ((ok)) || break
  done
  load1="$(loadavg_json)"
  {
    printf '{"peer":%s,"driver":%s,"rep":%s,"version":%s,"ok":%s,"error":%s,' "$(json_str "$name")" "$(json_str "$drv")" \
      "$rep" "$(json_str "$PEER_VERSION")" "$( ((ok)) && echo true || echo false)" "$(json_str "$ERR")"
    printf '"spawnAtMs":%s,"afterLoadRssKb":%s,"diskKb":%s,"loadExit":%s,"legs":%s,"wallS":%s,"loadavgBefore":%s,"loadavgAfter":%s}\n' \
      "${T_SPAWN:-null}" "${after_rss:-null}" "$store_kb" "$load_rc" "$leg" "$(( $(date +%s) - t0 ))" "$load0" "$load1"
  } >"$rdir/meta.json"
  ((ok)) || log "$name ($drv driver): FAILED: $ERR"
  log "$name ($drv driver, repetition $rep/$REPEAT): done in $(( $(date +%s) - t0 ))s"
  ((ok))
}
