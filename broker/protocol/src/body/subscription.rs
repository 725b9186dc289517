//! Subscription group configs (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
//! and the consumer offset table (GET_ALL_CONSUMER_OFFSET).

use super::topic_config::DataVersion;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Configuration of one consumer group on one broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// Group name.
    pub group_name: String,
    /// Consumption allowed.
    pub consume_enable: bool,
    /// May start from the minimum offset.
    pub consume_from_min_enable: bool,
    /// Broadcasting consumption allowed.
    pub consume_broadcast_enable: bool,
    /// Orderly consumption.
    pub consume_message_orderly: bool,
    /// Queues of the group's retry topic.
    pub retry_queue_nums: i32,
    /// Retries before the DLQ.
    pub retry_max_times: i32,
    /// Broker id to read from.
    pub broker_id: i64,
    /// Broker id to read from when consumption is slow.
    pub which_broker_when_consume_slowly: i64,
    /// Notify consumers when membership changes.
    pub notify_consumer_ids_changed_enable: bool,
    /// Group sysFlag.
    pub group_sys_flag: i32,
    /// Consume timeout (minutes).
    pub consume_timeout_minute: i32,
    /// Attributes (rmq's ownership mark lives here).
    pub attributes: BTreeMap<String, String>,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        Self {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            consume_message_orderly: false,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
            group_sys_flag: 0,
            consume_timeout_minute: 15,
            attributes: BTreeMap::new(),
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with default settings.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            group_name: name.into(),
            ..Self::default()
        }
    }
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    /// group → config.
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    /// Forbidden topics per group (unused).
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    /// Bumped on every change (Java's `DataVersion`).
    pub data_version: DataVersion,
}

/// `topic@group` → queueId → next offset to consume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerOffsetSerializeWrapper {
    /// `topic@group` → queue id → next offset to consume.
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
    /// Bumped on every change (Java's `DataVersion`).
    pub data_version: DataVersion,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_offset_json_with_bare_int_keys() {
        let j = br#"{"offsetTable":{"TopicA@cg1":{0:12,1:7}},"dataVersion":{"counter":1}}"#;
        let w: ConsumerOffsetSerializeWrapper = crate::body::from_json("offsets", j).unwrap();
        assert_eq!(w.offset_table["TopicA@cg1"][&1], 7);
        let out = String::from_utf8(crate::body::to_json(&w)).unwrap();
        assert!(out.contains(r#"{"0":12,"1":7}"#));
    }

    #[test]
    fn defaults_match_java() {
        let g: SubscriptionGroupConfig = serde_json::from_str(r#"{"groupName":"g"}"#).unwrap();
        assert_eq!(g.retry_max_times, 16);
        assert_eq!(g.retry_queue_nums, 1);
        assert!(g.consume_enable);
    }
}
