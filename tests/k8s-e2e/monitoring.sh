# shellcheck shell=bash
# spec.monitoring and the metrics endpoints on the real node (sourced by run.sh):
# - asked for without the Prometheus operator's CRDs: a Warning Event says what to install;
# - with the CRDs: a PodMonitor and a PrometheusRule, labelled and owned by the cluster;
#   turned off: deleted;
# - every broker's and nameserver's /metrics answers through its Service's DNS name;
# - every metric the chart's Grafana dashboard and the alert rules query is one the broker,
#   the nameserver or the operator exports (checked against live scrapes).

# The metric names (rocketmq_*, rmq_*) queried by the PromQL expressions on stdin, one per line
# (label matchers such as {rmq_cluster="demo"} are dropped first: their names are labels).
queried_metrics() { sed -E 's/\{[^}]*\}//g' | grep -oE '\b(rocketmq|rmq)_[a-z0-9_]+' | sort -u; }

# True if the scrape text in file $2 declares metric $1 (a series, or its # TYPE line, with
# the suffixes _total, _bucket, _count, _sum of counters and histograms).
exported() {
  local name="$1" base
  base="$(sed -E 's/_(total|bucket|count|sum)$//' <<<"$name")"
  grep -qE "^(${name}[{ ]|# TYPE ${base} )" "$2"
}

s_monitoring() {
  log "scenario: spec.monitoring, /metrics through Services, the dashboard's and alerts' metrics"
  if [ "$EXISTING" = 1 ]; then skip "monitoring scenario" "needs the sandbox's network and DNS"; return; fi
  local on='{"spec":{"monitoring":{"podMonitor":true,"prometheusRule":true,"labels":{"release":"prom"}}}}'
  check "ask for a PodMonitor and alert rules (no Prometheus operator installed)" \
    k patch rmqc demo --type merge -p "$on"
  eventually 60 "a Warning Event MonitoringUnavailable names the missing CRD" bash -c \
    "kubectl -n $NS get events.events.k8s.io -o json | jq -e '[.items[] | select(.regarding.name==\"demo\" and .reason==\"MonitoringUnavailable\" and (.note | contains(\"podmonitors.monitoring.coreos.com\")))] | length > 0'"
  check "install the Prometheus operator's CRDs (PodMonitor, PrometheusRule)" \
    kubectl apply -f "$HERE/fixtures/monitoring-crds.yaml"
  eventually 90 "PodMonitor demo: labelled release=prom, owned by the cluster, scrapes port http" bash -c \
    "kubectl -n $NS get podmonitor demo -o json | jq -e '.metadata.labels.release == \"prom\" and .metadata.ownerReferences[0].kind == \"RocketMQCluster\" and .spec.podMetricsEndpoints[0].port == \"http\"'"
  local dir="$WORK/scrapes" svc="$NS.svc"
  mkdir -p "$dir"
  eventually 60 "PrometheusRule demo: the six alerts" bash -c \
    "kubectl -n $NS get prometheusrule demo -o json > '$dir/rule.json' && jq -e '[.spec.groups[0].rules[].alert] | length == 6' '$dir/rule.json'"
  # Traffic with a retry: each message is consumed once "later" (a send-back), then accepted.
  local out
  out="$(innet "$RMQ_JAVA_HARNESS_5" produce --namesrv "$NSRV" --topic orders --count 6 --prefix mon --timeout-ms 60000 2>"$WORK/mon-produce.err")" || true
  out="$(innet "$RMQ_JAVA_HARNESS_5" consume --namesrv "$NSRV" --topic orders --group mon-retry --expect 6 --prefix mon --reconsume-later 1 --retry-delay-level 1 --timeout-ms 90000 2>"$WORK/mon-consume.err")" || true
  check "a consumer asks for a retry of each of 6 messages, then takes them" jqtrue "$out" '.ok and .distinct == 6'
  for b in a b; do
    check "broker-$b's /metrics answers through its Service (demo-broker-$b-0.demo-broker-$b)" bash -c \
      "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' curl -fsS -m 5 http://demo-broker-$b-0.demo-broker-$b.$svc:10918/metrics > '$dir/broker-$b' && grep -q '^rmq_broker_ready{' '$dir/broker-$b'"
  done
  check "a nameserver's /metrics answers through its Service (demo-namesrv-0.demo-namesrv)" bash -c \
    "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' curl -fsS -m 5 http://demo-namesrv-0.demo-namesrv.$svc:9883/metrics > '$dir/namesrv' && grep -q '^rocketmq_namesrv_brokers{role=\"master\"} 2' '$dir/namesrv'"
  local opip; opip="$(kubectl -n "$OPNS" get pod -l app.kubernetes.io/name=rmq-operator -o jsonpath='{.items[0].status.podIP}')"
  curl -fsS -m 5 "http://$opip:8080/metrics" > "$dir/operator" || true
  cat "$dir"/broker-* "$dir/namesrv" "$dir/operator" > "$dir/all"
  check "the retries are counted (rocketmq_send_back_messages_total, group mon-retry)" \
    grep -qE '^rocketmq_send_back_messages_total\{.*consumer_group="mon-retry"' "$dir/all"
  local exprs missing=""
  exprs="$(jq -r '.panels[].targets[].expr' "$ROOT/charts/rmq-operator/dashboards/rmq.json")"
  for m in $(queried_metrics <<<"$exprs"); do exported "$m" "$dir/all" || missing+=" $m"; done
  check "every metric the Grafana dashboard queries ($(queried_metrics <<<"$exprs" | wc -l)) is exported (live scrape)${missing:+; missing:$missing}" test -z "$missing"
  exprs="$(jq -r '.spec.groups[].rules[].expr' "$dir/rule.json" 2>/dev/null)"
  missing=""
  for m in $(queried_metrics <<<"$exprs"); do exported "$m" "$dir/all" || missing+=" $m"; done
  check "every metric the alert rules query ($(queried_metrics <<<"$exprs" | wc -l)) is exported (live scrape)${missing:+; missing:$missing}" \
    bash -c "[ -n '$(queried_metrics <<<"$exprs" | head -1)' ] && [ -z '$missing' ]"
  # Diagnostic (not a check): the rule read at creation vs now. Two runs saw it vanish for a
  # while right after its CRD was installed and come back at the next reconcile.
  log "PrometheusRule demo: uid at first read $(jq -r .metadata.uid "$dir/rule.json"), now $(kubectl -n "$NS" get prometheusrule demo -o jsonpath='{.metadata.uid}' 2>&1)"
  check "turn the PodMonitor off" \
    k patch rmqc demo --type merge -p '{"spec":{"monitoring":{"podMonitor":false}}}'
  eventually 60 "PodMonitor demo is deleted; the PrometheusRule stays" bash -c \
    "! kubectl -n $NS get podmonitor demo >/dev/null 2>&1 && kubectl -n $NS get prometheusrule demo >/dev/null"
}
