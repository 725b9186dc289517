//! PodDisruptionBudgets: at most one nameserver, and at most one broker per group, may be
//! voluntarily disrupted (drained, evicted) at a time.

use super::{BuildInput, meta};
use crate::labels;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The PDB `name` over the pods of `component` (and `group`).
pub fn pdb(
    name: &str,
    input: &BuildInput,
    component: &str,
    group: Option<&str>,
) -> PodDisruptionBudget {
    let cluster = input.owner.name.as_str();
    PodDisruptionBudget {
        metadata: meta(name, input, labels::component(cluster, component, group)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(labels::selector(cluster, component, group)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
