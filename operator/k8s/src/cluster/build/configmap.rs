//! The ConfigMap of a broker group: one key per broker pod, `<pod>.conf`, holding the
//! `broker.conf` rmq-model rendered for it (brokerId, role, advertised Service name, nameserver
//! DNS names, `spec.brokers.config`), and the config hash that rolls the pods when it changes.

use super::{BuildInput, meta, names};
use crate::labels;
use k8s_openapi::api::core::v1::ConfigMap;
use rmq_model::BrokerNode;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The ConfigMap key of a broker pod's configuration.
pub fn conf_key(pod: &str) -> String {
    format!("{pod}.conf")
}

/// The ConfigMap of `group`.
pub fn broker_group(
    cluster: &str,
    group: &str,
    nodes: &[&BrokerNode],
    input: &BuildInput,
) -> ConfigMap {
    let data: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| {
            (
                conf_key(&names::broker(cluster, group, n.broker_id)),
                n.broker_conf.clone(),
            )
        })
        .collect();
    ConfigMap {
        metadata: meta(
            &names::group(cluster, group),
            input,
            labels::component(cluster, labels::COMPONENT_BROKER, Some(group)),
        ),
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// SHA-256 (first 16 hex digits) over the ConfigMap's keys and values, in key order. Stable
/// across operator builds, so upgrading the operator does not roll pods by itself.
pub fn config_hash(cm: &ConfigMap) -> String {
    let mut h = Sha256::new();
    for (k, v) in cm.data.iter().flatten() {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    let mut out = String::new();
    for b in h.finalize().iter().take(8) {
        let _ = write!(out, "{b:02x}");
    }
    out
}
