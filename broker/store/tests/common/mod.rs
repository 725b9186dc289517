//! Helpers shared by the integration tests.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use rmq_protocol::message::{
    MessageExt, MessageRecord, TagsCode, body_crc, decode_message, encode_record, tags_hash_code,
};
use rmq_store::{MessageStore, StoreConfig};
use std::path::Path;
use std::sync::Arc;

/// The tagsCode of a record without tags.
pub const NO_TAGS: TagsCode = TagsCode::Hash(0);

/// An encoded record (offsets zero) and its tagsCode.
pub fn record(topic: &str, queue_id: i32, body: &[u8], tag: Option<&str>) -> (BytesMut, TagsCode) {
    record_with_flag(topic, queue_id, body, tag, 0)
}

pub fn record_with_flag(
    topic: &str,
    queue_id: i32,
    body: &[u8],
    tag: Option<&str>,
    sys_flag: i32,
) -> (BytesMut, TagsCode) {
    let properties = match tag {
        Some(t) => format!("TAGS\u{1}{t}\u{2}UNIQ_KEY\u{1}K{}\u{2}", body.len()),
        None => String::new(),
    };
    let buf = encoded(topic, queue_id, sys_flag, body, properties);
    (buf, TagsCode::Hash(tag.map_or(0, tags_hash_code)))
}

/// A record as a producer on 10.0.0.5 sends it to 10.0.0.1, encoded (offsets zero).
pub fn encoded(
    topic: &str,
    queue_id: i32,
    sys_flag: i32,
    body: &[u8],
    properties: String,
) -> BytesMut {
    let rec = MessageRecord {
        topic: topic.into(),
        queue_id,
        flag: 0,
        sys_flag,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.0.0.5:50000".parse().unwrap(),
        store_host: "10.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body),
        properties,
    };
    let mut buf = BytesMut::new();
    encode_record(&rec, &mut buf).unwrap();
    buf
}

/// Decodes a stored record and checks its CRC.
pub fn decode(rec: &Bytes) -> MessageExt {
    let (m, len) = decode_message(rec).unwrap();
    assert_eq!(len, rec.len());
    assert_eq!(m.body_crc, body_crc(&m.body));
    m
}

/// A config with tiny files for tests.
pub fn small_config(dir: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.commit_log_segment_size = 1024;
    c.consume_queue_units_per_file = 4;
    c
}

pub fn open(c: &StoreConfig) -> Arc<MessageStore> {
    MessageStore::open(c.clone()).unwrap()
}

/// A body identifying message `i`.
pub fn body(i: usize) -> Vec<u8> {
    format!("message-{i:05}").into_bytes()
}

pub fn all(_: i64) -> bool {
    true
}
