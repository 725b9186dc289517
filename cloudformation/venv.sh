#!/usr/bin/env bash
# Creates (once) the Python venv of the AWS test suites — moto[server], cfn-lint, pytest, boto3,
# pinned in cloudformation/requirements.txt — and prints its path on stdout. Used by
# cloudformation/run-tests.sh, operator/aws/run-tests.sh and the test command's preparation step.
#
#   VENV="$(bash cloudformation/venv.sh)"
#
# Cached under ${RMQ_TEST_CACHE:-~/.cache/rmq-test}/venv-cfn-<hash of requirements.txt + python
# version>; concurrent callers wait on one lock instead of racing. Needs Python >= 3.10 (PYTHON).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "venv.sh: $PYTHON not found (need Python >= 3.10)" >&2; exit 1; }
CACHE="${RMQ_TEST_CACHE:-${HOME:-/tmp}/.cache/rmq-test}"
KEY="$( { cat "$HERE/requirements.txt"; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)"
VENV="$CACHE/venv-cfn-$KEY"
mkdir -p "$CACHE"
exec 9>"$CACHE/.venv-cfn.lock"
flock -w 900 9 || { echo "venv.sh: waited 900 s for $CACHE/.venv-cfn.lock" >&2; exit 1; }
if [ ! -f "$VENV/.complete" ]; then
  echo "venv.sh: creating $VENV" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" >&2
  if ! timeout 1800 "$VENV/bin/pip" install --disable-pip-version-check -q -r "$HERE/requirements.txt" >&2; then
    echo "venv.sh: pip install -r cloudformation/requirements.txt failed or timed out (1800 s)" >&2
    rm -rf "$VENV"
    exit 1
  fi
  touch "$VENV/.complete"
fi
echo "$VENV"
