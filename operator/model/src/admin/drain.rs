//! Admin calls of a scale-in drain: which (topic, consumer group) pairs have committed offsets
//! on a broker (GET_ALL_CONSUMER_OFFSET), and how many messages of a topic a group has not
//! consumed yet on a broker (GET_CONSUME_STATS).

use super::client::Admin;
use super::error::AdminError;
use rmq_protocol::body::from_json;
use rmq_protocol::body::subscription::ConsumerOffsetSerializeWrapper;
use rmq_protocol::header::topic::GetConsumeStatsRequestHeader;
use rmq_protocol::{RemotingCommand, request_code as rc};
use std::collections::BTreeSet;

/// Sum of `brokerOffset - consumerOffset` over the entries of a ConsumeStats body. The body
/// is fastjson's object-keyed map (not JSON), so the two numbers of each entry are read in
/// order of appearance; both Java's and rmq's field orders pair them up.
pub fn consume_lag(body: &str) -> i64 {
    let broker = numbers_after(body, "\"brokerOffset\":");
    let consumer = numbers_after(body, "\"consumerOffset\":");
    broker
        .iter()
        .zip(consumer.iter())
        .map(|(b, c)| (b - (*c).max(0)).max(0))
        .sum()
}

fn numbers_after(text: &str, key: &str) -> Vec<i64> {
    text.match_indices(key)
        .filter_map(|(i, _)| {
            let rest = &text[i + key.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '-'))
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect()
}

impl Admin {
    /// `(topic, group)` pairs with committed offsets on `broker`.
    pub async fn consumed_pairs(
        &self,
        broker: &str,
    ) -> Result<BTreeSet<(String, String)>, AdminError> {
        let what = "GET_ALL_CONSUMER_OFFSET";
        let req = RemotingCommand::request(rc::GET_ALL_CONSUMER_OFFSET);
        let resp = self.call(broker, req, what).await?;
        let table: ConsumerOffsetSerializeWrapper =
            from_json(what, &resp.body).map_err(|e| AdminError::Body {
                addr: broker.to_owned(),
                what: what.to_owned(),
                message: e.to_string(),
            })?;
        Ok(table
            .offset_table
            .keys()
            .filter_map(|k| k.split_once('@'))
            .map(|(t, g)| (t.to_owned(), g.to_owned()))
            .collect())
    }

    /// Messages of `topic` on `broker` that `group` has not consumed (GET_CONSUME_STATS; a
    /// queue without a committed offset counts from 0).
    pub async fn consume_lag(
        &self,
        broker: &str,
        group: &str,
        topic: &str,
    ) -> Result<i64, AdminError> {
        let what = format!("GET_CONSUME_STATS {group} {topic}");
        let req = RemotingCommand::request_with(
            rc::GET_CONSUME_STATS,
            &GetConsumeStatsRequestHeader {
                consumer_group: group.to_owned(),
                topic: Some(topic.to_owned()),
            },
        );
        let resp = self.call(broker, req, &what).await?;
        Ok(consume_lag(&String::from_utf8_lossy(&resp.body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_pairs_broker_and_consumer_offsets() {
        let body = r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{"brokerOffset":10,"consumerOffset":4,"pullOffset":4,"lastTimestamp":0},{"brokerName":"b","queueId":1,"topic":"t"}:{"brokerOffset":7,"consumerOffset":7,"lastTimestamp":0,"pullOffset":7}},"consumeTps":0.0}"#;
        assert_eq!(consume_lag(body), 6);
        assert_eq!(consume_lag(r#"{"offsetTable":{},"consumeTps":0.0}"#), 0);
        // a consumer ahead of the broker (reset) never counts negative
        let ahead = r#"{"offsetTable":{{"queueId":0}:{"brokerOffset":3,"consumerOffset":9}}}"#;
        assert_eq!(consume_lag(ahead), 0);
    }
}
