# Helpers and rendered configuration of tests/k8s/start-node.sh (sourced; uses its variables:
# DIR, SOCK, NODE, NODE_IP, POD_CIDR, CLUSTER_DNS, CGROUP_ROOT, PKI, LOGS, TIMEOUT).

need_packages() { # the Debian packages of the node (tests/k8s/install-node-packages.sh)
  "$HERE/install-node-packages.sh" || die "the node's packages are missing"
}

start_daemon() { # start_daemon NAME CMD...: own session, log in LOGS/NAME.log, pid in DIR/pids
  local name="$1"; shift
  mkdir -p "$DIR/pids"
  log "starting $name"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
}

wait_until() { # wait_until DAEMON WHAT COMMAND...: poll COMMAND; fail with DAEMON's log tail
  local daemon="$1" what="$2" deadline=$((SECONDS + TIMEOUT)) pid; shift 2
  pid="$(cat "$DIR/pids/$daemon.pid")"
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "---- last lines of $LOGS/$daemon.log ----" >&2; tail -n 40 "$LOGS/$daemon.log" >&2
      die "$daemon: gave up waiting for $what"
    fi
    sleep 0.5
  done
}

sign_cert() { # sign_cert OUT_PREFIX SUBJECT [SAN]: key + cert signed by the control plane's CA
  local out="$1" subj="$2" san="${3:-}" ext
  ext="$(mktemp)"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "$san" ]]; then echo "extendedKeyUsage=serverAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi
  } >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$out.key" -subj "$subj" -out "$out.csr" 2>/dev/null
  openssl x509 -req -in "$out.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$ext" -out "$out.crt" 2>/dev/null
  rm -f "$out.csr" "$ext"
  chmod 600 "$out.key"
}

kubeconfig_for() { # kubeconfig_for CERT_PREFIX: a kubeconfig with that client certificate
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rmq-test
  cluster: {server: "https://$NODE_IP:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: node
  user: {client-certificate: "$1.crt", client-key: "$1.key"}
contexts:
- name: node
  context: {cluster: rmq-test, user: node}
current-context: node
EOF
}

node_certs() { # kubelet (client + serving) and kube-proxy identities
  mkdir -p "$DIR/kubelet/pki" "$DIR/kube-proxy"
  API_PORT="$(sed -n 's/^API_PORT=//p' "$RMQ_K8S_DIR/ports.env")"
  sign_cert "$DIR/kubelet/pki/client" "/O=system:nodes/CN=system:node:$NODE"
  sign_cert "$DIR/kubelet/pki/kubelet" "/CN=$NODE" "IP:$NODE_IP,DNS:$NODE"
  sign_cert "$DIR/kube-proxy/client" "/CN=system:kube-proxy"
  kubeconfig_for "$DIR/kubelet/pki/client" >"$DIR/kubelet/kubeconfig"
  kubeconfig_for "$DIR/kube-proxy/client" >"$DIR/kube-proxy/kubeconfig"
  # An empty resolver configuration: pods get the cluster DNS and nothing of the host's.
  : >"$DIR/kubelet/resolv.conf"
  # The pod cgroup root, in every v1 hierarchy (cpuset needs its cpus/mems copied from the root).
  local c
  for c in /sys/fs/cgroup/*/; do
    [[ -d "$c" && "$c" != */unified/ ]] || continue
    mkdir -p "$c${CGROUP_ROOT#/}"
    if [[ -f "${c}cpuset.cpus" ]]; then
      cat "${c}cpuset.cpus" >"$c${CGROUP_ROOT#/}/cpuset.cpus"
      cat "${c}cpuset.mems" >"$c${CGROUP_ROOT#/}/cpuset.mems"
    fi
  done
}

render_containerd_config() {
  cat <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "rmq.test/pause:1"
  disable_apparmor = true
  restrict_oom_score_adj = true
  # pods' network namespaces under DIR (removed with it), not in the host's /var/run/netns
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$DIR/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
EOF
}

render_cni_config() {
  cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "rmq-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "rmq-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$DIR/cni/ipam",
              "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

render_kubelet_config() {
  cat <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$DIR/kubelet/pki/kubelet.crt"
tlsPrivateKeyFile: "$DIR/kubelet/pki/kubelet.key"
containerRuntimeEndpoint: "unix://$SOCK"
cgroupDriver: cgroupfs
cgroupRoot: "$CGROUP_ROOT"
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: ["$CLUSTER_DNS"]
resolvConf: "$DIR/kubelet/resolv.conf"
# images come from local archives and cannot be pulled again: never collect them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%", nodefs.inodesFree: "2%"}
serializeImagePulls: false
syncFrequency: 10s
EOF
}

render_kube_proxy_config() {
  cat <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$DIR/kube-proxy/kubeconfig"}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: 10.244.0.0/16
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# leave the kernel's conntrack limits and timeouts alone
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

render_coredns() {
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "rmq-e2e:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "rmq-e2e:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "rmq-e2e:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:1053 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 5
        }
        cache 5
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: coredns
        image: rmq.test/coredns:1
        imagePullPolicy: Never
        args: ["-conf", "/etc/coredns/Corefile"]
        ports:
        - {name: dns, containerPort: 1053, protocol: UDP}
        - {name: dns-tcp, containerPort: 1053, protocol: TCP}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $CLUSTER_DNS
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}
EOF
}

render_storage() { # a default StorageClass of local hostPath PVs, owned by the image's user
  local i count="${RMQ_K8S_PVS:-32}"
  cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: rmq-e2e-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
  for ((i = 0; i < count; i++)); do
    mkdir -p "$DIR/pv/pv-$i"
    chown 65532:65532 "$DIR/pv/pv-$i"
    cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: rmq-e2e-pv-$i}
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: rmq-e2e-local
  hostPath: {path: "$DIR/pv/pv-$i", type: Directory}
EOF
  done
}
