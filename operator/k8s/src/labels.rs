//! Label and annotation keys the operator writes on the objects it owns and reads on the CRs.
//! Objects are selected for pruning by [`CLUSTER`] + [`MANAGED_BY`] and then checked for an
//! owner reference to the cluster's uid, so objects someone else labelled alike are left alone.

use std::collections::BTreeMap;

/// `app.kubernetes.io/name`: always `rmq`.
pub const NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/instance`: the cluster name.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/component`: `namesrv`, `controller` or `broker`.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// `app.kubernetes.io/managed-by`: [`MANAGER`].
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The cluster an object belongs to.
pub const CLUSTER: &str = "rmq.dev/cluster";
/// The broker group (`broker-a`) of a broker object.
pub const BROKER_GROUP: &str = "rmq.dev/broker-group";
/// Label the StatefulSet controller puts on each pod (used by per-broker Services).
pub const STS_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";

/// Field manager and `managed-by` value.
pub const MANAGER: &str = "rmq-operator";

/// CR annotation: `"true"` pauses reconciliation of a cluster (status says so).
pub const PAUSE: &str = "rmq.dev/pause-reconciliation";
/// CR annotation on a topic or consumer group: `"false"` stops managing it (the finalizer is
/// removed and the broker object is left as it is).
pub const MANAGED: &str = "rmq.dev/managed";

/// Component of the nameserver objects.
pub const COMPONENT_NAMESRV: &str = "namesrv";
/// Component of the broker objects.
pub const COMPONENT_BROKER: &str = "broker";
/// Component of the controller objects (`failover: Automatic`).
pub const COMPONENT_CONTROLLER: &str = "controller";

/// Labels shared by every object of `cluster`.
pub fn common(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_owned(), "rmq".to_owned()),
        (INSTANCE.to_owned(), cluster.to_owned()),
        (MANAGED_BY.to_owned(), MANAGER.to_owned()),
        (CLUSTER.to_owned(), cluster.to_owned()),
    ])
}

/// Labels of a component (`namesrv`, `broker`), optionally of one broker group.
pub fn component(cluster: &str, component: &str, group: Option<&str>) -> BTreeMap<String, String> {
    let mut l = common(cluster);
    l.insert(COMPONENT.to_owned(), component.to_owned());
    if let Some(g) = group {
        l.insert(BROKER_GROUP.to_owned(), g.to_owned());
    }
    l
}

/// Selector labels of a component (stable: never add keys here, selectors are immutable).
pub fn selector(cluster: &str, component: &str, group: Option<&str>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        (NAME.to_owned(), "rmq".to_owned()),
        (CLUSTER.to_owned(), cluster.to_owned()),
        (COMPONENT.to_owned(), component.to_owned()),
    ]);
    if let Some(g) = group {
        l.insert(BROKER_GROUP.to_owned(), g.to_owned());
    }
    l
}

/// The label selector string of everything the operator made for `cluster`.
pub fn owned_selector(cluster: &str) -> String {
    format!("{CLUSTER}={cluster},{MANAGED_BY}={MANAGER}")
}

/// True if annotation `key` is `"true"`.
pub fn annotation_true(annotations: Option<&BTreeMap<String, String>>, key: &str) -> bool {
    annotations
        .and_then(|a| a.get(key))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// True if annotation `key` is `"false"`.
pub fn annotation_false(annotations: Option<&BTreeMap<String, String>>, key: &str) -> bool {
    annotations
        .and_then(|a| a.get(key))
        .is_some_and(|v| v.eq_ignore_ascii_case("false"))
}
