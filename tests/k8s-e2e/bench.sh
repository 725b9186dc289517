# shellcheck shell=bash
# The operator benchmark (`run.sh --bench`, `--only bench`): 1000 RocketMQTopic CRs created one
# by one while the probe polls both masters; per-CR latency (CR created -> topic on every
# master), the operator's memory, its reconcile histogram and the CPU each process of the node
# spent during the run (to tell which one bounds the throughput). Sourced by run.sh.

# CPU seconds (utime + stime) of every process named $1 (pgrep -x), summed.
cpu_seconds() {
  local total=0 pid t
  for pid in $(pgrep -x "$1"); do
    t="$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null)" || continue
    total=$(( total + ${t:-0} ))
  done
  echo $(( total * 1000 / $(getconf CLK_TCK) ))
}

BENCH_PROCS=(kube-apiserver etcd rmq-operator rmq-broker rmq-namesrv kubelet containerd)

s_bench() {
  log "benchmark: 1000 RocketMQTopic CRs -> topic on every master"
  local out pid rss cid p opip
  declare -A before
  for p in "${BENCH_PROCS[@]}"; do before[$p]="$(cpu_seconds "$p")"; done
  local t0; t0=$(date +%s%N)
  out="$(probe --namesrv "$NSRV" bench --cluster demo --namespace "$NS" --count 1000 --timeout-s 300)" || true
  local wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "BENCH topics: $out" >&2
  local cpu="{\"wallMs\":$wall_ms"
  for p in "${BENCH_PROCS[@]}"; do cpu+=",\"$p\":$(( $(cpu_seconds "$p") - ${before[$p]} ))"; done
  cpu+="}"
  echo "BENCH cpu ms during the run: $cpu (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  cid="$(kubectl -n "$OPNS" get pod -l app.kubernetes.io/name=rmq-operator -o jsonpath='{.items[0].status.containerStatuses[0].containerID}' | sed 's#.*://##')"
  pid="$(ctr --address "$RMQ_K8S_CONTAINERD" -n k8s.io tasks ls 2>/dev/null | awk -v id="$cid" '$1 == id {print $2}')"
  rss="$(grep -E 'VmRSS|VmHWM' "/proc/$pid/status" 2>/dev/null | tr -s ' ' | tr '\n' ' ')"
  echo "BENCH operator: pid $pid $rss" >&2
  opip="$(kubectl -n "$OPNS" get pod -l app.kubernetes.io/name=rmq-operator -o jsonpath='{.items[0].status.podIP}')"
  curl -fsS "http://$opip:8080/metrics" 2>/dev/null | grep -E 'reconcile_duration_seconds_(bucket|sum|count)\{.*controller="topic"|reconcile_errors' >&2 || true
  echo "{\"bench\":$out,\"operatorMemory\":\"$rss\",\"cpuMs\":$cpu}" > "$WORK/bench.json"
  cp "$WORK/bench.json" "${RMQ_E2E_BENCH_OUT:-/tmp/rmq-k8s-bench.json}"
  eventually 300 "benchmark topics cleaned up" bash -c "[ -z \"\$(kubectl -n $NS get rmqt -o name | grep bench-)\" ]"
}
