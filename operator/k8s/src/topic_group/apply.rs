//! Apply: the CR's declaration made true on every master of its cluster, in named steps —
//! [`converge`] (find the cluster, observe, plan, execute), [`assess`] (pure: Events and
//! readiness from what was done) and the report.

use super::managed::Managed;
use super::report::{self, Failure};
use crate::cluster::build::{self, BuildInput};
use crate::context::Context;
use crate::observation::ClusterObservation;
use crate::{Error, Result, conditions, one_line};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use rmq_model::RocketMQCluster;
use rmq_model::admin::Admin;
use rmq_model::plan::{Action as PlanAction, Declared, Desired, Observed, plan};
use rmq_model::types::condition_types::READY;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How soon a pass that could not reach the cluster is retried.
const RETRY: Duration = Duration::from_secs(10);
/// How soon a pass waiting for a broker group's master is retried.
const WAIT_FOR_MASTERS: Duration = Duration::from_secs(3);

/// Applies `obj`: validate, converge, then report what was done and whether it is Ready.
pub async fn apply<K: Managed>(api: &Api<K>, obj: &K, ctx: &Context) -> Result<Action> {
    let decl = match obj.declare() {
        Ok(d) => d,
        Err(errs) => return report::fail(api, obj, ctx, invalid(&errs)).await,
    };
    let ns = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    let converged = match converge(ctx, &ns, &decl, obj.manager()).await {
        Ok(c) => c,
        Err(failure) => return report::fail(api, obj, ctx, failure).await,
    };
    let spec_changed = obj.meta().generation
        != conditions::find(&obj.conditions(), READY).and_then(|c| c.observed_generation);
    let assessment = assess(K::NOUN, decl.name(), &converged, spec_changed);
    for (reason, note) in &assessment.events {
        report::event(ctx, obj, EventType::Normal, reason, note).await;
    }
    match assessment.ready {
        Ok(message) => report::in_sync(api, obj, ctx, message, converged.masters).await,
        Err(failure) => {
            // A master missing from the snapshot may have registered since: observe again.
            observation(ctx, &ns, decl.cluster()).invalidate();
            report::fail(api, obj, ctx, failure).await
        }
    }
}

/// A spec that failed validation: reported until the spec changes.
pub fn invalid<T: std::fmt::Display>(errs: &[T]) -> Failure {
    Failure {
        reason: "InvalidSpec",
        message: one_line(errs),
        retry: None,
    }
}

/// What a pass that reached the cluster did.
#[derive(Debug, Clone, Default)]
pub struct Converged {
    /// Broker groups the cluster declares.
    pub groups: Vec<String>,
    /// Broker groups whose master was observed (and now holds the object).
    pub masters: Vec<String>,
    /// The actions executed, in order.
    pub done: Vec<PlanAction>,
}

/// Finds the cluster, observes its masters, plans `decl` and executes the plan.
async fn converge<D: Declared + Clone + Send + Sync>(
    ctx: &Context,
    ns: &str,
    decl: &D,
    manager: String,
) -> Result<Converged, Failure> {
    let cluster = decl.cluster().to_owned();
    let observation = observation(ctx, ns, &cluster);
    let recent = observation
        .cluster
        .get_or_load(|| cluster_admin(ctx, ns, &cluster))
        .await;
    let (admin, groups) = match recent {
        Ok(Some(a)) => a,
        Ok(None) => {
            let msg = format!(
                "RocketMQCluster {cluster:?} does not exist in namespace {ns} (fix: create it, or correct spec.cluster)"
            );
            return Err(Failure::retry("ClusterNotFound", msg, RETRY));
        }
        Err(msg) => return Err(Failure::retry("ClusterNotReady", msg, RETRY)),
    };
    let scope = BTreeSet::from([cluster.clone()]);
    let desired = declaring(decl.clone(), manager);
    let (planned, masters) = observation
        .with(
            admin.name_servers(),
            || admin.observe(&scope),
            |observed| (plan(&desired, observed), masters_of(observed, &cluster)),
        )
        .await
        .map_err(|e| {
            let msg = format!("cluster {cluster} is not reachable yet: {e}");
            Failure::retry("ClusterNotReady", msg, RETRY)
        })?;
    let actions = planned.map_err(|errs| {
        observation.invalidate();
        Failure::retry("ClusterNotReady", one_line(&errs), RETRY)
    })?;
    let report = admin.execute(&actions, |_, _| {}).await;
    if let Some((action, err)) = &report.failed {
        observation.invalidate();
        let msg = format!("{} failed: {err}", describe(action));
        return Err(Failure::retry("BrokerCallFailed", msg, RETRY));
    }
    observation.record(&report.done);
    Ok(Converged {
        groups,
        masters,
        done: report.done,
    })
}

/// The shared observation of `cluster` in `ns` (see [`crate::observation`]).
pub fn observation(ctx: &Context, ns: &str, cluster: &str) -> Arc<ClusterObservation> {
    ctx.observations.of(&format!("{ns}/{cluster}"))
}

/// Broker groups whose master `observed` holds for `cluster`.
fn masters_of(observed: &Observed, cluster: &str) -> Vec<String> {
    observed
        .clusters
        .get(cluster)
        .map(|c| c.masters.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default()
}

/// What a pass tells once it reached the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Normal Events to publish: (reason, note).
    pub events: Vec<(&'static str, String)>,
    /// Ready with its message, or why not yet.
    pub ready: Result<String, Failure>,
}

/// Events for what was created or updated (an update without a spec change is drift being
/// reverted), and readiness: Ready only once every broker group the cluster declares has a
/// master holding the object — a group whose master is not registered yet gets it on a later
/// pass. Pure.
pub fn assess(noun: &str, name: &str, c: &Converged, spec_changed: bool) -> Assessment {
    let mut events = Vec::new();
    let created = c
        .done
        .iter()
        .filter(|a| {
            matches!(
                a,
                PlanAction::CreateTopic { .. } | PlanAction::CreateGroup { .. }
            )
        })
        .count();
    if created > 0 {
        let note = format!("created {noun} {name} on {created} master(s)");
        events.push(("Created", note));
    }
    let updates: Vec<String> = c.done.iter().filter_map(update_line).collect();
    if !updates.is_empty() {
        let (reason, why) = if spec_changed {
            ("Updated", "applied the new spec")
        } else {
            (
                "DriftReverted",
                "reverted a change made outside the operator",
            )
        };
        events.push((reason, format!("{why}: {}", updates.join("; "))));
    }
    let missing: Vec<&str> = c
        .groups
        .iter()
        .filter(|g| !c.masters.contains(g))
        .map(String::as_str)
        .collect();
    let count = format!("{}/{} master(s)", c.masters.len(), c.groups.len());
    let ready = if missing.is_empty() {
        let masters = c.masters.join(", ");
        Ok(format!(
            "{noun} {name} is as declared on {count}: {masters}"
        ))
    } else {
        let msg = format!(
            "{noun} {name} is on {count}; waiting for the master of {} to register",
            missing.join(", ")
        );
        Err(Failure::retry("WaitingForBrokers", msg, WAIT_FOR_MASTERS))
    };
    Assessment { events, ready }
}

/// `broker-a: field from→to, ...` for an executed update.
fn update_line(a: &PlanAction) -> Option<String> {
    let (PlanAction::UpdateTopic {
        broker, changes, ..
    }
    | PlanAction::UpdateGroup {
        broker, changes, ..
    }) = a
    else {
        return None;
    };
    let changes: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}→{}", c.field, c.from, c.to))
        .collect();
    Some(format!("{}: {}", broker.name, changes.join(", ")))
}

/// The plan declaring only `decl`, recorded as owned by `manager`; nothing is pruned.
pub fn declaring<D: Declared>(decl: D, manager: String) -> Desired {
    let mut desired = Desired {
        manager,
        ..Desired::default()
    };
    D::declared_mut(&mut desired).push(decl);
    desired
}

/// The admin client of `cluster`'s nameservers (their Service DNS names) and the broker groups
/// the cluster declares; `None` when the cluster does not exist or is being deleted, `Err` when
/// it cannot be used.
pub async fn cluster_admin(
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
    let validated = rmq_model::validate(&c)
        .map_err(|errs| format!("RocketMQCluster {cluster} is invalid: {}", one_line(&errs)))?;
    let owner = c.controller_owner_ref(&()).ok_or("cluster has no uid")?;
    let input = BuildInput {
        owner,
        namespace: ns.to_owned(),
        image: String::new(),
        image_pull_policy: None,
        cluster_domain: ctx.settings.cluster_domain.clone(),
        external_hosts: std::collections::BTreeMap::new(),
    };
    let desired = build::desired(&validated, &input);
    let admin = ctx
        .admin(ns, cluster, &desired)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((admin, desired.group_names())))
}

/// What a failed action was doing, for the Ready message.
pub fn describe(a: &PlanAction) -> String {
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
