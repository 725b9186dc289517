//! The `RocketMQCluster` controller: `validate → build → apply → status`, one stage per module.
//!
//! - validate: [`rmq_model::validate`] (pure; every problem with its field path and fix).
//! - [`build`]: pure, the desired objects ([`build::KubernetesResources<Prepared>`]).
//! - [`apply`]: server-side apply + pruning, returns [`build::KubernetesResources<Applied>`].
//! - [`status`]: conditions from the applied objects, status subresource, Events.
//!
//! The controller owns StatefulSets, Services, ConfigMaps and PDBs, so a change to any of them
//! (including a StatefulSet's status during a roll) reconciles the cluster again; someone
//! editing an owned object by hand is reverted on the next reconcile.

pub mod apply;
pub mod build;
pub mod status;

#[cfg(test)]
mod tests;

use crate::context::{Context, Settings, reconcile_event, scoped};
use crate::{Error, Result, conditions, labels, one_line};
use build::BuildInput;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::ListParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use rmq_model::types::condition_types::READY;
use rmq_model::{ConditionStatus, RocketMQCluster};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Controller name (metrics label).
pub const CONTROLLER: &str = "cluster";

/// Runs the controller until `shutdown` resolves. `namespace` limits it to one namespace.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    let wc = || {
        watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER))
    };
    Controller::new(
        scoped::<RocketMQCluster>(&client, ns),
        watcher::Config::default(),
    )
    .owns(scoped::<StatefulSet>(&client, ns), wc())
    .owns(scoped::<Service>(&client, ns), wc())
    .owns(scoped::<ConfigMap>(&client, ns), wc())
    .owns(scoped::<PodDisruptionBudget>(&client, ns), wc())
    .graceful_shutdown_on(shutdown)
    .run(reconcile, error_policy, ctx)
    .for_each(|res| async move {
        match res {
            Ok((obj, _)) => tracing::debug!(cluster = %obj.name, "reconciled"),
            Err(e) => tracing::debug!(error = %e, "cluster reconcile failed"),
        }
    })
    .await;
}

fn error_policy(cluster: Arc<RocketMQCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(CONTROLLER, error);
    tracing::warn!(cluster = %cluster.name_any(), error = %error, "reconcile failed");
    error.retry()
}

/// One reconcile of a cluster: pause, or validate → build → apply → status.
#[tracing::instrument(skip(cluster, ctx), fields(cluster = %cluster.name_any(), ns = cluster.namespace().as_deref().unwrap_or("")))]
pub async fn reconcile(cluster: Arc<RocketMQCluster>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile(CONTROLLER);
    let ns = cluster
        .namespace()
        .ok_or(Error::MissingField("namespace"))?;
    let api: Api<RocketMQCluster> = Api::namespaced(ctx.client.clone(), &ns);
    if cluster.meta().deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove every owned object.
        return Ok(Action::await_change());
    }
    if labels::annotation_true(cluster.meta().annotations.as_ref(), labels::PAUSE) {
        return pause(&api, &cluster, &ctx).await;
    }
    let validated = match rmq_model::validate(&cluster) {
        Ok(v) => v,
        Err(errs) => return Err(fail(&api, &cluster, &ctx, Error::Invalid(one_line(&errs))).await),
    };
    let input = build_input(&cluster, &ns, &ctx.settings)?;
    let namesrv_addr = build::desired(&validated, &input).namesrv_addr();
    let resources = build::build(&validated, &input);
    let applied = match apply::apply(
        &ctx.client,
        &ns,
        &cluster.name_any(),
        &input.owner.uid,
        resources,
    )
    .await
    {
        Ok((applied, report)) => {
            announce_pruned(&ctx, &cluster, &report).await;
            applied
        }
        Err(e) => return Err(fail(&api, &cluster, &ctx, e).await),
    };
    let ready = update_status(&api, &cluster, &ctx, &ns, &applied, namesrv_addr).await?;
    Ok(Action::requeue(Duration::from_secs(if ready {
        300
    } else {
        5
    })))
}

/// Paused: every object is left as it is, `ReconciliationPaused=True` says so (with an Event
/// when it starts).
async fn pause(
    api: &Api<RocketMQCluster>,
    cluster: &RocketMQCluster,
    ctx: &Context,
) -> Result<Action> {
    let old = cluster.status.clone().unwrap_or_default();
    let mut conds: Vec<_> = old
        .conditions
        .iter()
        .filter(|c| c.type_ != conditions::PAUSED)
        .cloned()
        .collect();
    conds.push(conditions::cond(
        conditions::PAUSED,
        true,
        "PauseAnnotation",
        format!(
            "{} is \"true\": the operator changes nothing until it is removed",
            labels::PAUSE
        ),
    ));
    let mut st = old.clone();
    st.conditions = conditions::merge(
        &old.conditions,
        conds,
        old.observed_generation,
        &conditions::now_rfc3339(),
    );
    if !conditions::is_true(&old.conditions, conditions::PAUSED) {
        let ev = reconcile_event(
            EventType::Normal,
            "ReconciliationPaused",
            "reconciliation paused by annotation",
        );
        ctx.publish(cluster, ev).await;
    }
    status::patch(api, cluster, st).await?;
    Ok(Action::await_change())
}

/// Reports a spec that is invalid (`InvalidSpec`) or could not be applied (`ApplyFailed`) in
/// the status and an Event, keeping the last known counts; returns `error` for the
/// reconcile to fail with.
async fn fail(
    api: &Api<RocketMQCluster>,
    cluster: &RocketMQCluster,
    ctx: &Context,
    error: Error,
) -> Error {
    let old = cluster.status.clone().unwrap_or_default();
    let (reason, msg) = match &error {
        Error::Invalid(msg) => ("InvalidSpec", msg.clone()),
        other => ("ApplyFailed", other.to_string()),
    };
    let st = status::assemble(
        cluster,
        status::failed(reason, &msg),
        old.groups.clone(),
        (old.brokers, old.ready_brokers),
        None,
    );
    // An invalid spec is announced once; a failed apply on every attempt.
    let repeated = reason == "InvalidSpec"
        && conditions::find(&old.conditions, READY)
            .is_some_and(|c| c.reason == reason && c.message == msg);
    if !repeated {
        ctx.publish(cluster, reconcile_event(EventType::Warning, reason, &msg))
            .await;
    }
    match status::patch(api, cluster, st).await {
        Ok(()) => error,
        Err(patch_error) => patch_error,
    }
}

/// What build needs besides the validated spec: the owner reference, the namespace, the image.
fn build_input(cluster: &RocketMQCluster, ns: &str, settings: &Settings) -> Result<BuildInput> {
    let owner = cluster
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("uid"))?;
    Ok(BuildInput {
        owner,
        namespace: ns.to_owned(),
        image: build::image(
            cluster.spec.image.as_deref(),
            cluster.spec.version.as_deref(),
            &settings.default_image,
        ),
        image_pull_policy: settings.image_pull_policy.clone(),
        cluster_domain: settings.cluster_domain.clone(),
    })
}

/// An Event for every object deleted as no longer part of the spec.
async fn announce_pruned(ctx: &Context, cluster: &RocketMQCluster, report: &apply::ApplyReport) {
    for p in &report.pruned {
        let note = format!("deleted {p}: no longer part of the cluster spec");
        ctx.publish(
            cluster,
            reconcile_event(EventType::Normal, "Deleted", &note),
        )
        .await;
    }
}

/// Computes the status from the applied objects and the ready broker pods, writes it (with an
/// Event when the Ready/Progressing/Degraded picture changed) and returns whether it is Ready.
async fn update_status(
    api: &Api<RocketMQCluster>,
    cluster: &RocketMQCluster,
    ctx: &Context,
    ns: &str,
    applied: &build::KubernetesResources<build::Applied>,
    namesrv_addr: String,
) -> Result<bool> {
    let ready_pods = ready_pods(ctx, ns, &cluster.name_any()).await?;
    let old = cluster.status.clone().unwrap_or_default();
    let sets = status::states(applied);
    // "Creating" until the cluster was Ready once; "RollingUpdate" afterwards.
    let first_rollout = conditions::find(&old.conditions, READY)
        .is_none_or(|c| c.status != ConditionStatus::True && c.reason == "Creating");
    let (conds, groups, brokers, ready_brokers) = status::compute(
        &sets,
        &|sts: &str| ready_pods.contains(&format!("{sts}-0")),
        first_rollout,
    );
    let ready = conditions::is_true(&conds, READY);
    let st = status::assemble(
        cluster,
        conds,
        groups,
        (brokers, ready_brokers),
        Some(namesrv_addr),
    );
    if let Some(ev) = status::transition_event(&old.conditions, &st.conditions) {
        ctx.publish(cluster, ev).await;
    }
    status::patch(api, cluster, st).await?;
    Ok(ready)
}

async fn ready_pods(ctx: &Context, ns: &str, cluster: &str) -> Result<BTreeSet<String>> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let lp = ListParams::default().labels(&format!(
        "{}={cluster},{}={}",
        labels::CLUSTER,
        labels::COMPONENT,
        labels::COMPONENT_BROKER
    ));
    let list = pods
        .list(&lp)
        .await
        .map_err(Error::kube(format!("list broker pods of {cluster}")))?;
    Ok(list
        .into_iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                && p.metadata.deletion_timestamp.is_none()
        })
        .map(|p| p.name_any())
        .collect())
}
