//! Client sessions: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, connection close,
//! and the NOTIFY_CONSUMER_IDS_CHANGED fan-out that makes consumers rebalance at once.

use super::reply::{Reply, refuse, respond};
use crate::broker::Broker;
use crate::clients::ClientChannel;
use crate::state::now_ms;
use rmq_protocol::body::heartbeat::HeartbeatData;
use rmq_protocol::body::misc::ConsumerListBody;
use rmq_protocol::body::route::perm;
use rmq_protocol::body::to_json;
use rmq_protocol::header::client::{ConsumerGroupRequestHeader, UnregisterClientRequestHeader};
use rmq_protocol::net::Channel;
use rmq_protocol::{RemotingCommand, names, request_code as rc, response_code as code};

/// Tells every consumer of `group` to rebalance now.
pub fn notify_consumer_ids_changed(b: &Broker, group: &str) {
    let notify_enabled = b
        .groups
        .get(group)
        .is_none_or(|g| g.notify_consumer_ids_changed_enable);
    if !notify_enabled {
        return;
    }
    for ch in b.clients.consumer_channels(group) {
        let cmd = RemotingCommand::request_with(
            rc::NOTIFY_CONSUMER_IDS_CHANGED,
            &ConsumerGroupRequestHeader {
                consumer_group: group.to_owned(),
            },
        )
        .oneway();
        ch.send(cmd);
    }
}

/// HEART_BEAT.
pub fn heartbeat(b: &Broker, ch: &Channel, req: &RemotingCommand) -> Reply {
    let hb = HeartbeatData::decode(&req.body)?;
    let now = now_ms();
    let client = || ClientChannel {
        channel: ch.clone(),
        client_id: hb.client_id.clone(),
        language: req.language,
        version: req.version,
        last_update_ms: now,
    };
    let version_before = b.topics.data_version();
    for consumer in &hb.consumer_data_set {
        let Some(group) = b.groups.find_or_create(&consumer.group_name, now) else {
            tracing::debug!(group = %consumer.group_name, "heartbeat for unknown group ignored (autoCreateSubscriptionGroup=false)");
            continue;
        };
        if b.is_master() {
            let retry = names::retry_topic(&consumer.group_name);
            if let Err(e) =
                b.topics
                    .ensure(&retry, group.retry_queue_nums.max(1), perm::READ_WRITE, now)
            {
                tracing::warn!(topic = %retry, error = %e, "cannot create retry topic");
            }
        }
        let change = b.clients.register_consumer(client(), consumer);
        if change.new_channel && consumer.is_clustering() {
            notify_consumer_ids_changed(b, &consumer.group_name);
        }
    }
    for producer in &hb.producer_data_set {
        b.clients.register_producer(&producer.group_name, client());
    }
    if b.topics.data_version() != version_before {
        b.register_now.notify_one();
    }
    respond(RemotingCommand::success(req))
}

/// UNREGISTER_CLIENT.
pub fn unregister(b: &Broker, ch: &Channel, req: &RemotingCommand) -> Reply {
    let h: UnregisterClientRequestHeader = req.header()?;
    if let Some(g) = h.producer_group.as_deref().filter(|g| !g.is_empty()) {
        b.clients.unregister_producer(g, ch.id());
    }
    if let Some(g) = h.consumer_group.as_deref().filter(|g| !g.is_empty())
        && b.clients.unregister_consumer(g, ch.id())
    {
        notify_consumer_ids_changed(b, g);
    }
    respond(RemotingCommand::success(req))
}

/// GET_CONSUMER_LIST_BY_GROUP.
pub fn consumer_list(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: ConsumerGroupRequestHeader = req.header()?;
    let ids = b.clients.consumer_ids(&h.consumer_group);
    if ids.is_empty() {
        return refuse(
            req,
            code::SYSTEM_ERROR,
            format!("no consumer for this group, {}", h.consumer_group),
        );
    }
    respond(
        RemotingCommand::success(req).with_body(to_json(&ConsumerListBody {
            consumer_id_list: ids,
        })),
    )
}

/// A connection closed: drop its sessions and tell the groups it left.
pub fn connection_closed(b: &Broker, ch: &Channel) {
    for group in b.clients.channel_closed(ch.id()) {
        tracing::debug!(%group, peer = %ch.remote_addr(), "consumer connection closed");
        notify_consumer_ids_changed(b, &group);
    }
}

/// Drops sessions silent for longer than `channelExpiredTimeout`; runs every 10 s.
pub fn expire_clients(b: &Broker) {
    let timeout = b.config.channel_expired_timeout.as_millis() as i64;
    let (groups, expired) = b.clients.expire(now_ms(), timeout);
    for ch in expired {
        tracing::info!(peer = %ch.remote_addr(), "client session expired; closing its connection");
        ch.close();
    }
    for g in groups {
        notify_consumer_ids_changed(b, &g);
    }
}
