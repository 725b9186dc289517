//! Stats bodies keyed by MessageQueue (GET_TOPIC_STATS_INFO, GET_CONSUME_STATS).
//!
//! fastjson writes maps keyed by objects as object literals:
//! `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{...}}}` — not valid JSON, but
//! what Java admin tools parse. We emit that form so mqadmin works against rmq.

use super::lock::MessageQueue;
use serde::Serialize;

/// Offsets of one queue (TopicStatsTable entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicOffset {
    /// Minimum offset.
    pub min_offset: i64,
    /// Maximum offset.
    pub max_offset: i64,
    /// Store time of the last message (ms).
    pub last_update_timestamp: i64,
}

/// Consumption progress of one queue (ConsumeStats entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsetWrapper {
    /// Broker max offset.
    pub broker_offset: i64,
    /// Committed consumer offset.
    pub consumer_offset: i64,
    /// Pull offset.
    pub pull_offset: i64,
    /// Store time of the last consumed message.
    pub last_timestamp: i64,
}

/// One window of a stats item (BrokerStatsItem): what was added in the window, per second,
/// and per call.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct BrokerStatsItem {
    /// Sum of the values added in the window (messages, bytes).
    pub sum: i64,
    /// `sum` per second over the window.
    pub tps: f64,
    /// `sum` per call (messages per send; milliseconds for latency items).
    pub avgpt: f64,
}

/// VIEW_BROKER_STATS_DATA body: the last minute, hour and day of one stats item.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerStatsData {
    /// The last minute (six 10 s samples).
    pub stats_minute: BrokerStatsItem,
    /// The last hour (six 10 min samples).
    pub stats_hour: BrokerStatsItem,
    /// The last day (24 hourly samples).
    pub stats_day: BrokerStatsItem,
}

fn mq_key(mq: &MessageQueue) -> String {
    format!(
        "{{\"brokerName\":{},\"queueId\":{},\"topic\":{}}}",
        serde_json::Value::from(mq.broker_name.as_str()),
        mq.queue_id,
        serde_json::Value::from(mq.topic.as_str())
    )
}

fn offset_table<T: Serialize>(entries: &[(MessageQueue, T)]) -> String {
    let mut s = String::from("{");
    for (i, (mq, v)) in entries.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&mq_key(mq));
        s.push(':');
        s.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
    }
    s.push('}');
    s
}

/// TopicStatsTable body in fastjson's object-key form.
pub fn encode_topic_stats(entries: &[(MessageQueue, TopicOffset)]) -> Vec<u8> {
    format!("{{\"offsetTable\":{}}}", offset_table(entries)).into_bytes()
}

/// ConsumeStats body in fastjson's object-key form.
pub fn encode_consume_stats(
    entries: &[(MessageQueue, OffsetWrapper)],
    consume_tps: f64,
) -> Vec<u8> {
    format!(
        "{{\"consumeTps\":{consume_tps:?},\"offsetTable\":{}}}",
        offset_table(entries)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_literal_keys() {
        let mq = MessageQueue {
            topic: "t".into(),
            broker_name: "b".into(),
            queue_id: 0,
        };
        let out = encode_topic_stats(&[(
            mq,
            TopicOffset {
                min_offset: 0,
                max_offset: 10,
                last_update_timestamp: 5,
            },
        )]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{"minOffset":0,"maxOffset":10,"lastUpdateTimestamp":5}}}"#
        );
    }
}
