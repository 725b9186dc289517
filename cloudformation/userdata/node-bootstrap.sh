#!/bin/bash
# rmq node bootstrap, after the RMQ_* header: cloudformation/README.md
set -Eeuo pipefail
umask 022
INSTANCE_ID=
if [ -n "${RMQ_OVERRIDES:-}" ]; then . "$RMQ_OVERRIDES"; fi

log() { echo "rmq-bootstrap: $*" >&2; }
signal() {
  log "signal $1"
  [ -n "${RMQ_SIGNAL_STACK:-}" ] && [ -n "$INSTANCE_ID" ] || return 0
  aws cloudformation signal-resource --region "$RMQ_REGION" --stack-name "$RMQ_SIGNAL_STACK" \
    --logical-resource-id "$RMQ_SIGNAL_RESOURCE" --unique-id "$INSTANCE_ID" --status "$1" \
    >/dev/null 2>&1 || log "could not signal $1 (normal outside a stack operation)"
}
die() { trap - ERR; log "FAILED: $*"; signal FAILURE; exit 1; }
trap 'die "command failed at line $LINENO"' ERR
# wait_until SECS WHAT CMD...: every 3 s, then die (WHAT '': return 1)
wait_until() {
  local limit=$1 what=$2 end=$((SECONDS + $1)); shift 2; W=
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$end" ]; then [ -n "$what" ] || return 1; die "timed out after ${limit}s waiting for $what${W:+ ($W)}"; fi
    sleep 3
  done
}
need() { local v; for v in "$@"; do [ -n "${!v:-}" ] || die "$v is not set (user data header incomplete)"; done; }
bad() { die "$1=${!1} is not $2"; }

need RMQ_CLUSTER_NAME RMQ_NODE_NAME RMQ_ROLE RMQ_NODE_IP
case "$RMQ_ROLE" in
  namesrv) BIN=rmq-namesrv ;;
  broker)
    BIN=rmq-broker
    need RMQ_BROKER_NAME RMQ_BROKER_ID RMQ_BROKER_ROLE RMQ_FLUSH_DISK_TYPE RMQ_NAMESRV_ADDR \
      RMQ_FILE_RESERVED_TIME RMQ_DELETE_WHEN RMQ_DISK_MAX_USED_SPACE_RATIO
    case "$RMQ_BROKER_ROLE" in ASYNC_MASTER|SYNC_MASTER|SLAVE|ELECTED) ;; *) bad RMQ_BROKER_ROLE "ASYNC_MASTER, SYNC_MASTER, SLAVE or ELECTED" ;; esac
    case "$RMQ_FLUSH_DISK_TYPE" in ASYNC_FLUSH|SYNC_FLUSH) ;; *) bad RMQ_FLUSH_DISK_TYPE "ASYNC_FLUSH or SYNC_FLUSH" ;; esac
    case "$RMQ_BROKER_ID" in ''|*[!0-9]*) bad RMQ_BROKER_ID "a number" ;; esac
    if [ "$RMQ_BROKER_ROLE" = ELECTED ]; then need RMQ_FAILOVER_CONF
    elif [ "$RMQ_BROKER_ID" = 0 ] && [ "$RMQ_BROKER_ROLE" = SLAVE ]; then die "brokerId 0 must be a master"
    elif [ "$RMQ_BROKER_ID" != 0 ] && [ "$RMQ_BROKER_ROLE" != SLAVE ]; then die "brokerId $RMQ_BROKER_ID must be SLAVE"; fi
    case "$RMQ_FILE_RESERVED_TIME" in *[!0-9]*) bad RMQ_FILE_RESERVED_TIME "a whole number of hours" ;; esac
    case "$RMQ_DISK_MAX_USED_SPACE_RATIO" in *[!0-9]*) bad RMQ_DISK_MAX_USED_SPACE_RATIO "a percentage" ;; esac
    [[ "$RMQ_DELETE_WHEN" =~ ^([01][0-9]|2[0-3])(\;([01][0-9]|2[0-3]))*$ ]] || bad RMQ_DELETE_WHEN "hours 00-23 separated by ';' (04 or 04;16)"
    ;;
  *) bad RMQ_ROLE "namesrv or broker" ;;
esac
[ -n "${RMQ_ARTEFACT_DIR:-}" ] || need RMQ_ARTEFACT_BUCKET

R="${RMQ_ROOT:-}"
ETC="$R/etc/rmq" BIN_DIR="$R/opt/rmq/bin" UNIT_DIR="$R/etc/systemd/system"
DATA="$R/data" LOG_DIR="$R/var/log/rmq"
NAMESRV_PORT="${RMQ_NAMESRV_PORT:-9876}" LISTEN_PORT="${RMQ_LISTEN_PORT:-10911}"
HA_PORT="${RMQ_HA_PORT:-$((LISTEN_PORT + 1))}"
PORT=$NAMESRV_PORT; [ "$RMQ_ROLE" = namesrv ] || PORT=$LISTEN_PORT
HTTP=127.0.0.1:$((PORT + 7))
mkdir -p "$ETC" "$BIN_DIR" "$UNIT_DIR" "$DATA" "$LOG_DIR"
log "node $RMQ_NODE_NAME ($RMQ_ROLE) of cluster $RMQ_CLUSTER_NAME, address $RMQ_NODE_IP"

# 1. CloudWatch agent first: a failed boot is in the log group too.
cat >"$ETC/cloudwatch-prometheus.yaml" <<EOF
scrape_configs:
- {job_name: rmq, static_configs: [{targets: ['$HTTP'],
   labels: {ClusterName: '$RMQ_CLUSTER_NAME', NodeName: '$RMQ_NODE_NAME'}}]}
EOF
L="\"log_group_name\":\"${RMQ_LOG_GROUP:-}\",\"log_stream_name\":\"$RMQ_NODE_NAME/{instance_id}"
cat >"$ETC/cloudwatch-agent.json" <<EOF
{"agent":{"run_as_user":"root"},
"logs":{"logs_collected":{"files":{"collect_list":[{"file_path":"$LOG_DIR/*.log",$L"},
{"file_path":"/var/log/cloud-init-output.log",$L/bootstrap"}]}},
"metrics_collected":{"prometheus":{"prometheus_config_path":"$ETC/cloudwatch-prometheus.yaml",
"log_group_name":"${RMQ_LOG_GROUP:-}","emf_processor":{"metric_namespace":"rmq","metric_declaration":[
{"source_labels":["job"],"label_matcher":"^rmq\$","dimensions":[["ClusterName"],["ClusterName","NodeName"]],
"metric_selectors":["^rmq_broker_ready\$","^rmq_broker_namesrvs_registered\$",
"^rocketmq_brokeruntime_commit_log_disk_ratio\$","^rocketmq_brokeruntime_slave_fall_behind_much\$",
"^rocketmq_group_diff\$","^rocketmq_consumer_lag_latency\$","^rocketmq_messages_in_total\$",
"^rocketmq_messages_out_total\$","^rocketmq_namesrv_brokers\$"]}]}}}},
"metrics":{"namespace":"rmq","append_dimensions":{"InstanceId":"\${aws:InstanceId}"},"aggregation_dimensions":[["ClusterName","path"]],
"metrics_collected":{"mem":{"measurement":["mem_used_percent"]},
"disk":{"measurement":["used_percent"],"resources":["/","/data"],"drop_device":true,"append_dimensions":{"ClusterName":"$RMQ_CLUSTER_NAME"}}}}}
EOF
if [ "${RMQ_NO_EC2:-}" != 1 ] && [ "${RMQ_NO_CLOUDWATCH:-}" != 1 ] && [ -n "${RMQ_LOG_GROUP:-}" ]; then
  timeout 300 dnf install -q -y amazon-cloudwatch-agent >/dev/null 2>&1 &&
    /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:$ETC/cloudwatch-agent.json" >/dev/null ||
    log "no CloudWatch agent; logs stay in $LOG_DIR"
fi

# 2. Attach the node's interface and data volume.
if [ "${RMQ_NO_EC2:-}" != 1 ]; then
  need RMQ_REGION RMQ_ENI_ID
  export AWS_DEFAULT_REGION="$RMQ_REGION" AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=10
  INSTANCE_ID=$(cat /var/lib/cloud/data/instance-id) || die "no instance id from cloud-init"
  attach_to_me() {
    local kind=$1 id=$2 end=$((SECONDS + 900)) state owner
    local d=(describe-volumes --volume-ids "$2" --query 'Volumes[0].[State,Attachments[0].InstanceId]')
    local a=(attach-volume --volume-id "$2" --device /dev/sdf)
    if [ "$kind" = eni ]; then
      d=(describe-network-interfaces --network-interface-ids "$2" --query 'NetworkInterfaces[0].[Status,Attachment.InstanceId]')
      a=(attach-network-interface --network-interface-id "$2" --device-index 1)
    fi
    while :; do
      read -r state owner < <(aws ec2 "${d[@]}" --output text) || state=error
      [ "$owner" = "$INSTANCE_ID" ] && return 0
      if [ "$state" = available ]; then
        aws ec2 "${a[@]}" --instance-id "$INSTANCE_ID" >/dev/null || log "attach of $id failed, retrying"
      else
        log "$id is $state (held by ${owner:-nobody}), waiting"
      fi
      [ "$SECONDS" -lt "$end" ] || die "could not attach $kind $id within 900s"
      sleep 5
    done
  }
  attach_to_me eni "$RMQ_ENI_ID"
  has_ip() { ip -o -4 addr show | grep -q " $RMQ_NODE_IP/"; }
  wait_until 180 "address $RMQ_NODE_IP to come up" has_ip

  if [ "$RMQ_ROLE" = broker ]; then
    need RMQ_VOLUME_ID
    attach_to_me volume "$RMQ_VOLUME_ID"
    NVME="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${RMQ_VOLUME_ID//-/}"
    find_dev() { local d; for d in "$NVME" /dev/xvdf /dev/sdf; do [ -b "$d" ] && { readlink -f "$d"; return 0; }; done; return 1; }
    wait_until 180 "the block device of $RMQ_VOLUME_ID" find_dev
    DEV=$(find_dev)
    rc=0; FSTYPE=$(blkid -p -s TYPE -o value "$DEV") || rc=$?
    if [ "$rc" = 2 ]; then
      log "$RMQ_VOLUME_ID ($DEV) is blank: creating an xfs file system"
      mkfs.xfs -q -L rmq-data "$DEV"; FSTYPE=xfs FRESH=1
    elif [ "$rc" != 0 ]; then
      die "blkid failed on $DEV (rc=$rc); refusing to touch the data volume"
    fi
    UUID=$(blkid -s UUID -o value "$DEV")
    sed -i '\# /data #d' /etc/fstab
    echo "UUID=$UUID /data $FSTYPE defaults,noatime,nofail 0 2" >>/etc/fstab
    mountpoint -q /data || mount /data
  fi
fi
STORE="$DATA/rmq/store"
mkdir -p "$STORE"

# 3. fetch NAME [SHA256 [script]]: download, verify.
fetch() {
  local name=$1 dest="$BIN_DIR/$1" prefix=${RMQ_ARTEFACT_PREFIX:-}
  prefix=${prefix#/}; prefix=${prefix%/}; [ -z "$prefix" ] || prefix="$prefix/"
  rm -f "$dest.tmp" "$dest.sha256"
  if [ -n "${RMQ_ARTEFACT_DIR:-}" ]; then
    [ -f "$RMQ_ARTEFACT_DIR/$name" ] || die "$RMQ_ARTEFACT_DIR/$name does not exist"
    cp "$RMQ_ARTEFACT_DIR/$name" "$dest.tmp"
    cp "$RMQ_ARTEFACT_DIR/$name.sha256" "$dest.sha256" 2>/dev/null || :
  else
    local url="s3://$RMQ_ARTEFACT_BUCKET/$prefix$name" region=()
    if [ -n "${RMQ_ARTEFACT_REGION:-}" ]; then region=(--region "$RMQ_ARTEFACT_REGION"); fi
    aws s3 cp --only-show-errors "${region[@]}" "$url" "$dest.tmp" ||
      die "cannot download $url (check ArtefactBucketName/ArtefactKeyPrefix)"
    aws s3 cp --only-show-errors "${region[@]}" "$url.sha256" "$dest.sha256" 2>/dev/null ||
      log "no $url.sha256 published; skipping checksum"
  fi
  local got want arch m magic; m=$(uname -m); got=$(sha256sum "$dest.tmp" | cut -d' ' -f1)
  want=$(cut -d' ' -f1 "$dest.sha256" 2>/dev/null) || want=$got
  [ "$got" = "$want" ] || die "checksum mismatch for $name: it is $got, its published $name.sha256 says $want"
  want=${2:-$got}
  [ "$got" = "$want" ] || die "checksum mismatch for $name: it is $got, the user data expects $want (set BrokerSha256/NameServerSha256 to the release's)"
  magic=$(od -An -tx1 -N4 "$dest.tmp" | tr -d ' \n') arch="not an ELF executable"
  if [ "$magic" = 7f454c46 ]; then
    case $(od -An -tu2 -j18 -N2 "$dest.tmp" | tr -d ' \n') in 62) arch=x86_64 ;; 183) arch=aarch64 ;; *) arch="another ELF machine" ;; esac
  elif [ "$magic" = 23212f62 ] && [ "${RMQ_ALLOW_SCRIPTS:-}${3:-}" != "" ]; then arch=$m; fi
  [ "$arch" = "$m" ] || die "architecture mismatch for $name: it is $arch, this instance is $m (release with --arch $m)"
  chmod 0755 "$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}
fetch "$BIN" "${RMQ_BINARY_SHA256:-}"

# 4. Configuration.
if [ "$RMQ_ROLE" = broker ]; then
  CONF="$ETC/broker.conf" ID="brokerId=$RMQ_BROKER_ID
brokerRole=$RMQ_BROKER_ROLE"
  [ "$RMQ_BROKER_ROLE" != ELECTED ] || ID=$(printf '%s\n' $RMQ_FAILOVER_CONF)
  cat >"$CONF" <<EOF
# written by rmq node bootstrap for $RMQ_NODE_NAME
brokerClusterName=$RMQ_CLUSTER_NAME
brokerName=$RMQ_BROKER_NAME
$ID
flushDiskType=$RMQ_FLUSH_DISK_TYPE
namesrvAddr=$RMQ_NAMESRV_ADDR
brokerIP1=$RMQ_NODE_IP
brokerIP2=$RMQ_NODE_IP
listenPort=$LISTEN_PORT
haListenPort=$HA_PORT
storePathRootDir=$STORE
storePathCommitLog=$STORE/commitlog
fileReservedTime=$RMQ_FILE_RESERVED_TIME
deleteWhen=$RMQ_DELETE_WHEN
diskMaxUsedSpaceRatio=$RMQ_DISK_MAX_USED_SPACE_RATIO
EOF
  ARGS=(-c "$CONF")
else
  ARGS=(--listen-port "$NAMESRV_PORT")
fi
if [ -n "${RMQ_SECURITY_CONF:-}" ]; then
  [ "$RMQ_ROLE" = broker ] || { CONF="$ETC/namesrv.conf"; ARGS+=(-c "$CONF"); :>"$CONF"; }
  printf '%s\n' $RMQ_SECURITY_CONF >>"$CONF"
fi
if [ -n "${RMQ_SECRETS:-}" ]; then
  fetch rmq-node-secrets "${RMQ_SECRETS_SHA256:-}" script
  "$BIN_DIR/rmq-node-secrets" install "${RMQ_REGION:-}" "$RMQ_CLUSTER_NAME" "$R/etc/rmq-secrets" $RMQ_SECRETS ||
    die "cannot fetch $RMQ_SECRETS from SSM /rmq/$RMQ_CLUSTER_NAME/"
fi
if [ -n "${RMQ_CONTROLLER_CONF:-}" ]; then
  fetch rmq-controller "${RMQ_CONTROLLER_SHA256:-}"
  printf '%s\n' $RMQ_CONTROLLER_CONF | sed "s#^controllerStorePath=#&$R#" >"$ETC/controller.conf"
  CSTORE=$(sed -n 's/^controllerStorePath=//p' "$ETC/controller.conf")
  mkdir -p "$CSTORE"
fi

# 5. Units, start.
UNIT="$RMQ_ROLE"
unit() {  # unit NAME COMMAND...
  cat >"$UNIT_DIR/rmq-$1.service" <<EOF
[Unit]
Description=rmq $1 $RMQ_NODE_NAME
Wants=network-online.target
After=network-online.target
RequiresMountsFor=$DATA/rmq
[Service]
User=rmq
ExecStart=${*:2}
Restart=always
RestartSec=5
LimitNOFILE=1048576
StandardOutput=append:$LOG_DIR/$1.log
StandardError=append:$LOG_DIR/$1.log
[Install]
WantedBy=multi-user.target
EOF
}
unit "$UNIT" "$BIN_DIR/$BIN" "${ARGS[@]}"
C=("$BIN_DIR/rmq-controller" -c "$ETC/controller.conf")
[ -z "${CSTORE:-}" ] || unit controller "${C[@]}"

if [ -n "${RMQ_NO_SYSTEMD:-}" ]; then
  if [ -n "${CSTORE:-}" ]; then "${C[@]}" & fi
  if [ "$RMQ_NO_SYSTEMD" = 1 ]; then
    trap - ERR
    exec "$BIN_DIR/$BIN" "${ARGS[@]}"
  fi
  "$BIN_DIR/$BIN" "${ARGS[@]}" &
else
  id rmq >/dev/null 2>&1 || useradd --system --home-dir /var/lib/rmq --shell /sbin/nologin rmq
  chown -R rmq:rmq "$DATA/rmq" "$LOG_DIR" ${CSTORE:+"$CSTORE"}
  printf 'vm.max_map_count=655360\nvm.swappiness=1\n' >/etc/sysctl.d/90-rmq.conf
  sysctl -q --system || log "sysctl errors"
  printf '%s\n' "$LOG_DIR/*.log {" daily "rotate 7" "maxsize 512M" compress missingok notifempty copytruncate "}" >/etc/logrotate.d/rmq
  systemctl daemon-reload
  systemctl enable --now "rmq-$UNIT.service" ${CSTORE:+rmq-controller.service}
fi
wait_until 180 "rmq-$UNIT to listen on port $PORT" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT"
[ -z "${CSTORE:-}" ] || wait_until 180 "rmq-controller to listen on port 9878" bash -c "exec 3<>/dev/tcp/127.0.0.1/9878"

# 6. Ready (broker: registered with every nameserver), caught up (slave), settled.
ready() { W=$(curl -s -m 5 -w ' HTTP %{http_code}' "http://$HTTP/readyz"); [[ $W == *' HTTP 200' ]]; }
wait_until 600 "rmq-$UNIT to be ready ($HTTP/readyz)" ready
m() { curl -s -m 5 "http://$HTTP/metrics" | grep -E "^rmq_ha_master_$1" >/dev/null; }
if m connected; then
  if [ -n "${FRESH:-}" ]; then log "new replica: copying the master in the background"
  elif wait_until 30 "" m 'connected\{.*\} 1'; then wait_until 900 "the slave to catch up" m 'lag_bytes\{.*\} [0-9]{1,7}(\.[0-9]*)?$'
  else log "no master within 30s: nothing to catch up"; fi
fi
S=${RMQ_SETTLE:-35}
log "ready; settling for ${S}s"
sleep "$S"
signal SUCCESS
log "rmq-$UNIT is up on $RMQ_NODE_IP:$PORT"
[ -z "${RMQ_NO_SYSTEMD:-}" ] || wait
