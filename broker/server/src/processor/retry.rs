//! Consumer retries (reference §5.7): CONSUMER_SEND_MSG_BACK (36) turns a failed message into a
//! delayed copy in `%RETRY%<group>` with `reconsumeTimes + 1` (delay level `3 + reconsumeTimes`
//! unless the consumer chose one), or into `%DLQ%<group>` (1 queue, read/write) once the
//! group's maximum is reached. Retry messages a client sends itself go through
//! [`super::send_paths`].

use super::reply::{Reply, refuse, respond};
use crate::broker::Broker;
use crate::state::now_ms;
use rmq_protocol::body::route::perm;
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::codes::version;
use rmq_protocol::header::send::ConsumerSendMsgBackRequestHeader;
use rmq_protocol::message::{MessageExt, MessageRecord, decode_message, property};
use rmq_protocol::{RemotingCommand, names, response_code as code};
use std::sync::Arc;

/// Dead-letter queues per group.
pub(crate) const DLQ_QUEUES: i32 = 1;

/// Why a request is refused: response code and remark.
pub(crate) type Refusal = (i32, String);

/// The group's retry limit: the client's `maxReconsumeTimes` if it may send one (V3_4_9+),
/// else the group's `retryMaxTimes`.
pub(crate) fn max_reconsume_times(
    req: &RemotingCommand,
    from_header: Option<i32>,
    g: &SubscriptionGroupConfig,
) -> i32 {
    match from_header {
        Some(m) if req.version >= version::V3_4_9 => m,
        _ => g.retry_max_times,
    }
}

/// Creates a broker-managed topic if missing (and registers it); refuses if not writable.
pub(crate) fn ensure_writable(b: &Broker, topic: &str, queues: i32) -> Result<(), Refusal> {
    let before = b.topics.data_version();
    let cfg = b
        .topics
        .ensure(topic, queues, perm::READ_WRITE, now_ms())
        .map_err(|e| (code::SYSTEM_ERROR, e.to_string()))?;
    if b.topics.data_version() != before {
        b.register_now.notify_one();
    }
    if !perm::is_writeable(cfg.perm) {
        return Err((
            code::NO_PERMISSION,
            format!("the topic[{topic}] sending message is forbidden"),
        ));
    }
    Ok(())
}

/// CONSUMER_SEND_MSG_BACK.
pub fn consumer_send_msg_back(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: ConsumerSendMsgBackRequestHeader = req.header()?;
    let group = match retry_group(b, &h) {
        Ok(Some(g)) => g,
        Ok(None) => return respond(RemotingCommand::success(req)),
        Err((c, why)) => return refuse(req, c, why),
    };
    let raw = match b.store.read_record(h.offset) {
        Ok(Some(r)) => r,
        _ => {
            return refuse(
                req,
                code::SYSTEM_ERROR,
                format!("look message by offset failed, {}", h.offset),
            );
        }
    };
    let (msg, _) = decode_message(&raw)?;
    let max = max_reconsume_times(req, h.max_reconsume_times, &group);
    let (record, delay) = match back_record(b, &h, &group, &msg, max) {
        Ok(r) => r,
        Err((c, why)) => return refuse(req, c, why),
    };
    if let Some(why) = b.retention.refusal() {
        return refuse(req, code::SERVICE_NOT_AVAILABLE, why);
    }
    let dead_letter = record.topic.starts_with(names::DLQ_GROUP_TOPIC_PREFIX);
    match b.writer.put(record, delay) {
        Ok(_) => {
            // Java keys it by the message's first topic (RETRY_TOPIC when already retried).
            let origin = msg
                .properties
                .get(property::RETRY_TOPIC)
                .unwrap_or(&msg.topic);
            b.stats.items.sent_back(origin, &h.group);
            if dead_letter {
                b.stats.items.dead_lettered(origin, &h.group);
            }
            respond(RemotingCommand::success(req))
        }
        Err(e) => refuse(req, code::SYSTEM_ERROR, e),
    }
}

/// The group of a send-back, after the checks (master, group, permission) and with its retry
/// topic writable; `None` when the group keeps no retries (the message is dropped).
fn retry_group(
    b: &Broker,
    h: &ConsumerSendMsgBackRequestHeader,
) -> Result<Option<Arc<SubscriptionGroupConfig>>, Refusal> {
    if !b.is_master() {
        return Err((
            code::SERVICE_NOT_AVAILABLE,
            format!(
                "broker {} is a slave; send back to the master",
                b.config.broker_name
            ),
        ));
    }
    let Some(group) = b.groups.find_or_create(&h.group, now_ms()) else {
        return Err((
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {}", h.group),
        ));
    };
    if !perm::is_writeable(b.permission()) {
        return Err((
            code::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", b.broker_addr),
        ));
    }
    if group.retry_queue_nums <= 0 {
        return Ok(None);
    }
    ensure_writable(b, &names::retry_topic(&h.group), group.retry_queue_nums)?;
    Ok(Some(group))
}

/// The record to store for a send-back of `msg`, and whether it is delayed: a retry in
/// `%RETRY%<group>` (`DELAY` = `3 + reconsumeTimes` unless the consumer chose a level) or,
/// once `max` retries are used up or the consumer asks for it, `%DLQ%<group>`.
fn back_record(
    b: &Broker,
    h: &ConsumerSendMsgBackRequestHeader,
    group: &SubscriptionGroupConfig,
    msg: &MessageExt,
    max: i32,
) -> Result<(MessageRecord, bool), Refusal> {
    let mut props = msg.properties.clone();
    if props.get(property::RETRY_TOPIC).is_none() {
        props.insert(property::RETRY_TOPIC, msg.topic.clone());
    }
    props.insert(property::WAIT_STORE_MSG_OK, "false");
    if props
        .get(property::ORIGIN_MESSAGE_ID)
        .is_none_or(str::is_empty)
    {
        props.insert(property::ORIGIN_MESSAGE_ID, msg.offset_msg_id());
    }
    let (topic, queue_id, delay) = if msg.reconsume_times >= max || h.delay_level < 0 {
        let dlq = names::dlq_topic(&h.group);
        ensure_writable(b, &dlq, DLQ_QUEUES)?;
        props.remove(property::DELAY_TIME_LEVEL);
        tracing::info!(group = %h.group, msg_id = %msg.msg_id(), times = msg.reconsume_times, max, "message sent to the dead letter queue");
        (dlq, 0, false)
    } else {
        let level = match h.delay_level {
            0 => 3 + msg.reconsume_times,
            l => l,
        };
        props.insert(property::DELAY_TIME_LEVEL, level.to_string());
        let queue = rand::random_range(0..group.retry_queue_nums);
        (names::retry_topic(&h.group), queue, true)
    };
    let record = MessageRecord {
        topic,
        queue_id,
        flag: msg.flag,
        sys_flag: msg.sys_flag,
        born_timestamp: msg.born_timestamp,
        born_host: msg.born_host,
        store_host: b.store_host,
        reconsume_times: msg.reconsume_times + 1,
        prepared_transaction_offset: 0,
        body: msg.body.clone(),
        properties: props.encode(),
    };
    Ok((record, delay))
}
