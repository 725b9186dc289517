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
    let entries = properties(&text);
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
                "rmq changes only the retention settings at runtime ({}); {} must be set in broker.conf and the broker restarted (rolling restarts keep data). Nothing was changed.",
                crate::config::RETENTION_KEYS.join(", "),
                fixed.join(", ")
            ),
        );
    }
    match b.retention.update(&entries, "UPDATE_BROKER_CONFIG") {
        Ok(()) => {
            tracing::info!(?entries, "retention settings changed at runtime");
            respond(RemotingCommand::success(req))
        }
        Err(e) => refuse(
            req,
            code::SYSTEM_ERROR,
            format!("{e}. Nothing was changed."),
        ),
    }
}

/// `key=value` lines of a Java properties text (blank lines and `#` comments skipped).
fn properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_text_as_mqadmin_sends_it() {
        let p = properties("#comment\nfileReservedTime=48\n\ndeleteWhen = 03;15\n");
        assert_eq!(
            p,
            vec![
                ("fileReservedTime".to_owned(), "48".to_owned()),
                ("deleteWhen".to_owned(), "03;15".to_owned())
            ]
        );
    }
}
