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
    /// StatefulSet name.
    pub name: String,
    /// Broker group, `None` for the nameservers.
    pub group: Option<String>,
    /// Declared replicas.
    pub replicas: i32,
    /// Ready replicas.
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

/// The computed status (pure).
pub fn compute(
    sets: &[SetState],
    master_ready: &dyn Fn(&str) -> bool,
    first_rollout: bool,
) -> (Vec<Condition>, Vec<BrokerGroupStatus>, i32, i32) {
    let mut groups = Vec::new();
    let (mut brokers, mut ready_brokers) = (0, 0);
    let mut rolling = Vec::new();
    let mut not_ready = Vec::new();
    let mut masters_down = Vec::new();
    for s in sets {
        if s.rolling || s.updated < s.replicas {
            rolling.push(format!("{}: {}/{} updated", s.name, s.updated, s.replicas));
        }
        if s.ready < s.replicas {
            not_ready.push(format!("{}: {}/{} ready", s.name, s.ready, s.replicas));
        }
        if let Some(g) = &s.group {
            brokers += s.replicas;
            ready_brokers += s.ready.min(s.replicas);
            let master = master_ready(&s.name);
            if !master {
                masters_down.push(g.clone());
            }
            groups.push(BrokerGroupStatus {
                name: g.clone(),
                ready: s.ready,
                replicas: s.replicas,
                updated: s.updated,
                master_ready: master,
            });
        }
    }
    let progressing = !rolling.is_empty() || (first_rollout && !not_ready.is_empty());
    let all_ready = not_ready.is_empty() && rolling.is_empty();
    let ns = sets.iter().find(|s| s.group.is_none());
    let summary = format!(
        "{}/{} nameservers and {ready_brokers}/{brokers} brokers ready",
        ns.map_or(0, |s| s.ready),
        ns.map_or(0, |s| s.replicas)
    );
    let progress_reason = if first_rollout {
        "Creating"
    } else {
        "RollingUpdate"
    };
    let conds = vec![
        if all_ready {
            cond(READY, true, "AllReplicasReady", summary.clone())
        } else if progressing {
            cond(
                READY,
                false,
                progress_reason,
                format!("{summary}; rolling out: {}", join(&rolling, &not_ready)),
            )
        } else {
            cond(
                READY,
                false,
                "ReplicasNotReady",
                format!("{summary}; not ready: {}", not_ready.join(", ")),
            )
        },
        if progressing {
            cond(
                PROGRESSING,
                true,
                progress_reason,
                format!("rolling out: {}", join(&rolling, &not_ready)),
            )
        } else {
            cond(
                PROGRESSING,
                false,
                "RolloutComplete",
                "every pod runs the current spec",
            )
        },
        if progressing {
            cond(DEGRADED, false, "AsExpected", "a rollout is in progress")
        } else if !masters_down.is_empty() {
            cond(
                DEGRADED,
                true,
                "MasterDown",
                format!(
                    "broker group(s) {} have no ready master: producers cannot write to them",
                    masters_down.join(", ")
                ),
            )
        } else if !not_ready.is_empty() {
            cond(
                DEGRADED,
                true,
                "ReplicasNotReady",
                format!("pods not ready: {}", not_ready.join(", ")),
            )
        } else {
            cond(DEGRADED, false, "AsExpected", summary)
        },
    ];
    (conds, groups, brokers, ready_brokers)
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
        brokers: counts.0,
        ready_brokers: counts.1,
        groups,
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
