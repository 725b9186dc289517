#!/usr/bin/env bash
# Builds (or finds cached) promcheck, the k8s e2e suite's promtool equivalent (see main.go), and
# prints the path of the binary on stdout; logs go to stderr. Its `go test` runs as part of the
# build: a cached binary is one whose tests passed (their output: go-test.log beside it).
#
# Cache: ${RMQ_TEST_CACHE:-~/.cache/rmq-test}/promcheck/<hash of sources, go.mod/go.sum, testdata,
# go version>/{promcheck,go-test.log}; a warm run only hashes the sources. Modules come from the
# Go module proxy (pinned by go.mod/go.sum; -mod=readonly), so build outside network sandboxes.
# Env: RMQ_K8S_BUILD_PARALLEL (default 2) -> go build -p, as tests/k8s/build-control-plane.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${HOME:-}" ]; then
  HOME="$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f6)"; HOME="${HOME:-/root}"; export HOME
fi
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}/promcheck"
log() { echo "promcheck build: $*" >&2; }
die() { echo "promcheck build: ERROR: $*" >&2; exit 1; }
command -v go >/dev/null || die "'go' is not installed (apt-get install golang-go, or see tests/k8s/build-control-plane.sh)"
GO_MINOR="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "${GO_MINOR:-0}" -lt 26 ] 2>/dev/null; then
  export GOTOOLCHAIN="${RMQ_GOTOOLCHAIN:-go1.26.8}"   # as tests/k8s/build-control-plane.sh
fi
export CGO_ENABLED=0 GOWORK=off
export GOFLAGS="-p=${RMQ_K8S_BUILD_PARALLEL:-2} -mod=readonly -buildvcs=false -trimpath"

mapfile -t srcs < <(cd "$HERE" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -path './testdata/*' \) | LC_ALL=C sort)
h="$( (cd "$HERE" && for f in "${srcs[@]}"; do printf '%s\n' "$f"; cat "$f"; done; go version) | sha256sum | cut -c1-16)"
dir="$CACHE/$h"
if [ -x "$dir/promcheck" ]; then echo "$dir/promcheck"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock -w 1800 9 || die "another build holds $CACHE/.build.lock (30 min)"
if [ -x "$dir/promcheck" ]; then echo "$dir/promcheck"; exit 0; fi
log "building $dir (Prometheus $(awk '$1=="github.com/prometheus/prometheus" {print $2}' "$HERE/go.mod"))"
tmp="$CACHE/.tmp-$h-$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s)
(cd "$HERE" && go build -o "$tmp/promcheck" .) >&2 || die "go build failed (see above)"
if ! (cd "$HERE" && go test -count=1 -v ./... >"$tmp/go-test.log" 2>&1); then
  grep -E -B2 -A12 '^(--- FAIL|FAIL|panic)' "$tmp/go-test.log" | head -n 60 >&2 || tail -n 40 "$tmp/go-test.log" >&2
  die "go test of tests/promcheck failed (the binary is not cached)"
fi
log "built and tested in $(( $(date +%s) - t0 ))s: $(grep -c '^--- PASS' "$tmp/go-test.log") tests passed"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
# drop builds of older sources
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$h" ! -name '.tmp-*' -exec rm -rf {} + 2>/dev/null || true
echo "$dir/promcheck"
