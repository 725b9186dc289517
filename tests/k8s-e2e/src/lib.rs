//! Test harness of the Kubernetes tier (test code, not product).
//!
//! - [`agent`]: `rmq-node-agent`, the stand-in for a kubelet on the control plane that
//!   `tests/k8s/start-control-plane.sh` runs (no kubelet, no container runtime, no CNI, no DNS
//!   there). It keeps a fake Node `rmq-test-node` Ready, provisions hostPath PersistentVolumes for
//!   pending claims, and runs the containers of pods bound to the node as local processes.
//! - `rmq-e2e-probe` (a binary): admin-protocol checks and the Topic-CR benchmark.
//!
//! # How a pod becomes a process
//! - **Image → binary**: an image whose repository is one of `--image` (default `rmq`) maps
//!   `command[0]` to `$RMQ_BIN_DIR/<basename>`; other images fail the pod (`ErrImageNotSupported`).
//! - **Network**: every pod gets its own loopback address (127.77.x.y) as `podIP`. A wildcard
//!   `bind()` of the process is turned into a bind to that address by an LD_PRELOAD shim
//!   (`netshim.c`), so two pods can both listen on 10911, as in separate network namespaces.
//! - **DNS**: cluster DNS is replaced by a hosts file the agent keeps current from Services and
//!   pods: `<pod>.<headless-svc>.<ns>.svc[.cluster.local]` and `<svc>.<ns>.svc[.cluster.local]`
//!   map to pod addresses (ClusterIPs are never routed here). Each process runs in a private
//!   mount namespace (`unshare --mount`) where that file is bind-mounted over `/etc/hosts`;
//!   test clients use the same trick (`tests/k8s-e2e/in-cluster-net.sh`).
//! - **Volumes**: ConfigMap, Secret, emptyDir, PVC (hostPath PV), downwardAPI and projected
//!   (service-account token from TokenRequest, `kube-root-ca.crt`, namespace) are materialised
//!   in the pod's directory and bind-mounted at their `mountPath` in the process's mount
//!   namespace. So in-cluster clients (the operator) find
//!   `/var/run/secrets/kubernetes.io/serviceaccount` as in a real pod, plus
//!   `KUBERNETES_SERVICE_HOST=127.0.0.1` and the apiserver's port.
//! - **Env**: `value`, `fieldRef` (name, namespace, uid, podIP, nodeName, serviceAccountName,
//!   labels/annotations), ConfigMap/Secret keys; `$(VAR)` in command/args is expanded.
//! - **Status**: Running with podIP as soon as the process starts; Ready follows the readiness
//!   probe (TCP connect to the container port; no probe = running); a crashed container is
//!   restarted with back-off and `restartCount` goes up.
//! - **Deletion**: a terminating pod's processes get SIGTERM, then SIGKILL after the grace
//!   period (capped), and the pod is deleted with grace 0 (what a kubelet confirms).

pub mod agent;
