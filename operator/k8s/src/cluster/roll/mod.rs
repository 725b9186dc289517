//! The broker roller: after every apply, decides which broker pod (if any) restarts now
//! ([`plan::next_step`]) and does it by deleting the pod (the StatefulSets use `OnDelete`, so
//! nothing else restarts brokers). Runtime-changeable settings are pushed to the running
//! brokers instead (UPDATE_BROKER_CONFIG).
//!
//! Everything the roll needs is read again on each pass — pod readiness and revision labels
//! from the API server, the config hash each broker loaded (GET_BROKER_CONFIG) and its
//! master's in-sync slave count (GET_BROKER_HA_STATUS) from the brokers — so an operator that
//! restarts mid-roll continues where the objects say it is.

mod observe;
pub mod plan;
pub mod report;

use crate::Result;
use crate::context::{Context, reconcile_event};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use kube::runtime::events::EventType;
use plan::RollStep;
use rmq_model::DesiredCluster;
use rmq_model::types::RocketMQCluster;
use std::time::Duration;

/// How long a broker pod may stay not Ready before the roll stops with a reason.
pub const STUCK_AFTER: Duration = Duration::from_secs(600);
/// How long other masters and the nameservers must have been Ready before a master goes: the
/// clients' route refresh (30 s) and the brokers' registration period (30 s), plus margin.
pub const ROUTE_SETTLE: Duration = Duration::from_secs(35);

/// The cluster being rolled and where its objects live.
pub struct RollTarget<'a> {
    /// The CR (Events are published on it).
    pub cluster: &'a RocketMQCluster,
    /// Its namespace.
    pub namespace: &'a str,
    /// What each broker should run.
    pub desired: &'a DesiredCluster,
    /// The broker StatefulSets as applied (their status has the update revision).
    pub stateful_sets: &'a [StatefulSet],
    /// The pods of the cluster.
    pub pods: &'a [Pod],
}

/// What one pass of the roller did and saw.
pub struct Pass {
    /// The step taken (or the reason it waits).
    pub step: RollStep,
    /// The Ready broker pods that run as their group's master right now: brokerId 0 with fixed
    /// roles, the broker reporting MASTER with `failover: Automatic`.
    pub ready_masters: Vec<String>,
}

/// One pass of the roller: pushes runtime settings, then restarts at most one pod.
pub async fn pass(ctx: &Context, target: &RollTarget<'_>) -> Result<Pass> {
    let admin = ctx
        .admin(target.namespace, &target.cluster.name_any(), target.desired)
        .await?;
    let groups = observe::groups(&admin, target).await;
    for push in &groups.runtime_pushes {
        match admin.update_broker_config(&push.addr, &push.entries).await {
            Ok(()) => {
                let note = format!("{}: {} changed at runtime", push.pod, keys(push));
                tracing::info!(pod = %push.pod, "runtime settings pushed");
                let ev = reconcile_event(EventType::Normal, "ConfigUpdated", &note);
                ctx.publish(target.cluster, ev).await;
            }
            Err(e) => tracing::warn!(pod = %push.pod, error = %e, "runtime settings refused"),
        }
    }
    let gates = plan::Gates {
        stuck_after: STUCK_AFTER,
        route_settle: ROUTE_SETTLE,
        namesrv_ready_for: namesrv_ready_for(target.pods),
    };
    let step = plan::next_step(&groups.views, &gates);
    if let RollStep::Restart { pod, reason } = &step {
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), target.namespace);
        match api.delete(pod, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(crate::Error::kube(format!("delete pod {pod}"))(e)),
        }
        tracing::info!(%pod, %reason, "rolling: pod restarted");
        let mut ev = reconcile_event(EventType::Normal, "RestartingPod", reason);
        // The pod as the related object: Events of different pods stay apart (the recorder
        // folds Events with the same object, reason and related object into one series).
        ev.secondary = Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            api_version: Some("v1".to_owned()),
            name: Some(pod.clone()),
            namespace: Some(target.namespace.to_owned()),
            ..ObjectReference::default()
        });
        ctx.publish(target.cluster, ev).await;
    }
    if let RollStep::Stuck { reason, .. } = &step {
        tracing::warn!(%reason, "roll stuck");
    }
    let ready_masters = groups
        .views
        .iter()
        .flat_map(|g| &g.pods)
        .filter(|p| p.ready && p.broker_id == 0)
        .map(|p| p.name.clone())
        .collect();
    Ok(Pass {
        step,
        ready_masters,
    })
}

/// The shortest time any Ready nameserver pod of the cluster has been Ready.
fn namesrv_ready_for(pods: &[Pod]) -> Option<Duration> {
    pods.iter()
        .filter(|p| {
            p.labels().get(crate::labels::COMPONENT).map(String::as_str)
                == Some(crate::labels::COMPONENT_NAMESRV)
        })
        .filter_map(|p| match observe::readiness(Some(p)) {
            (true, d) => Some(d),
            _ => None,
        })
        .min()
}

fn keys(push: &observe::RuntimePush) -> String {
    push.entries
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
