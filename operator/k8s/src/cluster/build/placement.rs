//! Where pods run and what they reserve, from a role's [`PodOptions`]: resources, anti-affinity
//! between the pods of one broker group (or the nameservers) on `kubernetes.io/hostname`,
//! spreading over `topology.kubernetes.io/zone`, node selector, tolerations, priority class.
//!
//! Anti-affinity is `preferred` by default (a single-node cluster still runs a master and its
//! slave) and `required` on request; the zone spread is always `ScheduleAnyway`, so nodes without
//! zone labels schedule as before.

use k8s_openapi::api::core::v1::{
    Affinity, PodAffinityTerm, PodAntiAffinity, PodSpec, ResourceRequirements, Toleration,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use rmq_model::types::{AntiAffinity, PodOptions, ResourceAmounts};
use std::collections::BTreeMap;

/// Node label the anti-affinity keeps pods apart on.
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
/// Node label pods spread over.
pub const ZONE_KEY: &str = "topology.kubernetes.io/zone";

fn amounts(a: &ResourceAmounts) -> Option<BTreeMap<String, Quantity>> {
    let map: BTreeMap<String, Quantity> = [("cpu", &a.cpu), ("memory", &a.memory)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), Quantity(v.clone()))))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// The main container's requests and limits.
pub fn resources(pod: &PodOptions) -> Option<ResourceRequirements> {
    let r = pod.resources.as_ref()?;
    Some(ResourceRequirements {
        requests: amounts(&r.requests),
        limits: amounts(&r.limits),
        ..ResourceRequirements::default()
    })
}

fn selector(labels: &BTreeMap<String, String>) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: Some(labels.clone()),
        ..LabelSelector::default()
    })
}

/// Pods matching `peers` (the same group, or the nameservers) avoid one node.
pub fn affinity(pod: &PodOptions, peers: &BTreeMap<String, String>) -> Affinity {
    let term = PodAffinityTerm {
        label_selector: selector(peers),
        topology_key: HOSTNAME_KEY.to_owned(),
        ..PodAffinityTerm::default()
    };
    let anti = match pod.anti_affinity {
        AntiAffinity::Preferred => PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: term,
                },
            ]),
            ..PodAntiAffinity::default()
        },
        AntiAffinity::Required => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term]),
            ..PodAntiAffinity::default()
        },
    };
    Affinity {
        pod_anti_affinity: Some(anti),
        ..Affinity::default()
    }
}

/// Pods matching `peers` spread evenly over zones, best effort.
pub fn zone_spread(peers: &BTreeMap<String, String>) -> Vec<TopologySpreadConstraint> {
    vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: ZONE_KEY.to_owned(),
        when_unsatisfiable: "ScheduleAnyway".to_owned(),
        label_selector: selector(peers),
        ..TopologySpreadConstraint::default()
    }]
}

fn tolerations(pod: &PodOptions) -> Option<Vec<Toleration>> {
    let list: Vec<Toleration> = pod
        .tolerations
        .iter()
        .map(|t| Toleration {
            key: t.key.clone(),
            operator: t.operator.clone(),
            value: t.value.clone(),
            effect: t.effect.clone(),
            toleration_seconds: t.toleration_seconds,
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

/// `spec` with the placement of `pod` for pods matching `peers`.
pub fn place(spec: PodSpec, pod: &PodOptions, peers: &BTreeMap<String, String>) -> PodSpec {
    PodSpec {
        affinity: Some(affinity(pod, peers)),
        topology_spread_constraints: Some(zone_spread(peers)),
        node_selector: (!pod.node_selector.is_empty()).then(|| pod.node_selector.clone()),
        tolerations: tolerations(pod),
        priority_class_name: pod.priority_class_name.clone(),
        ..spec
    }
}

/// `generated` labels (or annotations) over the user's `extra`: the generated ones win.
pub fn merged(
    extra: &BTreeMap<String, String>,
    generated: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = extra.clone();
    out.extend(generated);
    out
}
