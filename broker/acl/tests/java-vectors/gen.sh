#!/usr/bin/env bash
# Regenerates broker/acl/tests/vectors.json with the real Java AclClientRPCHook (rocketmq-client
# 5.3.3), and checks that rocketmq-acl 4.9.8 signs every case identically.
# Maven repo: RMQ_TEST_M2 (default ~/.cache/rmq-test/m2, shared with tests/build-harnesses.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
M2="${RMQ_TEST_M2:-$HOME/.cache/rmq-test/m2}"
run() { # build dir, extra maven args... -> JSON on stdout
  local dir="$1"; shift
  rm -rf "$dir"
  (cd "$HERE" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2" -Dvectors.build.dir="$dir" \
      "$@" compile dependency:build-classpath -Dmdep.outputFile="$dir/cp.txt" >&2)
  java -XX:-UsePerfData -cp "$dir/classes:$(cat "$dir/cp.txt")" rmq.aclvectors.Main
}
v5="$(run "$HERE/target/v5")"
v4="$(run "$HERE/target/v4" -Pacl4)"
strip() { grep -v '"generator"'; }
if ! diff <(strip <<<"$v5") <(strip <<<"$v4") >&2; then
  echo "gen.sh: rocketmq-client 5.3.3 and rocketmq-acl 4.9.8 sign differently (diff above)" >&2
  exit 1
fi
printf '%s\n' "$v5" >"$HERE/../vectors.json"
echo "gen.sh: wrote $(cd "$HERE/.." && pwd)/vectors.json" >&2
