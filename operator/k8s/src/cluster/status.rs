//! Status: conditions, per-group readiness and counts computed from the **applied**
//! StatefulSets ([`KubernetesResources<Applied>`]), written with server-side apply to the status
//! subresource, plus an Event on every change of the Ready/Progressing/Degraded picture.
//!
//! | condition | True when | reasons |
//! |---|---|---|
//! | `Ready` | every nameserver and broker runs the current spec and is ready | `AllReplicasReady`; False: `Creating`, `RollingUpdate`, `ReplicasNotReady`, `InvalidSpec`, `ApplyFailed` |
//! | `Progressing` | a change is rolling out (pods being created or replaced) | `RollingUpdate`, `Creating`; False: `RolloutComplete` |
//! | `Degraded` | nothing is rolling out, yet pods are not ready (or the spec is invalid / cannot be applied) | `ReplicasNotReady`, `MasterDown`, `InvalidSpec`, `ApplyFailed`; False: `AsExpected` |
//! | `ReconciliationPaused` | the `rmq.dev/pause-reconciliation: "true"` annotation is set | `PauseAnnotation` |

use super::build::{Applied, KubernetesResources};
use crate::conditions::{self, cond, merge};
use crate::{Error, Result, labels};
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use rmq_model::types::condition_types::{DEGRADED, PROGRESSING, READY};
use rmq_model::{BrokerGroupStatus, Condition, RocketMQCluster, RocketMQClusterStatus};

/// Rollout state of one StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetState {
    /// The StatefulSet's name (`<c>-namesrv`, `<c>-broker-a`).
    pub name: String,
    /// Broker group, `None` for the nameservers.
    pub group: Option<String>,
    /// Replicas its spec asks for.
    pub replicas: i32,
    /// Replicas whose pod is Ready.
    pub ready: i32,
    /// Replicas at the update revision.
    pub updated: i32,
    /// The controller has not caught up with the spec, or revisions differ.
    pub rolling: bool,
}

/// Reads the rollout state of an applied StatefulSet.
pub fn set_state(sts: &StatefulSet) -> SetState {
    let replicas = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = sts.status.clone().unwrap_or_default();
    let generation = sts.metadata.generation.unwrap_or(0);
    let observed = st.observed_generation.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    let revisions_differ = match (&st.current_revision, &st.update_revision) {
        (Some(c), Some(u)) => c != u,
        _ => true,
    };
    SetState {
        name: sts.name_any(),
        group: sts.labels().get(labels::BROKER_GROUP).cloned(),
        replicas,
        ready: st.ready_replicas.unwrap_or(0),
        updated,
        rolling: observed < generation
            || (revisions_differ && updated < replicas)
            || st.replicas != replicas,
    }
}

/// What the StatefulSets add up to.
#[derive(Default)]
struct Tally {
    groups: Vec<BrokerGroupStatus>,
    brokers: i32,
    ready_brokers: i32,
    /// `<sts>: u/r updated` of each StatefulSet still rolling.
    rolling: Vec<String>,
    /// `<sts>: n/r ready` of each StatefulSet with pods not ready.
    not_ready: Vec<String>,
    /// Broker groups whose master pod is not ready.
    masters_down: Vec<String>,
}

impl Tally {
    fn of(sets: &[SetState], master_ready: &dyn Fn(&str) -> bool) -> Self {
        let mut t = Tally::default();
        for s in sets {
            if s.rolling || s.updated < s.replicas {
                t.rolling
                    .push(format!("{}: {}/{} updated", s.name, s.updated, s.replicas));
            }
            if s.ready < s.replicas {
                t.not_ready
                    .push(format!("{}: {}/{} ready", s.name, s.ready, s.replicas));
            }
            let Some(g) = &s.group else {
                continue;
            };
            t.brokers += s.replicas;
            t.ready_brokers += s.ready.min(s.replicas);
            let master = master_ready(&s.name);
            if !master {
                t.masters_down.push(g.clone());
            }
            t.groups.push(BrokerGroupStatus {
                name: g.clone(),
                ready: s.ready,
                replicas: s.replicas,
                updated: s.updated,
                master_ready: master,
            });
        }
        t
    }
}

/// The computed status (pure): conditions, per-group readiness, brokers and ready brokers.
pub fn compute(
    sets: &[SetState],
    master_ready: &dyn Fn(&str) -> bool,
    first_rollout: bool,
) -> (Vec<Condition>, Vec<BrokerGroupStatus>, i32, i32) {
    let t = Tally::of(sets, master_ready);
    let progressing = !t.rolling.is_empty() || (first_rollout && !t.not_ready.is_empty());
    let ns = sets.iter().find(|s| s.group.is_none());
    let summary = format!(
        "{}/{} nameservers and {}/{} brokers ready",
        ns.map_or(0, |s| s.ready),
        ns.map_or(0, |s| s.replicas),
        t.ready_brokers,
        t.brokers
    );
    let progress_reason = if first_rollout {
        "Creating"
    } else {
        "RollingUpdate"
    };
    let rolling_out = join(&t.rolling, &t.not_ready);
    let conds = vec![
        if t.not_ready.is_empty() && t.rolling.is_empty() {
            cond(READY, true, "AllReplicasReady", summary.clone())
        } else if progressing {
            let msg = format!("{summary}; rolling out: {rolling_out}");
            cond(READY, false, progress_reason, msg)
        } else {
            let msg = format!("{summary}; not ready: {}", t.not_ready.join(", "));
            cond(READY, false, "ReplicasNotReady", msg)
        },
        if progressing {
            let msg = format!("rolling out: {rolling_out}");
            cond(PROGRESSING, true, progress_reason, msg)
        } else {
            let msg = "every pod runs the current spec";
            cond(PROGRESSING, false, "RolloutComplete", msg)
        },
        degraded(&t, progressing, summary),
    ];
    (conds, t.groups, t.brokers, t.ready_brokers)
}

/// `Degraded`: not while a rollout is in progress; a group without a ready master comes first.
fn degraded(t: &Tally, progressing: bool, summary: String) -> Condition {
    if progressing {
        cond(DEGRADED, false, "AsExpected", "a rollout is in progress")
    } else if !t.masters_down.is_empty() {
        let msg = format!(
            "broker group(s) {} have no ready master: producers cannot write to them",
            t.masters_down.join(", ")
        );
        cond(DEGRADED, true, "MasterDown", msg)
    } else if !t.not_ready.is_empty() {
        let msg = format!("pods not ready: {}", t.not_ready.join(", "));
        cond(DEGRADED, true, "ReplicasNotReady", msg)
    } else {
        cond(DEGRADED, false, "AsExpected", summary)
    }
}

fn join(a: &[String], b: &[String]) -> String {
    let mut v: Vec<&str> = a.iter().map(String::as_str).collect();
    for x in b {
        if !v.contains(&x.as_str()) {
            v.push(x);
        }
    }
    v.join(", ")
}

/// Conditions for a spec that failed validation or could not be applied.
pub fn failed(reason: &str, message: &str) -> Vec<Condition> {
    vec![
        cond(READY, false, reason, message),
        cond(
            PROGRESSING,
            false,
            reason,
            "nothing is rolled out until this is fixed",
        ),
        cond(DEGRADED, true, reason, message),
    ]
}

/// Writes `status` of `cluster` (server-side apply on the status subresource).
pub async fn patch(
    api: &Api<RocketMQCluster>,
    cluster: &RocketMQCluster,
    status: RocketMQClusterStatus,
) -> Result<()> {
    let name = cluster.name_any();
    let body = serde_json::json!({
        "apiVersion": "rmq.dev/v1alpha1",
        "kind": "RocketMQCluster",
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(labels::MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(Error::kube(format!(
        "patch status of RocketMQCluster {name}"
    )))?;
    Ok(())
}

/// Builds the full status from conditions and counts, keeping transition times.
pub fn assemble(
    cluster: &RocketMQCluster,
    conds: Vec<Condition>,
    groups: Vec<BrokerGroupStatus>,
    counts: (i32, i32),
    name_server_address: Option<String>,
    external: super::external::ExternalStatus,
) -> RocketMQClusterStatus {
    let old = cluster.status.clone().unwrap_or_default();
    let generation = cluster.meta().generation;
    RocketMQClusterStatus {
        observed_generation: generation,
        conditions: merge(
            &old.conditions,
            conds,
            generation,
            &conditions::now_rfc3339(),
        ),
        name_server_address: name_server_address.or(old.name_server_address),
        external_name_server_address: external.name_server_address,
        external_broker_addresses: external.brokers,
        brokers: counts.0,
        ready_brokers: counts.1,
        groups,
        roll: None,
    }
}

/// The Event to publish when the picture changed between `old` and `new` conditions.
pub fn transition_event(old: &[Condition], new: &[Condition]) -> Option<Event> {
    let key = |cs: &[Condition]| {
        [READY, PROGRESSING, DEGRADED]
            .map(|t| conditions::find(cs, t).map(|c| (c.status, c.reason.clone())))
    };
    if key(old) == key(new) {
        return None;
    }
    let ready = conditions::find(new, READY)?;
    let degraded = conditions::is_true(new, DEGRADED);
    Some(Event {
        type_: if degraded {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: ready.reason.clone(),
        note: Some(ready.message.chars().take(1000).collect()),
        action: "Reconcile".to_owned(),
        secondary: None,
    })
}

/// The applied StatefulSets' states.
pub fn states(applied: &KubernetesResources<Applied>) -> Vec<SetState> {
    applied.stateful_sets.iter().map(set_state).collect()
}
