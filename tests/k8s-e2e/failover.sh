# The automatic-failover scenario of tests/k8s-e2e/run.sh (sourced; uses its variables, lib.sh
# and scenarios.sh's helpers): cluster `ha` with `failover: Automatic` — three rmq-controller
# pods (a StatefulSet) and a group of two brokers in controller mode — under a continuous Java
# producer and consumer. The master is frozen (SIGSTOP from the node) until the controllers
# elect the other broker, then thawed: it steps down and rejoins as a replica. Then the new
# master's pod is force-deleted: the group has a master again and the pod comes back. Every
# acknowledged message is consumed.

HA_NSRV="ha-namesrv-0.ha-namesrv.$NS.svc:9876"

# ha_master: the address the nameserver lists as broker-a's master (brokerId 0), or nothing.
ha_master() { probe --namesrv "$HA_NSRV" cluster --cluster ha 2>/dev/null | jq -r '.groups["broker-a"]["0"] // empty'; }
# ha_pod ADDR: the pod name of a broker address (`ha-broker-a-1.<ns>.svc:10911`).
ha_pod() { cut -d. -f1 <<<"$1"; }
# ha_pid POD: the host pid of POD's broker process.
ha_pid() { pgrep -f "rmq-broker --config /etc/rmq/$1.conf" | head -n 1; }
# ha_two_registered: the nameserver lists both brokers of broker-a, one of them as master.
ha_two_registered() {
  probe --namesrv "$HA_NSRV" cluster --cluster ha | jq -e '(.groups["broker-a"] | length) == 2 and .groups["broker-a"]["0"] != null' >/dev/null
}
# ha_rejoined MASTER: both brokers registered, MASTER still the master.
ha_rejoined() { ha_two_registered && [ "$(ha_master)" = "$1" ]; }
# ha_has_master: broker-a has a master in the route.
ha_has_master() { [ -n "$(ha_master)" ]; }
# ha_pod_back POD: POD is Ready and both brokers are registered.
ha_pod_back() {
  [ "$(jsonpath "pod/$1" '{.status.conditions[?(@.type=="Ready")].status}')" = True ] && ha_two_registered
}

s_failover() {
  log "scenario: automatic failover (cluster ha: 3 controllers, a group of 2 in controller mode)"
  local ts=$(date +%s)
  if [ -z "${RMQ_JAVA_HARNESS_5:-}" ]; then
    # shellcheck disable=SC1091
    . "${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}/harness.env" 2>/dev/null || true
  fi
  k apply -f - >/dev/null <<YAML || true
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: ha}
spec:
  nameServer: {replicas: 1}
  brokers:
    groups: 1
    replicasPerGroup: 2
    replication: Sync
    failover: Automatic
    storage: {size: 1Gi}
  controller: {replicas: 3, brokerTimeoutMs: 2000, storage: {size: 256Mi}}
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: ha-orders}
spec: {cluster: ha, topicName: ha_orders, queues: 4}
YAML
  eventually 300 "RocketMQCluster ha (failover: Automatic) becomes Ready" ready_gen rmqc/ha
  log "ha Ready after $(( $(date +%s) - ts ))s"
  check "objects: StatefulSet, headless Service, ConfigMap and PDB ha-controller" k get sts,svc,cm,pdb ha-controller
  check "the 3 controller pods are Ready" bash -c "[ \"\$(kubectl -n $NS get sts ha-controller -o jsonpath='{.status.readyReplicas}')\" = 3 ]"
  check "broker.conf: controller mode, no fixed role" bash -c \
    "c=\$(kubectl -n $NS get cm ha-broker-a -o jsonpath='{.data.ha-broker-a-1\.conf}'); grep -qx 'enableControllerMode=true' <<<\"\$c\" && ! grep -q '^brokerRole=' <<<\"\$c\""
  eventually 60 "the nameserver lists both brokers of broker-a, one as master" ha_two_registered
  eventually 60 "RocketMQTopic ha-orders is Ready" bash -c "[ \"\$(kubectl -n $NS get rmqt ha-orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
  continuity_start "$HA_NSRV" ha_orders
  sleep 5
  ha_freeze_the_master
  ha_delete_the_master_pod
  continuity_flowing "a frozen master replaced and a master pod deleted"
  continuity_check "a frozen master replaced and a master pod deleted" outage
  eventually 120 "cluster ha is Ready again" ready_gen rmqc/ha
  check "delete cluster ha" k delete rmqc ha --timeout=60s
  k delete rmqt ha-orders --timeout=60s >/dev/null 2>&1 || true
  # the claims are retained (rmq never deletes data by itself): give their volumes back
  k delete pvc -l rmq.dev/cluster=ha --wait=false >/dev/null 2>&1 || true
  log "failover scenario: $(( $(date +%s) - ts ))s"
}

# The master frozen (SIGSTOP) past the broker timeout: the other broker is elected; thawed, the
# old master steps down and rejoins as a replica.
ha_freeze_the_master() {
  local old pod pid t0 new=""
  old="$(ha_master)"; pod="$(ha_pod "$old")"; pid="$(ha_pid "$pod")"
  if [ -z "$old" ] || [ -z "$pid" ]; then bad "find the master's broker process" "master '$old', pid '$pid'"; return; fi
  log "freezing master $pod (pid $pid)"
  kill -STOP "$pid"; t0=$(date +%s%N)
  for _ in $(seq 1 150); do
    new="$(ha_master)"
    [ -n "$new" ] && [ "$new" != "$old" ] && break
    sleep 0.2
  done
  local took=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "the controllers elect the other broker while the master is frozen (routed after $took ms)" \
    test -n "$new" -a "$new" != "$old"
  sleep 3
  kill -CONT "$pid"
  eventually 120 "the thawed old master rejoins as a replica (both registered, the new one master)" \
    ha_rejoined "$new"
  check "the thawed old master logged that the group's master changed and restarted as a replica" \
    bash -c "kubectl -n $NS logs $pod | grep -q \"the group's master changed; restarting with the new role\""
}

# The master's pod force-deleted: a master serves again and the pod comes back Ready.
ha_delete_the_master_pod() {
  local old pod new=""
  old="$(ha_master)"; pod="$(ha_pod "$old")"
  log "force-deleting master pod $pod"
  k delete pod "$pod" --grace-period=0 --force >/dev/null 2>&1
  eventually 60 "broker-a has a master again" ha_has_master
  new="$(ha_master)"
  log "after deleting $pod the master is $(ha_pod "$new") ($( [ "$new" = "$old" ] && echo 'it came back before the broker timeout' || echo 'the other broker was elected'))"
  eventually 180 "pod $pod is recreated and Ready, both brokers registered" ha_pod_back "$pod"
}
