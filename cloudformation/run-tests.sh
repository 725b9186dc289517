#!/usr/bin/env bash
# Lint every CloudFormation template with cfn-lint, then run the pytest suite against a private
# moto_server on 127.0.0.1 (ephemeral port), and stop it on exit.
#
#   bash cloudformation/run-tests.sh [pytest args...]
#
# The venv is cached under ~/.cache/rmq-test/venv-cfn-<hash of requirements.txt + python version>
# (override the cache root with RMQ_TEST_CACHE). No AWS account or network access to AWS is used:
# static fake credentials, AWS_EC2_METADATA_DISABLED=true, endpoint = the local moto_server.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "run-tests.sh: $PYTHON not found (need Python >= 3.10)" >&2; exit 1; }
started=$SECONDS
VENV="$(bash "$HERE/venv.sh")"

echo "run-tests.sh: cfn-lint templates/*.yaml"
if ! timeout 1200 "$VENV/bin/cfn-lint" --regions us-east-1 eu-west-1 -- "$HERE"/templates/*.yaml; then
  echo "run-tests.sh: cfn-lint reported findings (or timed out after 1200 s)" >&2
  exit 1
fi

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

"$VENV/bin/python" "$HERE/tests/moto_shim.py" "$WORK/port" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 360); do
  [ -s "$WORK/port" ] && break
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then
    echo "run-tests.sh: moto_server exited at start:" >&2; cat "$WORK/moto.log" >&2; exit 1
  fi
  sleep 0.5
done
[ -s "$WORK/port" ] || { echo "run-tests.sh: moto_server did not start within 180 s" >&2; cat "$WORK/moto.log" >&2; exit 1; }
PORT="$(cat "$WORK/port")"
echo "run-tests.sh: moto_server on 127.0.0.1:$PORT (pid $MOTO_PID)"

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE
export RMQ_MOTO_LOG="$WORK/moto.log"

rc=0
timeout 1800 "$VENV/bin/pytest" -p no:cacheprovider -q "$HERE/tests" "$@" || rc=$?
if [ "$rc" != 0 ]; then
  [ "$rc" = 124 ] && echo "run-tests.sh: pytest timed out after 900 s" >&2
  echo "run-tests.sh: pytest failed (rc=$rc); last moto_server log lines:" >&2
  grep -v ' HTTP/1.1" [23]' "$WORK/moto.log" | tail -40 >&2 || true
fi
echo "run-tests.sh: done in $((SECONDS - started)) s"
exit "$rc"
