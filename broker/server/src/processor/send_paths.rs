//! The send-side transforms (reference §5.4 steps 5, 7, 8), applied in RocketMQ's order to a
//! single message before it is stored: a retry-topic send that exhausted its retries (or comes
//! from an orderly group holding queue locks) goes to `%DLQ%<group>`; a `TRAN_MSG=true` message
//! becomes a half message; a `DELAY` message goes to its schedule queue.

use super::retry::{DLQ_QUEUES, Refusal, ensure_writable, max_reconsume_times};
use crate::broker::Broker;
use crate::state::now_ms;
use rmq_protocol::header::send::SendMessageRequestHeader;
use rmq_protocol::message::{MessageRecord, Properties, TagsCode, property};
use rmq_protocol::{RemotingCommand, names, response_code as code};

/// For a send to `%RETRY%<group>`: the DLQ to store it in instead, if any. Refuses when the
/// group does not exist.
pub(crate) fn dead_letter_target(
    b: &Broker,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
) -> Result<Option<String>, Refusal> {
    let Some(group_name) = h.topic.strip_prefix(names::RETRY_GROUP_TOPIC_PREFIX) else {
        return Ok(None);
    };
    let Some(group) = b.groups.find_or_create(group_name, now_ms()) else {
        return Err((
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {group_name}"),
        ));
    };
    let max = max_reconsume_times(req, h.max_reconsume_times, &group);
    let times = h.reconsume_times.unwrap_or(0);
    let orderly = b.locks.has_live_locks(group_name, now_ms());
    if times > max || orderly {
        let dlq = names::dlq_topic(group_name);
        ensure_writable(b, &dlq, DLQ_QUEUES)?;
        tracing::info!(
            group = group_name,
            times,
            max,
            orderly,
            "retry message sent to the dead letter queue"
        );
        return Ok(Some(dlq));
    }
    Ok(None)
}

/// Applies the dead-letter redirect (`dlq`), else the half-message transform, else the delay
/// transform, to `record`. Returns the `tagsCode` of a delayed message (its delivery time).
pub(crate) fn transform(
    b: &Broker,
    dlq: Option<String>,
    record: &mut MessageRecord,
    uniq: &str,
) -> Result<Option<TagsCode>, Refusal> {
    if let Some(dlq) = dlq {
        let mut props = Properties::parse(&record.properties);
        props.remove(property::DELAY_TIME_LEVEL);
        record.properties = props.encode();
        record.topic = dlq;
        record.queue_id = 0;
        return Ok(None);
    }
    if crate::transaction::prepare_half(record, uniq) {
        if b.config.features.reject_transaction_message {
            return Err((
                code::NO_PERMISSION,
                format!(
                    "the broker[{}] sending transaction message is forbidden",
                    b.broker_addr
                ),
            ));
        }
        return Ok(None);
    }
    Ok(b.writer.apply_delay(record))
}
