#!/usr/bin/env bash
# Proves the client harnesses against the real Apache RocketMQ broker:
# for each client (Java 4.9.x, Java 5.x, Go) produce N messages and consume them all, check that
# consumer offsets survive a consumer restart, and run the async/batch/oneway send modes.
#
#   tests/peers/selftest.sh [--version 5.3.3] [--count 10000] [--clients java4,java5,go] [--extended] [--basic-off]
#
# --extended adds tags, SQL92, lite pull, query by key, delay level, retry, orderly, transactions
# (mix of commit/rollback/unknown + check-back) and broadcasting, each with assertions.
# --basic-off skips the 10k / restart / send-mode part.
# Starts the peer on free 127.0.0.1 ports in a temp dir and stops it on exit. Ends with
# "N passed, N failed". Results of each step are printed as they come.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="${RMQ_APACHE_VERSION:-5.3.3}"
COUNT=10000
CLIENTS="java4,java5,go"
EXTENDED=0 BASIC=1
while (($#)); do
  case "$1" in
    --extended) EXTENDED=1; shift;;
    --basic-off) BASIC=0; shift;;
    --version) VERSION="$2"; shift 2;;
    --count) COUNT="$2"; shift 2;;
    --clients) CLIENTS="$2"; shift 2;;
    *) echo "selftest.sh: unknown argument '$1'" >&2; exit 2;;
  esac
done

eval "$("$HERE/../build-harnesses.sh" --no-apache)" || { echo "harness build failed" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_base() { # needs base, base+1 (namesrv) and base+10-2 .. base+10+1 (broker, fast port, HA)
  local b i
  for i in $(seq 1 50); do
    b=$(( 20000 + (RANDOM % 2000) * 10 ))
    if port_free "$b" && port_free $((b + 8)) && port_free $((b + 10)) && port_free $((b + 11)); then echo "$b"; return 0; fi
  done
  return 1
}

BASE="$(pick_base)" || { echo "no free ports" >&2; exit 1; }
NPORT=$BASE BPORT=$((BASE + 10))
WORK="$(mktemp -d /tmp/rmq-selftest.XXXXXX)"
PEER="$WORK/peer"
cleanup() {
  "$HERE/apache.sh" stop --dir "$PEER" >&2 || true
  if (( ${fail:-0} > 0 )); then
    local keep="/tmp/rmq-selftest-logs.$$"
    mkdir -p "$keep" && cp "$WORK"/*.err "$keep"/ 2>/dev/null
    echo "client stderr of this run kept in $keep" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# fast transaction check-backs and SQL92 filtering for the extended scenarios. (A transactionTimeOut
# below the 5.x op-batch interval of 3 s makes the broker check back committed halves too.)
"$HERE/apache.sh" start --version "$VERSION" --namesrv-port "$NPORT" --broker-port "$BPORT" --dir "$PEER" \
  --conf enablePropertyFilter=true --conf transactionCheckInterval=3000 --conf transactionTimeOut=6000 >&2 || exit 1
NS="127.0.0.1:$NPORT"

pass=0 fail=0
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1" | head -1 | tr -d '"'; }
check() { # name condition-result detail   (on failure also prints the errors of the last $out)
  if [[ "$2" == 0 ]]; then pass=$((pass + 1)); echo "PASS $1 $3"; else
    fail=$((fail + 1)); echo "FAIL $1 $3"
    echo "     errors: $(sed -n 's/.*"errors":\(\[.*\]\)}$/\1/p' <<<"${out:-}" | cut -c1-400) $(sed -n 's/.*\("fatal":.*\)}$/\1/p' <<<"${out:-}" | cut -c1-400)"
  fi
}

harness() { # client -> command
  case "$1" in
    java4) echo "$RMQ_JAVA_HARNESS_4";;
    java5) echo "$RMQ_JAVA_HARNESS_5";;
    go) echo "$RMQ_GO_HARNESS";;
  esac
}

export RMQ_HARNESS_LOG_DIR="$WORK/client-logs"

# run NAME CMD...: runs a harness, keeps its JSON line in $out and exit code in $rc
run() { local n="$1"; shift; out="$("$@" 2>>"$WORK/extended.err")"; rc=$?; }
has() { [[ "$1" == *"$2"* ]]; }

extended() { # client harness tag
  local c="$1" h="$2" s="$3" x
  run p "$h" produce --namesrv "$NS" --topic "S_$s" --count 20 --tag TagA --keys --prefix "a$s"
  run p "$h" produce --namesrv "$NS" --topic "S_$s" --count 10 --tag TagB --prefix "b$s"
  run c "$h" consume --namesrv "$NS" --topic "S_$s" --group "GB_$s" --tag TagB --prefix "b$s" --expect 10 --timeout-ms 60000 --linger-ms 1000
  check "$c tag filter" "$([[ $rc == 0 ]] && has "$out" '"tags":{"TagB":10}' && echo 0 || echo 1)" "${out:0:300}"
  run c "$h" consume --namesrv "$NS" --topic "S_$s" --group "GS_$s" --sql "TAGS = 'TagA'" --prefix "a$s" --expect 20 --timeout-ms 90000 --linger-ms 1000
  check "$c sql92 filter" "$([[ $rc == 0 ]] && has "$out" '"tags":{"TagA":20}' && echo 0 || echo 1)" "distinct=$(field "$out" distinct) firstAtMs=$(field "$out" firstAtMs)"
  if [[ $c == java5 && $VERSION == 4.* ]]; then
    echo "SKIP $c lite pull (5.x DefaultLitePullConsumer sends LITE_PULL_MESSAGE 361; 4.9 brokers answer 3 not supported)"
  else
    run c "$h" pull --namesrv "$NS" --topic "S_$s" --group "GP_$s" --prefix "a$s" --expect 20 --timeout-ms 60000
    check "$c lite pull" "$rc" "distinct=$(field "$out" distinct) received=$(field "$out" received)"
  fi
  run c "$h" query --namesrv "$NS" --topic "S_$s" --key "a$s-7" --prefix "a$s" --timeout-ms 20000
  if [[ $rc == 4 ]]; then echo "SKIP $c query by key (unsupported by this client)"; else
    check "$c query by key" "$([[ $rc == 0 ]] && has "$out" '"index":7,' && echo 0 || echo 1)" "found=$(field "$out" found)"; fi
  run p "$h" produce --namesrv "$NS" --topic "D_$s" --count 5 --delay-level 2 --prefix "d$s"
  run c "$h" consume --namesrv "$NS" --topic "D_$s" --group "GD_$s" --prefix "d$s" --expect 5 --timeout-ms 60000
  x="$(field "$out" minAgeMs)"
  check "$c delay level 2 (5 s)" "$([[ $rc == 0 && ${x:-0} -ge 4500 ]] && echo 0 || echo 1)" "minAgeMs=$x"
  run p "$h" produce --namesrv "$NS" --topic "RT_$s" --count 5 --prefix "r$s"
  run c "$h" consume --namesrv "$NS" --topic "RT_$s" --group "GRT_$s" --prefix "r$s" --expect 5 --reconsume-later 2 --retry-delay-level 1 --timeout-ms 120000
  check "$c retry (2 x RECONSUME_LATER)" "$([[ $rc == 0 ]] && has "$out" '"reconsumeTimes":{"0":5,"1":5,"2":5}' && echo 0 || echo 1)" "rejected=$(field "$out" rejected) maxAgeMs=$(field "$out" maxAgeMs)"
  run p "$h" produce --namesrv "$NS" --topic "O_$s" --count 400 --shards 4 --prefix "o$s"
  run c "$h" consume --namesrv "$NS" --topic "O_$s" --group "GO_$s" --prefix "o$s" --expect 400 --orderly --shards 4 --timeout-ms 60000
  check "$c orderly" "$([[ $rc == 0 ]] && has "$out" '"orderViolations":0' && echo 0 || echo 1)" "distinct=$(field "$out" distinct)"
  run p "$h" produce --namesrv "$NS" --topic "TX_$s" --count 9 --mode transaction --tx mix --check commit --wait-checks 3 --prefix "t$s" --timeout-ms 120000
  check "$c transaction check-back" "$([[ $rc == 0 ]] && has "$out" '"checked":"2,5,8"' && echo 0 || echo 1)" "checks=$(field "$out" checks)"
  run c "$h" consume --namesrv "$NS" --topic "TX_$s" --group "GTX_$s" --prefix "t$s" --expect 6 --linger-ms 3000 --timeout-ms 60000
  check "$c transaction visibility" "$([[ $rc == 0 ]] && has "$out" '"ranges":"0,2-3,5-6,8"' && echo 0 || echo 1)" "ranges=$(field "$out" ranges)"
  run c "$h" consume --namesrv "$NS" --topic "S_$s" --group "GBC_$s" --broadcast --prefix "a$s" --expect 20 --timeout-ms 60000
  check "$c broadcasting" "$rc" "distinct=$(field "$out" distinct)"
  run u "$h" produce --namesrv "$NS" --bogus 1
  check "$c usage error exits 2" "$([[ $rc == 2 ]] && echo 0 || echo 1)" "rc=$rc"
}
IFS=, read -ra CL <<<"$CLIENTS"
for c in "${CL[@]}"; do
  h="$(harness "$c")"
  [[ -n "$h" ]] || { echo "unknown client $c" >&2; exit 2; }
  tag="$c$RANDOM"
  if (( BASIC )); then

  # 1. N sync sends, then one consumer gets all N
  t=$(date +%s%N)
  out="$($h produce --namesrv "$NS" --topic "T_$tag" --count "$COUNT" --prefix "$tag" --tag TagA --keys --body-size 128 --send-timeout-ms 10000 2>"$WORK/$c-p.err")"
  rc=$?; ms=$(( ($(date +%s%N) - t) / 1000000 ))
  check "$c produce sync $COUNT" "$([[ $rc == 0 && "$(field "$out" sent)" == "$COUNT" ]] && echo 0 || echo 1)" \
    "rc=$rc sent=$(field "$out" sent) failed=$(field "$out" failed) wall=${ms}ms"
  t=$(date +%s%N)
  out="$($h consume --namesrv "$NS" --topic "T_$tag" --group "G_$tag" --prefix "$tag" --expect "$COUNT" --timeout-ms 120000 2>"$WORK/$c-c.err")"
  rc=$?; ms=$(( ($(date +%s%N) - t) / 1000000 ))
  check "$c consume $COUNT" "$([[ $rc == 0 && "$(field "$out" distinct)" == "$COUNT" && "$(field "$out" corrupt)" == 0 ]] && echo 0 || echo 1)" \
    "rc=$rc distinct=$(field "$out" distinct) received=$(field "$out" received) missing=$(field "$out" missing) wall=${ms}ms"

  # 2. offsets survive a consumer restart: consume half, stop, a second consumer of the group gets the rest
  out="$($h produce --namesrv "$NS" --topic "R_$tag" --count "$COUNT" --prefix "$tag" --mode async --send-timeout-ms 10000 2>>"$WORK/$c-p.err")"
  sent="$(field "$out" sent)"
  check "$c produce async $COUNT" "$([[ "$sent" == "$COUNT" ]] && echo 0 || echo 1)" "sent=$sent failed=$(field "$out" failed)"
  half=$((COUNT / 2))
  out1="$($h consume --namesrv "$NS" --topic "R_$tag" --group "GR_$tag" --prefix "$tag" --expect "$half" --timeout-ms 120000 --out "$WORK/$c-r1.tsv" 2>>"$WORK/$c-c.err")"
  d1="$(field "$out1" distinct)"
  rest=$((${sent:-0} - ${d1:-0}))  # a send that timed out may still be stored: then union > sent
  (( rest < 0 )) && rest=0
  out2="$($h consume --namesrv "$NS" --topic "R_$tag" --group "GR_$tag" --prefix "$tag" --expect "$rest" --timeout-ms 120000 --out "$WORK/$c-r2.tsv" 2>>"$WORK/$c-c.err")"
  union="$(cat "$WORK/$c-r1.tsv" "$WORK/$c-r2.tsv" | awk -F'\t' '$10=="ok"{print $1}' | sort -u | wc -l)"
  r2="$(field "$out2" received)"
  overlap=$(( $(awk -F'\t' '$10=="ok"{print $1}' "$WORK/$c-r2.tsv" | sort -u | wc -l) + d1 - union ))
  check "$c offsets survive restart" "$([[ "$union" -ge "${sent:-0}" && "${sent:-0}" -gt 0 && $overlap -lt $half ]] && echo 0 || echo 1)" \
    "first=$d1 second_received=$r2 union=$union redelivered=$overlap"

  # 3. the other send modes (1000 each), verified by one consumer
  for mode in async batch oneway; do
    $h produce --namesrv "$NS" --topic "M_$tag" --count 1000 --prefix "$tag-$mode" --mode "$mode" >/dev/null 2>>"$WORK/$c-p.err"
    out="$($h consume --namesrv "$NS" --topic "M_$tag" --group "GM_${tag}_$mode" --prefix "$tag-$mode" --expect 1000 --timeout-ms 60000 2>>"$WORK/$c-c.err")"
    rc=$?
    check "$c produce $mode 1000 + consume" "$rc" "distinct=$(field "$out" distinct) missing=$(field "$out" missing)"
  done
  fi
  (( EXTENDED )) && extended "$c" "$h" "x$tag"
done

echo "$pass passed, $fail failed"
(( fail == 0 ))
