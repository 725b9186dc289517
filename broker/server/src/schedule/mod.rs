//! Delay levels (reference §5.7): a message with `DELAY=n` is stored in `SCHEDULE_TOPIC_XXXX`
//! queue `n-1` with its real topic and queue in `REAL_TOPIC`/`REAL_QID` (consume-queue tagsCode
//! = delivery time, computed by the store), and delivered to its real queue when due by one
//! task per broker that walks the 18 (or `messageDelayLevel`) queues from the offsets persisted
//! in `config/delayOffset.json`. Retries use the same path (`DELAY = 3 + reconsumeTimes`).
//! Slaves keep the schedule queues (replicated) but never deliver.

mod deliver;
pub mod levels;
mod offsets;

pub use deliver::spawn;
pub use levels::DelayLevels;
pub use offsets::{DelayOffsetSerializeWrapper, DelayOffsets};

use crate::broker::Broker;
use crate::processor::{Reply, respond};
use rmq_protocol::message::{MessageRecord, Properties, property, sys_flag};
use rmq_protocol::{RemotingCommand, names};
use rmq_store::config::raw_property;

/// The delay transform: if `record` asks for a delay (`DELAY` > 0) and is a plain or committed
/// message, moves it to its schedule queue (level clamped to the highest). True if it did.
pub fn apply_delay(levels: &DelayLevels, record: &mut MessageRecord) -> bool {
    if !matches!(
        sys_flag::transaction_type(record.sys_flag),
        sys_flag::TRANSACTION_NOT | sys_flag::TRANSACTION_COMMIT
    ) {
        return false;
    }
    let Some(level) = raw_property(&record.properties, property::DELAY_TIME_LEVEL)
        .and_then(|l| l.trim().parse::<i32>().ok())
        .and_then(|l| levels.clamp(l))
    else {
        return false;
    };
    let mut props = Properties::parse(&record.properties);
    props.insert(property::REAL_TOPIC, record.topic.clone());
    props.insert(property::REAL_QUEUE_ID, record.queue_id.to_string());
    props.insert(property::DELAY_TIME_LEVEL, level.to_string());
    record.properties = props.encode();
    record.topic = names::SCHEDULE_TOPIC.to_owned();
    record.queue_id = level - 1;
    true
}

/// GET_ALL_DELAY_OFFSET: the `delayOffset.json` content.
pub fn get_all_delay_offset(b: &Broker, req: &RemotingCommand) -> Reply {
    let body = rmq_protocol::body::to_json(&b.delay_offsets.snapshot());
    respond(RemotingCommand::success(req).with_body(body))
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

    #[test]
    fn delay_transform() {
        let levels = DelayLevels::default();
        let mut r = record("TAGS\u{1}a\u{2}DELAY\u{1}3\u{2}", 0);
        assert!(apply_delay(&levels, &mut r));
        assert_eq!((r.topic.as_str(), r.queue_id), ("SCHEDULE_TOPIC_XXXX", 2));
        let p = Properties::parse(&r.properties);
        assert_eq!(p.get("REAL_TOPIC"), Some("T"));
        assert_eq!(p.get("REAL_QID"), Some("3"));
        let mut high = record("DELAY\u{1}40\u{2}", sys_flag::TRANSACTION_COMMIT);
        assert!(apply_delay(&levels, &mut high));
        assert_eq!(high.queue_id, 17, "clamped to level 18");
        assert!(Properties::parse(&high.properties).get("DELAY") == Some("18"));
        for (props, flag) in [
            ("DELAY\u{1}0\u{2}", 0),
            ("TAGS\u{1}a\u{2}", 0),
            ("DELAY\u{1}2\u{2}", sys_flag::TRANSACTION_PREPARED),
        ] {
            let mut r = record(props, flag);
            assert!(!apply_delay(&levels, &mut r));
            assert_eq!(r.topic, "T");
        }
    }
}
