//! Apply: server-side apply of every built object with the field manager `rmq-operator`
//! (forced: the operator owns these fields), then deletion of objects no longer desired.
//!
//! Order (so pods never start against missing config): ConfigMaps, Services, PDBs, then
//! StatefulSets (nameservers before broker groups). Pruning lists each kind by the cluster's
//! label selector and deletes objects that were not applied this round *and* carry an owner
//! reference to this cluster's uid — e.g. the group `broker-c` after `groups` went from 3 to 2
//! (refused at admission today, allowed once safe scale-in lands). PVCs are never pruned.
//! StatefulSets keep the claim templates they were created with ([`super::volumes`]).

use super::build::{Applied, KubernetesResources, Prepared};
use crate::{Error, Result, labels};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;

/// What apply did besides applying.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// `Kind/name` of objects deleted as no longer desired.
    pub pruned: Vec<String>,
}

async fn apply_all<K>(client: &Client, ns: &str, objects: Vec<K>) -> Result<Vec<K>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let pp = PatchParams::apply(labels::MANAGER).force();
    let mut out = Vec::with_capacity(objects.len());
    for obj in objects {
        let name = obj.name_any();
        let applied = api
            .patch(&name, &pp, &Patch::Apply(&obj))
            .await
            .map_err(Error::kube(format!("apply {} {name}", K::kind(&()))))?;
        out.push(applied);
    }
    Ok(out)
}

async fn prune<K>(
    client: &Client,
    ns: &str,
    cluster: &str,
    owner_uid: &str,
    keep: &BTreeSet<String>,
    report: &mut ApplyReport,
) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let kind = K::kind(&());
    let lp = ListParams::default().labels(&labels::owned_selector(cluster));
    let list = api
        .list(&lp)
        .await
        .map_err(Error::kube(format!("list {kind} of cluster {cluster}")))?;
    for obj in list {
        let name = obj.name_any();
        let ours = obj.owner_references().iter().any(|o| o.uid == owner_uid);
        if !ours || keep.contains(&name) || obj.meta().deletion_timestamp.is_some() {
            continue;
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(Error::kube(format!("delete {kind} {name}"))(e)),
        }
        report.pruned.push(format!("{kind}/{name}"));
    }
    Ok(())
}

fn names<K: Resource>(objects: &[K]) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|o| o.meta().name.clone())
        .collect()
}

/// Applies `resources` in namespace `ns` and prunes what `cluster` (uid `owner_uid`) no longer
/// needs.
pub async fn apply(
    client: &Client,
    ns: &str,
    cluster: &str,
    owner_uid: &str,
    resources: KubernetesResources<Prepared>,
) -> Result<(KubernetesResources<Applied>, ApplyReport)> {
    // Exhaustive destructuring: adding a field to KubernetesResources fails to compile here
    // instead of silently never being applied.
    let KubernetesResources {
        config_maps,
        services,
        pdbs,
        stateful_sets,
        state: _,
    } = resources;
    let keep_cm = names(&config_maps);
    let keep_svc = names(&services);
    let keep_pdb = names(&pdbs);
    let keep_sts = names(&stateful_sets);
    let config_maps = apply_all(client, ns, config_maps).await?;
    let services = apply_all(client, ns, services).await?;
    let pdbs = apply_all(client, ns, pdbs).await?;
    let mut stateful_sets = stateful_sets;
    let live: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&labels::owned_selector(cluster));
    let live = live.list(&lp).await.map_err(Error::kube(format!(
        "list StatefulSets of cluster {cluster}"
    )))?;
    super::volumes::keep_claim_templates(&mut stateful_sets, &live.items);
    let stateful_sets = apply_all(client, ns, stateful_sets).await?;
    let mut report = ApplyReport::default();
    use k8s_openapi::api::core::v1::{ConfigMap, Service};
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    // StatefulSets first, so pods stop before their Services and config disappear.
    prune::<StatefulSet>(client, ns, cluster, owner_uid, &keep_sts, &mut report).await?;
    prune::<PodDisruptionBudget>(client, ns, cluster, owner_uid, &keep_pdb, &mut report).await?;
    prune::<Service>(client, ns, cluster, owner_uid, &keep_svc, &mut report).await?;
    prune::<ConfigMap>(client, ns, cluster, owner_uid, &keep_cm, &mut report).await?;
    Ok((
        KubernetesResources::new(config_maps, services, pdbs, stateful_sets),
        report,
    ))
}
