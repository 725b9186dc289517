#!/usr/bin/env bash
# Build (or reuse from cache) the binaries of a local Kubernetes control plane for tests:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
#   helm                                                              (helm.sh/helm/v3)
#   kubelet, kube-proxy (the real node of the e2e suite)              (k8s.io/kubernetes)
#   rmq-coredns: CoreDNS with the plugins cluster DNS needs           (tests/k8s/go/coredns)
# Everything comes from the Go module proxy; versions are pinned by the go.mod/go.sum files
# under tests/k8s/go/{kube,etcd,helm,coredns}.
#
# Usage: tests/k8s/build-control-plane.sh [--print-bin-dir] [--force]
#   --print-bin-dir  print only the bin directory on stdout (logs go to stderr)
#   --force          rebuild even if the cache is complete
#
# Cache: ${RMQ_TEST_CACHE:-~/.cache/rmq-test}/k8s/<versions>-<hash of go.mod/go.sum>/bin
# Env:   RMQ_K8S_BUILD_PARALLEL (default 2) -> go build -p
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GODIR="$HERE/go"
PRINT_BIN_DIR=0
FORCE=0
for a in "$@"; do
  case "$a" in
    --print-bin-dir) PRINT_BIN_DIR=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build-control-plane: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "build-control-plane: $*" >&2; }
# Go needs HOME (or GOCACHE/GOPATH) and so does our cache path; CI may run without HOME.
if [ -z "${HOME:-}" ]; then
  HOME="$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f6)"; HOME="${HOME:-/root}"; export HOME
fi
die() { echo "build-control-plane: ERROR: $*" >&2; exit 1; }

# ---- versions (read from the pinned go.mod files) -------------------------------------------
modver() { # modver DIR MODULE -> version in DIR/go.mod require block
  awk -v m="$2" '$1==m && $2 ~ /^v/ {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$GODIR/$1/go.mod"
}
K8S_VERSION="$(modver kube k8s.io/kubernetes)"
ETCD_VERSION="$(modver etcd go.etcd.io/etcd/server/v3)"
HELM_VERSION="$(modver helm helm.sh/helm/v3)"
HELM_CLIENTGO_VERSION="$(modver helm k8s.io/client-go)"
COREDNS_VERSION="$(modver coredns github.com/coredns/coredns)"
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] && [ -n "$HELM_VERSION" ] && [ -n "$HELM_CLIENTGO_VERSION" ] \
  || die "could not read pinned versions from $GODIR/*/go.mod"

# Bump BUILD_REV when the way binaries are built changes (flags, ldflags, list of binaries).
BUILD_REV=3
HASH="$( (echo "rev=$BUILD_REV"; cat "$GODIR"/kube/go.mod "$GODIR"/kube/go.sum "$GODIR"/etcd/go.mod \
  "$GODIR"/etcd/go.sum "$GODIR"/helm/go.mod "$GODIR"/helm/go.sum "$GODIR"/coredns/go.mod \
  "$GODIR"/coredns/go.sum "$GODIR"/coredns/main.go) | sha256sum | cut -c1-10)"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_${HASH}"
CACHE_ROOT="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}/k8s"
OUT="$CACHE_ROOT/$KEY"
BIN="$OUT/bin"
# kubelet and kube-proxy: the real node of the e2e suite (tests/k8s/README.md).
KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
BINARIES=("${KUBE_BINARIES[@]}" etcd helm rmq-coredns)

done_out() {
  if [ "$PRINT_BIN_DIR" = 1 ]; then echo "$BIN"; else
    log "binaries in $BIN"
    echo "export PATH=\"$BIN:\$PATH\""
  fi
}

cache_complete() {
  [ -f "$OUT/.complete" ] || return 1
  local b
  for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

if [ "$FORCE" = 0 ] && cache_complete; then
  log "cache hit: $KEY"
  done_out
  exit 0
fi

# ---- serialise concurrent builders ------------------------------------------------------------
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
if ! flock -w 3600 9; then die "timed out after 1h waiting for another build (lock $CACHE_ROOT/.build.lock)"; fi
if [ "$FORCE" = 0 ] && cache_complete; then log "cache filled by a concurrent build: $KEY"; done_out; exit 0; fi

# ---- toolchain ----------------------------------------------------------------------------------
apt_install() {
  command -v apt-get >/dev/null || die "need '$*' and apt-get is not available; install it by hand"
  log "installing $* with apt-get"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}
command -v go >/dev/null || apt_install golang-go
command -v go >/dev/null || die "no 'go' on PATH after installing golang-go"
GO_MINOR="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "${GO_MINOR:-0}" -lt 26 ] 2>/dev/null; then
  # The go command fetches an exact toolchain from the Go module proxy (golang.org/toolchain).
  export GOTOOLCHAIN="${RMQ_GOTOOLCHAIN:-go1.26.8}"
  log "local Go is $(go env GOVERSION 2>/dev/null || true); using GOTOOLCHAIN=$GOTOOLCHAIN"
fi

export CGO_ENABLED=0
export GOFLAGS="-p=${RMQ_K8S_BUILD_PARALLEL:-2} -mod=readonly -buildvcs=false -trimpath"
unset GOOS GOARCH GOWORK || true
export GOWORK=off

# ---- build ------------------------------------------------------------------------------------
STAGE="$OUT.tmp.$$"
rm -rf "$STAGE"; mkdir -p "$STAGE/bin"
trap 'rm -rf "$STAGE"' EXIT

k8s_minor="$(echo "$K8S_VERSION" | sed -E 's/^v1\.([0-9]+)\..*/\1/')"
kver() { # ldflags that make the k8s binaries report their real version (like hack/lib/version.sh)
  local p out=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
    out+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$out"
}
hc_minor="$(echo "$HELM_CLIENTGO_VERSION" | sed -E 's/^v0\.([0-9]+)\..*/\1/')"
HELM_LDFLAGS="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
HELM_LDFLAGS+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  HELM_LDFLAGS+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$hc_minor"
done

TIMEFILE="$STAGE/time.txt"
# The kube binaries first, in one `go build` (every package they share compiles once, and they
# link in parallel); then etcd, helm and CoreDNS at once. The four modules pin the modules they
# share to the same versions (see tests/k8s/README.md), so those three find most of their
# packages in the build cache and mostly compile their own code and link; run concurrently with
# the kube build they would compile the shared packages a second and third time.
build_all() {
  set -e
  read -r -a KUBE_BINARIES <<<"$KUBE_BINARIES_LIST"
  local pids=() p rc=0 pkgs=() c
  for c in "${KUBE_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  echo "== ${KUBE_BINARIES[*]} $K8S_VERSION" >&2
  (cd "$GODIR/kube" && go build -ldflags="-s -w $(kver)" -o "$STAGE/bin/" "${pkgs[@]}")
  echo "== etcd $ETCD_VERSION, helm $HELM_VERSION, rmq-coredns (CoreDNS $COREDNS_VERSION)" >&2
  (cd "$GODIR/etcd" && go build -ldflags="-s -w" -o "$STAGE/bin/etcd" go.etcd.io/etcd/server/v3) &
  pids+=($!)
  (cd "$GODIR/helm" && go build -ldflags="-s -w $HELM_LDFLAGS" -o "$STAGE/bin/helm" helm.sh/helm/v3/cmd/helm) &
  pids+=($!)
  (cd "$GODIR/coredns" && go build -ldflags="-s -w" -o "$STAGE/bin/rmq-coredns" .) &
  pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  return "$rc"
}
export -f build_all kver
export GODIR STAGE ETCD_VERSION HELM_VERSION COREDNS_VERSION HELM_LDFLAGS K8S_VERSION k8s_minor KUBE_BINARIES_LIST="${KUBE_BINARIES[*]}"

# Peak of the summed RSS of the whole build process tree, sampled every second.
sample_tree_rss() { # sample_tree_rss ROOTPID OUTFILE
  local root="$1" out="$2" peak=0 cur
  while kill -0 "$root" 2>/dev/null; do
    cur="$(ps -eo pid=,ppid=,rss= | awk -v r="$root" '
      {pp[$1]=$2; rs[$1]=$3}
      END {for (p in pp) {q=p; n=0; while (q != "" && q != 0 && q != r && n < 64) {q=pp[q]; n++}
                          if (q == r) t += rs[p]}
           print t+0}')"
    [ "${cur:-0}" -gt "$peak" ] && peak="$cur" && echo "$peak" > "$out"
    sleep 1
  done
}

log "building $KEY (cold build: ~20-30 min on 2 cores; module downloads from the Go proxy)"
start=$(date +%s)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v -o "$TIMEFILE" bash -c build_all &
else
  bash -c build_all &
fi
build_pid=$!
sample_tree_rss "$build_pid" "$STAGE/peak-tree-kb" &
sampler_pid=$!
build_rc=0; wait "$build_pid" || build_rc=$?
wait "$sampler_pid" 2>/dev/null || true
[ "$build_rc" = 0 ] || { tail -n 30 "$TIMEFILE" >&2 2>/dev/null || true; die "go build failed (rc=$build_rc, see output above)"; }
secs=$(( $(date +%s) - start ))
peak_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TIMEFILE" 2>/dev/null || true)"
tree_kb="$(cat "$STAGE/peak-tree-kb" 2>/dev/null || echo unknown)"

for b in "${BINARIES[@]}"; do [ -x "$STAGE/bin/$b" ] || die "build did not produce $b"; done
"$STAGE/bin/kube-apiserver" --version >&2
"$STAGE/bin/etcd" --version 2>&1 | sed -n 1p >&2
"$STAGE/bin/helm" version --short >&2

{
  echo "key=$KEY"
  echo "k8s=$K8S_VERSION etcd=$ETCD_VERSION helm=$HELM_VERSION go=$(go env GOVERSION)"
  echo "build_seconds=$secs"
  echo "peak_rss_kb_single_process=${peak_kb:-unknown}"
  echo "peak_rss_kb_build_tree_sampled=$tree_kb"
  echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$STAGE/build-info.txt"
cp "$TIMEFILE" "$STAGE/time-v.txt" 2>/dev/null || true

rm -rf "$OUT"
mv "$STAGE" "$OUT"
trap - EXIT
touch "$OUT/.complete"
log "built in ${secs}s; peak RSS: one process ${peak_kb:-?} kB, whole build tree ~${tree_kb} kB"
done_out
