#!/usr/bin/env bash
# Builds (or finds cached) every real-client test harness and the Apache RocketMQ peer jars, then
# prints `export NAME=value` lines on stdout and writes the same to ~/.cache/rmq-test/harness.env.
# Everything else goes to stderr. Idempotent: a warm run only hashes sources (about a second).
#
#   eval "$(tests/build-harnesses.sh)"        # or: source ~/.cache/rmq-test/harness.env
#   tests/build-harnesses.sh --no-apache      # skip the Apache peer jars
#   tests/build-harnesses.sh --with-apache4   # also fetch the 4.9.x peer
#
# Versions (env overrides): RMQ_JAVA_CLIENT_V4 (4.9.8), RMQ_JAVA_CLIENT_V5 (5.3.3),
# RMQ_APACHE_VERSION (5.3.3), RMQ_APACHE_VERSION_4 (4.9.7; 4.9.8 server jars are not on Maven Central). Cache root: RMQ_TEST_CACHE
# (~/.cache/rmq-test); Maven repo: RMQ_TEST_M2 ($RMQ_TEST_CACHE/m2). See tests/harness.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
M2="${RMQ_TEST_M2:-$CACHE/m2}"
JV4="${RMQ_JAVA_CLIENT_V4:-4.9.8}"
JV5="${RMQ_JAVA_CLIENT_V5:-5.3.3}"
AV="${RMQ_APACHE_VERSION:-5.3.3}"
AV4="${RMQ_APACHE_VERSION_4:-4.9.7}"
export RMQ_TEST_CACHE="$CACHE" RMQ_TEST_M2="$M2"

apache=1 apache4=0
while (($#)); do
  case "$1" in
    --no-apache) apache=0; shift;;
    --with-apache4) apache4=1; shift;;
    -h|--help) sed -n '2,14p' "$0" >&2; exit 0;;
    *) echo "build-harnesses.sh: unknown argument '$1'" >&2; exit 2;;
  esac
done

# maven prints colour resets even with -B; keep logs plain
strip_ansi() { sed -u 's/\x1b\[[0-9;]*m//g'; }
log() { echo "build-harnesses: $*" >&2; }
die() { echo "build-harnesses: $*" >&2; exit 1; }
for t in java mvn go sha256sum; do command -v "$t" >/dev/null || die "'$t' is not installed"; done

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock -w 1800 9 || die "another build holds $CACHE/.build.lock"

hash_files() { # files... -> short sha of names + contents
  local f
  for f in "$@"; do printf '%s\n' "${f#"$HERE"/}"; cat "$f"; done | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------------------------------------
# Java harness, once per client version: $CACHE/java/<version>/<source-hash>/{classes,lib,classpath.txt,rmq-harness}
# The launcher of a built harness (rewritten on every run, so a change here reaches cached
# builds). -XX:-UsePerfData: no /tmp/hsperfdata_<user>/<pid> file (a stale one of a reused pid
# made the JVM print a warning on stdout, ahead of the harness's JSON); JVM warnings go to stderr.
write_launcher() { # dir version
  cat >"$1/rmq-harness.tmp" <<EOF
#!/bin/sh
# Java harness, rocketmq-client $2. JVM options: RMQ_HARNESS_JAVA_OPTS (default -Xmx512m).
exec java -XX:-UsePerfData -Xlog:disable -Xlog:all=warning:stderr \${RMQ_HARNESS_JAVA_OPTS:--Xmx512m} -cp '$(cat "$1/classpath.txt")' rmq.harness.Main "\$@"
EOF
  chmod +x "$1/rmq-harness.tmp"
  mv -f "$1/rmq-harness.tmp" "$1/rmq-harness"
}

build_java() { # version -> prints the harness dir
  local v="$1" srcs h dir tmp
  mapfile -t srcs < <(find "$HERE/java/src" -type f -name '*.java' | LC_ALL=C sort)
  h="$(hash_files "$HERE/java/pom.xml" "${srcs[@]}")"
  dir="$CACHE/java/$v/$h"
  if [[ -f "$dir/.complete" ]]; then write_launcher "$dir" "$v"; echo "$dir"; return 0; fi
  log "building Java harness against rocketmq-client $v"
  tmp="$CACHE/java/$v/.tmp-$h-$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # build output goes to $tmp/build (not into the source tree) so parallel versions never clash
  (cd "$HERE/java" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2" \
      -Drocketmq.client.version="$v" -Dharness.build.dir="$tmp/build" \
      compile dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/lib" 2>&1 | strip_ansi >&2) \
    || { rm -rf "$tmp"; die "maven build of the Java harness ($v) failed"; }
  mv "$tmp/build/classes" "$tmp/classes"
  rm -rf "$tmp/build"
  local cp="$tmp/classes" j
  for j in "$tmp"/lib/*.jar; do cp="$cp:$j"; done
  cp="${cp//$tmp/$dir}"
  printf '%s\n' "$cp" >"$tmp/classpath.txt"
  touch "$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  write_launcher "$dir" "$v"
  # drop harness builds of older sources for this version
  find "$CACHE/java/$v" -mindepth 1 -maxdepth 1 -type d ! -name "$h" ! -name '.tmp-*' -exec rm -rf {} + 2>/dev/null || true
  echo "$dir"
}

# ---------------------------------------------------------------------------------------------
# Go harness + wiretap: $CACHE/go/<hash of sources + go version>/{rmq-harness-go,rmq-wiretap}
build_go() {
  local srcs h dir
  mapfile -t srcs < <(find "$HERE/go" -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) | LC_ALL=C sort)
  h="$( (hash_files "${srcs[@]}"; go version) | sha256sum | cut -c1-16)"
  dir="$CACHE/go/$h"
  if [[ -x "$dir/rmq-harness-go" && -x "$dir/rmq-wiretap" ]]; then echo "$dir"; return 0; fi
  log "building Go harness (rocketmq-client-go/v2) and rmq-wiretap"
  mkdir -p "$dir"
  (cd "$HERE/go" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$dir/rmq-harness-go.tmp" . >&2 \
      && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$dir/rmq-wiretap.tmp" ./cmd/rmq-wiretap >&2) \
    || die "go build of the Go harness failed"
  mv "$dir/rmq-wiretap.tmp" "$dir/rmq-wiretap"
  mv "$dir/rmq-harness-go.tmp" "$dir/rmq-harness-go"
  find "$CACHE/go" -mindepth 1 -maxdepth 1 -type d ! -name "$h" -exec rm -rf {} + 2>/dev/null || true
  echo "$dir"
}

t0=$(date +%s)
d4="$(build_java "$JV4")"
d5="$(build_java "$JV5")"
godir="$(build_go)"
ahome="" ahome4=""
if (( apache )); then ahome="$("$HERE/peers/apache.sh" fetch --version "$AV")"; fi
if (( apache4 )); then ahome4="$("$HERE/peers/apache.sh" fetch --version "$AV4")"; fi

env_file="$CACHE/harness.env"
{
  echo "export RMQ_JAVA_CP_4='$(cat "$d4/classpath.txt")'"
  echo "export RMQ_JAVA_CP_5='$(cat "$d5/classpath.txt")'"
  echo "export RMQ_JAVA_MAIN='rmq.harness.Main'"
  echo "export RMQ_JAVA_HARNESS_4='$d4/rmq-harness'"
  echo "export RMQ_JAVA_HARNESS_5='$d5/rmq-harness'"
  echo "export RMQ_JAVA_CLIENT_V4='$JV4'"
  echo "export RMQ_JAVA_CLIENT_V5='$JV5'"
  echo "export RMQ_GO_HARNESS='$godir/rmq-harness-go'"
  echo "export RMQ_GO_CLIENT_VERSION='$(sed -n 's#^require github.com/apache/rocketmq-client-go/v2 ##p' "$HERE/go/go.mod")'"
  echo "export RMQ_WIRETAP='$godir/rmq-wiretap'"
  echo "export RMQ_APACHE_PEER='$HERE/peers/apache.sh'"
  if [[ -n "$ahome" ]]; then echo "export RMQ_APACHE_HOME='$ahome'"; echo "export RMQ_APACHE_VERSION='$AV'"; fi
  if [[ -n "$ahome4" ]]; then echo "export RMQ_APACHE4_HOME='$ahome4'"; echo "export RMQ_APACHE_VERSION_4='$AV4'"; fi
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
cat "$env_file"
log "ready in $(( $(date +%s) - t0 ))s; env also in $env_file"
