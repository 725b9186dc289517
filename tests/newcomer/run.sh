#!/usr/bin/env bash
# A newcomer's first hour, as a test: the README's run command, exactly as written, from a fresh
# clone with no CARGO_TARGET_DIR (and no RMQ_* variables) in the environment.
#
#   tests/newcomer/run.sh            (suite `newcomer` of scripts/test.sh)
#
# 1. `git clone` this repository into a new temporary directory. Uncommitted changes to tracked
#    files are carried over (`git stash create`), so a developer tests what they are about to
#    commit; CI runs on a clean clone, where that is HEAD.
# 2. In the clone, with CARGO_TARGET_DIR, cargo/rustc settings and every RMQ_* variable unset:
#    `./scripts/run-local.sh --detach` (the README's run command; --detach is how a script runs a
#    command that otherwise stays in the foreground: everything after it goes to `rmqctl local up`).
# 3. The unmodified Java client (tests/build-harnesses.sh) produces 100 messages to `orders`
#    through 127.0.0.1:9876;127.0.0.1:9877 and consumes them with group `billing`.
# 4. `rmqctl local down` in the clone stops every node; no node process is left.
#
# Only the clone's ./target is kept between runs ($RMQ_TEST_CACHE/newcomer/target, moved into the
# clone and back out), so a warm run rebuilds rmq's own crates in release mode but not its
# dependencies. Needs the default ports of examples/cluster.yaml (9876-9877, 10911-10942) free.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
KEEP="$CACHE/newcomer/target"
log() { echo "newcomer: $*" >&2; }
die() { echo "newcomer: FAILED: $*" >&2; exit 1; }

# The Java harness is read before the environment is scrubbed.
if [[ -z "${RMQ_JAVA_HARNESS_5:-}" ]]; then
  # shellcheck disable=SC1091
  source "$CACHE/harness.env" 2>/dev/null || true
fi
JAVA_HARNESS="${RMQ_JAVA_HARNESS_5:-}"
[[ -x "$JAVA_HARNESS" ]] || die "no Java harness (run tests/build-harnesses.sh first)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmq-newcomer.XXXXXX")"
CLONE="$WORK/rmq"
cleanup() {
  local rc=$?
  if [[ -x "$CLONE/target/release/rmqctl" && -d "$CLONE/.rmq-local" ]]; then
    (cd "$CLONE" && timeout 120 target/release/rmqctl local down >/dev/null 2>&1) || true
  fi
  if [[ -d "$CLONE/target" ]]; then
    mkdir -p "$(dirname "$KEEP")"
    rm -rf "$KEEP"
    mv "$CLONE/target" "$KEEP" || true
  fi
  if ((rc != 0)) && [[ -d "$CLONE/.rmq-local" ]]; then
    log "node logs (tails):"
    for f in "$CLONE"/.rmq-local/*/logs/*.log; do
      [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. A fresh clone, plus the developer's uncommitted changes to tracked files.
snapshot="$(git -C "$ROOT" stash create 2>/dev/null || true)"
git clone --quiet --no-hardlinks "$ROOT" "$CLONE"
if [[ -n "$snapshot" ]]; then
  git -C "$CLONE" fetch --quiet "$ROOT" "$snapshot"
  git -C "$CLONE" checkout --quiet --detach FETCH_HEAD
  log "testing HEAD plus uncommitted changes to tracked files"
fi
if [[ -d "$KEEP" ]]; then mv "$KEEP" "$CLONE/target"; fi

# 2. The README's run command, as a new user types it: no CARGO_TARGET_DIR, no RMQ_* overrides.
readme_cmd="$(awk '/^## Run it/{f=1} f&&/^```sh/{getline; print; exit}' "$CLONE/README.md")"
[[ "$readme_cmd" == "./scripts/run-local.sh" ]] \
  || die "README's run command is now '$readme_cmd': update this test to run it"
# Whatever a test harness sets for cargo (target dir, clippy as the compiler wrapper, flags) and
# every RMQ_* variable: a new user's shell has none of them.
while IFS='=' read -r name _; do unset "$name"; done \
  < <(env | grep -E '^(RMQ_|CARGO_|RUSTC_|RUSTFLAGS=|RUSTDOCFLAGS=|CLIPPY_ARGS=)' | grep -v '^CARGO_HOME=' || true)
log "running '$readme_cmd --detach' in a fresh clone ($CLONE)"
t0=$SECONDS
(cd "$CLONE" && timeout 3000 $readme_cmd --detach) >"$WORK/up.log" 2>&1 \
  || { cat "$WORK/up.log" >&2; die "the README's run command failed"; }
log "cluster up in $((SECONDS - t0)) s (build included)"
for node in namesrv-0 namesrv-1 broker-a-0 broker-a-1 broker-b-0 broker-b-1; do
  grep -q "$node" "$WORK/up.log" || { cat "$WORK/up.log" >&2; die "$node missing from the node table"; }
done

# 3. A Java client produces and consumes through the README's address.
NS="127.0.0.1:9876;127.0.0.1:9877"
prefix="newcomer-$$-$RANDOM"
timeout 180 "$JAVA_HARNESS" produce --namesrv "$NS" --topic orders --count 100 --prefix "$prefix" \
  >"$WORK/produce.json" 2>"$WORK/produce.err" \
  || { cat "$WORK/produce.json" "$WORK/produce.err" >&2; die "the Java producer failed"; }
timeout 180 "$JAVA_HARNESS" consume --namesrv "$NS" --topic orders --group billing --expect 100 \
  --prefix "$prefix" >"$WORK/consume.json" 2>"$WORK/consume.err" \
  || { cat "$WORK/consume.json" "$WORK/consume.err" >&2; die "the Java consumer did not get all 100"; }
log "Java client: produced 100, consumed 100 ($(head -c 300 "$WORK/consume.json"))"

# 4. Stop the cluster the way the README's user would, and check nothing is left running.
pids="$(python3 -c 'import json,sys; print(" ".join(str(n["pid"]) for n in json.load(open(sys.argv[1]))["nodes"] if n.get("pid")))' \
  "$CLONE/.rmq-local/demo/state.json" 2>/dev/null || true)"
(cd "$CLONE" && timeout 120 target/release/rmqctl local down) >"$WORK/down.log" 2>&1 \
  || { cat "$WORK/down.log" >&2; die "rmqctl local down failed"; }
for pid in $pids; do
  # a zombie (exited, not yet reaped by whatever adopted it) does not run
  state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
  if [[ -n "$state" && "$state" != Z* ]]; then die "node pid $pid still runs after 'rmqctl local down'"; fi
done
log "passed: fresh clone -> README run command -> Java produce/consume -> local down"
