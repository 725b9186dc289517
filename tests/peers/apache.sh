#!/usr/bin/env bash
# Apache RocketMQ (Java) nameserver + broker as a test / benchmark peer.
#
#   apache.sh fetch  --version V
#   apache.sh start  --version V --namesrv-port P --broker-port Q --dir D [options]
#   apache.sh stop   --dir D [--keep]
#   apache.sh status --dir D
#
# The jars come from Maven (org.apache.rocketmq:rocketmq-namesrv and rocketmq-broker plus their
# runtime dependencies) and are cached under ~/.cache/rmq-test/apache/<V>/lib. Everything started
# here listens on 127.0.0.1 only. See tests/harness.md for the full interface.
set -euo pipefail

CACHE_ROOT="${RMQ_TEST_CACHE:-$HOME/.cache/rmq-test}"
M2_REPO="${RMQ_TEST_M2:-$CACHE_ROOT/m2}"
DEFAULT_VERSION="${RMQ_APACHE_VERSION:-5.3.3}"
MARKER=".rmq-apache-peer"

die() { echo "apache.sh: $*" >&2; exit 2; }
# maven prints colour resets even with -B; keep logs plain
strip_ansi() { sed -u 's/\x1b\[[0-9;]*m//g'; }
log() { echo "apache.sh: $*" >&2; }

usage() {
  cat >&2 <<'EOF'
usage:
  apache.sh fetch  [--version V]
  apache.sh start  [--version V] --namesrv-port P --broker-port Q --dir D
                   [--namesrv-addr HOST:PORT]   use an existing nameserver, start none
                   [--no-broker]                start only the nameserver
                   [--ha-port H]                default Q+1
                   [--bind-ip 127.0.0.X]        listen there (default 127.0.0.1); the broker still
                                                advertises 127.0.0.1:Q, so a proxy such as
                                                rmq-wiretap can sit on 127.0.0.1 in front of it
                   [--broker-name N] [--cluster C] [--broker-id ID] [--role ASYNC_MASTER|SYNC_MASTER|SLAVE]
                   [--xmx 512m] [--conf key=value]...   extra broker.conf lines (repeatable)
                   [--timeout-s 90]             wait this long for "boot success"
  apache.sh stop   --dir D [--keep]             stop what start launched; removes D unless --keep
  apache.sh status --dir D
EOF
  exit 2
}

# ---------------------------------------------------------------------------------------------
fetch() {
  local v="$1" home="$CACHE_ROOT/apache/$1"
  if [[ -f "$home/.complete" ]]; then echo "$home"; return 0; fi
  mkdir -p "$home"
  cat >"$home/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rmq.test</groupId>
  <artifactId>apache-rocketmq-peer</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-namesrv</artifactId><version>$v</version></dependency>
    <dependency><groupId>org.apache.rocketmq</groupId><artifactId>rocketmq-broker</artifactId><version>$v</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$home/lib"
  log "fetching Apache RocketMQ $v namesrv+broker jars from Maven into $home/lib"
  (cd "$home" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$home/lib" 2>&1 | strip_ansi >&2) \
    || die "maven could not resolve rocketmq-namesrv/rocketmq-broker $v"
  ls "$home"/lib/rocketmq-broker-*.jar >/dev/null 2>&1 || die "no rocketmq-broker jar after fetch"
  touch "$home/.complete"
  echo "$home"
}

# ---------------------------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

wait_for() { # file pattern pid timeout_s name
  local file="$1" pat="$2" pid="$3" t="$4" name="$5" i=0
  while (( i < t * 5 )); do
    if grep -q "$pat" "$file" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited early; last lines of $file:"; tail -n 30 "$file" >&2 || true; return 1
    fi
    sleep 0.2; i=$((i + 1))
  done
  log "$name did not report boot success within ${t}s; last lines of $file:"; tail -n 30 "$file" >&2 || true
  return 1
}

java_opts() { # xmx
  echo "-Xms64m -Xmx$1 -XX:MaxDirectMemorySize=512m -XX:+UseG1GC -Djava.net.preferIPv4Stack=true \
--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
--add-exports=java.base/sun.nio.ch=ALL-UNNAMED"
}

# LD_PRELOAD shim so that the broker's wildcard HA listener binds 127.0.0.1 (see bind_loopback.c)
shim() {
  local src; src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bind_loopback.c"
  local h; h="$(sha256sum "$src" | cut -c1-12)"
  local so="$CACHE_ROOT/apache/bind_loopback-$h.so"
  if [[ ! -f "$so" ]]; then
    mkdir -p "$CACHE_ROOT/apache"
    cc -shared -fPIC -O2 -o "$so.tmp" "$src" -ldl >&2 || die "cannot compile $src (a C compiler is needed)"
    mv "$so.tmp" "$so"
  fi
  echo "$so"
}

write_logback() { # dir name logfile (4.9.x reads $ROCKETMQ_HOME/conf/logback_*.xml; 5.x uses its jar's own)
  mkdir -p "$1/conf"
  cat >"$1/conf/$2" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$1/logs/$3</file>
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
EOF
}

start() {
  local v="$DEFAULT_VERSION" nport="" bport="" dir="" naddr="" nobroker=0 haport="" bname="broker-a"
  local cluster="DefaultCluster" bid=0 role="ASYNC_MASTER" xmx="512m" timeout=90 bindip="127.0.0.1"
  local -a extra=()
  while (($#)); do
    case "$1" in
      --version) v="$2"; shift 2;;
      --namesrv-port) nport="$2"; shift 2;;
      --broker-port) bport="$2"; shift 2;;
      --dir) dir="$2"; shift 2;;
      --namesrv-addr) naddr="$2"; shift 2;;
      --no-broker) nobroker=1; shift;;
      --ha-port) haport="$2"; shift 2;;
      --bind-ip) bindip="$2"; shift 2;;
      --broker-name) bname="$2"; shift 2;;
      --cluster) cluster="$2"; shift 2;;
      --broker-id) bid="$2"; shift 2;;
      --role) role="$2"; shift 2;;
      --xmx) xmx="$2"; shift 2;;
      --conf) extra+=("$2"); shift 2;;
      --timeout-s) timeout="$2"; shift 2;;
      *) die "start: unknown argument '$1'";;
    esac
  done
  [[ -n "$dir" ]] || die "start: --dir is required"
  [[ -n "$naddr" || -n "$nport" ]] || die "start: --namesrv-port (or --namesrv-addr) is required"
  (( nobroker )) || [[ -n "$bport" ]] || die "start: --broker-port is required (or --no-broker)"
  [[ -z "$haport" && -n "$bport" ]] && haport=$((bport + 1))
  [[ "$bindip" =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "start: --bind-ip must be a 127.x.y.z address"
  if [[ -e "$dir" && ! -f "$dir/$MARKER" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
    die "start: $dir exists, is not empty and was not made by apache.sh"
  fi
  if [[ -f "$dir/namesrv.pid" || -f "$dir/broker.pid" ]]; then die "start: $dir already has a running peer (stop it first)"; fi

  local home; home="$(fetch "$v")"
  mkdir -p "$dir/logs" "$dir/store"
  dir="$(cd "$dir" && pwd)"
  touch "$dir/$MARKER"
  echo "$v" >"$dir/version"
  local cp="$home/lib/*"
  local jopts; jopts="$(java_opts "$xmx")"
  # rocketmq.home.dir: the broker/namesrv insist on it (conf/ logback files live there);
  # user.home: namesrv kvConfig.json and client-side log roots land inside D, not in ~.
  local sysprops="-Drocketmq.home.dir=$dir -Duser.home=$dir -Drocketmq.client.logRoot=$dir/logs"
  write_logback "$dir" logback_namesrv.xml namesrv.log
  write_logback "$dir" logback_broker.xml broker.log
  local preload; preload="$(shim)"

  if [[ -z "$naddr" ]]; then
    port_open "$nport" "$bindip" && die "start: port $nport is already in use"
    cat >"$dir/namesrv.properties" <<EOF
listenPort=$nport
bindAddress=$bindip
EOF
    # shellcheck disable=SC2086
    (cd "$dir" && RMQ_BIND_IP="$bindip" LD_PRELOAD="$preload" ROCKETMQ_HOME="$dir" exec setsid java $jopts $sysprops \
        -cp "$cp" org.apache.rocketmq.namesrv.NamesrvStartup -c "$dir/namesrv.properties" \
        >"$dir/namesrv.out" 2>&1 </dev/null) &
    local npid=$!
    echo "$npid" >"$dir/namesrv.pid"
    if ! wait_for "$dir/namesrv.out" "boot success" "$npid" "$timeout" namesrv; then stop --dir "$dir" --keep; exit 1; fi
    naddr="$bindip:$nport"
    echo "namesrv pid=$npid addr=$naddr version=$v log=$dir/namesrv.out"
  fi
  echo "$naddr" >"$dir/namesrv.addr"

  if (( ! nobroker )); then
    port_open "$bport" "$bindip" && die "start: port $bport is already in use"
    {
      echo "brokerClusterName=$cluster"
      echo "brokerName=$bname"
      echo "brokerId=$bid"
      echo "brokerRole=$role"
      echo "flushDiskType=ASYNC_FLUSH"
      echo "namesrvAddr=$naddr"
      echo "brokerIP1=127.0.0.1"
      echo "brokerIP2=$bindip"
      echo "listenPort=$bport"
      echo "haListenPort=$haport"
      echo "bindAddress=$bindip"
      echo "storePathRootDir=$dir/store"
      echo "storePathCommitLog=$dir/store/commitlog"
      echo "mappedFileSizeCommitLog=67108864"
      echo "autoCreateTopicEnable=true"
      echo "autoCreateSubscriptionGroup=true"
      echo "diskMaxUsedSpaceRatio=95"
      echo "timerWheelEnable=false"
      for kv in "${extra[@]}"; do echo "$kv"; done
    } >"$dir/broker.conf"
    # shellcheck disable=SC2086
    (cd "$dir" && RMQ_BIND_IP="$bindip" LD_PRELOAD="$preload" ROCKETMQ_HOME="$dir" exec setsid java $jopts $sysprops \
        -cp "$cp" org.apache.rocketmq.broker.BrokerStartup -c "$dir/broker.conf" \
        >"$dir/broker.out" 2>&1 </dev/null) &
    local bpid=$!
    echo "$bpid" >"$dir/broker.pid"
    if ! wait_for "$dir/broker.out" "boot success" "$bpid" "$timeout" broker; then stop --dir "$dir" --keep; exit 1; fi
    echo "broker pid=$bpid addr=127.0.0.1:$bport listen=$bindip:$bport ha=$bindip:$haport name=$bname cluster=$cluster version=$v store=$dir/store log=$dir/broker.out"
  fi
  echo "NAMESRV_ADDR=$naddr"
}

# ---------------------------------------------------------------------------------------------
stop_pid() { # pidfile name dir
  local f="$1" name="$2" dir="$3" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  # only signal the process we started: its command line names this dir
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"; then
    kill -TERM "$pid" 2>/dev/null || true
    local i=0
    while kill -0 "$pid" 2>/dev/null && (( i < 150 )); do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; echo "stopped $name pid=$pid (killed)"; else echo "stopped $name pid=$pid"; fi
  fi
  rm -f "$f"
}

stop() {
  local dir="" keep=0
  while (($#)); do
    case "$1" in
      --dir) dir="$2"; shift 2;;
      --keep) keep=1; shift;;
      --version|--namesrv-port|--broker-port) shift 2;;  # accepted for symmetry with start
      *) die "stop: unknown argument '$1'";;
    esac
  done
  [[ -n "$dir" ]] || die "stop: --dir is required"
  [[ -d "$dir" ]] || { echo "nothing to stop in $dir"; return 0; }
  dir="$(cd "$dir" && pwd)"
  [[ -f "$dir/$MARKER" ]] || die "stop: $dir was not made by apache.sh"
  stop_pid "$dir/broker.pid" broker "$dir"   # broker first: it unregisters from the namesrv
  stop_pid "$dir/namesrv.pid" namesrv "$dir"
  if (( ! keep )); then rm -rf "$dir"; echo "removed $dir"; fi
}

status() {
  local dir=""
  while (($#)); do case "$1" in --dir) dir="$2"; shift 2;; *) die "status: unknown argument '$1'";; esac; done
  [[ -n "$dir" ]] || die "status: --dir is required"
  local rc=1 n
  for n in namesrv broker; do
    if [[ -f "$dir/$n.pid" ]] && kill -0 "$(cat "$dir/$n.pid")" 2>/dev/null; then
      echo "$n running pid=$(cat "$dir/$n.pid")"; rc=0
    else
      echo "$n not running"
    fi
  done
  return $rc
}

cmd="${1:-}"; [[ -n "$cmd" ]] || usage; shift
case "$cmd" in
  fetch)
    v="$DEFAULT_VERSION"
    while (($#)); do case "$1" in --version) v="$2"; shift 2;; *) die "fetch: unknown argument '$1'";; esac; done
    fetch "$v";;
  start) start "$@";;
  stop) stop "$@";;
  status) status "$@";;
  -h|--help|help) usage;;
  *) die "unknown command '$cmd' (fetch|start|stop|status)";;
esac
