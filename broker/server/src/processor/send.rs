//! SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE (retry/DLQ, half and delay transforms:
//! [`super::send_paths`]).

use super::reply::{Reply, respond};
use crate::broker::Broker;
use crate::config::FlushDiskType;
use crate::state::now_ms;
use crate::writer::WriteError;
use bytes::BytesMut;
use rmq_protocol::body::route::perm;
use rmq_protocol::body::topic_config::TopicConfig;
use rmq_protocol::header::send::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use rmq_protocol::message::{
    MessageRecord, TagsCode, decode_batch, encode_record, offset_msg_id, property, raw_property,
    sys_flag,
};
use rmq_protocol::net::Channel;
use rmq_protocol::{RemotingCommand, names, request_code as rc, response_code as code};
use std::sync::Arc;

fn read_header(req: &RemotingCommand) -> Result<SendMessageRequestHeader, super::reply::Failure> {
    Ok(if req.code == rc::SEND_MESSAGE {
        req.header::<SendMessageRequestHeader>()?
    } else {
        req.header::<SendMessageRequestHeaderV2>()?.into()
    })
}

/// The response skeleton every send answer carries (Java NPEs without extFields).
fn response_base(
    b: &Broker,
    req: &RemotingCommand,
    code: i32,
    remark: Option<String>,
) -> RemotingCommand {
    let mut resp = RemotingCommand::response_to(req, code, remark);
    resp.ext_fields
        .insert(property::MSG_REGION, &b.config.region_id);
    let trace = if b.config.trace_on { "true" } else { "false" };
    resp.ext_fields.insert(property::TRACE_SWITCH, trace);
    resp
}

fn fail(b: &Broker, req: &RemotingCommand, code: i32, remark: String) -> Reply {
    respond(response_base(b, req, code, Some(remark)))
}

/// Refuses a send to a broker that takes no writes now: read-only (NO_PERMISSION) or shutting
/// down (SERVICE_NOT_AVAILABLE); clients retry both on another broker at once.
// The Err is the finished response (see `check_topic`).
#[allow(clippy::result_large_err)]
fn writable(b: &Broker, req: &RemotingCommand) -> Result<(), Reply> {
    if !perm::is_writeable(b.permission()) {
        return Err(read_only(b, req));
    }
    if b.is_stopping() {
        let remark = format!(
            "broker {} is shutting down; send to another broker",
            b.config.broker_name
        );
        return Err(fail(b, req, code::SERVICE_NOT_AVAILABLE, remark));
    }
    Ok(())
}

/// NO_PERMISSION for a send to a broker whose `brokerPermission` has no write bit (a group being
/// drained): Java clients retry it on another broker.
fn read_only(b: &Broker, req: &RemotingCommand) -> Reply {
    fail(
        b,
        req,
        code::NO_PERMISSION,
        format!(
            "the broker[{}] sending message is forbidden: brokerPermission={} (read-only, e.g. \
             while its group is drained); send through the current routes",
            b.config.broker_name,
            b.permission()
        ),
    )
}

/// Checks the topic and finds (or auto-creates) its config. `Err` is the response to send.
// The Err is the finished response, moved once to the caller: boxing it would only add an
// allocation per refused request.
#[allow(clippy::result_large_err)]
fn check_topic(
    b: &Broker,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
) -> Result<Arc<TopicConfig>, Reply> {
    if !b.is_master() {
        return Err(fail(
            b,
            req,
            code::SERVICE_NOT_AVAILABLE,
            format!(
                "broker {} is a slave; send to the master",
                b.config.broker_name
            ),
        ));
    }
    writable(b, req)?;
    if let Err(e) = names::validate_topic(&h.topic) {
        return Err(fail(b, req, code::INVALID_PARAMETER, e));
    }
    if names::NOT_ALLOWED_SEND_TOPICS.contains(&h.topic.as_str()) {
        return Err(fail(
            b,
            req,
            code::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let now = now_ms();
    let version_before = b.topics.data_version();
    let found = match b.topics.get(&h.topic) {
        Some(t) => Some(t),
        None if h.topic.starts_with(names::RETRY_GROUP_TOPIC_PREFIX) => {
            let group = &h.topic[names::RETRY_GROUP_TOPIC_PREFIX.len()..];
            let queues = b.groups.get(group).map_or(1, |g| g.retry_queue_nums.max(1));
            let created = b.topics.ensure(&h.topic, queues, perm::READ_WRITE, now);
            created.ok()
        }
        None => {
            let default = h
                .default_topic
                .as_deref()
                .unwrap_or(names::AUTO_CREATE_TOPIC_KEY);
            let queues = h.default_topic_queue_nums.unwrap_or(4);
            match b.topics.create_on_send(&h.topic, default, queues, 0, now) {
                Ok(t) => t,
                Err(e) => return Err(fail(b, req, code::INVALID_PARAMETER, e.to_string())),
            }
        }
    };
    let Some(topic) = found else {
        return Err(fail(
            b,
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please!", h.topic),
        ));
    };
    if b.topics.data_version() != version_before {
        // A new topic: tell the nameservers now so clients can route to it.
        b.register_now.notify_one();
    }
    let queues = topic.write_queue_nums.max(topic.read_queue_nums);
    if h.queue_id >= queues {
        return Err(fail(
            b,
            req,
            code::INVALID_PARAMETER,
            format!(
                "request queueId[{}] is illegal, topic {} has {queues} queues",
                h.queue_id, h.topic
            ),
        ));
    }
    Ok(topic)
}

/// The response code of a write that was not stored: SERVICE_NOT_AVAILABLE for a full disk
/// (the client tries another broker), SYSTEM_ERROR otherwise.
fn write_failure_code(e: &WriteError) -> i32 {
    match e {
        WriteError::DiskFull(_) => code::SERVICE_NOT_AVAILABLE,
        WriteError::Store(_) => code::SYSTEM_ERROR,
    }
}

fn pick_queue(topic: &TopicConfig, requested: i32) -> i32 {
    if requested >= 0 {
        requested
    } else {
        rand::random_range(0..topic.write_queue_nums.max(1))
    }
}

/// Properties as stored: the producer's, plus `UNIQ_KEY` if absent and `CLUSTER`.
fn stored_properties(b: &Broker, props: &str) -> (String, String) {
    let mut out = String::with_capacity(props.len() + 80);
    out.push_str(props);
    if !out.is_empty() && !out.ends_with('\u{2}') {
        out.push('\u{2}');
    }
    let uniq = match raw_property(props, property::UNIQ_KEY) {
        Some(u) => u.to_owned(),
        None => {
            let u = b.uniq_keys.next(now_ms());
            out.push_str(property::UNIQ_KEY);
            out.push('\u{1}');
            out.push_str(&u);
            out.push('\u{2}');
            u
        }
    };
    if raw_property(props, property::CLUSTER).is_none() {
        out.push_str(property::CLUSTER);
        out.push('\u{1}');
        out.push_str(&b.config.cluster_name);
        out.push('\u{2}');
    }
    (out, uniq)
}

fn body_too_large(b: &Broker, len: usize) -> Option<String> {
    (len > b.config.max_message_size).then(|| {
        format!(
            "the message body size {len} exceeds maxMessageSize {}",
            b.config.max_message_size
        )
    })
}

/// The remark of a send whose fsync failed (SYSTEM_ERROR from [`await_durable`]).
fn persist_remark(status: i32) -> Option<String> {
    (status == code::SYSTEM_ERROR).then(|| {
        "the broker could not persist the message (fsync failed): it is NOT stored durably; \
         the broker refuses writes until it is restarted and recovers from the last durable point"
            .to_owned()
    })
}

/// Waits for durability when the broker flushes synchronously and the producer wants to wait,
/// and (SYNC_MASTER) for the slaves, concurrently; a disk timeout wins over a replica status.
async fn await_durable(b: &Broker, end_offset: i64, props: &str) -> i32 {
    let wait = raw_property(props, property::WAIT_STORE_MSG_OK) != Some("false");
    let disk = async {
        if b.config.flush_disk_type != FlushDiskType::Sync || !wait {
            return code::SUCCESS;
        }
        match b
            .store
            .wait_durable(end_offset, b.config.sync_flush_timeout)
            .await
        {
            Ok(true) => code::SUCCESS,
            Ok(false) => code::FLUSH_DISK_TIMEOUT,
            // The fsync failed: the message may never reach the disk, so it is not acknowledged.
            Err(_) => code::SYSTEM_ERROR,
        }
    };
    let replica = b.ha.replication_code(end_offset, wait);
    match tokio::join!(disk, replica) {
        (code::SUCCESS, replica) => replica,
        (disk, _) => disk,
    }
}

/// SEND_MESSAGE / SEND_MESSAGE_V2.
pub async fn send_message(b: &Arc<Broker>, ch: &Channel, req: &RemotingCommand) -> Reply {
    let h = read_header(req)?;
    let topic = match check_topic(b, req, &h) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    if let Some(e) = body_too_large(b, req.body.len()) {
        return fail(b, req, code::MESSAGE_ILLEGAL, e);
    }
    let dlq = match super::send_paths::dead_letter_target(b, req, &h) {
        Ok(d) => d,
        Err((c, why)) => return fail(b, req, c, why),
    };
    let queue_id = pick_queue(&topic, h.queue_id);
    let raw_props = h.properties.as_deref().unwrap_or("");
    let (props, uniq) = stored_properties(b, raw_props);
    let mut sys = h.sys_flag.unwrap_or(0);
    if topic.topic_filter_type == "MULTI_TAG" {
        sys |= sys_flag::MULTI_TAGS;
    }
    let mut record = MessageRecord {
        topic: h.topic.clone(),
        queue_id,
        flag: h.flag.unwrap_or(0),
        sys_flag: sys,
        born_timestamp: h.born_timestamp.unwrap_or(0),
        born_host: ch.remote_addr(),
        store_host: b.store_host,
        reconsume_times: h.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
        body: req.body.clone(),
        properties: props,
    };
    let dead_letter = dlq.is_some();
    let tags = match super::send_paths::transform(b, dlq, &mut record, &uniq) {
        Ok(delayed) => delayed.unwrap_or_else(|| TagsCode::of_properties(raw_props)),
        Err((c, why)) => return fail(b, req, c, why),
    };
    let mut buf = BytesMut::new();
    if let Err(e) = encode_record(&record, &mut buf) {
        return fail(b, req, code::MESSAGE_ILLEGAL, e.to_string());
    }
    let put = match b
        .writer
        .put_encoded(&record.topic, record.queue_id, buf, tags)
    {
        Ok(p) => p,
        Err(e) => return fail(b, req, write_failure_code(&e), e.to_string()),
    };
    count_client_send_back(b, &h.topic, &record, dead_letter);
    let status = await_durable(b, put.commit_log_offset + put.size as i64, raw_props).await;
    let resp = response_base(b, req, status, persist_remark(status)).with_header(
        &SendMessageResponseHeader {
            msg_id: offset_msg_id(b.store_host, put.commit_log_offset),
            queue_id,
            queue_offset: put.queue_offset,
            transaction_id: Some(uniq),
            batch_uniq_id: None,
        },
    );
    respond(resp)
}

/// A send to `%RETRY%<group>` is a consumer's send-back made by the client itself (Java's
/// fallback when CONSUMER_SEND_MSG_BACK failed, or a client that always does so): counted as a
/// send-back like CONSUMER_SEND_MSG_BACK, and as dead-lettered when it went to the DLQ, keyed
/// by the message's first topic (`RETRY_TOPIC`, else the retry topic) and group.
fn count_client_send_back(b: &Broker, topic: &str, record: &MessageRecord, dead_letter: bool) {
    let Some(group) = topic.strip_prefix(names::RETRY_GROUP_TOPIC_PREFIX) else {
        return;
    };
    let origin = rmq_protocol::message::raw_property(
        &record.properties,
        rmq_protocol::message::property::RETRY_TOPIC,
    )
    .unwrap_or(topic);
    b.stats.items.sent_back(origin, group);
    if dead_letter {
        b.stats.items.dead_lettered(origin, group);
    }
}

/// SEND_BATCH_MESSAGE: every inner message stored with consecutive queue offsets.
pub async fn send_batch(b: &Arc<Broker>, ch: &Channel, req: &RemotingCommand) -> Reply {
    let h = read_header(req)?;
    if h.topic.starts_with(names::RETRY_GROUP_TOPIC_PREFIX) {
        return fail(
            b,
            req,
            code::MESSAGE_ILLEGAL,
            "batch messages cannot be sent to a retry topic".into(),
        );
    }
    let topic = match check_topic(b, req, &h) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let items = match decode_batch(&req.body) {
        Ok(i) => i,
        Err(e) => return fail(b, req, code::MESSAGE_ILLEGAL, e.to_string()),
    };
    let queue_id = pick_queue(&topic, h.queue_id);
    let mut records = Vec::with_capacity(items.len());
    let mut last_props = String::new();
    for item in &items {
        if let Some(e) = body_too_large(b, item.body.len()) {
            return fail(b, req, code::MESSAGE_ILLEGAL, e);
        }
        let (props, _) = stored_properties(b, &item.properties);
        let tags = TagsCode::of_properties(&item.properties);
        let record = MessageRecord {
            topic: h.topic.clone(),
            queue_id,
            flag: item.flag,
            sys_flag: h.sys_flag.unwrap_or(0),
            born_timestamp: h.born_timestamp.unwrap_or(0),
            born_host: ch.remote_addr(),
            store_host: b.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: item.body.clone(),
            properties: props,
        };
        let mut buf = BytesMut::new();
        if let Err(e) = encode_record(&record, &mut buf) {
            return fail(b, req, code::MESSAGE_ILLEGAL, e.to_string());
        }
        records.push((buf, tags));
        last_props.clone_from(&item.properties);
    }
    let puts = match b.writer.put_batch(&h.topic, queue_id, records) {
        Ok(p) => p,
        Err(e) => return fail(b, req, write_failure_code(&e), e.to_string()),
    };
    let end = puts
        .last()
        .map_or(0, |p| p.commit_log_offset + p.size as i64);
    let status = await_durable(b, end, &last_props).await;
    let ids: Vec<String> = puts
        .iter()
        .map(|p| offset_msg_id(b.store_host, p.commit_log_offset))
        .collect();
    let resp = response_base(b, req, status, persist_remark(status)).with_header(
        &SendMessageResponseHeader {
            msg_id: ids.join(","),
            queue_id,
            queue_offset: puts.first().map_or(0, |p| p.queue_offset),
            transaction_id: None,
            batch_uniq_id: None,
        },
    );
    respond(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_lookup() {
        let p = "TAGS\u{1}A\u{2}KEYS\u{1}k\u{2}WAIT\u{1}false\u{2}";
        assert_eq!(raw_property(p, "WAIT"), Some("false"));
        assert_eq!(raw_property(p, "NONE"), None);
        assert_eq!(
            TagsCode::of_properties(p),
            TagsCode::Hash(rmq_protocol::message::tags_hash_code("A"))
        );
    }
}
