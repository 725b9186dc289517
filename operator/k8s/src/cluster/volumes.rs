//! Volume expansion. A StatefulSet's `volumeClaimTemplates` cannot change after creation, so a
//! larger `spec.brokers.storage.size` is applied to the claims themselves:
//! - [`keep_claim_templates`] (pure): the StatefulSets are applied with the claim templates they
//!   already have, never the new size (the API server would refuse the whole StatefulSet);
//! - [`expand_claims`]: every `data-<pod>` claim of the cluster smaller than the spec is patched
//!   to the new size. Whether the volume can grow is the StorageClass's business
//!   (`allowVolumeExpansion`); when it cannot, the API server's refusal is reported (condition
//!   `ApplyFailed`) with the class named. Shrinking is refused at admission and by validation.

use crate::{Error, Result, labels};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use rmq_model::validate::parse_quantity;

/// Desired StatefulSets with the claim templates of the live ones (by name) where they exist.
pub fn keep_claim_templates(desired: &mut [StatefulSet], live: &[StatefulSet]) {
    for sts in desired {
        let Some(existing) = live.iter().find(|l| l.name_any() == sts.name_any()) else {
            continue;
        };
        let templates = existing
            .spec
            .as_ref()
            .and_then(|s| s.volume_claim_templates.clone());
        if let (Some(spec), Some(t)) = (sts.spec.as_mut(), templates) {
            spec.volume_claim_templates = Some(t);
        }
    }
}

/// The requested size of a claim, in bytes.
fn requested(pvc: &PersistentVolumeClaim) -> Option<u64> {
    let q = pvc
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")?;
    parse_quantity(&q.0)
}

/// Claims of the cluster's brokers that ask for less than `size`.
pub fn too_small<'a>(
    claims: &'a [PersistentVolumeClaim],
    size: &str,
) -> Vec<&'a PersistentVolumeClaim> {
    let Some(want) = parse_quantity(size) else {
        return Vec::new();
    };
    claims
        .iter()
        .filter(|c| requested(c).is_some_and(|have| have < want))
        .collect()
}

/// Patches every broker data claim of `cluster` smaller than `size` up to it; returns the
/// names of the claims resized.
pub async fn expand_claims(
    client: &Client,
    ns: &str,
    cluster: &str,
    size: &str,
) -> Result<Vec<String>> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!(
        "{}={cluster},{}={}",
        labels::CLUSTER,
        labels::COMPONENT,
        labels::COMPONENT_BROKER
    ));
    let claims = api
        .list(&lp)
        .await
        .map_err(Error::kube(format!("list data claims of {cluster}")))?
        .items;
    let mut resized = Vec::new();
    for claim in too_small(&claims, size) {
        let name = claim.name_any();
        let class = claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.clone())
            .unwrap_or_else(|| "the default class".to_owned());
        let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": size}}}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::kube(format!(
                "resize claim {name} to {size} (storage class {class} must allow volume expansion)"
            )))?;
        resized.push(name);
    }
    Ok(resized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(name: &str, size: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"resources": {"requests": {"storage": size}}}
        }))
        .unwrap()
    }

    #[test]
    fn only_smaller_claims_grow() {
        let claims = [
            claim("data-a-0", "20Gi"),
            claim("data-a-1", "50Gi"),
            claim("data-b-0", "1Ti"),
        ];
        let small: Vec<String> = too_small(&claims, "50Gi")
            .iter()
            .map(|c| c.name_any())
            .collect();
        assert_eq!(small, ["data-a-0"]);
    }

    #[test]
    fn live_claim_templates_are_kept() {
        let sts = |size: &str| -> StatefulSet {
            serde_json::from_value(json!({
                "metadata": {"name": "c-broker-a"},
                "spec": {"selector": {}, "serviceName": "x", "template": {},
                         "volumeClaimTemplates": [{"metadata": {"name": "data"},
                             "spec": {"resources": {"requests": {"storage": size}}}}]}
            }))
            .unwrap()
        };
        let mut desired = vec![sts("50Gi")];
        keep_claim_templates(&mut desired, &[sts("20Gi")]);
        let t = &desired[0]
            .spec
            .as_ref()
            .unwrap()
            .volume_claim_templates
            .as_ref()
            .unwrap()[0];
        assert_eq!(requested(t), parse_quantity("20Gi"));
    }
}
