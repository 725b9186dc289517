#!/usr/bin/env bash
# Proves the local control plane works for what the operator tests need:
#   namespaces; Deployment -> ReplicaSet -> Pods and StatefulSet -> Pods (controller-manager);
#   garbage collection through ownerReferences; a Node object + pod binding + pod status patch by
#   an admin client (what the test node agent does); scheduler binding to a Ready fake node;
#   a CRD with CEL validation rejecting an invalid object; helm lint/template/install/uninstall.
#
# Usage: tests/k8s/smoke-test.sh [DIR]
#   DIR: use (and keep running) the control plane in DIR; default: a temp dir that is
#        started and stopped/removed by this script.
# Ends with a "N passed, M failed" line; exit code 0 only if nothing failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
die()  { echo "smoke-test: ERROR: $*" >&2; echo "$PASS passed, $((FAIL + 1)) failed"; exit 1; }

OWN_DIR=0
if [ $# -ge 1 ]; then DIR="$1"; else DIR="$(mktemp -d /tmp/rmq-k8s-smoke.XXXXXX)"; OWN_DIR=1; fi
WORK="$(mktemp -d /tmp/rmq-k8s-smoke-work.XXXXXX)"
cleanup() {
  rm -rf "$WORK"
  if [ "$OWN_DIR" = 1 ]; then "$HERE/stop-control-plane.sh" "$DIR" --purge >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

ENV_OUT="$("$HERE/start-control-plane.sh" "$DIR")" || die "start-control-plane.sh failed"
eval "$ENV_OUT"
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
NS=rmq-smoke
k() { kubectl --request-timeout=10s "$@"; }

# poll CMD until it succeeds (max $1 seconds)
eventually() {
  local t="$1" deadline; shift; deadline=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
count_is() { # count_is N KUBECTL-GET-ARGS... -> number of listed names == N
  local n="$1"; shift
  [ "$(k get "$@" -o name 2>/dev/null | grep -c .)" = "$n" ]
}
jp_is() { # jp_is EXPECTED KUBECTL-GET-ARGS... (last arg is -o jsonpath=...)
  local want="$1"; shift
  [ "$(k get "$@" 2>/dev/null)" = "$want" ]
}

# ---------------------------------------------------------------- basics
if k get --raw=/readyz >/dev/null && [ "$(k version -o json | grep -c '"gitVersion"')" = 2 ]; then
  ok "apiserver ready, version $(k version -o json | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | tail -1)"
else bad "apiserver /readyz or version"; fi

k create namespace "$NS" >/dev/null 2>&1 || true
if eventually 30 k get serviceaccount default -n "$NS"; then ok "namespace $NS with default ServiceAccount (kcm serviceaccount controller)"
else bad "namespace $NS / default ServiceAccount"; fi

# Identities: the static admin token, and a ServiceAccount token from the TokenRequest API
# (what a pod process of the node agent would use, with RBAC applied).
as_token() { kubectl --kubeconfig=/dev/null --server="$RMQ_K8S_APISERVER" --certificate-authority="$RMQ_K8S_CA" \
  --request-timeout=10s --token="$1" "${@:2}"; }
if [ "$(as_token "$RMQ_K8S_TOKEN" auth whoami -o 'jsonpath={.status.userInfo.username}' 2>/dev/null)" = rmq-test-admin-token ] \
   && as_token "$RMQ_K8S_TOKEN" get namespaces >/dev/null 2>&1; then
  ok "admin bearer token (RMQ_K8S_TOKEN) authenticates as a cluster admin"
else bad "admin bearer token"; fi
sa_tok="$(k create token default -n "$NS" --duration=10m 2>/dev/null)"
if [ "$(as_token "$sa_tok" auth whoami -o 'jsonpath={.status.userInfo.username}' 2>/dev/null)" = "system:serviceaccount:$NS:default" ] \
   && ! as_token "$sa_tok" get secrets -n kube-system >/dev/null 2>&1; then
  ok "ServiceAccount token from TokenRequest authenticates, and RBAC denies it kube-system secrets"
else bad "ServiceAccount token / RBAC"; fi

# ---------------------------------------------------------------- workloads
cat > "$WORK/workloads.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: rmq.invalid/web:1}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: p, port: 9876}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: rmq.invalid/db:1, ports: [{containerPort: 9876, name: p}]}]
EOF
if k apply -n "$NS" -f "$WORK/workloads.yaml" >/dev/null; then ok "applied Deployment, headless Service, StatefulSet"
else bad "apply workloads"; fi

if eventually 60 count_is 1 replicasets -n "$NS" -l app=web && eventually 60 count_is 2 pods -n "$NS" -l app=web; then
  ok "deployment controller made a ReplicaSet and the replicaset controller 2 Pods"
else bad "Deployment -> ReplicaSet -> Pods"; fi
if eventually 60 count_is 1 pods -n "$NS" -l app=db; then ok "statefulset controller made pod db-0 (db-1 waits for db-0 Ready)"
else bad "StatefulSet -> Pod db-0"; fi
if jp_is Pending pod db-0 -n "$NS" -o 'jsonpath={.status.phase}'; then ok "pods stay Pending without a node"
else bad "db-0 is not Pending"; fi

# ---------------------------------------------------------------- fake node + binding + status
cat > "$WORK/node.yaml" <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: rmq-fake-node
  labels: {kubernetes.io/hostname: rmq-fake-node, kubernetes.io/os: linux}
EOF
if k apply -f "$WORK/node.yaml" >/dev/null; then ok "created Node rmq-fake-node"; else bad "create Node"; fi
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
node_status="{\"status\":{\"capacity\":{\"cpu\":\"8\",\"memory\":\"16Gi\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"8\",\"memory\":\"16Gi\",\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"rmq test node\",\"lastHeartbeatTime\":\"$now\",\"lastTransitionTime\":\"$now\"}],\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"},{\"type\":\"Hostname\",\"address\":\"rmq-fake-node\"}]}}"
if k patch node rmq-fake-node --subresource=status --type=merge -p "$node_status" >/dev/null \
   && jp_is True node rmq-fake-node -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'; then
  ok "patched Node status (capacity, Ready=True) as an admin client"
else bad "patch Node status"; fi

if [ -f "$RMQ_K8S_DIR/pids/kube-scheduler.pid" ]; then
  if eventually 60 jp_is rmq-fake-node pod db-0 -n "$NS" -o 'jsonpath={.spec.nodeName}'; then
    ok "kube-scheduler bound db-0 to the Ready fake node"
  else bad "kube-scheduler did not bind db-0"; fi
fi

# A pod for another scheduler stays unscheduled; bind it through pods/binding like a node agent.
cat > "$WORK/agentpod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: agent-bound}
spec:
  schedulerName: rmq-test-agent
  containers: [{name: c, image: rmq.invalid/c:1}]
EOF
k apply -n "$NS" -f "$WORK/agentpod.yaml" >/dev/null
binding='{"apiVersion":"v1","kind":"Binding","metadata":{"name":"agent-bound"},"target":{"apiVersion":"v1","kind":"Node","name":"rmq-fake-node"}}'
echo "$binding" > "$WORK/binding.json"
if k create --raw "/api/v1/namespaces/$NS/pods/agent-bound/binding" -f "$WORK/binding.json" >/dev/null \
   && jp_is rmq-fake-node pod agent-bound -n "$NS" -o 'jsonpath={.spec.nodeName}'; then
  ok "bound a pod to the fake node with a pods/binding subresource"
else bad "pods/binding"; fi

# Mark db-0 Running+Ready like a node agent; the statefulset controller then creates db-1.
pod_status() { # pod_status IP
  local t; t="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "{\"status\":{\"phase\":\"Running\",\"hostIP\":\"127.0.0.1\",\"hostIPs\":[{\"ip\":\"127.0.0.1\"}],\"podIP\":\"$1\",\"podIPs\":[{\"ip\":\"$1\"}],\"startTime\":\"$t\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"$t\"},{\"type\":\"Initialized\",\"status\":\"True\",\"lastTransitionTime\":\"$t\"},{\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"$t\"},{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$t\"}],\"containerStatuses\":[{\"name\":\"db\",\"image\":\"rmq.invalid/db:1\",\"imageID\":\"\",\"ready\":true,\"started\":true,\"restartCount\":0,\"state\":{\"running\":{\"startedAt\":\"$t\"}}}]}}"
}
if k patch pod db-0 -n "$NS" --subresource=status --type=merge -p "$(pod_status 127.0.0.11)" >/dev/null \
   && jp_is Running pod db-0 -n "$NS" -o 'jsonpath={.status.phase}'; then
  ok "patched pod db-0 status to Running/Ready (podIP 127.0.0.11) as an admin client"
else bad "patch pod status"; fi
if eventually 60 count_is 2 pods -n "$NS" -l app=db; then ok "statefulset controller created db-1 after db-0 became Ready"
else bad "StatefulSet did not create db-1"; fi
if eventually 30 jp_is 1 statefulset db -n "$NS" -o 'jsonpath={.status.readyReplicas}'; then
  ok "StatefulSet status.readyReplicas=1"
else bad "StatefulSet readyReplicas"; fi
# EndpointSlices are written by kcm, but validation forbids loopback addresses in them: a pod whose
# status.podIP is 127.x is left out, and kcm records a FailedToUpdateEndpointSlices event (README).
if eventually 30 count_is 1 endpointslices -n "$NS" -l kubernetes.io/service-name=db \
   && eventually 30 bash -c "kubectl get events -n $NS --field-selector reason=FailedToUpdateEndpointSlices -o name | grep -q ."; then
  ok "endpointslice controller runs (and, as documented, refuses the loopback pod IP)"
else bad "EndpointSlice for Service db / loopback rejection event"; fi

# Node heartbeat the way a kubelet does it: a Lease in kube-node-lease.
cat > "$WORK/lease.yaml" <<LEASE
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: rmq-fake-node, namespace: kube-node-lease}
spec: {holderIdentity: rmq-fake-node, leaseDurationSeconds: 40, renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"}
LEASE
if k apply -f "$WORK/lease.yaml" >/dev/null; then ok "node Lease in kube-node-lease written (heartbeat)"; else bad "node Lease"; fi

# ---------------------------------------------------------------- garbage collection
# Pods bound to a node are deleted gracefully: the apiserver only sets deletionTimestamp and waits
# for the kubelet to confirm. There is no kubelet, so (like the node agent must) finish the
# deletion of terminating pods on our node with a grace period of 0.
reap() {
  local p
  for p in $(k get pods -A --field-selector spec.nodeName=rmq-fake-node \
      -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}'); do
    k delete pod -n "${p%%/*}" "${p#*/}" --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
  done
}
gone() { reap; count_is 0 "$@"; }
k delete deployment web -n "$NS" --wait=false >/dev/null
if eventually 60 count_is 0 replicasets -n "$NS" -l app=web && eventually 60 gone pods -n "$NS" -l app=web; then
  ok "garbage collector removed the ReplicaSet and Pods of the deleted Deployment (ownerReferences; pods reaped as a kubelet would)"
else bad "garbage collection via ownerReferences"; fi

# ---------------------------------------------------------------- CRD with CEL validation
cat > "$WORK/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.smoke.rmq.dev}
spec:
  group: smoke.rmq.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer, minimum: 1}
              mode: {type: string}
            x-kubernetes-validations:
            - rule: "self.replicas <= 5"
              message: "replicas must be at most 5 (rmq CEL check)"
            - rule: "!has(self.mode) || self.mode in ['Async', 'Sync']"
              message: "mode must be Async or Sync"
EOF
if k apply -f "$WORK/crd.yaml" >/dev/null && k wait --for=condition=Established --timeout=30s crd/widgets.smoke.rmq.dev >/dev/null; then
  ok "CRD with x-kubernetes-validations established"
else bad "CRD apply/establish"; fi
printf 'apiVersion: smoke.rmq.dev/v1\nkind: Widget\nmetadata: {name: bad}\nspec: {replicas: 7}\n' > "$WORK/bad.yaml"
printf 'apiVersion: smoke.rmq.dev/v1\nkind: Widget\nmetadata: {name: good}\nspec: {replicas: 3, mode: Sync}\n' > "$WORK/good.yaml"
out="$(k apply -n "$NS" -f "$WORK/bad.yaml" 2>&1)"
if [ $? -ne 0 ] && grep -q "replicas must be at most 5 (rmq CEL check)" <<<"$out"; then
  ok "invalid Widget rejected with the CEL message: $(grep -o 'spec: Invalid value.*' <<<"$out" | head -1)"
else bad "CEL rejection (got: $out)"; fi
if k apply -n "$NS" -f "$WORK/good.yaml" >/dev/null; then ok "valid Widget accepted"; else bad "valid Widget rejected"; fi

# ---------------------------------------------------------------- helm
CH="$WORK/chart/smoke"
mkdir -p "$CH/templates"
cat > "$CH/Chart.yaml" <<'EOF'
apiVersion: v2
name: smoke
description: trivial chart for the rmq control-plane smoke test
type: application
version: 0.1.0
appVersion: "0.1.0"
EOF
printf 'greeting: hello\n' > "$CH/values.yaml"
cat > "$CH/templates/configmap.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
  labels:
    app.kubernetes.io/managed-by: {{ .Release.Service }}
data:
  greeting: {{ .Values.greeting | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
EOF
if helm lint "$CH" >/dev/null; then ok "helm lint"; else bad "helm lint"; fi
if helm template t1 "$CH" | grep -q 'greeting: "hello"'; then ok "helm template"; else bad "helm template"; fi
if helm install smoke1 "$CH" -n "$NS" --set greeting=hi --wait --timeout 60s >/dev/null \
   && jp_is hi configmap smoke1-cm -n "$NS" -o 'jsonpath={.data.greeting}'; then
  ok "helm install into the apiserver (KubeVersion seen by helm: $(k get cm smoke1-cm -n "$NS" -o 'jsonpath={.data.kubeVersion}'))"
else bad "helm install"; fi
if helm uninstall smoke1 -n "$NS" >/dev/null && eventually 30 count_is 0 configmap smoke1-cm -n "$NS"; then ok "helm uninstall"
else bad "helm uninstall"; fi

# ---------------------------------------------------------------- namespace deletion (namespace controller)
k delete namespace "$NS" --wait=false >/dev/null
ns_gone() { reap; ! k get namespace "$NS" >/dev/null 2>&1; }
if eventually 90 ns_gone; then ok "namespace controller finalized namespace deletion"
else bad "namespace $NS not deleted within 90s"; fi
k delete node rmq-fake-node >/dev/null 2>&1 || true
k delete crd widgets.smoke.rmq.dev >/dev/null 2>&1 || true

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
