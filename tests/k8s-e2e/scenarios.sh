# Scenarios of tests/k8s-e2e/run.sh (sourced; uses its variables and lib.sh). Every wait is
# bounded (`eventually SECONDS ...`); a scenario's failures are counted, later ones still run.

NSRV="demo-namesrv-0.demo-namesrv.$NS.svc:9876;demo-namesrv-1.demo-namesrv.$NS.svc:9876"
k() { kubectl -n "$NS" "$@"; }
jsonpath() { k get "$1" -o "jsonpath=$2"; }
cond() { jsonpath "$1" "{.status.conditions[?(@.type==\"$2\")].status}"; }
ready_gen() { # ready_gen OBJ: Ready=True computed from the current generation
  local j; j="$(k get "$1" -o json)" || return 1
  jq -e '.metadata.generation as $g | [.status.conditions[]? | select(.type=="Ready" and .status=="True" and .observedGeneration==$g)] | length == 1' <<<"$j" >/dev/null
}
pod_uids() { k get pods -l "rmq.dev/cluster=demo,app.kubernetes.io/component=broker" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}'; }

s_install() {
  log "scenario: helm install the operator"
  local ts=$(date +%s)
  local n
  for n in "$NS" "$OPNS"; do
    kubectl create namespace "$n" >/dev/null 2>&1 || true
    kubectl label --overwrite namespace "$n" pod-security.kubernetes.io/enforce=restricted \
      pod-security.kubernetes.io/enforce-version=latest >/dev/null
  done
  rejected "namespace $NS enforces the restricted Pod Security Standard (a root pod is refused)" \
    "violates PodSecurity \"restricted:latest\"" kubectl -n "$NS" run pss-probe --image=rmq.test/pause:1 --restart=Never
  check "helm install with the chart's defaults (image, CRDs, RBAC; the operator runs in its pod)" \
    timeout 240 helm install rmq "$CHART" -n "$OPNS" --wait --timeout 200s "${HELM_IMAGE[@]}" \
    --set operator.resyncSeconds=5
  check "CRDs are established" kubectl wait --for=condition=Established --timeout=30s \
    crd/rocketmqclusters.rmq.dev crd/rocketmqtopics.rmq.dev crd/rocketmqconsumergroups.rmq.dev
  eventually 60 "operator holds the leader Lease" \
    bash -c "kubectl -n $OPNS get lease rmq-operator -o jsonpath='{.spec.holderIdentity}' | grep -q rmq-rmq-operator"
  log "install: $(( $(date +%s) - ts ))s"
}

s_create() {
  log "scenario: create examples/cluster.yaml (2 nameservers, 2 groups x master+slave, a topic, a group)"
  local ts=$(date +%s)
  check "kubectl apply -f examples/cluster.yaml" k apply -f "$ROOT/examples/cluster.yaml"
  eventually 240 "RocketMQCluster demo becomes Ready" bash -c "[ \"\$(kubectl -n $NS get rmqc demo -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
  log "cluster Ready after $(( $(date +%s) - ts ))s"
  local st; st="$(k get rmqc demo -o json)"
  check "status: observedGeneration, 4/4 brokers, both groups' masters ready" jqtrue "$st" \
    '.status.observedGeneration == .metadata.generation and .status.readyBrokers == 4 and .status.brokers == 4 and ([.status.groups[] | select(.masterReady and .ready == 2)] | length) == 2'
  check "status: nameServerAddress lists the headless-Service DNS names" jqtrue "$st" \
    ".status.nameServerAddress == \"$NSRV\""
  check "status: Progressing=False, Degraded=False" jqtrue "$st" \
    '([.status.conditions[] | select((.type=="Progressing" or .type=="Degraded") and .status=="False")] | length) == 2'
  check "objects: StatefulSets demo-namesrv, demo-broker-a, demo-broker-b" k get sts demo-namesrv demo-broker-a demo-broker-b
  check "objects: headless + per-broker Services" k get svc demo-namesrv demo-broker-a demo-broker-b demo-broker-a-0 demo-broker-a-1 demo-broker-b-0 demo-broker-b-1
  check "objects: ConfigMaps and PDBs" k get cm,pdb demo-broker-a demo-broker-b
  check "objects: PDB demo-namesrv" k get pdb demo-namesrv
  check "objects: every owned object has a controller owner reference to the cluster" bash -c \
    "uid=\$(kubectl -n $NS get rmqc demo -o jsonpath='{.metadata.uid}'); kubectl -n $NS get sts,svc,cm,pdb -l rmq.dev/cluster=demo -o json | jq -e --arg uid \"\$uid\" '[.items[] | select([.metadata.ownerReferences[]? | select(.uid==\$uid and .controller)] | length == 0)] | length == 0'"
  local conf; conf="$(k get cm demo-broker-a -o jsonpath='{.data.demo-broker-a-1\.conf}')"
  check "broker.conf: slave of broker-a, advertises its Service DNS name, nameservers by DNS" bash -c \
    "grep -qx 'brokerId=1' <<<'$conf' && grep -qx 'brokerRole=SLAVE' <<<'$conf' && grep -qx 'brokerIP1=demo-broker-a-1.$NS.svc' <<<'$conf' && grep -qxF 'namesrvAddr=$NSRV' <<<'$conf'"
  check "pods carry the config-hash annotation of their StatefulSet" bash -c \
    "[ \"\$(kubectl -n $NS get sts demo-broker-a -o jsonpath='{.spec.template.metadata.annotations.rmq\.dev/config-hash}')\" = \"\$(kubectl -n $NS get pod demo-broker-a-0 -o jsonpath='{.metadata.annotations.rmq\.dev/config-hash}')\" ]"
  if [ "$EXISTING" = 1 ]; then skip "admin checks and clients" "needs the sandbox's network and DNS"; return; fi
  eventually 60 "nameservers list both groups with master and slave (registered by Service DNS name)" bash -c \
    "probe_out=\$('$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' cluster --cluster demo) && jq -e '.groups[\"broker-a\"][\"0\"] == \"demo-broker-a-0.$NS.svc:10911\" and (.groups[\"broker-b\"] | length) == 2' <<<\"\$probe_out\""
  eventually 60 "RocketMQTopic orders is Ready" bash -c "[ \"\$(kubectl -n $NS get rmqt orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
  eventually 30 "topic orders: 8 queues on every master" bash -c \
    "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic orders | jq -e '.onAll and ([.masters[] | select(.read==8 and .write==8)] | length) == 2'"
  eventually 60 "RocketMQConsumerGroup billing is on every master" bash -c \
    "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' group --cluster demo --group billing | jq -e '.onAll'"
  client_roundtrip orders billing c1
  check "Events: the cluster reported Creating then AllReplicasReady" bash -c \
    "kubectl -n $NS get events.events.k8s.io -o json | jq -e '[.items[] | select(.regarding.name==\"demo\") | .reason] | (index(\"AllReplicasReady\") != null)'"
  local opip; opip="$(kubectl -n "$OPNS" get pod -l app.kubernetes.io/name=rmq-operator -o jsonpath='{.items[0].status.podIP}')"
  check "operator /metrics counts reconciles; /healthz answers" bash -c \
    "curl -fsS http://$opip:8080/metrics | grep -q 'rmq_operator_reconciliations_total{controller=\"cluster\"}' && curl -fsS http://$opip:8080/healthz | grep -q ok"
}

# client_roundtrip TOPIC GROUP PREFIX: Java 5.x client produces 200 and consumes them.
client_roundtrip() {
  if [ -z "${RMQ_JAVA_HARNESS_5:-}" ]; then
    local cache="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
    if [ -f "$cache/harness.env" ] || "$ROOT/tests/build-harnesses.sh" --no-apache >/dev/null 2>&1; then
      # shellcheck disable=SC1091
      . "$cache/harness.env"
    fi
  fi
  if [ -z "${RMQ_JAVA_HARNESS_5:-}" ]; then bad "Java client round trip" "harness not available (tests/build-harnesses.sh)"; return; fi
  local out
  out="$(innet "$RMQ_JAVA_HARNESS_5" produce --namesrv "$NSRV" --topic "$1" --count 200 --prefix "$3" --timeout-ms 90000 2>"$WORK/produce-$3.err")" || true
  check "Java client produces 200 messages to $1 through the cluster (both groups)" jqtrue "$out" '.ok and .sent == 200 and (.queues | keys | map(split("/")[0]) | unique | length) == 2'
  out="$(innet "$RMQ_JAVA_HARNESS_5" consume --namesrv "$NSRV" --topic "$1" --group "$2" --expect 200 --prefix "$3" --timeout-ms 90000 2>"$WORK/consume-$3.err")" || true
  check "Java client consumes all 200 with group $2" jqtrue "$out" '.ok and .distinct == 200 and .corrupt == 0'
}

s_config_roll() {
  log "scenario: change a broker.conf key -> pods roll, the new value is live"
  local ts=$(date +%s) before hash_before
  before="$(pod_uids)"
  hash_before="$(jsonpath sts/demo-broker-a '{.spec.template.metadata.annotations.rmq\.dev/config-hash}')"
  check "patch spec.brokers.retention.deleteWhen=03" k patch rmqc demo --type merge -p '{"spec":{"brokers":{"retention":{"deleteWhen":"03"}}}}'
  eventually 30 "Progressing=True while rolling" bash -c "kubectl -n $NS get rmqc demo -o jsonpath='{.status.conditions[?(@.type==\"Progressing\")].status}' | grep -qx True"
  eventually 300 "cluster Ready again at the new generation" ready_gen rmqc/demo
  check "config hash changed" bash -c "[ \"\$(kubectl -n $NS get sts demo-broker-a -o jsonpath='{.spec.template.metadata.annotations.rmq\.dev/config-hash}')\" != '$hash_before' ]"
  local after; after="$(pod_uids)"
  check "every broker pod was replaced" bash -c "for p in $before; do case ' $after ' in *\" \$p \"*) exit 1;; esac; done"
  if [ "$EXISTING" = 0 ]; then
    eventually 60 "deleteWhen=03 is live on all 4 brokers (GET_BROKER_CONFIG)" bash -c \
      "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' broker-config --cluster demo --key deleteWhen | jq -e '(.brokers | length) == 4 and ([.brokers[] | select(. == \"03\")] | length) == 4'"
  fi
  log "roll: $(( $(date +%s) - ts ))s"
}

topic_probe() { innet "$BIN/rmq-e2e-probe" --namesrv "$NSRV" topic --cluster demo --topic "$1"; }

s_topics() {
  log "scenario: topics: add, change queues, drift, unmanage, delete"
  if [ "$EXISTING" = 1 ]; then skip "topic scenario" "needs the sandbox's network and DNS"; return; fi
  k apply -f - >/dev/null <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: payments}
spec: {cluster: demo, queues: 4}
YAML
  eventually 60 "new topic payments: 4 queues on every master" bash -c "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic payments | jq -e '.onAll and ([.masters[] | select(.read==4)] | length) == 2'"
  eventually 30 "payments Ready with the finalizer" bash -c "kubectl -n $NS get rmqt payments -o json | jq -e '(.metadata.finalizers | index(\"rmq.dev/topic\")) != null and ([.status.conditions[] | select(.type==\"Ready\" and .status==\"True\")] | length) == 1'"
  check "change queues 4 -> 16" k patch rmqt payments --type merge -p '{"spec":{"queues":16}}'
  eventually 60 "payments: 16 queues on every master" bash -c "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic payments | jq -e '[.masters[] | select(.read==16 and .write==16)] | length == 2'"
  check "drift: set payments to 2 queues behind the operator's back" probe --namesrv "$NSRV" set-queues --cluster demo --topic payments --queues 2
  eventually 60 "drift reverted on resync (16 queues again)" bash -c "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic payments | jq -e '[.masters[] | select(.read==16)] | length == 2'"
  eventually 30 "Event DriftReverted on payments" bash -c "kubectl -n $NS get events.events.k8s.io -o json | jq -e '[.items[] | select(.regarding.name==\"payments\" and .reason==\"DriftReverted\")] | length >= 1'"
  check "delete topic CR payments" k delete rmqt payments --timeout=60s
  eventually 60 "payments is gone from every master" bash -c "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic payments | jq -e '.onNone'"
  # an unmanaged topic is left on the brokers when its CR goes
  k apply -f - >/dev/null <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: audit}
spec: {cluster: demo, queues: 2}
YAML
  eventually 60 "topic audit created" bash -c "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic audit | jq -e '.onAll'"
  check "annotate audit rmq.dev/managed=false" k annotate rmqt audit rmq.dev/managed=false
  eventually 30 "audit: finalizer removed, Managed=False" bash -c "kubectl -n $NS get rmqt audit -o json | jq -e '((.metadata.finalizers // []) | index(\"rmq.dev/topic\")) == null and ([.status.conditions[] | select(.type==\"Managed\" and .status==\"False\")] | length) == 1'"
  check "delete the unmanaged CR" k delete rmqt audit --timeout=30s
  sleep 3
  check "audit is still on every master" bash -c "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic audit | jq -e '.onAll'"
}

s_invalid() {
  log "scenario: invalid CRs are rejected at admission with their messages"
  rejected "lowering spec.brokers.groups" "spec.brokers.groups cannot be lowered yet" \
    k patch rmqc demo --type merge -p '{"spec":{"brokers":{"groups":1}}}'
  rejected "a managed broker.conf key" "may not set keys rmq derives itself" \
    k patch rmqc demo --type merge -p '{"spec":{"brokers":{"config":{"brokerId":"3"}}}}'
  rejected "a retention key in spec.brokers.config that differs from spec.brokers.retention" \
    "spec.brokers.config sets fileReservedTime, deleteWhen or diskMaxUsedSpaceRatio" \
    k patch rmqc demo --type merge -p '{"spec":{"brokers":{"config":{"fileReservedTime":"1"}}}}'
  rejected "a deleteWhen that is not two-digit hours" "should match" \
    k patch rmqc demo --type merge -p '{"spec":{"brokers":{"retention":{"deleteWhen":"4"}}}}'
  rejected "resizing storage" "spec.brokers.storage is immutable" \
    k patch rmqc demo --type merge -p '{"spec":{"brokers":{"storage":{"size":"2Gi"}}}}'
  rejected "Sync replication without a slave" "Sync needs a slave" k apply -f - <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: bad-sync}
spec: {brokers: {groups: 1, replicasPerGroup: 1, replication: Sync}}
YAML
  rejected "a storage size that is not a quantity" "must be a Kubernetes quantity" k apply -f - <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: bad-size}
spec: {brokers: {storage: {size: lots}}}
YAML
  rejected "a cluster name longer than 40 characters" "at most 40 characters" k apply -f - <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: a-cluster-name-that-is-far-too-long-for-rmq}
spec: {}
YAML
  rejected "65 broker groups (schema maximum)" "should be less than or equal to 64" k apply -f - <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: too-many}
spec: {brokers: {groups: 65}}
YAML
  rejected "a topic with 0 queues" "should be greater than or equal to 1" k apply -f - <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: zero}
spec: {cluster: demo, queues: 0}
YAML
  rejected "moving a topic to another cluster" "spec.cluster is immutable" \
    k patch rmqt orders --type merge -p '{"spec":{"cluster":"other"}}'
  rejected "message.type as an attribute" "use spec.messageType" k apply -f - <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: typed}
spec: {cluster: demo, attributes: {message.type: FIFO}}
YAML
  rejected "an unknown perm" "Unsupported value" k apply -f - <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: perm}
spec: {cluster: demo, perm: Everything}
YAML
  # what admission cannot see becomes a condition: a topic name RocketMQ refuses
  k apply -f - >/dev/null <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: sys}
spec: {cluster: demo, topicName: TBW102}
YAML
  eventually 30 "a system topic name becomes Ready=False InvalidSpec with the field and fix" bash -c \
    "kubectl -n $NS get rmqt sys -o json | jq -e '[.status.conditions[] | select(.type==\"Ready\" and .status==\"False\" and .reason==\"InvalidSpec\" and (.message | contains(\"spec.topicName\")))] | length == 1'"
  k delete rmqt sys --timeout=30s >/dev/null 2>&1 || true
}

s_operator_restart() {
  log "scenario: operator restarted mid-reconcile -> converges"
  local ts=$(date +%s) old
  old="$(kubectl -n "$OPNS" get pod -l app.kubernetes.io/name=rmq-operator -o jsonpath='{.items[0].metadata.name}')"
  check "patch spec.brokers.retention.hours=48" k patch rmqc demo --type merge -p '{"spec":{"brokers":{"retention":{"hours":48}}}}'
  sleep 1
  check "delete the operator pod during the roll" kubectl -n "$OPNS" delete pod "$old" --wait=false
  eventually 90 "a new operator pod runs and holds the Lease" bash -c \
    "h=\$(kubectl -n $OPNS get lease rmq-operator -o jsonpath='{.spec.holderIdentity}'); [ -n \"\$h\" ] && [ \"\$h\" != '$old' ]"
  eventually 300 "cluster converges: Ready at the new generation" ready_gen rmqc/demo
  if [ "$EXISTING" = 0 ]; then
    eventually 60 "fileReservedTime=48 is live on all 4 brokers" bash -c \
      "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' broker-config --cluster demo --key fileReservedTime | jq -e '([.brokers[] | select(. == \"48\")] | length) == 4'"
    client_roundtrip orders billing c2
  fi
  log "restart: $(( $(date +%s) - ts ))s"
}

s_bench() {
  log "benchmark: 200 RocketMQTopic CRs -> topic on every master"
  local out pid rss
  out="$(probe --namesrv "$NSRV" bench --cluster demo --namespace "$NS" --count 200 --timeout-s 300)" || true
  echo "BENCH topics: $out" >&2
  local cid
  cid="$(kubectl -n "$OPNS" get pod -l app.kubernetes.io/name=rmq-operator -o jsonpath='{.items[0].status.containerStatuses[0].containerID}' | sed 's#.*://##')"
  pid="$(ctr --address "$RMQ_K8S_CONTAINERD" -n k8s.io tasks ls 2>/dev/null | awk -v id="$cid" '$1 == id {print $2}')"
  rss="$(grep -E 'VmRSS|VmHWM' "/proc/$pid/status" 2>/dev/null | tr -s ' ' | tr '\n' ' ')"
  echo "BENCH operator: pid $pid $rss" >&2
  echo "{\"bench\":$out,\"operatorMemory\":\"$rss\"}" > "$WORK/bench.json"
  cp "$WORK/bench.json" "${RMQ_E2E_BENCH_OUT:-/tmp/rmq-k8s-bench.json}"
  eventually 120 "benchmark topics cleaned up" bash -c "[ -z \"\$(kubectl -n $NS get rmqt -o name | grep bench-)\" ]"
}

s_delete() {
  log "scenario: delete the cluster -> owned objects gone"
  check "delete RocketMQCluster demo" k delete rmqc demo --timeout=60s
  eventually 120 "StatefulSets, Services, ConfigMaps, PDBs of demo are garbage-collected" bash -c \
    "[ -z \"\$(kubectl -n $NS get sts,svc,cm,pdb -l rmq.dev/cluster=demo -o name)\" ]"
  eventually 120 "demo's pods are gone" bash -c "[ -z \"\$(kubectl -n $NS get pods -l rmq.dev/cluster=demo -o name)\" ]"
  check "topic and group CRs of the deleted cluster can be deleted (finalizers let go)" k delete rmqt,rmqg --all --timeout=60s
  check "helm uninstall" helm uninstall rmq -n "$OPNS" --wait --timeout 60s
}

s_pause() {
  log "scenario: pause annotation"
  local hash; hash="$(jsonpath sts/demo-broker-a '{.spec.template.metadata.annotations.rmq\.dev/config-hash}')"
  check "annotate rmq.dev/pause-reconciliation=true" k annotate rmqc demo rmq.dev/pause-reconciliation=true
  eventually 30 "ReconciliationPaused=True" bash -c "[ \"\$(kubectl -n $NS get rmqc demo -o jsonpath='{.status.conditions[?(@.type==\"ReconciliationPaused\")].status}')\" = True ]"
  check "patch spec while paused" k patch rmqc demo --type merge -p '{"spec":{"brokers":{"config":{"maxMessageSize":"2097152"}}}}'
  sleep 5
  check "paused: the StatefulSet is unchanged" bash -c "[ \"\$(kubectl -n $NS get sts demo-broker-a -o jsonpath='{.spec.template.metadata.annotations.rmq\.dev/config-hash}')\" = '$hash' ]"
  check "remove the pause annotation" k annotate rmqc demo rmq.dev/pause-reconciliation-
  eventually 240 "unpaused: the change rolls out, Ready at the new generation" ready_gen rmqc/demo
  check "unpaused: ReconciliationPaused is gone" bash -c "[ -z \"\$(kubectl -n $NS get rmqc demo -o jsonpath='{.status.conditions[?(@.type==\"ReconciliationPaused\")].status}')\" ]"
}

s_second_cluster() {
  log "scenario: a second cluster in another namespace (one operator, no shared state)"
  local ns2="$NS-2"
  kubectl create namespace "$ns2" >/dev/null 2>&1 || true
  kubectl -n "$ns2" apply -f - >/dev/null <<YAML
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: demo}
spec: {brokers: {storage: {size: 1Gi}}}
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: orders}
spec: {cluster: demo, queues: 3}
YAML
  eventually 180 "cluster demo in $ns2 becomes Ready" bash -c "[ \"\$(kubectl -n $ns2 get rmqc demo -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
  check "its brokers get their own nameservers (DNS names of $ns2)" bash -c \
    "kubectl -n $ns2 get cm demo-broker-a -o jsonpath='{.data.demo-broker-a-0\.conf}' | grep -qx 'namesrvAddr=demo-namesrv-0.demo-namesrv.$ns2.svc:9876'"
  if [ "$EXISTING" = 0 ]; then
    eventually 60 "topic orders in $ns2 has 3 queues, the one in $NS still 8" bash -c \
      "'$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv 'demo-namesrv-0.demo-namesrv.$ns2.svc:9876' topic --cluster demo --topic orders | jq -e '[.masters[] | select(.read==3)] | length == 1' && '$ROOT/tests/k8s/sandbox.sh' exec '$RMQ_K8S_NETNS' '$BIN/rmq-e2e-probe' --namesrv '$NSRV' topic --cluster demo --topic orders | jq -e '[.masters[] | select(.read==8)] | length == 2'"
  fi
  check "delete the second cluster's namespace" kubectl delete namespace "$ns2" --timeout=120s
}
