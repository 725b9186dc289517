#!/usr/bin/env bash
# The one test command: installs what the suites need (cached under ~/.cache/rmq-test) and runs
# every suite, then prints a table (suite, seconds, passed, failed, skipped).
#
#   ./scripts/test.sh                              everything
#   RMQ_TEST_ONLY="unit e2e" ./scripts/test.sh     a subset, for development
#
# Suites:
#   lint      cargo fmt --check; clippy -D warnings on every crate and target (see "One build")
#   unit      cargo test of every crate but the e2e suites (rmqctl's tests run real processes and
#             the Java client; rmq-aws's moto tests run in `aws`)
#   e2e       tests/e2e: real Java 4.9/5.x, Go and Rust clients against rmq-namesrv + rmq-broker
#   newcomer  tests/newcomer: the README's run command in a fresh clone, a Java client through it
#   cfn       cloudformation/: cfn-lint + every template deployed into moto
#   aws       operator/aws: rmq-aws and `rmqctl aws` against moto_server, user data in a sandbox
#   k8s       tests/k8s-e2e: the image from the Dockerfile, rmq-operator and the Helm chart on a
#             real control plane and a real node (containerd, kubelet, kube-proxy, CoreDNS)
#   bench     the report's doctests; bench/run.sh --quick with the debug binaries (keeps the
#             harness working; asserts nothing about timings); Apache's own benchmark tool
#             against rmq (bench/official.sh, small counts; fails if an rmq run has no rate);
#             then bench/soak-retention.sh on a 64 MiB tmpfs (10x its size pushed through with
#             retention on; asserts disk usage and delivery, not speed)
#
# How the time is spent (2 cores): the slow independent preparations (Maven and Go harnesses, the
# Rust client harness, the Python venv, the Kubernetes control plane from Go modules) start at
# once in the background at low CPU priority, while cargo builds in the foreground. The suites
# then run in parallel lanes, each with its own log under $RMQ_TEST_CACHE/logs/<run>/.
#
# One build: every crate is compiled once, with one feature set (`--workspace --features
# rmqctl/aws`, so the AWS SDK is compiled once), by `cargo build --all-targets` with clippy-driver
# as the workspace wrapper: the same compilation lints our crates (-D warnings) and produces the
# debug binaries and every test binary. Every later cargo command selects the same packages (and
# picks test targets by name), so nothing is compiled twice.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export RMQ_TEST_CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
SUITES=(lint unit e2e newcomer cfn aws k8s bench)
ONLY="${RMQ_TEST_ONLY:-${SUITES[*]}}"
want() { [[ " $ONLY " == *" $1 "* ]]; }
for s in $ONLY; do
  [[ " ${SUITES[*]} " == *" $s "* ]] || {
    echo "test.sh: unknown suite '$s' in RMQ_TEST_ONLY (known: ${SUITES[*]})" >&2; exit 2; }
done
for tool in cargo java mvn go python3 cc curl git flock; do
  command -v "$tool" >/dev/null || { echo "test.sh: '$tool' is required but not installed" >&2; exit 1; }
done

RUN="$(date +%Y%m%d-%H%M%S)-$$"
LOGS="$RMQ_TEST_CACHE/logs/$RUN"
mkdir -p "$LOGS"
# keep the logs of the last 10 runs
find "$RMQ_TEST_CACHE/logs" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort | head -n -10 | xargs -r rm -rf
T0=$SECONDS
say() { printf '[%4ss] %s\n' "$((SECONDS - T0))" "$*"; }

# The cargo selection every step uses (see "One build").
CARGO_SEL=(--workspace --features rmqctl/aws)
export RMQ_BIN_DIR="$CARGO_TARGET_DIR/debug"
export RUSTC_WORKSPACE_WRAPPER="${RUSTC_WORKSPACE_WRAPPER-$(command -v clippy-driver || true)}"
# clippy-driver reads its lint flags from CLIPPY_ARGS (what `cargo clippy -- -D warnings` sets).
export CLIPPY_ARGS="-Dwarnings"

# --- preparations: background jobs at low priority; rc and log per job ----------------------
PIDS=()
prep() { # prep NAME NICENESS COMMAND...   in the background; writes $LOGS/prep-NAME.{log,rc}
  local name="$1" niceness="$2"; shift 2
  # (clippy as the compiler wrapper is for this workspace's build only)
  ( rc=0; env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS nice -n "$niceness" "$@" >"$LOGS/prep-$name.log" 2>&1 || rc=$?
    echo "$rc" >"$LOGS/prep-$name.rc" ) &
  PIDS+=($!)
}
need() { # need NAME   waits for a preparation; fails with its log tail
  local name="$1" rc
  until [[ -f "$LOGS/prep-$name.rc" ]]; do sleep 1; done
  rc="$(cat "$LOGS/prep-$name.rc")"
  if [[ "$rc" != 0 ]]; then
    echo "test.sh: preparation '$name' failed (rc=$rc); last lines of $LOGS/prep-$name.log:"
    tail -n 40 "$LOGS/prep-$name.log"
    return 1
  fi
}
# Niceness keeps them behind the foreground build, which every suite waits for: the heavy ones
# (Go, the Rust client) run many compiler processes, so anything but the lowest priority would
# take most of the two cores from cargo. The light ones (Maven and pip downloads, apt) are needed
# by the first suites and stay near normal priority.
if want unit || want e2e || want newcomer || want bench; then prep harnesses 5 tests/build-harnesses.sh; fi
if want e2e; then prep rust-client 19 tests/rust-client/build.sh; fi
if want cfn || want aws; then prep venv 0 bash cloudformation/venv.sh; fi
if want k8s; then
  prep control-plane 19 tests/k8s/build-control-plane.sh
  prep node-packages 0 tests/k8s/install-node-packages.sh
  prep promcheck 19 tests/promcheck/build.sh   # cached; run.sh finds it (or reports its failure)
fi

# --- suites ---------------------------------------------------------------------------------
# Each suite runs as `suite_NAME` with its output in $LOGS/NAME.log; the result line
# (rc seconds passed failed skipped) goes to $LOGS/NAME.result.
count_cargo() { # LOG -> "passed failed skipped" summed over cargo's "test result:" lines
  awk '/^test result:/ { for (i = 1; i <= NF; i++) {
         if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
       END { printf "%d %d %d\n", p, f, s }' "$1"
}
# Integration-test targets of a package set, as `--test NAME` arguments. Selecting targets,
# never packages (-p/--exclude), keeps every cargo command's feature set that of the build:
# nothing is compiled twice. `--test NAME` selects that name in every package, so names must be
# unique in the workspace: a duplicate stops the suite with the names to rename.
test_targets() { # test_targets (only|except) PACKAGE...
  cargo metadata --no-deps --format-version 1 | python3 -c '
import collections, json, sys
mode, pkgs = sys.argv[1], set(sys.argv[2:])
packages = json.load(sys.stdin)["packages"]
seen = collections.defaultdict(list)
for p in packages:
    for t in p["targets"]:
        if "test" in t["kind"]:
            seen[t["name"]].append(p["name"])
dups = {n: ps for n, ps in seen.items() if len(ps) > 1}
if dups:
    sys.exit("test.sh: integration-test names must be unique in the workspace (--test NAME runs "
             "every package\u0027s target of that name): " + "; ".join(
                 n + " in " + ", ".join(ps) for n, ps in sorted(dups.items())) + ". Rename one.")
for p in packages:
    if (p["name"] in pkgs) == (mode == "only"):
        for t in p["targets"]:
            if "test" in t["kind"]:
                print("--test", t["name"])' "$@"
}
suite_unit() {
  need harnesses
  source "$RMQ_TEST_CACHE/harness.env"
  # rmq-aws's moto tests run in the aws suite, the rmq-e2e suites in e2e.
  # shellcheck disable=SC2046
  local targets
  targets="$(test_targets except rmq-e2e rmq-aws)" || return 1
  # shellcheck disable=SC2086
  cargo test "${CARGO_SEL[@]}" --no-fail-fast --lib --bins $targets
  cargo test "${CARGO_SEL[@]}" --doc
}
suite_e2e() {
  need harnesses
  source "$RMQ_TEST_CACHE/harness.env"
  # RMQ_E2E_START_DELAY (seconds, default 0) holds the suite back, e.g. behind a start burst of
  # another lane when lanes are rearranged.
  sleep "${RMQ_E2E_START_DELAY:-0}"
  # The Rust client's harness is the slowest preparation: its suite runs last.
  # shellcheck disable=SC2046
  local targets
  targets="$(test_targets only rmq-e2e)" || return 1
  # shellcheck disable=SC2086
  cargo test "${CARGO_SEL[@]}" --no-fail-fast $(grep -v ' rust_client$' <<<"$targets") \
    -- --test-threads 2
  need rust-client
  source "$RMQ_TEST_CACHE/rust-harness.env"
  cargo test "${CARGO_SEL[@]}" --test rust_client -- --test-threads 2
}
# The newcomer's release build runs beside the e2e suites: below them in priority, so their
# timing-sensitive clients keep the CPU they need.
suite_newcomer() { need harnesses; nice -n 10 tests/newcomer/run.sh; }
# cfn-lint and the moto suite are CPU-bound and not timing-sensitive: below the clients' suites.
suite_cfn() { need venv; nice -n 10 bash cloudformation/run-tests.sh; }
suite_aws() {
  need venv
  local targets
  targets="$(test_targets only rmq-aws)" || return 1
  RMQ_AWS_CARGO_TEST="${CARGO_SEL[*]} $(tr '\n' ' ' <<<"$targets")" RMQ_AWS_PREBUILT=1 \
    bash operator/aws/run-tests.sh
}
suite_k8s() {
  need control-plane
  need node-packages
  need promcheck || true   # run.sh builds it again and reports a failure as a check
  RMQ_E2E_CARGO_TEST=0 tests/k8s-e2e/run.sh
}
suite_bench() {
  need harnesses
  (cd bench && python3 -m doctest report_limit.py official_results.py) # the report's pure parts
  RMQ_BENCH_BIN_DIR="$RMQ_BIN_DIR" RMQ_BENCH_REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    bench/run.sh --quick
  # Apache's own benchmark tool against rmq (its Maven jars, mqadmin, Producer and Consumer)
  bench/official.sh --peers rmq --repeat 1 --q128 100000 --q1k 80000 --qmix 60000 --bin-dir "$RMQ_BIN_DIR" \
    --out "$LOGS/official.json"
  RMQ_BENCH_BIN_DIR="$RMQ_BIN_DIR" bench/soak-retention.sh --volume-mib 64 --factor 10 \
    --out "$LOGS/soak-retention"
}
counts() { # SUITE RC -> "passed failed skipped"
  local log="$LOGS/$1.log" c
  c="$(count_cargo "$log")"
  case "$1" in
    cfn) awk '/ passed| failed/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p = $(i-1); if ($i ~ /^failed/) f = $(i-1); if ($i ~ /^skipped/) s = $(i-1) } }
              END { printf "%d %d %d\n", p + ('"$2"' == 0 ? 1 : 0), f + ('"$2"' != 0 && f == 0 ? 1 : 0), s }' "$log" ;;
    k8s) awk '/^k8s-e2e: [0-9]+ passed, [0-9]+ failed/ { p = $2; f = $4 } END { printf "%d %d 0\n", p, f + ('"$2"' != 0 && f == 0 ? 1 : 0) }' "$log" ;;
    newcomer|bench) if [[ "$2" == 0 ]]; then echo "1 0 0"; else echo "0 1 0"; fi ;;
    aws) read -r p f s <<<"$c"; if [[ "$2" == 0 ]]; then echo "$((p + 1)) $f $s"; else echo "$p $((f + 1)) $s"; fi ;;
    *) read -r p f s <<<"$c"; if [[ "$2" != 0 && "$f" == 0 ]]; then f=1; fi; echo "$p $f $s" ;;
  esac
}
run_suite() { # run_suite NAME   (foreground; the caller backgrounds lanes)
  local name="$1" t rc=0
  t=$SECONDS
  say "$name: started (log: $LOGS/$name.log)"
  # not `|| rc=$?`: bash ignores set -e inside a tested subshell
  set +e
  ( set -euo pipefail; "suite_$name" ) >"$LOGS/$name.log" 2>&1
  rc=$?
  set -e
  echo "$rc $((SECONDS - t)) $(counts "$name" "$rc")" >"$LOGS/$name.result"
  if [[ "$rc" == 0 ]]; then say "$name: passed in $((SECONDS - t)) s"; else
    say "$name: FAILED (rc=$rc) in $((SECONDS - t)) s; last lines of its log:"
    tail -n 60 "$LOGS/$name.log" | sed "s/^/  $name| /"
  fi
}
lane() { # lane SUITE...   runs the wanted ones of SUITE... one after another
  local s
  for s in "$@"; do if want "$s"; then run_suite "$s"; fi; done
}

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -- "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- lint + build (foreground) -----------------------------------------------------------------
build_t=$SECONDS
build_rc=0
if want lint; then
  say "lint: cargo fmt --check"
  if ! cargo fmt --all -- --check >"$LOGS/fmt.log" 2>&1; then
    cat "$LOGS/fmt.log"; build_rc=1
  fi
fi
if [[ "$build_rc" == 0 ]]; then
  say "build: cargo build ${CARGO_SEL[*]} --all-targets (clippy -D warnings on our crates)"
  # --timings: $CARGO_TARGET_DIR/cargo-timings/ shows where a cold build's time goes
  if ! cargo build "${CARGO_SEL[@]}" --all-targets --timings >"$LOGS/build.log" 2>&1; then
    grep -E -A 12 '^(error|warning)' "$LOGS/build.log" | head -n 200 || true; build_rc=1
  fi
fi
if want lint; then
  if [[ "$build_rc" == 0 ]]; then echo "0 $((SECONDS - build_t)) 2 0 0" >"$LOGS/lint.result"
  else echo "1 $((SECONDS - build_t)) 0 1 0" >"$LOGS/lint.result"; fi
fi
if [[ "$build_rc" == 0 ]]; then
  say "build: done in $((SECONDS - build_t)) s"
  # --- the suites, in parallel lanes -----------------------------------------------------------
  # Two lanes on two cores. Three or four (e2e, k8s, unit and cfn side by side) put the load
  # average at 10-13 and the suites' Java clients, the apiserver and the brokers timed out on
  # calls that take milliseconds on a quiet machine. The e2e suite starts beside the CPU-bound but
  # not timing-sensitive ones (cfn-lint and moto, the newcomer's release build; both at nice 10);
  # the k8s suite, the longest, follows them (its control plane and node packages, prepared in
  # the background, are ready by then on a new machine too), the unit suite follows e2e.
  lane e2e unit bench aws &
  lane_pids=($!)
  lane cfn newcomer k8s & lane_pids+=($!)
  for p in "${lane_pids[@]}"; do wait "$p" || true; done
else
  say "build: FAILED after $((SECONDS - build_t)) s (log: $LOGS/build.log); no suite ran"
fi

# --- the table ---------------------------------------------------------------------------------
echo
printf '%-10s %8s %8s %8s %8s  %s\n' suite seconds passed failed skipped result
failed_suites=0
for s in "${SUITES[@]}"; do
  if [[ -f "$LOGS/$s.result" ]]; then
    read -r rc secs p f sk <"$LOGS/$s.result"
    res=ok; if [[ "$rc" != 0 ]]; then res=FAILED; failed_suites=$((failed_suites + 1)); fi
    printf '%-10s %8s %8s %8s %8s  %s\n' "$s" "$secs" "$p" "$f" "$sk" "$res"
  elif want "$s"; then
    printf '%-10s %8s %8s %8s %8s  %s\n' "$s" - - - - "not run (build failed)"
    failed_suites=$((failed_suites + 1))
  else
    printf '%-10s %8s %8s %8s %8s  %s\n' "$s" - - - - "skipped (RMQ_TEST_ONLY)"
  fi
done
printf '%-10s %8s\n' total "$((SECONDS - T0))"
echo "logs: $LOGS"
if ((failed_suites > 0)); then echo "test.sh: $failed_suites suite(s) failed"; exit 1; fi
echo "test.sh: all requested suites passed"
