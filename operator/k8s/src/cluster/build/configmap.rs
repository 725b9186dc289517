//! The ConfigMap of a broker group: one key per broker pod, `<pod>.conf`, holding the
//! `broker.conf` rmq-model rendered for it (brokerId, role, advertised Service name, nameserver
//! DNS names, `spec.brokers.config`) plus `rmqConfigHash`, the hash of that pod's restart-only
//! settings. The broker reports the hash back (GET_BROKER_CONFIG), so the roller restarts
//! exactly the pods whose own settings changed; a change of runtime keys only
//! ([`rmq_model::defaults::RUNTIME_BROKER_KEYS`]) is pushed to the running brokers instead.

use super::{BuildInput, meta, names};
use crate::labels;
use k8s_openapi::api::core::v1::ConfigMap;
use rmq_model::BrokerNode;
use rmq_model::admin::parse_properties;
use rmq_model::defaults::{CONFIG_HASH_KEY, RUNTIME_BROKER_KEYS};
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
                with_hash(&n.broker_conf),
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

/// The nameservers' ConfigMap: `namesrv.conf` with the keys of `spec.security`.
pub fn namesrv(cluster: &str, conf: &str, input: &BuildInput) -> ConfigMap {
    ConfigMap {
        metadata: meta(
            &names::namesrv(cluster),
            input,
            labels::component(cluster, labels::COMPONENT_NAMESRV, None),
        ),
        data: Some(BTreeMap::from([(
            super::statefulset::NAMESRV_CONF_KEY.to_owned(),
            conf.to_owned(),
        )])),
        ..ConfigMap::default()
    }
}

/// `conf` with its `rmqConfigHash` line appended.
fn with_hash(conf: &str) -> String {
    let mut out = conf.trim_end().to_owned();
    let _ = write!(out, "\n{CONFIG_HASH_KEY}={}\n", restart_hash(conf));
    out
}

/// SHA-256 (first 16 hex digits) over the restart-only settings of a broker.conf: every key
/// but the runtime keys and the hash itself, in key order, values trimmed. Stable across
/// operator builds and key order, so upgrading the operator does not roll pods by itself.
pub fn restart_hash(conf: &str) -> String {
    let mut h = Sha256::new();
    for (k, v) in parse_properties(conf) {
        if k == CONFIG_HASH_KEY || RUNTIME_BROKER_KEYS.contains(&k.as_str()) {
            continue;
        }
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    hex16(h)
}

/// The runtime keys (UPDATE_BROKER_CONFIG) a broker.conf sets, with their values.
pub fn runtime_settings(conf: &str) -> BTreeMap<String, String> {
    let mut p = parse_properties(conf);
    p.retain(|k, _| RUNTIME_BROKER_KEYS.contains(&k.as_str()));
    p
}

fn hex16(h: Sha256) -> String {
    let mut out = String::new();
    for b in h.finalize().iter().take(8) {
        let _ = write!(out, "{b:02x}");
    }
    out
}
