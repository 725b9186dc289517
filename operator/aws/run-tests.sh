#!/usr/bin/env bash
# Test rmq-aws and `rmqctl aws` against a private moto_server on 127.0.0.1, and run the rendered
# node user data in a sandbox with the real rmq-namesrv/rmq-broker/rmq-controller.
#
#   bash operator/aws/run-tests.sh [cargo test args...]      e.g.  -- --test-threads 2
#
# 1. venv with moto[server] from the pinned cloudformation/requirements.txt (cloudformation/venv.sh,
#    shared with cloudformation/run-tests.sh): ~/.cache/rmq-test/venv-cfn-<hash> (RMQ_TEST_CACHE).
# 2. moto_server on a free 127.0.0.1 port; static fake credentials, AWS_EC2_METADATA_DISABLED,
#    no profile files; stopped (by its pid) on exit.
# 3. cargo build rmq-namesrv + rmq-broker + rmq-controller (the sandbox tests run them) and
#    rmqctl --features aws,
#    cargo test -p rmq-aws (the test command passes its own selection: see below).
# 4. rmqctl (built with --features aws) end to end: plan, apply, apply again (0 changes), a
#    failure half-way then a re-run, the apply lock (held: refused naming the holder; stale:
#    explained, --break-lock), scale out, scale in (refused without --yes, done with it), a new
#    build (refused where the readiness gate cannot see the cluster, rolled with
#    --skip-readiness, slave before master), destroy (nothing tagged left), bad input, no
#    --instance-profile;
#    spec.security: apply refused until `secrets put`, `secrets list`, the node policy;
#    failover: Automatic: the plan shows the controllers on the nameserver nodes.
# Builds go to CARGO_TARGET_DIR (default ~/.cache/rmq-target-aws: the SDK is a heavy compile).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CFN="$ROOT/cloudformation"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "run-tests.sh: $PYTHON not found (need Python >= 3.10)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/tmp}/.cache/rmq-target-aws}"
started=$SECONDS
VENV="$(bash "$CFN/venv.sh")"

WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 2. moto_server on a free port (retry if another process takes the port first).
for attempt in 1 2 3; do
  PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$VENV/bin/python" "$HERE/tests/moto_server.py" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 240); do
    if curl -fsS -X POST "http://127.0.0.1:$PORT/moto-api/reset" >/dev/null 2>&1; then break; fi
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.5
  done
  if curl -fsS -X POST "http://127.0.0.1:$PORT/moto-api/reset" >/dev/null 2>&1; then break; fi
  kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; MOTO_PID=""
  [ "$attempt" = 3 ] && { echo "run-tests.sh: moto_server did not start:" >&2; cat "$WORK/moto.log" >&2; exit 1; }
done
echo "run-tests.sh: moto_server on 127.0.0.1:$PORT (pid $MOTO_PID)"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_ENDPOINT_URL
export RMQ_AWS_TEST_ENDPOINT="http://127.0.0.1:$PORT" RMQ_AWS_REQUIRE_MOTO=1
export RMQ_BIN_DIR="$CARGO_TARGET_DIR/debug"

fail() {
  echo "run-tests.sh: $*" >&2
  echo "run-tests.sh: last moto_server errors:" >&2
  grep -v ' HTTP/1.1" [23]' "$WORK/moto.log" | tail -30 >&2 || true
  exit 1
}

# 3. Library and integration tests.
cd "$ROOT"
# RMQ_AWS_PREBUILT=1: the binaries are built already (the test command builds the workspace once,
# with rmqctl's aws feature); RMQ_AWS_CARGO_TEST: the cargo test selection to use instead of
# `-p rmq-aws` (the test command's, so that nothing is compiled a second time).
if [ "${RMQ_AWS_PREBUILT:-0}" != 1 ]; then
  timeout 3600 cargo build -q -p rmq-namesrv -p rmq-broker -p rmq-controller ||
    fail "cargo build rmq-namesrv rmq-broker rmq-controller failed"
  timeout 3600 cargo build -q -p rmqctl --features aws || fail "cargo build -p rmqctl --features aws failed"
fi
read -r -a SELECTION <<<"${RMQ_AWS_CARGO_TEST:--p rmq-aws}"
timeout 3600 cargo test "${SELECTION[@]}" "$@" || fail "cargo test ${SELECTION[*]} failed"

# 4. rmqctl aws end to end.
RMQCTL="$CARGO_TARGET_DIR/debug/rmqctl"
mkdir -p "$WORK/bin"
cp "$RMQ_BIN_DIR/rmq-namesrv" "$RMQ_BIN_DIR/rmq-broker" "$RMQ_BIN_DIR/rmq-controller" "$WORK/bin/"
cluster() {  # cluster GROUPS REPLICAS
  cat >"$WORK/cluster.yaml" <<EOF
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: clie2e}
spec:
  nameServer: {replicas: 2}
  brokers: {groups: $1, replicasPerGroup: $2}
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: orders}
spec: {cluster: clie2e, queues: 4}
EOF
}
ctl() {
  timeout 600 "$RMQCTL" aws "$@" -f "$WORK/cluster.yaml" --region us-east-1 --endpoint-url "$RMQ_AWS_TEST_ENDPOINT" \
    --no-retries --artefact-bucket clie2e-artefacts --key-pair ops --remote-access-cidr 203.0.113.4/32 \
    --instance-profile rmq-node
}
expect() {  # expect PATTERN FILE
  grep -q -- "$1" "$2" || { cat "$2" >&2; fail "expected '$1' in the output above"; }
}
cluster 1 2
ctl plan --artefact-dir "$WORK/bin" >"$WORK/out" || fail "rmqctl aws plan failed"
expect "to create, 0 to update, 0 to delete" "$WORK/out"
RMQ_AWS_FAIL_AFTER=9 ctl apply --artefact-dir "$WORK/bin" --skip-topics >"$WORK/out" 2>&1 && fail "the injected failure did not fail the apply"
expect "stopped: 9 change(s) applied, 1 failed" "$WORK/out"
ctl apply --artefact-dir "$WORK/bin" --skip-topics >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "re-run after a failure failed"; }
expect "applied .* change(s)" "$WORK/out"
expect "NameServerAddresses    10.0." "$WORK/out"
ctl apply --artefact-dir "$WORK/bin" --skip-topics >"$WORK/out" 2>&1 || fail "second apply failed"
expect "no changes: cluster clie2e is as declared" "$WORK/out"
# Topics go through the nameservers; from here the private addresses cannot be reached, which
# must fail with the hint rather than hang or pretend.
ctl apply --artefact-dir "$WORK/bin" >"$WORK/out" 2>&1 && fail "topic reconcile through unreachable private addresses succeeded"
expect "topics and groups were not" "$WORK/out"
cluster 2 2
ctl plan -o json >"$WORK/out" || fail "plan -o json failed"
"$VENV/bin/python" - "$WORK/out" <<'EOF' || fail "day-2 plan is not 8 creates"
import json, sys
plan = json.load(open(sys.argv[1]))
ops = [a["op"] for a in plan["actions"]]
assert ops == ["create"] * 8, ops
EOF
ctl apply --artefact-dir "$WORK/bin" --skip-topics >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "scale-out apply failed"; }
# The apply lock: another apply holds it (a live lock) -> refused, naming the holder; a stale
# one is explained; --break-lock removes only a stale one; the apply releases its own.
lock() {  # lock live|stale|gone
  "$VENV/bin/python" - "$RMQ_AWS_TEST_ENDPOINT" clie2e "$1" <<'EOF'
import sys, time, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
name, now = f"rmq-lock.{sys.argv[2]}", int(time.time())
if sys.argv[3] == "gone":
    found = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [name]}])
    sys.exit(1 if found["LaunchTemplates"] else 0)
if sys.argv[3] == "live":
    tags = {"rmq.dev/lock": sys.argv[2], "rmq.dev/lock-owner": "ci@other-host (pid 77)",
            "rmq.dev/lock-command": "apply", "rmq.dev/lock-since": str(now),
            "rmq.dev/lock-expires": str(now + 600)}
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={}, TagSpecifications=[
        {"ResourceType": "launch-template", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])
else:
    lt = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
    ec2.create_tags(Resources=[lt["LaunchTemplateId"]], Tags=[{"Key": "rmq.dev/lock-expires", "Value": str(now - 60)}])
EOF
}
lock live || fail "could not create the other apply's lock"
ctl apply --skip-topics --break-lock >"$WORK/out" 2>&1 && fail "an apply ran while another held the lock"
expect 'cluster clie2e is locked: `rmqctl aws apply` of ci@other-host (pid 77) holds the lock since' "$WORK/out"
expect "fix: wait until it finishes" "$WORK/out"
lock stale || fail "could not age the lock"
ctl apply --skip-topics >"$WORK/out" 2>&1 && fail "an apply ran while a stale lock was there"
expect "the lock is stale: it expired at" "$WORK/out"
expect "run the same command again with --break-lock" "$WORK/out"
ctl apply --skip-topics --break-lock >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "--break-lock of a stale lock failed"; }
expect "removed the stale lock of ci@other-host (pid 77)" "$WORK/out"
expect "no changes: cluster clie2e is as declared" "$WORK/out"
lock gone || fail "the apply did not release its lock"
# Scale-in deletes: listed in the plan; without --yes (stdin no terminal) refused, exit 2,
# nothing changed; with --yes done.
cluster 1 2
ctl plan >"$WORK/out" 2>&1 || fail "scale-in plan failed"
expect "destructive: 8 delete(s)" "$WORK/out"
expect "! volume/broker-b-0 (scale-in: node broker-b-0 is no longer in the spec)" "$WORK/out"
set +e
ctl apply --artefact-dir "$WORK/bin" --skip-topics </dev/null >"$WORK/out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$WORK/out"; fail "scale-in without --yes exited $rc, not 2"; }
expect "this apply deletes 8 resource(s) (asg/broker-b-0, asg/broker-b-1" "$WORK/out"
expect "nothing was changed (fix: review the plan, then run the same apply with --yes)" "$WORK/out"
ctl plan >"$WORK/out" 2>&1 || fail "plan after the refused scale-in failed"
expect "0 to create, 0 to update, 8 to delete" "$WORK/out"
ctl apply --artefact-dir "$WORK/bin" --skip-topics --yes </dev/null >"$WORK/out" 2>&1 ||
  { cat "$WORK/out"; fail "scale-in with --yes failed"; }
expect "applied 8 change(s)" "$WORK/out"
expect "final snapshots of deleted data volumes: snap-" "$WORK/out"
# A new broker build rolls the brokers. From here the nameservers (private addresses) cannot be
# reached, so the readiness gate refuses before anything changes; --skip-readiness rolls on the
# Auto Scaling groups alone, one node at a time, the slave before the master.
printf '\n' >>"$WORK/bin/rmq-broker"
set +e
ctl apply --artefact-dir "$WORK/bin" --skip-topics --ready-timeout 5 >"$WORK/out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$WORK/out"; fail "a roll without reachable nameservers exited $rc, not 1"; }
expect "this apply updates the Auto Scaling groups of broker-a-1, broker-a-0 one at a time (replacing each instance whose launch template changed) and waits until each node is ready" "$WORK/out"
expect "cannot be looked at from here" "$WORK/out"
expect "nothing was changed (fix: run from the bastion or inside the VPC, or pass --skip-readiness" "$WORK/out"
ctl apply --artefact-dir "$WORK/bin" --skip-topics --skip-readiness >"$WORK/out" 2>&1 ||
  { cat "$WORK/out"; fail "a roll with --skip-readiness failed"; }
grep -E "roll broker-a-[01]: (replacing|instance)" "$WORK/out" |
  sed -E 's/^ +//; s/(replacing instance|instance) i-[0-9a-f]+/\1/' >"$WORK/roll"
printf '%s\n' "roll broker-a-1: replacing instance" "roll broker-a-1: instance in service" \
  "roll broker-a-0: replacing instance" "roll broker-a-0: instance in service" | diff - "$WORK/roll" >&2 ||
  { cat "$WORK/out"; fail "the roll was not slave then master, one at a time"; }
ctl destroy >"$WORK/out" 2>&1 || fail "destroy without --yes failed"
expect "pass --yes to delete" "$WORK/out"
ctl destroy --yes --no-snapshot >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "destroy failed"; }
ctl destroy --yes >"$WORK/out" 2>&1 || fail "second destroy failed"
expect "nothing to delete" "$WORK/out"
# Bad input: exit code 2 and the flag named.
set +e
timeout 60 "$RMQCTL" aws plan -f "$WORK/cluster.yaml" --region us-east-1 --endpoint-url "$RMQ_AWS_TEST_ENDPOINT" \
  --artefact-bucket Bad_Bucket --az-count 5 >"$WORK/out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$WORK/out"; fail "bad input exited $rc, not 2"; }
expect "--az-count" "$WORK/out"
expect "--artefact-bucket" "$WORK/out"
# No --instance-profile: the nodes could not start, so the plan is refused.
timeout 60 "$RMQCTL" aws plan -f "$WORK/cluster.yaml" --region us-east-1 --endpoint-url "$RMQ_AWS_TEST_ENDPOINT" \
  --artefact-bucket clie2e-artefacts --key-pair ops --remote-access-cidr 203.0.113.4/32 >"$WORK/out" 2>&1 &&
  fail "a plan without --instance-profile succeeded"
expect "--instance-profile is missing" "$WORK/out"
expect 'fix: create the role and its instance profile from `rmqctl aws plan --print-iam-policy`' "$WORK/out"
# spec.security: apply refuses while a parameter of a named secret is missing (naming it and the
# command), `secrets put` creates them without printing a value, `secrets list` shows names only,
# then the plan goes through and the printed node policy reads exactly the cluster's parameters.
cat >"$WORK/secure.yaml" <<EOF
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: clisec}
spec:
  nameServer: {replicas: 1}
  brokers: {groups: 1, replicasPerGroup: 1}
  security:
    acl: {enabled: true, accountsSecret: rmq-acl, adminSecret: rmq-admin}
EOF
mkdir -p "$WORK/secrets/rmq-acl" "$WORK/secrets/rmq-admin"
printf 'accounts: []\n' >"$WORK/secrets/rmq-acl/plain_acl.yml"
printf 'rmqadmin' >"$WORK/secrets/rmq-admin/accessKey"
printf 'cli-s3cret-value' >"$WORK/secrets/rmq-admin/secretKey"
sec() {
  timeout 600 "$RMQCTL" aws "$@" --region us-east-1 --endpoint-url "$RMQ_AWS_TEST_ENDPOINT" --no-retries
}
secure() {
  sec "$@" -f "$WORK/secure.yaml" --artefact-dir "$WORK/bin" --artefact-bucket clisec-artefacts --key-pair ops \
    --remote-access-cidr 203.0.113.4/32 --instance-profile rmq-node
}
secure apply --skip-topics >"$WORK/out" 2>&1 && fail "apply without the secrets' parameters succeeded"
expect "/rmq/clisec/rmq-admin/secretKey" "$WORK/out"
expect "rmqctl aws secrets put --cluster clisec --from-dir DIR --region us-east-1" "$WORK/out"
sec secrets put --cluster clisec --from-dir "$WORK/secrets" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "secrets put failed"; }
expect "created /rmq/clisec/rmq-admin/secretKey (version 1)" "$WORK/out"
sec secrets list --cluster clisec >>"$WORK/out" 2>&1 || fail "secrets list failed"
expect "/rmq/clisec/rmq-acl/plain_acl.yml  *SecureString" "$WORK/out"
if grep -q "s3cret" "$WORK/out"; then fail "rmqctl aws secrets printed a value"; fi
secure plan >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "plan with every parameter failed"; }
expect "to create, 0 to update, 0 to delete" "$WORK/out"
secure plan --print-iam-policy >"$WORK/out" 2>&1 || fail "plan --print-iam-policy failed"
expect '"arn:aws:ssm:us-east-1:123456789012:parameter/rmq/clisec/\*"' "$WORK/out"
expect '"kms:ViaService": "ssm.us-east-1.amazonaws.com"' "$WORK/out"
# failover: Automatic: the plan names each controller and the nameserver node it runs on.
cat >"$WORK/ha.yaml" <<EOF
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {name: cliha}
spec:
  nameServer: {replicas: 3}
  brokers: {groups: 1, replicasPerGroup: 2, replication: Sync, failover: Automatic}
EOF
sec plan -f "$WORK/ha.yaml" --artefact-dir "$WORK/bin" --artefact-bucket cliha-artefacts --key-pair ops \
  --remote-access-cidr 203.0.113.4/32 --instance-profile rmq-node >"$WORK/out" 2>&1 ||
  { cat "$WORK/out"; fail "plan of an Automatic cluster failed"; }
expect "controllers (failover: Automatic), on the nameserver nodes:" "$WORK/out"
for i in 0 1 2; do expect "controller-$i on namesrv-$i (port 9878)" "$WORK/out"; done
echo "run-tests.sh: rmqctl aws end to end passed"
echo "run-tests.sh: done in $((SECONDS - started)) s"
