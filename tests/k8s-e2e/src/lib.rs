//! Test harness of the Kubernetes tier (test code, not product): the `rmq-e2e-probe` binary
//! (admin-protocol checks and the Topic-CR benchmark of `tests/k8s-e2e/run.sh`). The node the
//! suite runs pods on is a real one (`tests/k8s/start-node.sh`), so nothing here stands in for a
//! kubelet any more.
