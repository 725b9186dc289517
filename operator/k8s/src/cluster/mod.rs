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

use crate::context::Context;
use crate::{Error, Result, conditions, labels};
use build::BuildInput;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::ListParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
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
    let wc = || {
        watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER))
    };
    Controller::new(
        scoped::<RocketMQCluster>(&client, &namespace),
        watcher::Config::default(),
    )
    .owns(scoped::<StatefulSet>(&client, &namespace), wc())
    .owns(scoped::<Service>(&client, &namespace), wc())
    .owns(scoped::<ConfigMap>(&client, &namespace), wc())
    .owns(scoped::<PodDisruptionBudget>(&client, &namespace), wc())
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

/// An Api over one namespace, or all of them.
fn scoped<K>(client: &kube::Client, ns: &Option<String>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn error_policy(cluster: Arc<RocketMQCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(CONTROLLER, error);
    tracing::warn!(cluster = %cluster.name_any(), error = %error, "reconcile failed");
    match error {
        Error::Invalid(_) => Action::await_change(),
        _ => Action::requeue(Duration::from_secs(5)),
    }
}

/// One reconcile of a cluster.
#[tracing::instrument(skip(cluster, ctx), fields(cluster = %cluster.name_any(), ns = cluster.namespace().as_deref().unwrap_or("")))]
pub async fn reconcile(cluster: Arc<RocketMQCluster>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile(CONTROLLER);
    let ns = cluster
        .namespace()
        .ok_or(Error::MissingField("namespace"))?;
    let name = cluster.name_any();
    let api: Api<RocketMQCluster> = Api::namespaced(ctx.client.clone(), &ns);
    if cluster.meta().deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove every owned object.
        return Ok(Action::await_change());
    }
    let old = cluster.status.clone().unwrap_or_default();

    // Pause: leave every object as it is and say so.
    if labels::annotation_true(cluster.meta().annotations.as_ref(), labels::PAUSE) {
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
            publish(
                &ctx,
                &cluster,
                EventType::Normal,
                "ReconciliationPaused",
                "reconciliation paused by annotation",
            )
            .await;
        }
        status::patch(&api, &cluster, st).await?;
        return Ok(Action::await_change());
    }

    // validate (pure)
    let validated = match rmq_model::validate(&cluster) {
        Ok(v) => v,
        Err(errs) => {
            let msg = errs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let st = status::assemble(
                &cluster,
                status::failed("InvalidSpec", &msg),
                old.groups.clone(),
                (old.brokers, old.ready_brokers),
                None,
            );
            if conditions::find(&old.conditions, READY)
                .is_none_or(|c| c.reason != "InvalidSpec" || c.message != msg)
            {
                publish(&ctx, &cluster, EventType::Warning, "InvalidSpec", &msg).await;
            }
            status::patch(&api, &cluster, st).await?;
            return Err(Error::Invalid(msg));
        }
    };

    // build (pure)
    let owner = cluster
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("uid"))?;
    let uid = owner.uid.clone();
    let input = BuildInput {
        owner,
        namespace: ns.clone(),
        image: build::image(
            cluster.spec.image.as_deref(),
            cluster.spec.version.as_deref(),
            &ctx.settings.default_image,
        ),
        image_pull_policy: ctx.settings.image_pull_policy.clone(),
        cluster_domain: ctx.settings.cluster_domain.clone(),
    };
    let desired = build::desired(&validated, &input);
    let resources = build::build(&validated, &input);

    // apply (SSA + prune)
    let (applied, report) = match apply::apply(&ctx.client, &ns, &name, &uid, resources).await {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            let st = status::assemble(
                &cluster,
                status::failed("ApplyFailed", &msg),
                old.groups.clone(),
                (old.brokers, old.ready_brokers),
                None,
            );
            publish(&ctx, &cluster, EventType::Warning, "ApplyFailed", &msg).await;
            status::patch(&api, &cluster, st).await?;
            return Err(e);
        }
    };
    for p in &report.pruned {
        publish(
            &ctx,
            &cluster,
            EventType::Normal,
            "Deleted",
            &format!("deleted {p}: no longer part of the cluster spec"),
        )
        .await;
    }

    // status (from the applied objects)
    let ready_pods = ready_pods(&ctx, &ns, &name).await?;
    let sets = status::states(&applied);
    // "Creating" until the cluster was Ready once; "RollingUpdate" afterwards.
    let first_rollout = conditions::find(&old.conditions, READY)
        .is_none_or(|c| c.status != ConditionStatus::True && c.reason == "Creating");
    let (conds, groups, brokers, ready_brokers) = status::compute(
        &sets,
        &|sts: &str| ready_pods.contains(&format!("{sts}-0")),
        first_rollout,
    );
    let done = conds
        .iter()
        .any(|c| c.type_ == READY && c.status == ConditionStatus::True);
    let st = status::assemble(
        &cluster,
        conds,
        groups,
        (brokers, ready_brokers),
        Some(desired.namesrv_addr()),
    );
    if let Some(ev) = status::transition_event(&old.conditions, &st.conditions) {
        publish_event(&ctx, &cluster, ev).await;
    }
    status::patch(&api, &cluster, st).await?;
    Ok(if done {
        Action::requeue(Duration::from_secs(300))
    } else {
        Action::requeue(Duration::from_secs(5))
    })
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

async fn publish(
    ctx: &Context,
    cluster: &RocketMQCluster,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    publish_event(
        ctx,
        cluster,
        Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note.chars().take(1000).collect()),
            action: "Reconcile".to_owned(),
            secondary: None,
        },
    )
    .await;
}

async fn publish_event(ctx: &Context, cluster: &RocketMQCluster, ev: Event) {
    let oref = cluster.object_ref(&());
    if let Err(e) = ctx.recorder.publish(&ev, &oref).await {
        tracing::warn!(error = %e, reason = %ev.reason, "publishing an event failed");
    }
}
