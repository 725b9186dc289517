//! [`MessageWriter`]: the handle every part of the broker stores messages through — the send
//! path, retries and dead letters, delayed deliveries, transaction commits, check copies and op
//! records. It owns the delay transform (a `DELAY` property sends a message to its
//! `SCHEDULE_TOPIC_XXXX` queue) and hands the store each record's `tagsCode`, so the store never
//! parses a record again.

use crate::retention::Retention;
use crate::stats::BrokerStats;
use bytes::BytesMut;
use rmq_protocol::message::{
    DelayLevels, MessageRecord, Properties, SCHEDULE_TOPIC, TagsCode, encode_record, property,
    raw_property, sys_flag,
};
use rmq_store::{MessageStore, PutResult, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;

/// Why a write was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The disk is full (above `diskSpaceWarningLevelRatio`, or the file system said ENOSPC):
    /// nothing was stored; the text is the producer's remark.
    #[error("{0}")]
    DiskFull(String),
    /// The store failed.
    #[error("store put failed: {0}")]
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        if e.is_disk_full() {
            WriteError::DiskFull(format!(
                "service not available now: the broker's disk is full ({e}); nothing was stored"
            ))
        } else {
            WriteError::Store(e)
        }
    }
}

/// Stores messages and counts them.
#[derive(Clone)]
pub struct MessageWriter {
    store: Arc<MessageStore>,
    stats: Arc<BrokerStats>,
    delay_levels: DelayLevels,
    store_host: SocketAddr,
    retention: Arc<Retention>,
}

impl MessageWriter {
    /// A writer into `store`, counting in `stats`; records the broker builds carry
    /// `store_host`.
    pub fn new(
        store: Arc<MessageStore>,
        stats: Arc<BrokerStats>,
        delay_levels: DelayLevels,
        store_host: SocketAddr,
    ) -> Self {
        Self {
            store,
            stats,
            delay_levels,
            store_host,
            retention: Arc::new(Retention::new(Default::default())),
        }
    }

    /// This writer, refusing writes while `retention` says the disk is full.
    pub fn with_retention(mut self, retention: Arc<Retention>) -> Self {
        self.retention = retention;
        self
    }

    /// `Err` with the producer's remark while the disk is full.
    fn writable(&self) -> Result<(), WriteError> {
        match self.retention.refusal() {
            Some(why) => Err(WriteError::DiskFull(why)),
            None => Ok(()),
        }
    }

    /// The store written to.
    pub fn store(&self) -> &Arc<MessageStore> {
        &self.store
    }

    /// `messageDelayLevel`.
    pub fn delay_levels(&self) -> &DelayLevels {
        &self.delay_levels
    }

    /// The address written into records as their store host (resolved `brokerIP1`).
    pub fn store_host(&self) -> SocketAddr {
        self.store_host
    }

    /// The delay transform: if `record` asks for a delay (`DELAY` > 0) and is a plain or
    /// committed message, moves it to its schedule queue (level clamped to the highest), with
    /// its real topic and queue in `REAL_TOPIC`/`REAL_QID`. Returns its `tagsCode` then (the
    /// delivery time is the store time plus the level's delay).
    pub fn apply_delay(&self, record: &mut MessageRecord) -> Option<TagsCode> {
        if !matches!(
            sys_flag::transaction_type(record.sys_flag),
            sys_flag::TRANSACTION_NOT | sys_flag::TRANSACTION_COMMIT
        ) {
            return None;
        }
        let level = raw_property(&record.properties, property::DELAY_TIME_LEVEL)
            .and_then(|l| l.trim().parse::<i32>().ok())
            .and_then(|l| self.delay_levels.clamp(l))?;
        let mut props = Properties::parse(&record.properties);
        props.insert(property::REAL_TOPIC, record.topic.clone());
        props.insert(property::REAL_QUEUE_ID, record.queue_id.to_string());
        props.insert(property::DELAY_TIME_LEVEL, level.to_string());
        record.properties = props.encode();
        record.topic = SCHEDULE_TOPIC.to_owned();
        record.queue_id = level - 1;
        Some(TagsCode::DeliverAfter(self.delay_levels.delay_ms(level)))
    }

    /// Stores an encoded record whose `tagsCode` the caller knows (the send path).
    pub fn put_encoded(
        &self,
        topic: &str,
        queue_id: i32,
        record: BytesMut,
        tags: TagsCode,
    ) -> Result<PutResult, WriteError> {
        self.writable()?;
        let bytes = record.len() as u64;
        let put = self.store.put(topic, queue_id, record, tags)?;
        self.stats.add_puts(1);
        self.stats.items.put(topic, 1, bytes);
        Ok(put)
    }

    /// Stores encoded records of one queue with consecutive offsets (SEND_BATCH_MESSAGE).
    pub fn put_batch(
        &self,
        topic: &str,
        queue_id: i32,
        records: Vec<(BytesMut, TagsCode)>,
    ) -> Result<Vec<PutResult>, WriteError> {
        self.writable()?;
        let bytes: usize = records.iter().map(|(r, _)| r.len()).sum();
        let puts = self.store.put_batch(topic, queue_id, records)?;
        self.stats.add_puts(puts.len() as u64);
        self.stats.items.put(topic, puts.len() as u64, bytes as u64);
        Ok(puts)
    }

    /// Stores a record the broker built itself, applying the delay transform first when
    /// `delay` is set. The error says what failed.
    pub fn put(&self, mut record: MessageRecord, delay: bool) -> Result<PutResult, String> {
        let delayed = if delay {
            self.apply_delay(&mut record)
        } else {
            None
        };
        let tags = delayed
            .unwrap_or_else(|| TagsCode::of(&record.topic, &record.properties, &self.delay_levels));
        let mut buf = BytesMut::new();
        encode_record(&record, &mut buf).map_err(|e| e.to_string())?;
        self.put_encoded(&record.topic, record.queue_id, buf, tags)
            .map_err(|e| match e {
                WriteError::DiskFull(why) => why,
                WriteError::Store(e) => format!(
                    "store put to {}/{} failed: {e}",
                    record.topic, record.queue_id
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record(props: &str, flag: i32) -> MessageRecord {
        MessageRecord {
            topic: "T".into(),
            queue_id: 3,
            flag: 0,
            sys_flag: flag,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::new(),
            properties: props.into(),
        }
    }

    fn writer() -> (tempfile::TempDir, MessageWriter) {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(rmq_store::StoreConfig::new(dir.path())).unwrap();
        let w = MessageWriter::new(
            store,
            Arc::default(),
            DelayLevels::default(),
            "127.0.0.1:10911".parse().unwrap(),
        );
        (dir, w)
    }

    #[test]
    fn delay_transform() {
        let (_dir, w) = writer();
        let mut r = record("TAGS\u{1}a\u{2}DELAY\u{1}3\u{2}", 0);
        assert_eq!(w.apply_delay(&mut r), Some(TagsCode::DeliverAfter(10_000)));
        assert_eq!((r.topic.as_str(), r.queue_id), ("SCHEDULE_TOPIC_XXXX", 2));
        let p = Properties::parse(&r.properties);
        assert_eq!(p.get("REAL_TOPIC"), Some("T"));
        assert_eq!(p.get("REAL_QID"), Some("3"));
        let mut high = record("DELAY\u{1}40\u{2}", sys_flag::TRANSACTION_COMMIT);
        assert_eq!(
            w.apply_delay(&mut high),
            Some(TagsCode::DeliverAfter(7_200_000))
        );
        assert_eq!(high.queue_id, 17, "clamped to level 18");
        assert!(Properties::parse(&high.properties).get("DELAY") == Some("18"));
        for (props, flag) in [
            ("DELAY\u{1}0\u{2}", 0),
            ("TAGS\u{1}a\u{2}", 0),
            ("DELAY\u{1}2\u{2}", sys_flag::TRANSACTION_PREPARED),
        ] {
            let mut r = record(props, flag);
            assert_eq!(w.apply_delay(&mut r), None);
            assert_eq!(r.topic, "T");
        }
    }

    #[test]
    fn delayed_puts_are_coded_with_their_delivery_time() {
        let (_dir, w) = writer();
        let put = w
            .put(record("TAGS\u{1}a\u{2}DELAY\u{1}2\u{2}", 0), true)
            .unwrap();
        let seen = std::cell::Cell::new(0);
        let got = w
            .store()
            .get_messages(SCHEDULE_TOPIC, 1, 0, 1, 1 << 20, &|t| {
                seen.set(t);
                true
            });
        assert_eq!(got.messages.len(), 1);
        assert_eq!(seen.get(), put.store_timestamp + 5_000);
        w.put(record("TAGS\u{1}a\u{2}", 0), false).unwrap();
        let got = w.store().get_messages("T", 3, 0, 1, 1 << 20, &|t| t == 97);
        assert_eq!(got.messages.len(), 1);
    }
}
