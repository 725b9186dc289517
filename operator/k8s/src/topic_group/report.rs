//! What a topic or group reconcile tells: the status subresource (server-side apply, conditions
//! merged so transition times only move on a change) and Events.

use super::managed::{MANAGED_CONDITION, Managed};
use crate::context::{Context, reconcile_event};
use crate::{Error, Result, conditions};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use rmq_model::Condition;
use rmq_model::types::condition_types::READY;
use std::time::Duration;

/// Why the object is not Ready, and when to look again (`None`: only when the spec changes,
/// the reconcile then fails with [`Error::Invalid`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The Ready condition's reason, also the Event's (`InvalidSpec`, `ClusterNotFound`, ...).
    pub reason: &'static str,
    /// The Ready condition's message: what is wrong and how to fix it.
    pub message: String,
    /// When to reconcile again.
    pub retry: Option<Duration>,
}

impl Failure {
    /// A failure retried after `retry`.
    pub fn retry(reason: &'static str, message: String, retry: Duration) -> Self {
        Self {
            reason,
            message,
            retry: Some(retry),
        }
    }
}

/// `Managed=True`: the operator keeps the object as declared.
pub fn managed() -> Condition {
    conditions::cond(
        MANAGED_CONDITION,
        true,
        "Managed",
        "the operator keeps this object as declared",
    )
}

/// Writes the status of `obj` with `conds` merged over its current conditions, unless that is
/// the status it already has.
pub async fn write_status<K: Managed>(
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
    if serde_json::to_value(obj)
        .ok()
        .and_then(|o| o.get("status").cloned())
        .as_ref()
        == body.get("status")
    {
        // Unchanged: a no-op server-side apply still costs the API server a write path.
        return Ok(());
    }
    // A merge patch: the operator is the only writer of these fields, and it costs the API
    // server less than a server-side apply (no managed-fields bookkeeping per write).
    let status = serde_json::json!({ "status": body.get("status") });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&status),
    )
    .await
    .map_err(Error::kube(format!(
        "patch status of {} {}",
        K::CONTROLLER,
        obj.name_any()
    )))?;
    Ok(())
}

/// Publishes a `type_` Event about `obj`.
pub async fn event<K: Managed>(ctx: &Context, obj: &K, type_: EventType, reason: &str, note: &str) {
    ctx.publish(obj, reconcile_event(type_, reason, note)).await;
}

/// Reports `failure`: a Warning Event when the Ready condition changes, `Ready=False` in the
/// status, then the retry (or [`Error::Invalid`] for a spec only a change can fix).
pub async fn fail<K: Managed>(
    api: &Api<K>,
    obj: &K,
    ctx: &Context,
    failure: Failure,
) -> Result<Action> {
    let Failure {
        reason,
        message,
        retry,
    } = failure;
    let was =
        conditions::find(&obj.conditions(), READY).map(|c| (c.reason.clone(), c.message.clone()));
    if was.as_ref() != Some(&(reason.to_owned(), message.clone())) {
        event(ctx, obj, EventType::Warning, reason, &message).await;
    }
    let ready = conditions::cond(READY, false, reason, message.clone());
    write_status(api, obj, vec![ready, managed()], Vec::new()).await?;
    match retry {
        Some(d) => Ok(Action::requeue(d)),
        None => Err(Error::Invalid(message)),
    }
}

/// Reports an object that is as declared on `masters`: `Ready=True` with `message`.
pub async fn in_sync<K: Managed>(
    api: &Api<K>,
    obj: &K,
    ctx: &Context,
    message: String,
    masters: Vec<String>,
) -> Result<Action> {
    let ready = conditions::cond(READY, true, "InSync", message);
    write_status(api, obj, vec![ready, managed()], masters).await?;
    Ok(Action::requeue(ctx.settings.resync))
}
