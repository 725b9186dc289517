//! HeartbeatData (HEART_BEAT): the client's producer and consumer groups and subscriptions.
//!
//! Parsed leniently: enums arrive as names or ordinals, `subVersion` as a number or a string, and
//! some clients omit `tagsSet`/`codeSet`/`expressionType` (rebuilt from `subString`).

use crate::message::tags_hash_code;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Names of `ConsumeType` by ordinal.
pub const CONSUME_TYPES: &[&str] = &["CONSUME_ACTIVELY", "CONSUME_PASSIVELY", "CONSUME_POP"];
/// Names of `MessageModel` by ordinal.
pub const MESSAGE_MODELS: &[&str] = &["BROADCASTING", "CLUSTERING"];
/// Names of `ConsumeFromWhere` by ordinal.
pub const CONSUME_FROM_WHERE: &[&str] = &[
    "CONSUME_FROM_LAST_OFFSET",
    "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    "CONSUME_FROM_MIN_OFFSET",
    "CONSUME_FROM_MAX_OFFSET",
    "CONSUME_FROM_FIRST_OFFSET",
    "CONSUME_FROM_TIMESTAMP",
];

struct EnumText(&'static [&'static str]);

impl Visitor<'_> for EnumText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an enum name or ordinal")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_ascii_uppercase())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        usize::try_from(v)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|s| (*s).to_owned())
            .ok_or_else(|| E::custom(format!("unknown ordinal {v}")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.visit_u64(u64::try_from(v).map_err(|_| E::custom("negative ordinal"))?)
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(self.0.first().map(|s| (*s).to_owned()).unwrap_or_default())
    }
}

fn consume_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(EnumText(CONSUME_TYPES))
}
fn message_model<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(EnumText(MESSAGE_MODELS))
}
fn consume_from_where<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(EnumText(CONSUME_FROM_WHERE))
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer or integer text")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            Ok(v as i64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim().parse().map_err(E::custom)
        }
        fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
            Ok(0)
        }
    }
    d.deserialize_any(V)
}

fn lenient_i32_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    #[derive(Deserialize)]
    struct Item(#[serde(deserialize_with = "lenient_i64")] i64);
    let items: Option<Vec<Item>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .map(|Item(v)| v as i32)
        .collect())
}

/// A producer group the client belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    /// Group name.
    pub group_name: String,
}

/// One topic subscription of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionData {
    /// The subscribed topic.
    pub topic: String,
    /// Expression: `*`, `TagA || TagB`, or SQL92.
    #[serde(default = "star")]
    pub sub_string: String,
    /// The tags of a `TagA || TagB` expression (`*` for all).
    #[serde(default)]
    pub tags_set: Vec<String>,
    /// Java hash codes of the tags (Go sends them as strings).
    #[serde(default, deserialize_with = "lenient_i32_list")]
    pub code_set: Vec<i32>,
    /// Client timestamp of the subscription.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub sub_version: i64,
    /// TAG or SQL92.
    #[serde(default = "tag")]
    pub expression_type: String,
    /// Class filter (unsupported).
    #[serde(default)]
    pub class_filter_mode: bool,
}

fn star() -> String {
    "*".into()
}
fn tag() -> String {
    "TAG".into()
}

impl SubscriptionData {
    /// A TAG subscription built from an expression, as clients build it.
    pub fn from_expression(topic: &str, expression: &str, sub_version: i64) -> Self {
        let mut s = Self {
            topic: topic.into(),
            sub_string: if expression.trim().is_empty() {
                "*".into()
            } else {
                expression.trim().into()
            },
            tags_set: Vec::new(),
            code_set: Vec::new(),
            sub_version,
            expression_type: "TAG".into(),
            class_filter_mode: false,
        };
        s.fill_tags();
        s
    }

    /// True if the subscription takes every tag.
    pub fn is_all(&self) -> bool {
        self.sub_string == "*" || self.sub_string.is_empty()
    }

    /// Rebuilds `tagsSet`/`codeSet` from `subString` when a client omitted them.
    pub fn fill_tags(&mut self) {
        if self.is_all() || !self.expression_type.eq_ignore_ascii_case("TAG") {
            return;
        }
        if self.tags_set.is_empty() {
            self.tags_set = self
                .sub_string
                .split("||")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if self.code_set.is_empty() {
            self.code_set = self
                .tags_set
                .iter()
                .map(|t| tags_hash_code(t) as i32)
                .collect();
        }
    }

    /// Does a consume-queue entry with `tags_code` pass this subscription's tag filter?
    pub fn matches_tags_code(&self, tags_code: i64) -> bool {
        self.is_all()
            || !self.expression_type.eq_ignore_ascii_case("TAG")
            || self.code_set.iter().any(|c| i64::from(*c) == tags_code)
    }
}

/// One consumer group the client belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerData {
    /// Group name.
    pub group_name: String,
    /// CONSUME_ACTIVELY (pull) / CONSUME_PASSIVELY (push) / CONSUME_POP.
    #[serde(default = "passively", deserialize_with = "consume_type")]
    pub consume_type: String,
    /// CLUSTERING or BROADCASTING.
    #[serde(default = "clustering", deserialize_with = "message_model")]
    pub message_model: String,
    /// Where a new group starts.
    #[serde(default = "last_offset", deserialize_with = "consume_from_where")]
    pub consume_from_where: String,
    /// One entry per subscribed topic.
    #[serde(default)]
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit mode.
    #[serde(default)]
    pub unit_mode: bool,
}

fn passively() -> String {
    CONSUME_TYPES[1].into()
}
fn clustering() -> String {
    MESSAGE_MODELS[1].into()
}
fn last_offset() -> String {
    CONSUME_FROM_WHERE[0].into()
}

impl ConsumerData {
    /// True for clustering consumers.
    pub fn is_clustering(&self) -> bool {
        self.message_model == "CLUSTERING"
    }
}

/// The HEART_BEAT body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatData {
    /// Client id (`ip@instance`).
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// Producer groups.
    #[serde(default)]
    pub producer_data_set: Vec<ProducerData>,
    /// Consumer groups.
    #[serde(default)]
    pub consumer_data_set: Vec<ConsumerData>,
    /// Heartbeat V2 fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_fingerprint: Option<i64>,
    /// V2: subscriptions omitted because unchanged.
    #[serde(default)]
    pub without_sub: bool,
}

impl HeartbeatData {
    /// Parses a heartbeat body and normalises subscriptions.
    pub fn decode(body: &[u8]) -> Result<Self, crate::error::ProtocolError> {
        let mut hb: Self = super::from_json("HeartbeatData", body)?;
        for c in &mut hb.consumer_data_set {
            for s in &mut c.subscription_data_set {
                s.fill_tags();
            }
        }
        Ok(hb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_heartbeat() {
        let body = br#"{"clientID":"10.0.0.5@12345#83924848294200","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"cg1","messageModel":"CLUSTERING","unitMode":false,"subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"TopicTest"}]}],"producerDataSet":[{"groupName":"pg1"}],"heartbeatFingerprint":0,"withoutSub":false}"#;
        let hb = HeartbeatData::decode(body).unwrap();
        assert_eq!(hb.client_id, "10.0.0.5@12345#83924848294200");
        let c = &hb.consumer_data_set[0];
        assert!(c.is_clustering());
        assert!(c.subscription_data_set[0].matches_tags_code(2_598_919));
        assert!(!c.subscription_data_set[0].matches_tags_code(1));
    }

    #[test]
    fn cpp_style_heartbeat_with_ordinals_and_missing_sets() {
        let body = br#"{"clientID":"c","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,"groupName":"g","messageModel":1,"subscriptionDataSet":[{"subString":"TagA || TagB","subVersion":"17","topic":"T"}]}]}"#;
        let hb = HeartbeatData::decode(body).unwrap();
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.consume_type, "CONSUME_PASSIVELY");
        assert_eq!(c.message_model, "CLUSTERING");
        let s = &c.subscription_data_set[0];
        assert_eq!(s.sub_version, 17);
        assert_eq!(s.tags_set, vec!["TagA", "TagB"]);
        assert!(s.matches_tags_code(tags_hash_code("TagB")));
    }

    #[test]
    fn go_heartbeat() {
        let body = br#"{"clientID":"127.0.0.1@1","producerDataSet":[{"groupName":"p"}],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"TagB","tagsSet":["TagB"],"codeSet":["2598920"],"subVersion":1,"expressionType":"TAG"}],"unitMode":false}]}"#;
        let hb = HeartbeatData::decode(body).unwrap();
        assert_eq!(hb.producer_data_set[0].group_name, "p");
        assert_eq!(
            hb.consumer_data_set[0].subscription_data_set[0].code_set,
            vec![2_598_920]
        );
    }
}
