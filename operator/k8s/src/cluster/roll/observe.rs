//! What the roller reads on each pass: per broker pod its readiness (and for how long it has
//! not been Ready), whether its template revision is the StatefulSet's update revision, and —
//! from the broker itself — the config hash it loaded and its runtime settings; per group the
//! master's in-sync slave count. A broker that cannot be asked counts as unknown, never as
//! current-and-fine: the plan then waits rather than guesses.
//!
//! With `failover: Automatic` the master is whichever broker the controllers elected: a pod's
//! role comes from its running broker (`brokerRole` of GET_BROKER_CONFIG), and a pod whose
//! broker cannot be asked counts as a replica (the group's master then stays unknown, so the
//! plan waits for its slaves rather than restarting anything of the group's master).

use super::RollTarget;
use super::plan::{GroupView, PodView, Stale};
use crate::cluster::build::{configmap, names};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use rmq_model::BrokerNode;
use rmq_model::admin::Admin;
use rmq_model::defaults::CONFIG_HASH_KEY;
use std::collections::BTreeMap;
use std::time::Duration;

/// Pod label the StatefulSet controller sets to the revision a pod was created from.
const REVISION_LABEL: &str = "controller-revision-hash";

/// Runtime settings a running broker should change (UPDATE_BROKER_CONFIG).
pub struct RuntimePush {
    /// Pod name.
    pub pod: String,
    /// The broker's admin address (`podIP:port`).
    pub addr: String,
    /// The keys whose values differ, with the desired values.
    pub entries: BTreeMap<String, String>,
}

/// The groups as the plan sees them, and the runtime pushes found on the way.
pub struct Observation {
    /// Group views in group order.
    pub views: Vec<GroupView>,
    /// Runtime settings to push.
    pub runtime_pushes: Vec<RuntimePush>,
}

/// Reads every broker group of the target.
pub async fn groups(admin: &Admin, t: &RollTarget<'_>) -> Observation {
    let cluster = t.cluster.name_any();
    let mut out = Observation {
        views: Vec::new(),
        runtime_pushes: Vec::new(),
    };
    for group in t.desired.group_names() {
        let sts_name = names::group(&cluster, &group);
        let revision = t
            .stateful_sets
            .iter()
            .find(|s| s.name_any() == sts_name)
            .and_then(update_revision);
        let nodes: Vec<&BrokerNode> = t
            .desired
            .brokers
            .iter()
            .filter(|b| b.group == group)
            .collect();
        let mut pods = Vec::new();
        let mut master_addr = None;
        let elected = !t.desired.controllers.is_empty();
        for node in &nodes {
            let name = names::broker(&cluster, &group, node.broker_id);
            let live = t.pods.iter().find(|p| p.name_any() == name);
            let addr = live.and_then(|p| admin_addr(p, node));
            let (mut view, push, role) =
                pod_view(admin, &name, node, live, revision.as_deref(), addr.clone()).await;
            if elected {
                view.broker_id = live_broker_id(node.broker_id, role.as_deref());
            }
            if view.broker_id == 0 && view.ready {
                master_addr = addr;
            }
            pods.push(view);
            out.runtime_pushes.extend(push);
        }
        let in_sync_slaves = match (&master_addr, nodes.len()) {
            (_, 1) => Some(0),
            (Some(a), _) => admin.in_sync_slaves(a).await.ok(),
            (None, _) => None,
        };
        out.views.push(GroupView {
            name: group,
            pods,
            in_sync_slaves,
        });
    }
    out
}

/// The revision new pods of `sts` get, once the controller has seen its latest spec (before
/// that the revision in the status may be the previous one: unknown).
fn update_revision(sts: &StatefulSet) -> Option<String> {
    let status = sts.status.as_ref()?;
    let seen = status.observed_generation.unwrap_or(0);
    if seen < sts.metadata.generation.unwrap_or(0) {
        return None;
    }
    status.update_revision.clone()
}

/// `podIP:listenPort` of a broker pod (what the operator dials; the advertised address may be
/// a node port or a load balancer).
fn admin_addr(pod: &Pod, node: &BrokerNode) -> Option<String> {
    let ip = pod.status.as_ref()?.pod_ip.clone()?;
    Some(format!("{ip}:{}", node.endpoint.port))
}

/// Ready, and for how long it has been in that state (since its last Ready transition, or
/// its creation); zero for a missing or deleted pod.
pub fn readiness(pod: Option<&Pod>) -> (bool, Duration) {
    let Some(pod) = pod.filter(|p| p.metadata.deletion_timestamp.is_none()) else {
        return (false, Duration::ZERO);
    };
    let cond = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    let ready = cond.is_some_and(|c| c.status == "True");
    let since = cond
        .and_then(|c| c.last_transition_time.as_ref())
        .or(pod.metadata.creation_timestamp.as_ref());
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let secs = since.map_or(0, |t| (now - t.0.as_second()).max(0));
    (ready, Duration::from_secs(secs.unsigned_abs()))
}

/// The roller's broker id of an elected broker (replica `replica`) running as `role`: 0 for a
/// master, the replica index + 1 otherwise (also when the role is unknown).
pub fn live_broker_id(replica: u32, role: Option<&str>) -> u32 {
    match role {
        Some("SYNC_MASTER" | "ASYNC_MASTER") => 0,
        _ => replica + 1,
    }
}

/// One pod's view, the runtime settings its broker should change, and the `brokerRole` it
/// runs as (when it answered).
async fn pod_view(
    admin: &Admin,
    name: &str,
    node: &BrokerNode,
    live: Option<&Pod>,
    revision: Option<&str>,
    addr: Option<String>,
) -> (PodView, Option<RuntimePush>, Option<String>) {
    let (ready, in_state_for) = readiness(live);
    let (ready_for, not_ready_for) = if ready {
        (in_state_for, Duration::ZERO)
    } else {
        (Duration::ZERO, in_state_for)
    };
    let pod_revision = live.and_then(|p| p.labels().get(REVISION_LABEL).cloned());
    let mut stale = match (pod_revision.as_deref(), revision) {
        (Some(have), Some(want)) if have != want => Some(Stale::Template),
        _ => None,
    };
    let mut push = None;
    let mut role = None;
    if let (true, Some(addr)) = (ready, addr) {
        match admin.broker_config(&addr).await {
            Ok(running) => {
                role = running.get("brokerRole").cloned();
                let want = configmap::restart_hash(&node.broker_conf);
                if stale.is_none() && running.get(CONFIG_HASH_KEY) != Some(&want) {
                    stale = Some(Stale::Config);
                }
                if stale.is_none() {
                    push = runtime_push(name, &addr, node, &running);
                }
            }
            Err(e) => tracing::debug!(pod = name, error = %e, "broker config unknown"),
        }
    }
    let view = PodView {
        name: name.to_owned(),
        broker_id: node.broker_id,
        ready,
        not_ready_for,
        ready_for,
        stale,
    };
    (view, push, role)
}

/// The runtime keys whose running value differs from the desired one.
fn runtime_push(
    name: &str,
    addr: &str,
    node: &BrokerNode,
    running: &BTreeMap<String, String>,
) -> Option<RuntimePush> {
    let mut entries = configmap::runtime_settings(&node.broker_conf);
    entries.retain(|k, v| running.get(k) != Some(v));
    (!entries.is_empty()).then(|| RuntimePush {
        pod: name.to_owned(),
        addr: addr.to_owned(),
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::live_broker_id;

    #[test]
    fn an_elected_master_is_broker_zero_and_the_rest_replicas() {
        assert_eq!(live_broker_id(1, Some("SYNC_MASTER")), 0);
        assert_eq!(live_broker_id(0, Some("ASYNC_MASTER")), 0);
        assert_eq!(
            live_broker_id(0, Some("SLAVE")),
            1,
            "replica 0 may be a slave"
        );
        assert_eq!(
            live_broker_id(2, None),
            3,
            "an unknown role counts as a replica"
        );
    }
}
