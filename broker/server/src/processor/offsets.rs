//! Consumer offsets and queue offsets: QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//! SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME.

use super::reply::{Reply, refuse, respond};
use crate::broker::Broker;
use rmq_protocol::header::offset::*;
use rmq_protocol::{RemotingCommand, response_code as code};
use rmq_store::Boundary;

/// Share of physical memory under which a queue's first message counts as "in memory" (Java's
/// `accessMessageInMemoryMaxRatio`, 40%).
const IN_MEMORY_RATIO: f64 = 0.4;

fn total_memory_bytes() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map_or(8 << 30, |kb| kb * 1024)
}

/// Is message 0 of the queue still recent enough to start a new group from it?
fn first_message_in_memory(b: &Broker, topic: &str, queue_id: i32) -> bool {
    if b.store.min_offset(topic, queue_id) > 0 || b.store.max_offset(topic, queue_id) == 0 {
        return false;
    }
    let got = b
        .store
        .get_messages(topic, queue_id, 0, 1, 1 << 30, &|_| true);
    let Some(first) = got.messages.first() else {
        return false;
    };
    if first.len() < 36 {
        return false;
    }
    let mut phys = [0u8; 8];
    phys.copy_from_slice(&first[28..36]);
    let distance = b.store.max_physical_offset() - i64::from_be_bytes(phys);
    (distance as f64) < total_memory_bytes() as f64 * IN_MEMORY_RATIO
}

fn offset_response(req: &RemotingCommand, offset: i64) -> Reply {
    respond(RemotingCommand::success(req).with_header(&OffsetResponseHeader { offset }))
}

/// QUERY_CONSUMER_OFFSET.
pub fn query_consumer_offset(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: QueryConsumerOffsetRequestHeader = req.header()?;
    if let Some(offset) = b.offsets.query(&h.consumer_group, &h.topic, h.queue_id) {
        return offset_response(req, offset);
    }
    if h.set_zero_if_not_found != Some(false) && first_message_in_memory(b, &h.topic, h.queue_id) {
        return offset_response(req, 0);
    }
    refuse(
        req,
        code::QUERY_NOT_FOUND,
        "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
    )
}

/// UPDATE_CONSUMER_OFFSET.
pub fn update_consumer_offset(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: UpdateConsumerOffsetRequestHeader = req.header()?;
    if b.topics.get(&h.topic).is_none() {
        return refuse(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist", h.topic),
        );
    }
    b.offsets
        .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    respond(RemotingCommand::success(req))
}

/// GET_MAX_OFFSET.
pub fn max_offset(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: GetMaxOffsetRequestHeader = req.header()?;
    offset_response(req, b.store.max_offset(&h.topic, h.queue_id))
}

/// GET_MIN_OFFSET.
pub fn min_offset(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: QueueRequestHeader = req.header()?;
    offset_response(req, b.store.min_offset(&h.topic, h.queue_id))
}

/// SEARCH_OFFSET_BY_TIMESTAMP.
pub fn search_offset(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: SearchOffsetRequestHeader = req.header()?;
    let boundary = match h.boundary_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("upper") => Boundary::Upper,
        _ => Boundary::Lower,
    };
    offset_response(
        req,
        b.store
            .offset_by_time(&h.topic, h.queue_id, h.timestamp, boundary),
    )
}

/// GET_EARLIEST_MSG_STORETIME.
pub fn earliest_store_time(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: QueueRequestHeader = req.header()?;
    let timestamp = b
        .store
        .earliest_store_time(&h.topic, h.queue_id)
        .unwrap_or(-1);
    respond(
        RemotingCommand::success(req)
            .with_header(&EarliestMsgStoretimeResponseHeader { timestamp }),
    )
}
