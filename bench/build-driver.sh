#!/usr/bin/env bash
# Build (or find cached) the benchmark load driver: bench/driver (Java, official rocketmq-client).
# Prints the driver dir; it holds classpath.txt and a `driver` wrapper script.
#   ~/.cache/rmq-test/bench/driver/<client-version>/<source-hash>/
# JVM options of the wrapper: RMQ_BENCH_DRIVER_OPTS (default -Xms1g -Xmx1g).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
M2="${RMQ_TEST_M2:-$CACHE/m2}"
V="${RMQ_BENCH_CLIENT_VERSION:-5.3.3}"
for t in java mvn sha256sum; do command -v "$t" >/dev/null || { echo "build-driver: '$t' is not installed" >&2; exit 1; }; done
mapfile -t srcs < <(find "$HERE/driver/src" -type f -name '*.java' | LC_ALL=C sort)
h="$(for f in "$HERE/driver/pom.xml" "${srcs[@]}"; do printf '%s\n' "${f#"$HERE"/}"; cat "$f"; done | sha256sum | cut -c1-16)"
dir="$CACHE/bench/driver/$V/$h"
if [[ -f "$dir/.complete" ]]; then echo "$dir"; exit 0; fi
mkdir -p "$CACHE/bench/driver/$V"
exec 9>"$CACHE/bench/driver/.build.lock"
flock -w 900 9 || { echo "build-driver: another build holds the lock" >&2; exit 1; }
if [[ -f "$dir/.complete" ]]; then echo "$dir"; exit 0; fi
echo "build-driver: building the load driver against rocketmq-client $V" >&2
tmp="$CACHE/bench/driver/$V/.tmp-$h-$$"
rm -rf "$tmp"; mkdir -p "$tmp"
(cd "$HERE/driver" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2" \
    -Drocketmq.client.version="$V" -Ddriver.build.dir="$tmp/build" \
    compile dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/lib" 2>&1 \
    | sed -u 's/\x1b\[[0-9;]*m//g' >&2) || { rm -rf "$tmp"; echo "build-driver: maven build failed" >&2; exit 1; }
[[ -d "$tmp/build/classes" ]] || { rm -rf "$tmp"; echo "build-driver: no classes after build" >&2; exit 1; }
mv "$tmp/build/classes" "$tmp/classes"; rm -rf "$tmp/build"
cp="$tmp/classes"; for j in "$tmp"/lib/*.jar; do cp="$cp:$j"; done
cp="${cp//$tmp/$dir}"
printf '%s\n' "$cp" >"$tmp/classpath.txt"
cat >"$tmp/driver" <<EOS
#!/bin/sh
# rmq bench load driver (rocketmq-client $V). JVM options: RMQ_BENCH_DRIVER_OPTS.
exec java \${RMQ_BENCH_DRIVER_OPTS:--Xms1g -Xmx1g} -cp '$cp' rmq.bench.Driver "\$@"
EOS
chmod +x "$tmp/driver"
echo "$V" >"$tmp/client-version"
touch "$tmp/.complete"
rm -rf "$dir"; mv "$tmp" "$dir"
# keep the 4 newest builds: another checkout's run (a worktree, CI beside a session) may be using
# its own build right now
find "$CACHE/bench/driver/$V" -mindepth 1 -maxdepth 1 -type d ! -name "$h" ! -name '.tmp-*' -printf '%T@ %p\n' \
  | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf 2>/dev/null || true
echo "$dir"
