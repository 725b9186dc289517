//! The admin requests of retention, as `mqadmin` sends them: UPDATE_BROKER_CONFIG of the
//! retention keys at runtime, DELETE_EXPIRED_COMMITLOG (`deleteExpiredCommitLog`) and
//! CLEAN_EXPIRED_CONSUMEQUEUE (`cleanExpiredCQ`).

use super::reply::{Reply, refuse, respond};
use crate::broker::Broker;
use rmq_protocol::message::SCHEDULE_TOPIC;
use rmq_protocol::{RemotingCommand, names, response_code as code};

/// UPDATE_BROKER_CONFIG: the body is properties text (`key=value` lines). Only the retention
/// keys change at runtime; a body with any other key changes nothing and says what to do.
pub fn update_config(b: &Broker, req: &RemotingCommand) -> Reply {
    let text = String::from_utf8_lossy(&req.body);
    let mut entries = rmq_protocol::body::properties::parse(&text);
    let permission = match take_permission(&mut entries) {
        Ok(p) => p,
        Err(e) => {
            return refuse(
                req,
                code::SYSTEM_ERROR,
                format!("{e}. Nothing was changed."),
            );
        }
    };
    let fixed: Vec<&str> = entries
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !crate::config::RETENTION_KEYS.contains(k))
        .collect();
    if !fixed.is_empty() {
        return refuse(
            req,
            code::SYSTEM_ERROR,
            format!(
                "rmq changes only brokerPermission and the retention settings at runtime ({}); {} must be set in broker.conf and the broker restarted (rolling restarts keep data). Nothing was changed.",
                crate::config::RETENTION_KEYS.join(", "),
                fixed.join(", ")
            ),
        );
    }
    if entries.is_empty() && permission.is_none() {
        return respond(RemotingCommand::success(req));
    }
    let updated = if entries.is_empty() {
        Ok(())
    } else {
        b.retention.update(&entries, "UPDATE_BROKER_CONFIG")
    };
    match updated {
        Ok(()) => {
            if !entries.is_empty() {
                tracing::info!(?entries, "retention settings changed at runtime");
            }
            if let Some(p) = permission {
                set_permission(b, p);
            }
            respond(RemotingCommand::success(req))
        }
        Err(e) => refuse(
            req,
            code::SYSTEM_ERROR,
            format!("{e}. Nothing was changed."),
        ),
    }
}

/// Removes `brokerPermission` from `entries` and checks it: 2 (write only), 4 (read only) or
/// 6 (read and write).
fn take_permission(entries: &mut Vec<(String, String)>) -> Result<Option<i32>, String> {
    let Some(i) = entries.iter().position(|(k, _)| k == "brokerPermission") else {
        return Ok(None);
    };
    let (_, v) = entries.remove(i);
    match v.parse::<i32>() {
        Ok(p @ (2 | 4 | 6)) => Ok(Some(p)),
        _ => Err(format!(
            "brokerPermission={v} is not a permission: use 6 (read and write), 4 (read only) or 2 (write only)"
        )),
    }
}

/// Puts `permission` in force and registers with the nameservers at once, so routes show it
/// (a read-only broker drops out of producers' write routes).
fn set_permission(b: &Broker, permission: i32) {
    let before = b
        .permission
        .swap(permission, std::sync::atomic::Ordering::AcqRel);
    if before != permission {
        tracing::info!(
            before,
            after = permission,
            "brokerPermission changed at runtime"
        );
        b.topics.touch(crate::state::now_ms());
        b.register_now.notify_one();
    }
}

/// DELETE_EXPIRED_COMMITLOG: the next cleaning passes delete expired segments whatever the
/// hour (`deleteWhen`).
pub fn delete_expired(b: &Broker, req: &RemotingCommand) -> Reply {
    b.retention.request_manual_delete();
    tracing::info!("DELETE_EXPIRED_COMMITLOG: expired segments go on the next cleaning passes");
    respond(RemotingCommand::success(req))
}

/// CLEAN_EXPIRED_CONSUMEQUEUE: removes the consume queues of topics the broker no longer has
/// (deleted topics), keeping the broker's own system queues. Queues below the commit log's
/// minimum are already corrected by every cleaning pass.
pub fn clean_queues(b: &Broker, req: &RemotingCommand) -> Reply {
    let stale: Vec<String> = b
        .store
        .topics()
        .into_iter()
        .filter(|t| b.topics.get(t).is_none())
        .filter(|t| t != SCHEDULE_TOPIC && !names::is_system_topic(t))
        .collect();
    for topic in &stale {
        if let Err(e) = b.store.delete_topic(topic) {
            return refuse(
                req,
                code::SYSTEM_ERROR,
                format!("cannot remove the consume queues of deleted topic {topic}: {e}"),
            );
        }
    }
    tracing::info!(topics = ?stale, "CLEAN_EXPIRED_CONSUMEQUEUE removed the queues of deleted topics");
    respond(RemotingCommand::success(req))
}
