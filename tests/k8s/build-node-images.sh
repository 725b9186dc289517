#!/usr/bin/env bash
# The test node's own images, as OCI archives for `ctr images import` (nothing is pulled):
#   rmq.test/pause:1     the pod sandbox: Debian's static catatonit in pause mode (-P)
#   rmq.test/coredns:1   cluster DNS: rmq-coredns (tests/k8s/go/coredns), built with the control plane
# Both FROM scratch, built with buildah (Debian), cached by the hash of their inputs; buildah's
# storage goes to RMQ_BUILDAH_DIR when set (as in scripts/build-image.sh).
#
#   tests/k8s/build-node-images.sh OUT_DIR     writes OUT_DIR/{pause,coredns}.tar, prints their paths
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "build-node-images: $*" >&2; }
die() { echo "build-node-images: ERROR: $*" >&2; exit 1; }
OUT="${1:?usage: $0 OUT_DIR}"
mkdir -p "$OUT"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}/k8s/images"
mkdir -p "$CACHE"
for p in buildah:buildah catatonit:catatonit; do
  command -v "${p%%:*}" >/dev/null && continue
  log "installing ${p#*:} with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${p#*:}" >&2 || die "apt-get install ${p#*:} failed"
done
BIN="$("$HERE/build-control-plane.sh" --print-bin-dir)"
buildah() {
  if [[ -n "${RMQ_BUILDAH_DIR:-}" ]]; then
    command buildah --root "$RMQ_BUILDAH_DIR/root" --runroot "$RMQ_BUILDAH_DIR/run" --storage-driver vfs "$@"
  else command buildah "$@"; fi
}

image() { # image NAME REF BINARY ENTRYPOINT_JSON USER
  local name="$1" ref="$2" binary="$3" entry="$4" user="$5" key ctx
  key="$( { echo "$ref $entry $user rev=1"; sha256sum <"$binary"; } | sha256sum | cut -c1-16)"
  if [[ ! -s "$CACHE/$name-$key.tar" ]]; then
    ctx="$(mktemp -d)"
    cp "$binary" "$ctx/$name"
    printf 'FROM scratch\nCOPY %s /%s\nUSER %s\nENTRYPOINT %s\n' "$name" "$name" "$user" "$entry" >"$ctx/Dockerfile"
    buildah bud --quiet -t "$ref" "$ctx" >/dev/null || die "buildah bud $ref failed"
    rm -f "$CACHE/$name-"*.tar
    buildah push --quiet "$ref" "oci-archive:$CACHE/$name-$key.tar:$ref" >/dev/null || die "buildah push $ref failed"
    rm -rf "$ctx"
    log "built $ref"
  fi
  cp "$CACHE/$name-$key.tar" "$OUT/$name.tar"
  echo "$OUT/$name.tar"
}
image pause rmq.test/pause:1 "$(command -v catatonit)" '["/pause", "-P"]' 65535
image coredns rmq.test/coredns:1 "$BIN/rmq-coredns" '["/coredns"]' 65532
