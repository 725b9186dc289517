# shellcheck shell=bash
# bench/official-lib.sh: the brokers and scenarios of bench/official.sh (sourced by it after its
# options are read). Uses its globals: WORK, BIN, CP, CELLS, Q128, Q1K, QMIX, PIDS, APACHE_DIRS,
# ROOT, HERE and its helpers tool, cpu_ticks, log (ports: bench/ports.sh). run_peer sets ERR when it fails.
NS="" BR_PID="" PDIR="" ERR="" PEER_VERSION=""
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
APACHE_SH="$ROOT/tests/peers/apache.sh"
# shellcheck source=ports.sh
. "$HERE/ports.sh"

# Waits up to $3 s for "$2" in file $1 while process $4 lives.
wait_log() { # file text timeout_s pid
  local i=0
  until grep -q "$2" "$1" 2>/dev/null; do
    kill -0 "$4" 2>/dev/null || return 1
    ((i++ < $3 * 10)) || return 1
    sleep 0.1
  done
}

# rmq's nameserver and broker with bench/run.sh's settings (ASYNC_FLUSH, 64 MiB commit-log files).
start_rmq() {
  local nsp brp ns_pid
  nsp="$(pick_port)" brp="$(pick_port)"
  while ((brp == nsp)); do brp="$(pick_port)"; done
  "$BIN/rmq-namesrv" --listen-addr 127.0.0.1 --listen-port "$nsp" --kv-config-path "$PDIR/kv.json" >"$PDIR/namesrv.out" 2>&1 &
  ns_pid=$!; PIDS+=("$ns_pid")
  wait_log "$PDIR/namesrv.out" "boot success" 30 "$ns_pid" || { ERR="rmq-namesrv did not boot: $(tail -n 3 "$PDIR/namesrv.out")"; return 1; }
  NS="127.0.0.1:$nsp"
  "$BIN/rmq-broker" -n "$NS" --listen-addr 127.0.0.1 --listen-port "$brp" --broker-ip1 127.0.0.1 \
      --store-dir "$PDIR/store" --broker-name broker-a --cluster DefaultCluster --set flushDiskType=ASYNC_FLUSH \
      --set mappedFileSizeCommitLog=67108864 --set brokerRole=ASYNC_MASTER --set autoCreateTopicEnable=true \
      --set autoCreateSubscriptionGroup=true >"$PDIR/broker.out" 2>&1 &
  BR_PID=$!; PIDS+=("$BR_PID")
  wait_log "$PDIR/broker.out" "boot success" 60 "$BR_PID" || { ERR="rmq-broker did not boot: $(tail -n 3 "$PDIR/broker.out")"; return 1; }
  PEER_VERSION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
}

# Apache's nameserver and broker (tests/peers/apache.sh: ASYNC_FLUSH, 64 MiB commit-log files).
start_apache() { # version
  local nsp brp
  nsp="$(pick_port)" brp="$(pick_port)"
  while ((brp == nsp)); do brp="$(pick_port)"; done
  APACHE_DIRS+=("$PDIR/apache")
  "$APACHE_SH" start --version "$1" --namesrv-port "$nsp" --broker-port "$brp" --dir "$PDIR/apache" --xmx 1g \
      >"$PDIR/apache-start.out" 2>&1 || { ERR="Apache $1 did not start: $(tail -n 3 "$PDIR/apache-start.out")"; return 1; }
  NS="127.0.0.1:$nsp" BR_PID="$(cat "$PDIR/apache/broker.pid")" PEER_VERSION="$1"
}

stop_peer() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${APACHE_DIRS[@]}"; do "$APACHE_SH" stop --dir "$p" >/dev/null 2>&1 || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=() APACHE_DIRS=()
}

# An 8-queue topic made by the official admin tool; retried for 60 s (the broker registers first).
make_topic() { # topic
  local i
  for ((i = 0; i < 60; i++)); do
    tool org.apache.rocketmq.tools.command.MQAdminStartup updateTopic -n "$NS" -c DefaultCluster -t "$1" -r 8 -w 8 \
      >"$PDIR/topic-$1.out" 2>&1 && grep -q "success" "$PDIR/topic-$1.out" && return 0
    sleep 1
  done
  ERR="mqadmin updateTopic $1 failed: $(tail -n 2 "$PDIR/topic-$1.out")"
  return 1
}

# Whether process $1 still runs (a child that exited stays a zombie until it is waited for).
running() { [[ -e "/proc/$1" && "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

# One Producer run (bounded to 600 s); its output in $PDIR/$name.out. Once a second until it
# exits, $PDIR/$name.samples gets a line "seconds producer_ticks broker_ticks consumer_ticks" (the
# CPU ticks of the Producer, the broker and the Consumer $5, 0 when there is none).
produce() { # name topic size quantity [consumer_pid]
  local pid rc=0 n=0
  java "${JAVA_OPTS[@]}" -cp "$CP" org.apache.rocketmq.example.benchmark.Producer -n "$NS" -t "$2" \
    -w 64 -s "$3" -q "$4" -ri 1000 >"$PDIR/$1.out" 2>&1 &
  pid=$!; PIDS+=("$pid")
  while running "$pid" && ((n++ < 600)); do
    echo "$(date +%s.%N) $(cpu_ticks "$pid") $(cpu_ticks "$BR_PID") $(cpu_ticks "${5:-0}")" >>"$PDIR/$1.samples"
    sleep 1
  done
  running "$pid" && { kill "$pid"; rc=124; }
  wait "$pid" || { ((rc)) || rc=$?; }
  return "$rc"
}

# Records one scenario's result line in CELLS (bench/official_results.py reads the outputs).
cell() { # peer rep scenario name quantity rc [consumer_out]
  python3 "$HERE/official_results.py" cell --peer "$1" --version "$PEER_VERSION" --rep "$2" --scenario "$3" \
    --producer-out "$PDIR/$4.out" --samples "$PDIR/$4.samples" --clk-tck "$CLK_TCK" \
    --messages "$5" --rc "$6" ${7:+--consumer-out "$7"} >>"$CELLS"
}

# The Consumer on a new group of TOPIC in the background, then a Producer of QMIX messages.
send_and_consume() { # peer rep
  local cons_pid rc=0 i
  # the JVM itself in the background (not through `tool`: $! would be a subshell, and killing
  # it left the JVM running)
  java "${JAVA_OPTS[@]}" -cp "$CP" org.apache.rocketmq.example.benchmark.Consumer -n "$NS" -t OfficialMix \
    -g official_mix -ri 1000 >"$PDIR/consumer.out" 2>&1 &
  cons_pid=$!; PIDS+=("$cons_pid")
  for ((i = 0; i < 300; i++)); do grep -q "Consumer Started" "$PDIR/consumer.out" && break; sleep 0.1; done
  sleep 3 # the first rebalance hands it the queues
  produce mix OfficialMix 128 "$QMIX" "$cons_pid" || rc=$?
  sleep 2
  kill "$cons_pid" 2>/dev/null || true
  cell "$1" "$2" "send+consume 128 B" mix "$QMIX" "$rc" "$PDIR/consumer.out"
}

# Every scenario against one freshly started broker of PEER; returns 1 (ERR set) if it did not start.
run_peer() { # peer rep
  local rc
  PDIR="$WORK/$1-$2" ERR=""
  mkdir -p "$PDIR"
  case "$1" in
    rmq) start_rmq;;
    apache) start_apache "${RMQ_APACHE_VERSION:-5.5.0}";;
    apache4) start_apache "${RMQ_APACHE_VERSION_4:-4.9.7}";;
  esac || { stop_peer; return 1; }
  for t in OfficialSync128 OfficialSync1k OfficialMix; do make_topic "$t" || { stop_peer; return 1; }; done
  rc=0; produce sync128 OfficialSync128 128 "$Q128" || rc=$?
  cell "$1" "$2" "sync 128 B x64" sync128 "$Q128" "$rc"
  rc=0; produce sync1k OfficialSync1k 1024 "$Q1K" || rc=$?
  cell "$1" "$2" "sync 1024 B x64" sync1k "$Q1K" "$rc"
  send_and_consume "$1" "$2"
  stop_peer
}
