#!/usr/bin/env bash
# The one test command: installs what the suites need (cached under ~/.cache/rmq-test) and runs
# every suite. Usage: ./scripts/test.sh            (everything)
#                     RMQ_TEST_ONLY="unit e2e" ./scripts/test.sh   (a subset, for development)
# Suites: lint unit e2e cfn k8s aws bench
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export RMQ_TEST_CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
ONLY="${RMQ_TEST_ONLY:-lint unit e2e cfn k8s aws bench}"
want() { [[ " $ONLY " == *" $1 "* ]]; }
step() { printf '\n==> %s (%ss elapsed)\n' "$*" "$SECONDS"; }

for tool in cargo java mvn go python3 cc; do
  command -v "$tool" >/dev/null || { echo "test.sh: '$tool' is required but not installed" >&2; exit 1; }
done

if want lint; then
  step "format and lints"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
fi

step "build binaries"
cargo build --workspace --bins
export RMQ_BIN_DIR="$CARGO_TARGET_DIR/debug"

if want e2e || want bench; then
  step "client harnesses (Java 4.9/5.x, Go, Rust client, Apache peer)"
  tests/build-harnesses.sh >/dev/null
  tests/rust-client/build.sh >/dev/null
  # shellcheck disable=SC1091
  source "$RMQ_TEST_CACHE/harness.env"
fi

if want unit; then
  step "unit and process tests"
  cargo test --workspace --exclude rmq-e2e
fi

if want e2e; then
  step "end-to-end suites with real clients"
  cargo test -p rmq-e2e -- --test-threads 2
fi

if want cfn; then
  step "CloudFormation: cfn-lint and moto"
  bash cloudformation/run-tests.sh
fi

step "all requested suites passed"
