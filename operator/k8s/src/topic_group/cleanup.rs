//! Leaving the brokers: cleanup behind the finalizer (delete what this CR owns) and unmanaging
//! (`rmq.dev/managed: "false"`: drop the finalizer, leave the broker object as it is).

use super::apply::{cluster_admin, describe, observation};
use super::managed::{MANAGED_CONDITION, Managed};
use super::report::{event, write_status};
use crate::context::Context;
use crate::{Error, Result, conditions, labels, one_line};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use rmq_model::Condition;
use rmq_model::plan::{Action as PlanAction, Desired, plan};
use std::collections::BTreeSet;

/// Deletes from the brokers what the CR owns (nothing else is declared, so the plan prunes it).
pub async fn cleanup<K: Managed>(obj: &K, ctx: &Context) -> Result<Action> {
    let ns = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    let cluster = obj.cluster_name().to_owned();
    let admin = match cluster_admin(ctx, &ns, &cluster).await {
        Ok(Some((a, _))) => a,
        // The cluster is gone (or going): its brokers and their topics go with it.
        Ok(None) => return Ok(Action::await_change()),
        Err(msg) => return Err(Error::ClusterNotReady(msg)),
    };
    let scope = BTreeSet::from([cluster.clone()]);
    let observation = observation(ctx, &ns, &cluster);
    let desired = pruning(&cluster, obj.manager());
    let actions = observation
        .with(
            admin.name_servers(),
            || admin.observe(&scope),
            |observed| plan(&desired, observed),
        )
        .await
        .map_err(|e| Error::Admin(format!("cannot delete from cluster {cluster}: {e}")))?
        .map_err(|errs| {
            observation.invalidate();
            Error::Admin(one_line(&errs))
        })?;
    let report = admin.execute(&actions, |_, _| {}).await;
    if let Some((action, err)) = report.failed {
        observation.invalidate();
        return Err(Error::Admin(format!("{} failed: {err}", describe(&action))));
    }
    observation.record(&report.done);
    if report.done.iter().any(|a| {
        matches!(
            a,
            PlanAction::DeleteTopic { .. } | PlanAction::DeleteGroup { .. }
        )
    }) {
        tracing::info!(kind = K::CONTROLLER, name = %obj.name_any(), "deleted from the brokers");
    }
    Ok(Action::await_change())
}

/// The plan declaring nothing in `cluster`: everything `manager` owns there is deleted.
pub fn pruning(cluster: &str, manager: String) -> Desired {
    Desired {
        manager,
        scope: BTreeSet::from([cluster.to_owned()]),
        ..Desired::default()
    }
}

/// Stops managing `obj`: removes the finalizer (with an Event) and, unless it is being deleted,
/// says `Managed=False` in its status.
pub async fn unmanage<K: Managed>(api: &Api<K>, obj: &K, ctx: &Context) -> Result<Action> {
    let finalizers: Vec<String> = obj.finalizers().to_vec();
    if finalizers.iter().any(|f| f == K::FINALIZER) {
        let keep: Vec<&String> = finalizers.iter().filter(|f| *f != K::FINALIZER).collect();
        let patch = serde_json::json!({
            "metadata": {"finalizers": keep, "resourceVersion": obj.resource_version()}
        });
        api.patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(Error::kube("remove finalizer"))?;
        let note = format!(
            "{} is \"false\": the operator no longer changes or deletes this object on the brokers",
            labels::MANAGED
        );
        event(ctx, obj, EventType::Normal, "Unmanaged", &note).await;
    }
    if obj.meta().deletion_timestamp.is_none() {
        let mut conds: Vec<Condition> = obj
            .conditions()
            .into_iter()
            .filter(|c| c.type_ != MANAGED_CONDITION)
            .collect();
        conds.push(conditions::cond(
            MANAGED_CONDITION,
            false,
            "ManagedAnnotation",
            format!("{} is \"false\"", labels::MANAGED),
        ));
        write_status(api, obj, conds, Vec::new()).await?;
    }
    Ok(Action::await_change())
}
