//! The `RocketMQTopic` and `RocketMQConsumerGroup` controllers: a one-way reconcile from the CR
//! to every master of the referenced `RocketMQCluster` (same namespace), through the admin
//! protocol (rmq-model's `plan` + `admin`), modelled on Strimzi's unidirectional topic operator.
//!
//! - **Apply**: validate the CR, find the cluster and its nameservers (the same Service DNS
//!   names the brokers use), observe the masters, plan, execute. Missing objects are created,
//!   differing ones updated — so a change made behind the operator's back (drift) is reverted on
//!   the next resync (`--resync-seconds`).
//! - **Ownership**: each CR records itself (`rmq-operator/<ns>/<kind>/<name>`) as the owner in
//!   the nameservers' KV store before creating; cleanup deletes only what that record says it
//!   owns, so two CRs, `rmqctl apply` and hand-made topics never delete each other's objects.
//! - **Finalizer** (`rmq.dev/topic`, `rmq.dev/consumergroup`): deleting the CR deletes the topic
//!   (every master, then the nameservers' routes) or the group (offsets are kept). When the
//!   cluster itself is gone there is nothing left to delete and the finalizer is just removed.
//! - **`rmq.dev/managed: "false"`**: stop managing one object: the finalizer is removed, the
//!   broker object is left as it is, status says `Managed=False`.

mod group;
mod topic;

use crate::cluster::build::{self, BuildInput};
use crate::context::Context;
use crate::{Error, Result, conditions, labels};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use rmq_model::admin::Admin;
use rmq_model::plan::{Action as PlanAction, Desired, plan};
use rmq_model::types::condition_types::READY;
use rmq_model::{Condition, GroupDecl, RocketMQCluster, TopicDecl, ValidationError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// `Managed` condition type (False with the `rmq.dev/managed: "false"` annotation).
pub const MANAGED_CONDITION: &str = "Managed";

/// What a CR declares.
#[derive(Debug, Clone)]
pub enum Decl {
    /// A topic.
    Topic(TopicDecl),
    /// A consumer group.
    Group(GroupDecl),
}

impl Decl {
    fn cluster(&self) -> &str {
        match self {
            Decl::Topic(t) => &t.cluster,
            Decl::Group(g) => &g.cluster,
        }
    }
    fn name(&self) -> &str {
        match self {
            Decl::Topic(t) => &t.name,
            Decl::Group(g) => &g.name,
        }
    }
    fn what(&self) -> &'static str {
        match self {
            Decl::Topic(_) => "topic",
            Decl::Group(_) => "consumer group",
        }
    }
}

/// A CR this module reconciles.
pub trait Managed:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Metrics label and short kind (`topic`, `consumergroup`).
    const CONTROLLER: &'static str;
    /// Finalizer name.
    const FINALIZER: &'static str;
    /// The referenced cluster name (`spec.cluster`).
    fn cluster_name(&self) -> &str;
    /// Validates into a declaration.
    fn declare(&self) -> Result<Decl, Vec<ValidationError>>;
    /// Current status conditions.
    fn conditions(&self) -> Vec<Condition>;
    /// The status object to write.
    fn status(&self, conditions: Vec<Condition>, brokers: Vec<String>) -> serde_json::Value;
}

/// Runs the controller of `K` until `shutdown` resolves.
pub async fn run<K: Managed>(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api = match &namespace {
        Some(ns) => Api::<K>::namespaced(ctx.client.clone(), ns),
        None => Api::<K>::all(ctx.client.clone()),
    };
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "reconcile failed");
            }
        })
        .await;
}

fn error_policy<K: Managed>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(K::CONTROLLER, error);
    tracing::warn!(kind = K::CONTROLLER, name = %obj.name_any(), error = %error, "reconcile failed");
    match error {
        Error::Invalid(_) => Action::await_change(),
        _ => Action::requeue(Duration::from_secs(5)),
    }
}

fn manager<K: Managed>(obj: &K) -> String {
    format!(
        "{}/{}/{}/{}",
        labels::MANAGER,
        obj.namespace().unwrap_or_default(),
        K::CONTROLLER,
        obj.name_any()
    )
}

async fn reconcile<K: Managed>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile(K::CONTROLLER);
    let ns = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    if labels::annotation_false(obj.meta().annotations.as_ref(), labels::MANAGED) {
        return unmanage(&api, &obj, &ctx).await;
    }
    let (api2, ctx2) = (api.clone(), ctx.clone());
    finalizer(&api, K::FINALIZER, obj, |ev| async move {
        match ev {
            Finalizer::Apply(o) => apply(&api2, o.as_ref(), &ctx2).await,
            Finalizer::Cleanup(o) => cleanup(o.as_ref(), &ctx2).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })
}

async fn write_status<K: Managed>(
    api: &Api<K>,
    obj: &K,
    conds: Vec<Condition>,
    brokers: Vec<String>,
) -> Result<()> {
    let merged = conditions::merge(
        &obj.conditions(),
        conds,
        obj.meta().generation,
        &conditions::now_rfc3339(),
    );
    let body = obj.status(merged, brokers);
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(labels::MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(Error::kube(format!(
        "patch status of {} {}",
        K::CONTROLLER,
        obj.name_any()
    )))?;
    Ok(())
}

async fn event<K: Managed>(ctx: &Context, obj: &K, type_: EventType, reason: &str, note: String) {
    let ev = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, "publishing an event failed");
    }
}

async fn fail<K: Managed>(
    api: &Api<K>,
    obj: &K,
    ctx: &Context,
    reason: &str,
    message: String,
    retry: Option<Duration>,
) -> Result<Action> {
    let was =
        conditions::find(&obj.conditions(), READY).map(|c| (c.reason.clone(), c.message.clone()));
    if was.as_ref() != Some(&(reason.to_owned(), message.clone())) {
        event(ctx, obj, EventType::Warning, reason, message.clone()).await;
    }
    write_status(
        api,
        obj,
        vec![
            conditions::cond(READY, false, reason, message.clone()),
            conditions::cond(
                MANAGED_CONDITION,
                true,
                "Managed",
                "the operator keeps this object as declared",
            ),
        ],
        Vec::new(),
    )
    .await?;
    match retry {
        Some(d) => Ok(Action::requeue(d)),
        None => Err(Error::Invalid(message)),
    }
}

/// The admin client of `cluster`'s nameservers (their Service DNS names) and the broker groups
/// the cluster declares, or why not.
async fn cluster_admin(
    ctx: &Context,
    ns: &str,
    cluster: &str,
) -> Result<Option<(Arc<Admin>, Vec<String>)>, String> {
    let api: Api<RocketMQCluster> = Api::namespaced(ctx.client.clone(), ns);
    let c = match api.get_opt(cluster).await {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("reading RocketMQCluster {cluster}: {e}")),
    };
    if c.meta().deletion_timestamp.is_some() {
        return Ok(None);
    }
    let validated = rmq_model::validate(&c).map_err(|errs| {
        format!(
            "RocketMQCluster {cluster} is invalid: {}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let owner = c.controller_owner_ref(&()).ok_or("cluster has no uid")?;
    let input = BuildInput {
        owner,
        namespace: ns.to_owned(),
        image: String::new(),
        image_pull_policy: None,
        cluster_domain: ctx.settings.cluster_domain.clone(),
    };
    let desired = build::desired(&validated, &input);
    let addrs = desired
        .name_servers
        .iter()
        .map(|n| n.endpoint.address())
        .collect();
    let admin = ctx.admin(&format!("{ns}/{cluster}"), addrs);
    Ok(Some((admin, desired.group_names())))
}

fn desired_for(decl: Option<&Decl>, cluster: &str, manager: String, prune: bool) -> Desired {
    let mut d = Desired {
        manager,
        ..Desired::default()
    };
    match decl {
        Some(Decl::Topic(t)) => d.topics.push(t.clone()),
        Some(Decl::Group(g)) => d.groups.push(g.clone()),
        None => {}
    }
    if prune {
        d.scope = BTreeSet::from([cluster.to_owned()]);
    }
    d
}

async fn apply<K: Managed>(api: &Api<K>, obj: &K, ctx: &Context) -> Result<Action> {
    let retry = Some(Duration::from_secs(10));
    let decl = match obj.declare() {
        Ok(d) => d,
        Err(errs) => {
            let msg = errs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return fail(api, obj, ctx, "InvalidSpec", msg, None).await;
        }
    };
    let ns = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    let cluster = decl.cluster().to_owned();
    let (admin, groups) = match cluster_admin(ctx, &ns, &cluster).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            let msg = format!(
                "RocketMQCluster {cluster:?} does not exist in namespace {ns} (fix: create it, or correct spec.cluster)"
            );
            return fail(api, obj, ctx, "ClusterNotFound", msg, retry).await;
        }
        Err(msg) => return fail(api, obj, ctx, "ClusterNotReady", msg, retry).await,
    };
    let scope = BTreeSet::from([cluster.clone()]);
    let observed = match admin.observe(&scope).await {
        Ok(o) => o,
        Err(e) => {
            let msg = format!("cluster {cluster} is not reachable yet: {e}");
            return fail(api, obj, ctx, "ClusterNotReady", msg, retry).await;
        }
    };
    let desired = desired_for(Some(&decl), &cluster, manager(obj), false);
    let actions = match plan(&desired, &observed) {
        Ok(a) => a,
        Err(errs) => {
            let msg = errs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return fail(api, obj, ctx, "ClusterNotReady", msg, retry).await;
        }
    };
    let report = admin.execute(&actions, |_, _| {}).await;
    if let Some((action, err)) = &report.failed {
        let msg = format!("{} failed: {err}", describe(action));
        return fail(api, obj, ctx, "BrokerCallFailed", msg, retry).await;
    }
    let masters: Vec<String> = observed
        .clusters
        .get(&cluster)
        .map(|c| c.masters.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default();
    // Ready only once every broker group the cluster declares has a master holding it: a group
    // whose master is not registered yet gets it on a later pass.
    let missing: Vec<&String> = groups.iter().filter(|g| !masters.contains(g)).collect();
    let spec_changed = obj.meta().generation
        != conditions::find(&obj.conditions(), READY).and_then(|c| c.observed_generation);
    let created = report
        .done
        .iter()
        .filter(|a| {
            matches!(
                a,
                PlanAction::CreateTopic { .. } | PlanAction::CreateGroup { .. }
            )
        })
        .count();
    let updates: Vec<String> = report
        .done
        .iter()
        .filter_map(|a| match a {
            PlanAction::UpdateTopic {
                broker, changes, ..
            }
            | PlanAction::UpdateGroup {
                broker, changes, ..
            } => Some(format!(
                "{}: {}",
                broker.name,
                changes
                    .iter()
                    .map(|c| format!("{} {}→{}", c.field, c.from, c.to))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => None,
        })
        .collect();
    if created > 0 {
        event(
            ctx,
            obj,
            EventType::Normal,
            "Created",
            format!(
                "created {} {} on {created} master(s)",
                decl.what(),
                decl.name()
            ),
        )
        .await;
    }
    if !updates.is_empty() {
        let (reason, why) = if spec_changed {
            ("Updated", "applied the new spec")
        } else {
            (
                "DriftReverted",
                "reverted a change made outside the operator",
            )
        };
        event(
            ctx,
            obj,
            EventType::Normal,
            reason,
            format!("{why}: {}", updates.join("; ")),
        )
        .await;
    }
    if !missing.is_empty() {
        let msg = format!(
            "{} {} is on {}/{} master(s); waiting for the master of {} to register",
            decl.what(),
            decl.name(),
            masters.len(),
            groups.len(),
            missing
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return fail(
            api,
            obj,
            ctx,
            "WaitingForBrokers",
            msg,
            Some(Duration::from_secs(3)),
        )
        .await;
    }
    let msg = format!(
        "{} {} is as declared on {}/{} master(s): {}",
        decl.what(),
        decl.name(),
        masters.len(),
        groups.len(),
        masters.join(", ")
    );
    write_status(
        api,
        obj,
        vec![
            conditions::cond(READY, true, "InSync", msg),
            conditions::cond(
                MANAGED_CONDITION,
                true,
                "Managed",
                "the operator keeps this object as declared",
            ),
        ],
        masters,
    )
    .await?;
    Ok(Action::requeue(ctx.settings.resync))
}

async fn cleanup<K: Managed>(obj: &K, ctx: &Context) -> Result<Action> {
    let ns = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    let cluster = obj.cluster_name().to_owned();
    let admin = match cluster_admin(ctx, &ns, &cluster).await {
        Ok(Some((a, _))) => a,
        // The cluster is gone (or going): its brokers and their topics go with it.
        Ok(None) => return Ok(Action::await_change()),
        Err(msg) => return Err(Error::ClusterNotReady(msg)),
    };
    let scope = BTreeSet::from([cluster.clone()]);
    let observed = admin
        .observe(&scope)
        .await
        .map_err(|e| Error::Admin(format!("cannot delete from cluster {cluster}: {e}")))?;
    let desired = desired_for(None, &cluster, manager(obj), true);
    let actions = plan(&desired, &observed).map_err(|errs| {
        Error::Admin(
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let report = admin.execute(&actions, |_, _| {}).await;
    if let Some((action, err)) = report.failed {
        return Err(Error::Admin(format!("{} failed: {err}", describe(&action))));
    }
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

async fn unmanage<K: Managed>(api: &Api<K>, obj: &K, ctx: &Context) -> Result<Action> {
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
        event(ctx, obj, EventType::Normal, "Unmanaged", format!("{} is \"false\": the operator no longer changes or deletes this object on the brokers", labels::MANAGED)).await;
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

fn describe(a: &PlanAction) -> String {
    match a {
        PlanAction::Own { key, .. } => format!("recording ownership of {key}"),
        PlanAction::CreateTopic { broker, config, .. } => {
            format!("creating topic {} on {}", config.topic_name, broker.name)
        }
        PlanAction::UpdateTopic { broker, config, .. } => {
            format!("updating topic {} on {}", config.topic_name, broker.name)
        }
        PlanAction::DeleteTopic { topic, .. } => format!("deleting topic {topic}"),
        PlanAction::CreateGroup { broker, config, .. } => {
            format!("creating group {} on {}", config.group_name, broker.name)
        }
        PlanAction::UpdateGroup { broker, config, .. } => {
            format!("updating group {} on {}", config.group_name, broker.name)
        }
        PlanAction::DeleteGroup { group, .. } => format!("deleting group {group}"),
        PlanAction::Disown { key, .. } => format!("removing the ownership record of {key}"),
    }
}
