//! Scale-in of broker groups. When `spec.brokers.groups` is lowered, each leaving group (a
//! broker StatefulSet of the cluster beyond the spec's count) is drained before it goes:
//! 1. its master turns read-only (UPDATE_BROKER_CONFIG `brokerPermission=4`): it registers its
//!    topics without write permission, producers' routes stop sending to it, and it refuses
//!    sends that still arrive;
//! 2. the operator waits until every consumer group that consumes from the leaving master
//!    (committed offsets there) has consumed what is left of each of its topics there
//!    (GET_CONSUME_STATS), or `spec.brokers.scaleIn.drainTimeoutMinutes` has passed. A group
//!    that never consumed from that master is not waited for (as `mqadmin consumerProgress`
//!    shows no progress for it there either);
//! 3. then it stops building the group: the apply prunes its StatefulSet, Services, ConfigMap
//!    and PDB; with `volumeClaims: Delete` its claims are deleted too.
//!
//! The start of a drain is an annotation on the leaving StatefulSet
//! ([`DRAINING_SINCE`]), so an operator restart continues the same drain.

use crate::context::{Context, reconcile_event};
use crate::{Error, Result, labels};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::events::EventType;
use rmq_model::admin::Admin;
use rmq_model::types::VolumeClaimPolicy;
use rmq_model::{DesiredCluster, RocketMQCluster, RollStatus, ValidatedCluster};

/// Annotation on a leaving group's StatefulSet: when its drain began (Unix seconds).
pub const DRAINING_SINCE: &str = "rmq.dev/draining-since";
/// Field manager of the annotation (not the apply's, so the apply never removes it).
const DRAIN_MANAGER: &str = "rmq-operator-scale-in";

/// Where a leaving group's drain is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drain {
    /// Messages are left (`None`: the master could not be asked).
    Waiting(Option<i64>),
    /// Every consumer group has consumed what was left.
    Drained,
    /// The timeout passed with this many messages left (`None`: unknown).
    TimedOut(Option<i64>),
}

/// Decides a drain from the lag and how long it has run (pure).
pub fn decide(lag: Option<i64>, elapsed_secs: i64, timeout_minutes: i32) -> Drain {
    match lag {
        Some(0) => Drain::Drained,
        _ if elapsed_secs >= i64::from(timeout_minutes) * 60 => Drain::TimedOut(lag),
        _ => Drain::Waiting(lag),
    }
}

/// A leaving group and its drain.
#[derive(Debug, Clone)]
pub struct Leaving {
    /// Group name (`broker-c`).
    pub group: String,
    /// Its StatefulSet.
    pub stateful_set: String,
    /// Where its drain is.
    pub drain: Drain,
    /// Seconds since the drain began.
    pub elapsed_secs: i64,
}

/// The leaving groups of a cluster on this pass.
#[derive(Debug, Clone, Default)]
pub struct ScaleIn {
    /// In group order.
    pub leaving: Vec<Leaving>,
}

impl ScaleIn {
    /// True while some leaving group still drains: its objects must still be built.
    pub fn draining(&self) -> bool {
        self.leaving
            .iter()
            .any(|l| matches!(l.drain, Drain::Waiting(_)))
    }

    /// `status.roll` while a group drains.
    pub fn status(&self, cluster: &str) -> Option<RollStatus> {
        let l = self
            .leaving
            .iter()
            .find(|l| matches!(l.drain, Drain::Waiting(_)))?;
        let left = match &l.drain {
            Drain::Waiting(Some(n)) => format!("{n} messages not consumed yet"),
            _ => "its master cannot be asked yet".to_owned(),
        };
        Some(RollStatus {
            pod: format!("{cluster}-{}-0", l.group),
            phase: "Draining".to_owned(),
            message: format!(
                "{} leaves (spec.brokers.groups lowered): read-only, {left}, draining for {} s",
                l.group, l.elapsed_secs
            ),
        })
    }
}

/// The highest group count among the cluster's broker StatefulSets (0 without any).
pub fn existing_groups(sets: &[StatefulSet]) -> u32 {
    let max = u32::try_from(rmq_model::defaults::MAX_BROKER_GROUPS).unwrap_or(64);
    sets.iter()
        .filter_map(|s| s.labels().get(labels::BROKER_GROUP).cloned())
        .filter_map(|g| (0..max).find(|i| rmq_model::desired::group_name(*i) == g))
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

/// Observes and advances the drain of every group of `desired_ext` beyond `validated.groups`.
pub async fn pass(
    ctx: &Context,
    admin: &Admin,
    cluster: &RocketMQCluster,
    validated: &ValidatedCluster,
    desired_ext: &DesiredCluster,
    sets: &[StatefulSet],
    pods: &[Pod],
) -> Result<ScaleIn> {
    let ns = cluster.namespace().unwrap_or_default();
    let name = cluster.name_any();
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let mut out = ScaleIn::default();
    for group in desired_ext
        .group_names()
        .iter()
        .skip(validated.groups as usize)
    {
        let sts_name = format!("{name}-{group}");
        let Some(sts) = sets.iter().find(|s| s.name_any() == sts_name) else {
            continue;
        };
        let since = match draining_since(sts) {
            Some(t) => t,
            None => start(ctx, cluster, &ns, &sts_name, group, now).await?,
        };
        let port = desired_ext
            .brokers
            .iter()
            .find(|b| &b.group == group && b.broker_id == 0)
            .map_or(rmq_model::defaults::BROKER_PORT, |b| b.endpoint.port);
        let master = if validated.failover.is_some() {
            let n = validated.replicas_per_group;
            elected_master(
                admin,
                (0..n).map(|i| pod_addr(pods, &format!("{sts_name}-{i}"), port)),
            )
            .await
        } else {
            pod_addr(pods, &format!("{sts_name}-0"), port)
        };
        let lag = match &master {
            Some(addr) => read_only_and_lag(admin, addr).await,
            None => None,
        };
        let drain = decide(lag, now - since, validated.scale_in.drain_timeout_minutes);
        out.leaving.push(Leaving {
            group: group.clone(),
            stateful_set: sts_name,
            drain,
            elapsed_secs: now - since,
        });
    }
    Ok(out)
}

/// After the apply removed the drained groups: Events, and their claims with `Delete`.
pub async fn finish(
    ctx: &Context,
    cluster: &RocketMQCluster,
    validated: &ValidatedCluster,
    scale_in: &ScaleIn,
) -> Result<()> {
    let ns = cluster.namespace().unwrap_or_default();
    for l in &scale_in.leaving {
        let (kind, reason, note) = match &l.drain {
            Drain::Waiting(_) => continue,
            Drain::Drained => (
                EventType::Normal,
                "GroupRemoved",
                format!("{} drained in {} s and removed", l.group, l.elapsed_secs),
            ),
            Drain::TimedOut(left) => (
                EventType::Warning,
                "DrainTimedOut",
                format!(
                    "{} removed after the drain timeout with {} messages not consumed",
                    l.group,
                    left.map_or("an unknown number of".to_owned(), |n| n.to_string())
                ),
            ),
        };
        ctx.publish(cluster, reconcile_event(kind, reason, &note))
            .await;
        if validated.scale_in.volume_claims == VolumeClaimPolicy::Delete {
            delete_claims(ctx, &ns, &l.stateful_set).await?;
        }
    }
    Ok(())
}

fn draining_since(sts: &StatefulSet) -> Option<i64> {
    sts.annotations().get(DRAINING_SINCE)?.parse().ok()
}

/// Marks the drain's start on the StatefulSet and says so in an Event.
async fn start(
    ctx: &Context,
    cluster: &RocketMQCluster,
    ns: &str,
    sts: &str,
    group: &str,
    now: i64,
) -> Result<i64> {
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
    let patch = serde_json::json!({"metadata": {"annotations": {DRAINING_SINCE: now.to_string()}}});
    let pp = PatchParams {
        field_manager: Some(DRAIN_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(sts, &pp, &Patch::Merge(&patch))
        .await
        .map_err(Error::kube(format!("annotate StatefulSet {sts}")))?;
    let note = format!(
        "{group} leaves: its master turns read-only, then the operator waits for consumers"
    );
    let ev = reconcile_event(EventType::Normal, "DrainingGroup", &note);
    ctx.publish(cluster, ev).await;
    Ok(now)
}

/// `podIP:port` of a Ready pod.
fn pod_addr(pods: &[Pod], name: &str, port: u16) -> Option<String> {
    let pod = pods.iter().find(|p| p.name_any() == name)?;
    let status = pod.status.as_ref()?;
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    ready
        .then(|| status.pod_ip.clone())
        .flatten()
        .map(|ip| format!("{ip}:{port}"))
}

/// The address of the broker among `addrs` that runs as master (`failover: Automatic`: the
/// controllers chose it), if one answers.
async fn elected_master(
    admin: &Admin,
    addrs: impl Iterator<Item = Option<String>>,
) -> Option<String> {
    for addr in addrs.flatten() {
        if let Ok(config) = admin.broker_config(&addr).await
            && matches!(
                config.get("brokerRole").map(String::as_str),
                Some("SYNC_MASTER" | "ASYNC_MASTER")
            )
        {
            return Some(addr);
        }
    }
    None
}

/// Makes the master read-only (once) and sums what the consumer groups that consume from it
/// (committed offsets there) have left on it.
async fn read_only_and_lag(admin: &Admin, master: &str) -> Option<i64> {
    let config = admin.broker_config(master).await.ok()?;
    if config.get("brokerPermission").map(String::as_str) != Some("4") {
        let set = [("brokerPermission".to_owned(), "4".to_owned())].into();
        if let Err(e) = admin.update_broker_config(master, &set).await {
            tracing::warn!(%master, error = %e, "cannot make the leaving master read-only");
            return None;
        }
    }
    let pairs = admin.consumed_pairs(master).await.ok()?;
    let mut lag = 0;
    for (topic, group) in &pairs {
        lag += admin.consume_lag(master, group, topic).await.ok()?;
    }
    Some(lag)
}

/// Deletes the data claims of a removed group (`data-<sts>-<i>`).
async fn delete_claims(ctx: &Context, ns: &str, sts: &str) -> Result<()> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let claims = api
        .list(&ListParams::default())
        .await
        .map_err(Error::kube(format!("list claims of {sts}")))?;
    let prefix = format!("data-{sts}-");
    for c in claims
        .items
        .iter()
        .filter(|c| c.name_any().starts_with(&prefix))
    {
        let name = c.name_any();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(claim = %name, "deleted the claim of a removed broker"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(Error::kube(format!("delete claim {name}"))(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_ends_at_zero_lag_or_at_the_timeout() {
        assert_eq!(decide(Some(0), 5, 30), Drain::Drained);
        assert_eq!(decide(Some(12), 5, 30), Drain::Waiting(Some(12)));
        assert_eq!(decide(None, 5, 30), Drain::Waiting(None));
        assert_eq!(decide(Some(12), 1800, 30), Drain::TimedOut(Some(12)));
        assert_eq!(decide(None, 60, 0), Drain::TimedOut(None));
        assert_eq!(decide(Some(0), 99_999, 30), Drain::Drained);
    }
}
