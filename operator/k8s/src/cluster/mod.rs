//! The `RocketMQCluster` controller: `validate → build → apply → status`, one stage per module.
//!
//! - validate: [`rmq_model::validate`] (pure; every problem with its field path and fix).
//! - [`build`]: pure, the desired objects ([`build::KubernetesResources<Prepared>`]).
//! - [`apply`]: server-side apply + pruning, returns [`build::KubernetesResources<Applied>`].
//! - [`roll`]: the broker roller — runtime settings pushed, at most one broker pod restarted
//!   per pass, in a RocketMQ-safe order (slaves first, master when a slave is in sync).
//! - [`status`]: conditions from the applied objects and the roll, status subresource, Events.
//!
//! The controller owns StatefulSets, Services, ConfigMaps and PDBs, so a change to any of them
//! (including a StatefulSet's status during a roll) reconciles the cluster again; someone
//! editing an owned object by hand is reverted on the next reconcile.

pub mod apply;
pub mod build;
pub mod capacity;
pub mod external;
pub mod monitoring;
pub mod roll;
pub mod scale_in;
pub mod status;
pub mod volumes;

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
use rmq_model::types::ListenerType;
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
    if let Err(e) = check_capacity(&ctx, &validated).await {
        return Err(fail(&api, &cluster, &ctx, e).await);
    }
    let mut input = build_input(&cluster, &ns, &ctx.settings)?;
    let services = list_of::<Service>(&ctx, &ns, &cluster.name_any(), None).await?;
    if validated.listener.kind == ListenerType::LoadBalancer {
        input.external_hosts = external::broker_lb_hosts(&services);
    }
    let (to_build, scale) = match groups_to_build(&ctx, &cluster, &ns, &validated, &input).await {
        Ok(v) => v,
        Err(e) => return Err(fail(&api, &cluster, &ctx, e).await),
    };
    let desired = build::desired(&to_build, &input);
    let resources = build::build(&to_build, &input);
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
            if !scale.draining() {
                scale_in::finish(&ctx, &cluster, &validated, &scale).await?;
            }
            applied
        }
        Err(e) => return Err(fail(&api, &cluster, &ctx, e).await),
    };
    let monitoring_applied = monitoring::ensure(&ctx, &cluster, &validated, &input).await;
    if let Err(e) = expand_volumes(&ctx, &cluster, &ns, &validated.storage_size).await {
        return Err(fail(&api, &cluster, &ctx, e).await);
    }
    let roll::Pass {
        step,
        ready_masters,
    } = match roll_pass(&ctx, &cluster, &ns, &desired, &applied).await {
        Ok(pass) => pass,
        Err(e) => return Err(fail(&api, &cluster, &ctx, e).await),
    };
    let observed = Observed {
        validated: &validated,
        desired: &desired,
        services: &applied.services,
        roll: roll::report::roll_status(&step).or_else(|| scale.status(&cluster.name_any())),
        ready_masters: &ready_masters,
    };
    let ready = update_status(&api, &cluster, &ctx, &ns, &applied, observed).await?;
    // A roll moves one pod per pass: look again soon.
    let secs = match (step, ready) {
        _ if scale.draining() => 5,
        (roll::plan::RollStep::Done, true) if monitoring_applied => 300,
        (roll::plan::RollStep::Done, true) => 15,
        (roll::plan::RollStep::Done, false) => 5,
        _ => 3,
    };
    Ok(Action::requeue(Duration::from_secs(secs)))
}

/// Refuses a cluster the cluster's nodes cannot hold (the shortfalls, as one error).
async fn check_capacity(ctx: &Context, validated: &rmq_model::ValidatedCluster) -> Result<()> {
    let shortfalls = capacity::check(&ctx.client, validated).await?;
    if shortfalls.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(shortfalls.join("; ")))
    }
}

/// Resizes the brokers' claims to `size` where they are smaller (Event `VolumeExpanded`).
async fn expand_volumes(
    ctx: &Context,
    cluster: &RocketMQCluster,
    ns: &str,
    size: &str,
) -> Result<()> {
    let resized = volumes::expand_claims(&ctx.client, ns, &cluster.name_any(), size).await?;
    if !resized.is_empty() {
        let note = format!("resized {} to {size}", resized.join(", "));
        let ev = reconcile_event(EventType::Normal, "VolumeExpanded", &note);
        ctx.publish(cluster, ev).await;
    }
    Ok(())
}

/// The cluster to build this pass: the spec's, or — while groups it no longer declares are
/// drained ([`scale_in`]) — the spec with those groups still in it.
async fn groups_to_build(
    ctx: &Context,
    cluster: &RocketMQCluster,
    ns: &str,
    validated: &rmq_model::ValidatedCluster,
    input: &build::BuildInput,
) -> Result<(rmq_model::ValidatedCluster, scale_in::ScaleIn)> {
    let name = cluster.name_any();
    let sets = list_of::<StatefulSet>(ctx, ns, &name, Some(labels::COMPONENT_BROKER)).await?;
    let existing = scale_in::existing_groups(&sets);
    if existing <= validated.groups {
        return Ok((validated.clone(), scale_in::ScaleIn::default()));
    }
    let mut extended = validated.clone();
    extended.groups = existing;
    let desired_ext = build::desired(&extended, input);
    let pods = list_of::<Pod>(ctx, ns, &name, Some(labels::COMPONENT_BROKER)).await?;
    let admin = ctx.admin(ns, &name, &desired_ext).await?;
    let scale = scale_in::pass(ctx, &admin, cluster, validated, &desired_ext, &sets, &pods).await?;
    let to_build = if scale.draining() {
        extended
    } else {
        validated.clone()
    };
    Ok((to_build, scale))
}

/// One pass of the broker roller over the freshly applied objects.
async fn roll_pass(
    ctx: &Context,
    cluster: &RocketMQCluster,
    ns: &str,
    desired: &rmq_model::DesiredCluster,
    applied: &build::KubernetesResources<build::Applied>,
) -> Result<roll::Pass> {
    let pods = list_of::<Pod>(ctx, ns, &cluster.name_any(), None).await?;
    let target = roll::RollTarget {
        cluster,
        namespace: ns,
        desired,
        stateful_sets: &applied.stateful_sets,
        pods: &pods,
    };
    roll::pass(ctx, &target).await
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
        external::ExternalStatus {
            name_server_address: old.external_name_server_address.clone(),
            brokers: old.external_broker_addresses.clone(),
        },
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
        external_hosts: std::collections::BTreeMap::new(),
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

/// What the status is computed from besides the applied StatefulSets.
struct Observed<'a> {
    validated: &'a rmq_model::ValidatedCluster,
    desired: &'a rmq_model::DesiredCluster,
    services: &'a [Service],
    roll: Option<rmq_model::RollStatus>,
    /// The Ready broker pods the roller saw running as master (see [`roll::Pass`]).
    ready_masters: &'a [String],
}

/// Computes the status from the applied objects and the ready broker pods, writes it (with an
/// Event when the Ready/Progressing/Degraded picture changed) and returns whether it is Ready.
async fn update_status(
    api: &Api<RocketMQCluster>,
    cluster: &RocketMQCluster,
    ctx: &Context,
    ns: &str,
    applied: &build::KubernetesResources<build::Applied>,
    observed: Observed<'_>,
) -> Result<bool> {
    let pods = list_of::<Pod>(ctx, ns, &cluster.name_any(), None).await?;
    let ready_pods = ready_broker_pods(&pods);
    let old = cluster.status.clone().unwrap_or_default();
    let sets = status::states(applied);
    // "Creating" until the cluster was Ready once; "RollingUpdate" afterwards.
    let first_rollout = conditions::find(&old.conditions, READY)
        .is_none_or(|c| c.status != ConditionStatus::True && c.reason == "Creating");
    // With fixed roles ordinal 0 is the master; with elected ones the Ready pod whose broker
    // reported MASTER to the roller this pass (none while the controllers elect one).
    let elected = observed.validated.failover.is_some();
    let master_ready = |sts: &str| {
        if elected {
            observed.ready_masters.iter().any(|p| {
                ready_pods.contains(p) && p.strip_prefix(sts).is_some_and(|r| r.starts_with('-'))
            })
        } else {
            ready_pods.contains(&format!("{sts}-0"))
        }
    };
    let (conds, groups, brokers, ready_brokers) =
        status::compute(&sets, &master_ready, first_rollout);
    let conds = roll::report::overlay(conds, observed.roll.as_ref());
    let ready = conditions::is_true(&conds, READY);
    let external = external::status(
        observed.validated,
        observed.desired,
        &pods,
        observed.services,
    );
    let mut st = status::assemble(
        cluster,
        conds,
        groups,
        (brokers, ready_brokers),
        Some(observed.desired.namesrv_addr()),
        external,
    );
    st.roll = observed.roll;
    if let Some(ev) = status::transition_event(&old.conditions, &st.conditions) {
        ctx.publish(cluster, ev).await;
    }
    status::patch(api, cluster, st).await?;
    Ok(ready)
}

/// The objects of kind `K` labelled with the cluster (and `component`, if given).
async fn list_of<K>(
    ctx: &Context,
    ns: &str,
    cluster: &str,
    component: Option<&str>,
) -> Result<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let mut selector = format!("{}={cluster}", labels::CLUSTER);
    if let Some(c) = component {
        selector.push_str(&format!(",{}={c}", labels::COMPONENT));
    }
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(Error::kube(format!("list {kind}s of {cluster}")))?;
    Ok(list.items)
}

/// Names of the broker pods that are Ready (and not being deleted).
fn ready_broker_pods(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter(|p| {
            p.labels().get(labels::COMPONENT).map(String::as_str) == Some(labels::COMPONENT_BROKER)
                && p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                && p.metadata.deletion_timestamp.is_none()
        })
        .map(ResourceExt::name_any)
        .collect()
}
