#!/usr/bin/env bash
# Assembles the root filesystem of the rmq image from built binaries: rmq-operator, rmq-broker,
# rmq-namesrv, rmq-controller and rmqctl in /usr/local/bin, the shared libraries they load (read off `ldd`, so
# the image needs no base), the CA certificates, and the non-root user rmq (uid/gid 65532) with a
# home and /tmp. Used by the Dockerfile's build stage and by scripts/build-image.sh (binaries built
# on the host), so both paths give the same layout.
#
#   scripts/image-rootfs.sh OUT BIN_DIR [--keep-debug]
#
# Debug info is stripped (the release binaries carry line tables: 212 MB of 4 binaries, 40 MB
# without); the symbol table stays, so a backtrace still names its functions. --keep-debug keeps
# the line tables.
set -euo pipefail
die() { echo "image-rootfs.sh: $*" >&2; exit 1; }
[[ $# -ge 2 ]] || die "usage: $0 OUT BIN_DIR [--keep-debug]"
OUT="$1" BIN="$2" STRIP=1
[[ "${3:-}" == "--keep-debug" ]] && STRIP=0
BINARIES=(rmq-operator rmq-broker rmq-namesrv rmq-controller rmqctl)
CA=/etc/ssl/certs/ca-certificates.crt
for t in ldd install strip; do command -v "$t" >/dev/null || die "'$t' is required"; done
[[ -f "$CA" ]] || die "$CA is missing (install the ca-certificates package)"

rm -rf "$OUT"
mkdir -p "$OUT/usr/local/bin" "$OUT/etc/ssl/certs" "$OUT/home/rmq" "$OUT/var/lib/rmq"
install -d -m 1777 "$OUT/tmp"
for b in "${BINARIES[@]}"; do
  [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing (build it: cargo build --release -p $b)"
  install -m 0755 "$BIN/$b" "$OUT/usr/local/bin/$b"
  if ((STRIP)); then strip --strip-debug "$OUT/usr/local/bin/$b"; fi
done

# Every shared object the binaries load, at the path the loader looks for it (symlinks resolved).
libs="$(for b in "${BINARIES[@]}"; do ldd "$BIN/$b"; done \
  | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }' | LC_ALL=C sort -u)"
[[ -n "$libs" ]] || die "ldd found no libraries (static binaries need none: remove this check)"
for lib in $libs; do
  mkdir -p "$OUT$(dirname "$lib")"
  cp -L "$lib" "$OUT$lib"
done
# The loader is also reached through /lib64 on x86_64 and /lib on arm64: keep the paths ldd gave.

install -m 0644 "$CA" "$OUT/etc/ssl/certs/ca-certificates.crt"
cat >"$OUT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
rmq:x:65532:65532:rmq:/home/rmq:/sbin/nologin
EOF
cat >"$OUT/etc/group" <<'EOF'
root:x:0:
rmq:x:65532:
EOF
# glibc: names from /etc/hosts first, then DNS (/etc/resolv.conf comes from the runtime).
echo "hosts: files dns" >"$OUT/etc/nsswitch.conf"
echo "image-rootfs.sh: $OUT ($(du -sh "$OUT" | cut -f1)): ${BINARIES[*]} + $(wc -w <<<"$libs") libraries" >&2
