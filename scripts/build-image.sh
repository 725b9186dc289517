#!/usr/bin/env bash
# Builds the rmq image (Dockerfile at the repository root) and tags it
# ghcr.io/rmq-dev/rmq:<crate version> and :<crate version>-g<git revision>[-dirty] — the chart's
# and the operator's default image is the first.
#
#   scripts/build-image.sh                           release binaries built here with cargo
#   scripts/build-image.sh --bin-dir target/debug    binaries you built already
#   scripts/build-image.sh --from-source             `docker build .`: compile inside the rust
#                                                    image (needs docker + registry access)
# then, optionally:
#   --push REPOSITORY        also tag REPOSITORY:<tags> and push them (e.g. an ECR repository
#                            123456789012.dkr.ecr.us-east-1.amazonaws.com/rmq)
#   --load-containerd SOCK   import the image into the containerd at SOCK, namespace k8s.io (a
#                            Kubernetes node's image store; the e2e suite's node uses this)
#   --oci-archive FILE       also write the image as an OCI archive (`ctr images import FILE`,
#                            `kind load image-archive FILE`)
#   --repository REPO        the repository to tag (default ghcr.io/rmq-dev/rmq)
#   --keep-debug             keep the binaries' debug info (line tables; stripped by default)
#
# Builder: buildah if installed (daemonless; what this repository's tests use), else docker with
# BuildKit. RMQ_BUILDAH_DIR: keep buildah's storage there (vfs driver, no mounts) instead of
# /var/lib/containers — the tests use a temporary one. Prints the image reference (REPO:VERSION)
# on stdout; progress goes to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "build-image.sh: $*" >&2; }
die() { echo "build-image.sh: $*" >&2; exit 2; }

BIN_DIR="" FROM_SOURCE=0 PUSH="" LOAD="" ARCHIVE="" REPO="ghcr.io/rmq-dev/rmq" DEBUG=()
while (($#)); do
  case "$1" in
    --bin-dir) BIN_DIR="${2:?--bin-dir needs a directory}"; shift 2;;
    --from-source) FROM_SOURCE=1; shift;;
    --push) PUSH="${2:?--push needs a repository, e.g. registry.example.com/team/rmq}"; shift 2;;
    --load-containerd) LOAD="${2:?--load-containerd needs a socket path}"; shift 2;;
    --oci-archive) ARCHIVE="${2:?--oci-archive needs a file name}"; shift 2;;
    --repository) REPO="${2:?--repository needs a name}"; shift 2;;
    --keep-debug) DEBUG=(--keep-debug); shift;;
    -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) die "unknown argument '$1' (see --help)";;
  esac
done
if [[ -n "$BIN_DIR" && "$FROM_SOURCE" == 1 ]]; then die "--bin-dir and --from-source exclude each other"; fi

VERSION="$(sed -n '/^\[workspace.package\]/,/^\[/{s/^version = "\(.*\)"/\1/p}' "$ROOT/Cargo.toml")"
[[ -n "$VERSION" ]] || die "cannot read the workspace version from Cargo.toml"
REV="$(git -C "$ROOT" rev-parse --short=10 HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then REV="$REV-dirty"; fi
IMAGE="$REPO:$VERSION"
TAGS=("$IMAGE" "$REPO:$VERSION-g$REV")

if command -v buildah >/dev/null; then BUILDER=buildah
elif command -v docker >/dev/null; then BUILDER=docker; export DOCKER_BUILDKIT=1
else die "neither buildah nor docker is installed (Debian: apt-get install buildah)"; fi
if [[ "$FROM_SOURCE" == 1 && "$BUILDER" == buildah ]] && command -v docker >/dev/null; then
  BUILDER=docker; export DOCKER_BUILDKIT=1
fi

buildah() {
  if [[ -n "${RMQ_BUILDAH_DIR:-}" ]]; then
    command buildah --root "$RMQ_BUILDAH_DIR/root" --runroot "$RMQ_BUILDAH_DIR/run" --storage-driver vfs "$@"
  else command buildah "$@"; fi
}
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmq-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
tag_args=()
for t in "${TAGS[@]}"; do tag_args+=(-t "$t"); done
t0=$SECONDS
if [[ "$FROM_SOURCE" == 1 ]]; then
  log "building $IMAGE from source with $BUILDER (compiles in the rust image)"
  if [[ "$BUILDER" == buildah ]]; then
    buildah bud --layers "${tag_args[@]}" -f "$ROOT/Dockerfile" "$ROOT" >&2
  else
    docker build "${tag_args[@]}" -f "$ROOT/Dockerfile" "$ROOT" >&2
  fi
else
  if [[ -z "$BIN_DIR" ]]; then
    log "cargo build --release (rmq-operator, rmq-broker, rmq-namesrv, rmq-controller, rmqctl)"
    (cd "$ROOT" && cargo build --release --locked -q -p rmq-operator -p rmq-broker -p rmq-namesrv -p rmq-controller -p rmqctl) >&2
    BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
  fi
  BIN_DIR="$(cd "$BIN_DIR" && pwd)"
  # A context of its own: the Dockerfile and the assembled rootfs, nothing else.
  "$ROOT/scripts/image-rootfs.sh" "$WORK/context/.image-rootfs" "$BIN_DIR" "${DEBUG[@]}"
  cp "$ROOT/Dockerfile" "$WORK/context/Dockerfile"
  log "building $IMAGE with $BUILDER from $BIN_DIR"
  if [[ "$BUILDER" == buildah ]]; then
    buildah bud --quiet --build-arg RMQ_BINARIES=prebuilt "${tag_args[@]}" "$WORK/context" >&2
  else
    docker build --quiet --build-arg RMQ_BINARIES=prebuilt "${tag_args[@]}" "$WORK/context" >&2
  fi
fi
log "built ${TAGS[*]} in $((SECONDS - t0)) s"

archive() { # archive FILE: the image as an OCI archive
  if [[ "$BUILDER" == buildah ]]; then buildah push --quiet "$IMAGE" "oci-archive:$1:$IMAGE" >&2
  else docker save "$IMAGE" -o "$1"; fi
}
if [[ -n "$ARCHIVE" ]]; then archive "$ARCHIVE"; log "wrote $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"; fi
if [[ -n "$LOAD" ]]; then
  command -v ctr >/dev/null || die "--load-containerd needs ctr (Debian: apt-get install containerd)"
  archive "$WORK/image.tar"
  ctr --address "$LOAD" -n k8s.io images import "$WORK/image.tar" >&2
  log "imported $IMAGE into containerd at $LOAD (namespace k8s.io)"
fi
if [[ -n "$PUSH" ]]; then
  for t in "${TAGS[@]}"; do
    dest="$PUSH:${t##*:}"
    if [[ "$BUILDER" == buildah ]]; then buildah push "$t" "docker://$dest" >&2
    else docker tag "$t" "$dest" && docker push "$dest" >&2; fi
    log "pushed $dest"
  done
fi
echo "$IMAGE"
