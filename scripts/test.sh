#!/usr/bin/env bash
# The one test command: installs what the suites need (cached under ~/.cache/rmq-test) and runs
# every suite. Usage: ./scripts/test.sh            (everything)
#                     RMQ_TEST_ONLY="unit e2e" ./scripts/test.sh   (a subset, for development)
# Suites: lint unit e2e cfn aws k8s bench
#   lint   cargo fmt --check, cargo clippy -D warnings on every crate and target
#   unit   cargo test of every crate except the ones below (rmqctl's tests run real processes
#          and the Java client harness)
#   e2e    tests/e2e: real Java 4.9/5.x, Go and Rust clients against rmq-namesrv + rmq-broker
#   cfn    cloudformation/: cfn-lint + every template deployed into moto
#   aws    operator/aws: rmq-aws and `rmqctl aws` against moto_server, user data run in a sandbox
#   k8s    tests/k8s-e2e: rmq-operator + Helm chart on a real kube-apiserver built from Go modules
#   bench  bench/run.sh --quick with the debug binaries: keeps the harness from rotting; asserts
#          nothing about timings
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export RMQ_TEST_CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
ONLY="${RMQ_TEST_ONLY:-lint unit e2e cfn aws k8s bench}"
want() { [[ " $ONLY " == *" $1 "* ]]; }
step() { printf '\n==> %s (%ss elapsed)\n' "$*" "$SECONDS"; }
for s in $ONLY; do
  case "$s" in lint|unit|e2e|cfn|aws|k8s|bench) ;;
    *) echo "test.sh: unknown suite '$s' in RMQ_TEST_ONLY (known: lint unit e2e cfn aws k8s bench)" >&2; exit 2;;
  esac
done

for tool in cargo java mvn go python3 cc curl; do
  command -v "$tool" >/dev/null || { echo "test.sh: '$tool' is required but not installed" >&2; exit 1; }
done

if want lint; then
  step "format and lints"
  cargo fmt --all -- --check
  # rmqctl's `aws` feature included, so `rmqctl aws` is linted too (one feature set, one build)
  cargo clippy --workspace --all-targets --features rmqctl/aws -- -D warnings
fi

step "build binaries"
cargo build --workspace --bins
export RMQ_BIN_DIR="$CARGO_TARGET_DIR/debug"

if want unit || want e2e || want bench; then
  step "client harnesses (Java 4.9/5.x, Go, Rust client, Apache peer)"
  tests/build-harnesses.sh >/dev/null
  if want e2e; then tests/rust-client/build.sh >/dev/null; fi
  # shellcheck disable=SC1091
  source "$RMQ_TEST_CACHE/harness.env"
fi

if want unit; then
  step "unit and process tests"
  # rmq-aws needs moto_server (the aws suite starts it); rmq-e2e is the e2e suite.
  cargo test --workspace --exclude rmq-e2e --exclude rmq-aws
fi

if want e2e; then
  step "end-to-end suites with real clients"
  cargo test -p rmq-e2e -- --test-threads 2
fi

if want cfn; then
  step "CloudFormation: cfn-lint and moto"
  bash cloudformation/run-tests.sh
fi

if want aws; then
  step "AWS: rmq-aws and rmqctl aws against moto_server"
  bash operator/aws/run-tests.sh
fi

if want k8s; then
  step "Kubernetes: rmq-operator and the Helm chart on a real kube-apiserver"
  RMQ_E2E_CARGO_TEST=0 tests/k8s-e2e/run.sh
fi

if want bench; then
  step "benchmark harness smoke run (bench/run.sh --quick; no timing asserts)"
  RMQ_BENCH_BIN_DIR="$RMQ_BIN_DIR" RMQ_BENCH_REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    bench/run.sh --quick
fi

step "all requested suites passed"
