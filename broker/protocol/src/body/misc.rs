//! Small bodies: consumer id lists, KV tables, topic lists, consumer connections.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// GET_CONSUMER_LIST_BY_GROUP response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerListBody {
    /// Client ids of the live consumers.
    pub consumer_id_list: Vec<String>,
}

/// `{"table":{...}}` (runtime info, KV lists, ORDER_TOPIC_CONFIG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct KvTable {
    /// Key → value, sorted by key.
    pub table: BTreeMap<String, String>,
}

/// A list of topic names (GET_ALL_TOPIC_LIST_FROM_NAMESERVER and friends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    /// Topic names.
    pub topic_list: Vec<String>,
    /// Broker address (system topic list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
}

/// One client connection as reported by GET_CONSUMER_CONNECTION_LIST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// Client id.
    pub client_id: String,
    /// Remote address.
    pub client_addr: String,
    /// Language name.
    pub language: String,
    /// MQVersion ordinal.
    pub version: i32,
}

/// GET_CONSUMER_CONNECTION_LIST response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    /// Live connections.
    pub connection_set: Vec<Connection>,
    /// topic → subscription.
    pub subscription_table: BTreeMap<String, super::heartbeat::SubscriptionData>,
    /// CONSUME_ACTIVELY / CONSUME_PASSIVELY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_type: Option<String>,
    /// CLUSTERING / BROADCASTING.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_model: Option<String>,
    /// Where a new group starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_from_where: Option<String>,
}
