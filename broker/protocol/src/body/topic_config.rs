//! TopicConfig, DataVersion and the wrapper a broker registers and serves (GET_ALL_TOPIC_CONFIG).

use super::route::perm;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Configuration of one topic on one broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// Topic name.
    pub topic_name: String,
    /// Readable queues.
    pub read_queue_nums: i32,
    /// Writable queues.
    pub write_queue_nums: i32,
    /// Permission bits.
    pub perm: i32,
    /// SINGLE_TAG or MULTI_TAG.
    pub topic_filter_type: String,
    /// Topic sysFlag.
    pub topic_sys_flag: i32,
    /// Ordered topic.
    pub order: bool,
    /// Attributes (`message.type`, ... and rmq's ownership mark).
    pub attributes: BTreeMap<String, String>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            topic_name: String::new(),
            read_queue_nums: 16,
            write_queue_nums: 16,
            perm: perm::READ_WRITE,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: 0,
            order: false,
            attributes: BTreeMap::new(),
        }
    }
}

impl TopicConfig {
    /// A read-write topic with `queues` read and write queues.
    pub fn new(name: impl Into<String>, queues: i32) -> Self {
        Self {
            topic_name: name.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            ..Self::default()
        }
    }

    /// The compact text form used inside compressed registrations:
    /// `name read write perm filterType [attributesJson]`.
    pub fn encode_text(&self) -> String {
        let attrs = serde_json::to_string(&self.attributes).unwrap_or_else(|_| "{}".into());
        format!(
            "{} {} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type,
            attrs
        )
    }

    /// Parses [`TopicConfig::encode_text`].
    pub fn decode_text(text: &str) -> Option<Self> {
        let mut parts = text.splitn(6, ' ');
        let topic_name = parts.next()?.to_owned();
        let read_queue_nums = parts.next()?.parse().ok()?;
        let write_queue_nums = parts.next()?.parse().ok()?;
        let perm = parts.next()?.parse().ok()?;
        let topic_filter_type = parts.next()?.to_owned();
        let attributes = parts
            .next()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        Some(Self {
            topic_name,
            read_queue_nums,
            write_queue_nums,
            perm,
            topic_filter_type,
            attributes,
            ..Self::default()
        })
    }
}

/// Version of a broker's topic table; the namesrv rebuilds routes when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    /// Increments on every change.
    pub counter: i64,
    /// The master epoch the broker serves under in controller mode (0 otherwise).
    pub state_version: i64,
    /// Time of the last change (ms).
    pub timestamp: i64,
}

impl DataVersion {
    /// Records a change at `now_ms`.
    pub fn next(&mut self, now_ms: i64) {
        self.counter += 1;
        self.timestamp = now_ms;
    }
}

/// A broker's whole topic table (5.x `TopicConfigAndMappingSerializeWrapper`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// topic → config.
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// Version of the table.
    pub data_version: DataVersion,
    /// Static topic mappings (always empty).
    pub topic_queue_mapping_info_map: BTreeMap<String, serde_json::Value>,
    /// Static topic mapping details (always empty).
    pub topic_queue_mapping_detail_map: BTreeMap<String, serde_json::Value>,
    /// Version of the mappings.
    pub mapping_data_version: DataVersion,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let mut t = TopicConfig::new("TopicA", 8);
        t.attributes.insert("+message.type".into(), "NORMAL".into());
        let text = t.encode_text();
        assert_eq!(
            text,
            "TopicA 8 8 6 SINGLE_TAG {\"+message.type\":\"NORMAL\"}"
        );
        assert_eq!(TopicConfig::decode_text(&text).unwrap(), t);
        assert!(TopicConfig::decode_text("bad").is_none());
    }

    #[test]
    fn java_topic_config_json_parses() {
        let j = br#"{"attributes":{},"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102","topicSysFlag":0,"writeQueueNums":8}"#;
        let t: TopicConfig = serde_json::from_slice(j).unwrap();
        assert_eq!(t.perm, 7);
        assert_eq!(t.topic_name, "TBW102");
    }
}
