//! TopicRouteData (GET_ROUTEINFO_BY_TOPIC) and BrokerData/QueueData.
//!
//! Emitted compact with quoted numeric keys and no whitespace: Go's hand-rolled route parser
//! splits `brokerAddrs` text on `,` and `:` and breaks on spaces. QueueData carries both
//! `topicSysFlag` and the pre-4.9 spelling `topicSynFlag`, which Go still reads.

use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

/// Permission bits of topics and brokers.
pub mod perm {
    /// Priority (unused).
    pub const PRIORITY: i32 = 8;
    /// Consumers may pull.
    pub const READ: i32 = 4;
    /// Producers may send.
    pub const WRITE: i32 = 2;
    /// Topics auto-created from this one inherit it (TBW102).
    pub const INHERIT: i32 = 1;
    /// Read and write.
    pub const READ_WRITE: i32 = READ | WRITE;

    /// True if `perm` allows reading.
    pub fn is_readable(perm: i32) -> bool {
        perm & READ != 0
    }
    /// True if `perm` allows writing.
    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE != 0
    }
}

/// One broker group (a brokerName) and its addresses by broker id (0 = master).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    /// Cluster name.
    #[serde(default)]
    pub cluster: String,
    /// Broker group name.
    pub broker_name: String,
    /// brokerId → "ip:port" of the main port.
    #[serde(default)]
    pub broker_addrs: BTreeMap<i64, String>,
    /// Acting-master mode flag.
    #[serde(default)]
    pub enable_acting_master: bool,
    /// Zone, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// The master's address, if the master is registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&0).map(String::as_str)
    }
}

/// The queues a broker group serves for a topic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(from = "QueueDataWire")]
pub struct QueueData {
    /// Broker group name.
    pub broker_name: String,
    /// Readable queues.
    pub read_queue_nums: i32,
    /// Writable queues.
    pub write_queue_nums: i32,
    /// Permission bits.
    pub perm: i32,
    /// Topic sysFlag (also read from the old `topicSynFlag` spelling).
    pub topic_sys_flag: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueDataWire {
    broker_name: String,
    #[serde(default)]
    read_queue_nums: i32,
    #[serde(default)]
    write_queue_nums: i32,
    #[serde(default)]
    perm: i32,
    #[serde(default)]
    topic_sys_flag: Option<i32>,
    #[serde(default)]
    topic_syn_flag: Option<i32>,
}

impl From<QueueDataWire> for QueueData {
    fn from(w: QueueDataWire) -> Self {
        Self {
            broker_name: w.broker_name,
            read_queue_nums: w.read_queue_nums,
            write_queue_nums: w.write_queue_nums,
            perm: w.perm,
            topic_sys_flag: w.topic_sys_flag.or(w.topic_syn_flag).unwrap_or(0),
        }
    }
}

impl Serialize for QueueData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            broker_name: &'a str,
            perm: i32,
            read_queue_nums: i32,
            topic_syn_flag: i32,
            topic_sys_flag: i32,
            write_queue_nums: i32,
        }
        Wire {
            broker_name: &self.broker_name,
            perm: self.perm,
            read_queue_nums: self.read_queue_nums,
            topic_syn_flag: self.topic_sys_flag,
            topic_sys_flag: self.topic_sys_flag,
            write_queue_nums: self.write_queue_nums,
        }
        .serialize(s)
    }
}

/// Route of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TopicRouteData {
    /// Brokers serving the topic.
    #[serde(default)]
    pub broker_datas: Vec<BrokerData>,
    /// Filter servers (always empty).
    #[serde(default)]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `brokerA:4;brokerB:4` for order topics, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// Queues by broker group.
    #[serde(default)]
    pub queue_datas: Vec<QueueData>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{from_json, to_json};

    fn sample() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![BrokerData {
                cluster: "DefaultCluster".into(),
                broker_name: "broker-a".into(),
                broker_addrs: [(0, "10.0.0.1:10911".into()), (1, "10.0.0.2:10911".into())]
                    .into_iter()
                    .collect(),
                enable_acting_master: false,
                zone_name: None,
            }],
            filter_server_table: BTreeMap::new(),
            order_topic_conf: None,
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                read_queue_nums: 4,
                write_queue_nums: 4,
                perm: 6,
                topic_sys_flag: 0,
            }],
        }
    }

    #[test]
    fn golden_route_json() {
        let json = String::from_utf8(to_json(&sample())).unwrap();
        assert_eq!(
            json,
            r#"{"brokerDatas":[{"cluster":"DefaultCluster","brokerName":"broker-a","brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":4}]}"#
        );
        assert!(!json.contains(' '));
        let back: TopicRouteData = from_json("route", json.as_bytes()).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn parses_fastjson_legacy_routes() {
        let legacy = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"b","cluster":"c"}],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":8,"topicSynFlag":0,"writeQueueNums":8}]}"#;
        let r: TopicRouteData = from_json("route", legacy).unwrap();
        assert_eq!(r.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
        assert_eq!(r.queue_datas[0].read_queue_nums, 8);
    }
}
