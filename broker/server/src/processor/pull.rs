//! PULL_MESSAGE / LITE_PULL_MESSAGE with long polling.

use super::reply::{Reply, refuse, respond, system_error};
use crate::broker::Broker;
use crate::long_poll::ParkedPull;
use crate::state::now_ms;
use bytes::BytesMut;
use rmq_protocol::body::heartbeat::SubscriptionData;
use rmq_protocol::body::route::perm;
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use rmq_protocol::header::pull::{
    PULL_FLAG_COMMIT_OFFSET, PULL_FLAG_SUBSCRIPTION, PULL_FLAG_SUSPEND, PullMessageRequestHeader,
    PullMessageResponseHeader,
};
use rmq_protocol::net::Channel;
use rmq_protocol::{RemotingCommand, response_code as code};
use rmq_store::{GetResult, GetStatus};
use std::sync::Arc;

/// Most messages one pull returns.
const MAX_PULL_COUNT: usize = 32;
/// Most bytes one pull returns (Java's in-memory transfer limit).
const MAX_PULL_BYTES: usize = 256 * 1024;

/// The subscription filter for this pull, or the error response.
// The Err is the finished response, moved once to the caller: boxing it would only add an
// allocation per refused request.
#[allow(clippy::result_large_err)]
fn subscription(
    b: &Broker,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
) -> Result<Option<Arc<SubscriptionData>>, Reply> {
    if h.sys_flag & PULL_FLAG_SUBSCRIPTION != 0 {
        let expr_type = h.expression_type.as_deref().unwrap_or("TAG");
        if !expr_type.eq_ignore_ascii_case("TAG") {
            return Err(refuse(
                req,
                code::SUBSCRIPTION_PARSE_FAILED,
                format!("expression type {expr_type} is not supported by rmq; use TAG expressions"),
            ));
        }
        let expr = h.subscription.as_deref().unwrap_or("*");
        let sub = SubscriptionData::from_expression(&h.topic, expr, h.sub_version);
        return Ok((!sub.is_all()).then(|| Arc::new(sub)));
    }
    if !b.clients.consumer_online(&h.consumer_group) {
        return Err(refuse(
            req,
            code::SUBSCRIPTION_NOT_EXIST,
            format!(
                "the consumer's group info not exist: {} (send a heartbeat first)",
                h.consumer_group
            ),
        ));
    }
    let Some(sub) = b.clients.subscription(&h.consumer_group, &h.topic) else {
        return Err(refuse(
            req,
            code::SUBSCRIPTION_NOT_EXIST,
            format!(
                "the consumer's subscription not exist: group {} does not subscribe {}",
                h.consumer_group, h.topic
            ),
        ));
    };
    if sub.sub_version < h.sub_version {
        return Err(refuse(
            req,
            code::SUBSCRIPTION_NOT_LATEST,
            "the consumer's subscription not latest",
        ));
    }
    Ok((!sub.is_all()).then_some(sub))
}

/// The group and topic configs of a pull, after the permission and queue checks.
// The Err is the finished response, moved once to the caller (see `subscription`).
#[allow(clippy::result_large_err)]
fn check_pull(
    b: &Broker,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
) -> Result<(Arc<SubscriptionGroupConfig>, Arc<TopicConfig>), Reply> {
    if !perm::is_readable(b.permission()) {
        return Err(refuse(
            req,
            code::NO_PERMISSION,
            format!("the broker[{}] pulling message is forbidden", b.broker_addr),
        ));
    }
    let Some(group) = b.groups.find_or_create(&h.consumer_group, now_ms()) else {
        return Err(refuse(
            req,
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{}] does not exist", h.consumer_group),
        ));
    };
    if !group.consume_enable {
        return Err(refuse(
            req,
            code::NO_PERMISSION,
            format!("subscription group no permission, {}", h.consumer_group),
        ));
    }
    let Some(topic) = b.topics.get(&h.topic) else {
        return Err(refuse(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please!", h.topic),
        ));
    };
    if !perm::is_readable(topic.perm) {
        return Err(refuse(
            req,
            code::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        ));
    }
    if h.queue_id < 0 || h.queue_id >= topic.read_queue_nums {
        return Err(refuse(
            req,
            code::INVALID_PARAMETER,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
                h.queue_id, h.topic, topic.read_queue_nums
            ),
        ));
    }
    Ok((group, topic))
}

/// Reads what the pull asks for (count and bytes capped), through the tag filter.
fn read(b: &Broker, h: &PullMessageRequestHeader, filter: Option<&SubscriptionData>) -> GetResult {
    let max_count = usize::try_from(h.max_msg_nums)
        .unwrap_or(1)
        .clamp(1, MAX_PULL_COUNT);
    let max_bytes = h
        .max_msg_bytes
        .and_then(|m| usize::try_from(m).ok())
        .filter(|m| *m > 0)
        .map_or(MAX_PULL_BYTES, |m| m.min(MAX_PULL_BYTES));
    let matches = |tags: i64| filter.is_none_or(|f| f.matches_tags_code(tags));
    b.store.get_messages(
        &h.topic,
        h.queue_id,
        h.queue_offset,
        max_count,
        max_bytes,
        &matches,
    )
}

/// A consumer asked for messages retention already deleted: it continues from the queue's
/// minimum (PULL_OFFSET_MOVED); the messages it skipped are logged and counted.
fn note_skipped(b: &Broker, h: &PullMessageRequestHeader, min_offset: i64) {
    let skipped = (min_offset - h.queue_offset).max(0);
    b.retention.count_skipped(skipped as u64);
    tracing::warn!(
        group = %h.consumer_group,
        topic = %h.topic,
        queue = h.queue_id,
        from = h.queue_offset,
        to = min_offset,
        skipped,
        "consumer fell behind retention: it continues from the queue's oldest message"
    );
}

/// The pull response code of a read status (RocketMQ's `PullMessageProcessor` mapping).
fn response_code(status: GetStatus, queue_offset: i64) -> i32 {
    match status {
        GetStatus::Found => code::SUCCESS,
        GetStatus::NoMatchedMessage | GetStatus::MessageWasRemoving => code::PULL_RETRY_IMMEDIATELY,
        GetStatus::OffsetOverflowOne | GetStatus::OffsetFoundNull => code::PULL_NOT_FOUND,
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue => {
            if queue_offset != 0 {
                code::PULL_OFFSET_MOVED
            } else {
                code::PULL_NOT_FOUND
            }
        }
        GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly => code::PULL_OFFSET_MOVED,
    }
}

/// Parks a pull that found nothing (long polling, or short polling when disabled), then looks
/// once more: a message may have landed between the read and the park.
fn park(
    b: &Arc<Broker>,
    ch: &Channel,
    req: RemotingCommand,
    h: &PullMessageRequestHeader,
    filter: Option<Arc<SubscriptionData>>,
) {
    let hold_ms = if b.config.long_polling_enable {
        h.suspend_timeout_millis.max(0)
    } else {
        b.config.short_polling_time.as_millis() as i64
    };
    b.holds.park(
        &h.topic,
        h.queue_id,
        ParkedPull {
            channel: ch.clone(),
            request: req,
            offset: h.queue_offset,
            deadline_ms: now_ms() + hold_ms,
            filter,
        },
    );
    let max = b.store.max_offset(&h.topic, h.queue_id);
    for p in b.holds.take_ready(&h.topic, h.queue_id, max, None) {
        execute_parked(b, p);
    }
}

/// Handles a pull; `first` is false when a parked pull is re-executed (no second suspend, no
/// second offset commit).
pub fn pull_message(b: &Arc<Broker>, ch: &Channel, req: RemotingCommand, first: bool) -> Reply {
    let h: PullMessageRequestHeader = req.header()?;
    let (group, topic) = match check_pull(b, &req, &h) {
        Ok(configs) => configs,
        Err(reply) => return reply,
    };
    let filter = match subscription(b, &req, &h) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let got = read(b, &h, filter.as_deref());
    if got.status == GetStatus::OffsetTooSmall {
        note_skipped(b, &h, got.min_offset);
    }
    let response_code = response_code(got.status, h.queue_offset);
    b.stats.add_pull(response_code == code::SUCCESS);
    if first && h.sys_flag & PULL_FLAG_COMMIT_OFFSET != 0 && b.is_master() && h.commit_offset >= 0 {
        b.offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    }
    if response_code == code::PULL_NOT_FOUND && first && h.sys_flag & PULL_FLAG_SUSPEND != 0 {
        park(b, ch, req, &h, filter);
        return Ok(None);
    }
    let mut resp =
        RemotingCommand::response_to(&req, response_code, Some(format!("{:?}", got.status)))
            .with_header(&PullMessageResponseHeader {
                suggest_which_broker_id: 0,
                next_begin_offset: got.next_begin_offset,
                min_offset: got.min_offset,
                max_offset: got.max_offset,
                topic_sys_flag: Some(topic.topic_sys_flag),
                group_sys_flag: Some(group.group_sys_flag),
            });
    if response_code == code::SUCCESS {
        let mut body = BytesMut::with_capacity(got.total_bytes);
        for m in &got.messages {
            body.extend_from_slice(m);
        }
        b.stats.add_gets(got.messages.len() as u64);
        b.offsets.record_pull(
            &h.consumer_group,
            &h.topic,
            h.queue_id,
            got.next_begin_offset,
        );
        let (n, bytes) = (got.messages.len() as u64, got.total_bytes as u64);
        b.stats.items.got(&h.topic, &h.consumer_group, n, bytes);
        resp.body = body.freeze();
    }
    respond(resp)
}

/// Answers the parked pulls whose suspend time is up or whose queue now shows messages past
/// their offset (the periodic check, and controller mode when the read cap moves).
pub fn wake_due_pulls(b: &Arc<Broker>) {
    for p in b.holds.take_due(now_ms(), |t, q| b.store.max_offset(t, q)) {
        execute_parked(b, p);
    }
}

/// Re-executes a parked pull and answers it on its channel.
pub fn execute_parked(b: &Arc<Broker>, parked: ParkedPull) {
    if parked.channel.is_closed() {
        return;
    }
    let ch = parked.channel.clone();
    let opaque = parked.request.opaque;
    match pull_message(b, &ch, parked.request, false) {
        Ok(Some(resp)) => {
            ch.send(resp);
        }
        Ok(None) => {}
        Err(e) => {
            ch.send(system_error(
                opaque,
                rmq_protocol::codes::version::CURRENT,
                &e,
            ));
        }
    }
}
