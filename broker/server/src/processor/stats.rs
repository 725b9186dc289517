//! The statistics Java's admin views read: VIEW_BROKER_STATS_DATA (one stats item's last
//! minute, hour and day: `mqadmin statsAll`, rocketmq-exporter) and GET_CONSUME_STATS (a
//! group's progress per queue: `mqadmin consumerProgress`).

use super::reply::{Reply, refuse, respond};
use crate::broker::Broker;
use crate::stats::items::Window;
use crate::stats::table::{GROUP_GET_NUMS, NAMES};
use rmq_protocol::body::lock::MessageQueue;
use rmq_protocol::body::stats::{OffsetWrapper, encode_consume_stats};
use rmq_protocol::body::to_json;
use rmq_protocol::header::topic::{GetConsumeStatsRequestHeader, ViewBrokerStatsDataRequestHeader};
use rmq_protocol::{RemotingCommand, response_code as code};

/// VIEW_BROKER_STATS_DATA: the item's windows, or SYSTEM_ERROR "The stats <N> <K> not exist"
/// (Java's words) for an item nothing was counted in yet.
pub fn view_broker_stats_data(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: ViewBrokerStatsDataRequestHeader = req.header()?;
    match b.stats.items.get(&h.stats_name, &h.stats_key) {
        Some(item) => respond(RemotingCommand::success(req).with_body(to_json(&item.data()))),
        None => {
            let known = NAMES.contains(&h.stats_name.as_str());
            let hint = if known {
                String::new()
            } else {
                format!(" (rmq keeps {})", NAMES.join(", "))
            };
            let why = format!(
                "The stats <{}> <{}> not exist{hint}",
                h.stats_name, h.stats_key
            );
            refuse(req, code::SYSTEM_ERROR, why)
        }
    }
}

/// GET_CONSUME_STATS: per queue of the group's topics (the one asked for, else every topic
/// it committed offsets on) the broker's max offset, the committed offset, where its last
/// pull ended and the store time of the last consumed message; and the group's consume rate
/// (messages handed to it per second over the last minute).
pub fn consume_stats(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: GetConsumeStatsRequestHeader = req.header()?;
    let group = h.consumer_group.as_str();
    let topics: Vec<String> = match &h.topic {
        Some(t) if !t.is_empty() => vec![t.clone()],
        _ => b
            .topics
            .names()
            .into_iter()
            .filter(|t| !b.offsets.queues(group, t).is_empty())
            .collect(),
    };
    let mut entries = Vec::new();
    let mut consume_tps = 0.0;
    for t in topics {
        let Some(cfg) = b.topics.get(&t) else {
            continue;
        };
        if let Some(item) = b.stats.items.get(GROUP_GET_NUMS, &format!("{t}@{group}")) {
            consume_tps += item.window(Window::Minute).tps;
        }
        let committed = b.offsets.queues(group, &t);
        for q in 0..cfg.read_queue_nums {
            let consumer = committed.get(&q).copied().unwrap_or(0).max(0);
            let pulled = b.offsets.pulled(group, &t, q).unwrap_or(consumer);
            let last_timestamp = if consumer > 0 {
                b.store.store_time_at(&t, q, consumer - 1).unwrap_or(0)
            } else {
                0
            };
            entries.push((
                message_queue(b, &t, q),
                OffsetWrapper {
                    broker_offset: b.store.max_offset(&t, q).max(0),
                    consumer_offset: consumer,
                    pull_offset: pulled.max(consumer),
                    last_timestamp,
                },
            ));
        }
    }
    let body = encode_consume_stats(&entries, consume_tps);
    respond(RemotingCommand::success(req).with_body(body))
}

/// Queue `queue_id` of `topic` on this broker.
pub fn message_queue(b: &Broker, topic: &str, queue_id: i32) -> MessageQueue {
    MessageQueue {
        topic: topic.to_owned(),
        broker_name: b.config.broker_name.clone(),
        queue_id,
    }
}
