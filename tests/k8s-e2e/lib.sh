# Helpers of tests/k8s-e2e/run.sh (sourced).

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
PASS=0; FAIL=0; SKIP=0; FAILED_CHECKS=()

# ok NAME: record a pass; bad NAME DETAIL: record a failure.
ok() { PASS=$((PASS + 1)); echo "  ok   $1" >&2; }
bad() { FAIL=$((FAIL + 1)); FAILED_CHECKS+=("$1"); echo "  FAIL $1${2:+: $2}" >&2; }
skip() { SKIP=$((SKIP + 1)); echo "  skip $1${2:+: $2}" >&2; }

# check NAME COMMAND...: pass if COMMAND exits 0.
check() {
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then ok "$name"; else bad "$name" "$(echo "$out" | tail -n 5 | tr '\n' ' ')"; fi
}

# eventually SECONDS NAME COMMAND...: pass once COMMAND exits 0, polling every second.
eventually() {
  local secs="$1" name="$2"; shift 2
  local deadline=$(( $(date +%s) + secs )) out=""
  while :; do
    if out="$("$@" 2>&1)"; then ok "$name"; return 0; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      bad "$name" "not true after ${secs}s: $(echo "$out" | tail -n 3 | tr '\n' ' ')"; return 0
    fi
    sleep 1
  done
}

# rejected NAME EXPECTED_SUBSTRING COMMAND...: pass if COMMAND fails and its output contains the text.
rejected() {
  local name="$1" want="$2"; shift 2
  local out
  if out="$("$@" 2>&1)"; then bad "$name" "was accepted"; return; fi
  if grep -qF -- "$want" <<<"$out"; then ok "$name"; else bad "$name" "rejected, but the message lacks '$want': $out"; fi
}

# jqtrue JSON FILTER: exit 0 if the filter yields true; else print what was tested (the log's why).
jqtrue() { jq -e "$2" <<<"$1" >/dev/null || { echo "got: ${1:-nothing}"; return 1; }; }
