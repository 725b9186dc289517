//! [`Declared`]: what topics and consumer groups have in common for the plan, so both go
//! through one path ([`super::plan`]): each is declared for a cluster, must exist on every
//! master as a broker-side config, and is updated field by field when the master differs.

use super::key::ObjectKind;
use super::model::{Action, BrokerRef, Change, Desired, ObservedBroker};
use crate::types::MessageType;
use crate::validate::{GroupDecl, MESSAGE_TYPE_ATTRIBUTE, TopicDecl};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use std::collections::BTreeMap;

/// A validated declaration the plan keeps true on every master of its cluster: a
/// [`TopicDecl`] or a [`GroupDecl`].
pub trait Declared: Sized {
    /// The broker-side config of this kind ([`TopicConfig`], [`SubscriptionGroupConfig`]).
    type Config: Clone;
    /// The kind its ownership record names.
    const KIND: ObjectKind;

    /// The cluster (`brokerClusterName`) it is declared for.
    fn cluster(&self) -> &str;
    /// The RocketMQ topic or group name.
    fn name(&self) -> &str;
    /// The declarations of this kind in `desired`.
    fn declared(desired: &Desired) -> &[Self];
    /// The declarations of this kind in `desired`, to add to.
    fn declared_mut(desired: &mut Desired) -> &mut Vec<Self>;
    /// The config to send to a master.
    fn config(&self) -> Self::Config;
    /// What a master holds of this kind, by name.
    fn held(broker: &ObservedBroker) -> &BTreeMap<String, Self::Config>;
    /// The fields in which a master's config `have` differs from this declaration (whose
    /// config is `want`).
    fn changes(&self, want: &Self::Config, have: &Self::Config) -> Vec<Change>;
    /// The action creating `config` on `broker`.
    fn create(cluster: String, broker: BrokerRef, config: Self::Config) -> Action;
    /// The action updating `broker` to `config`.
    fn update(
        cluster: String,
        broker: BrokerRef,
        config: Self::Config,
        changes: Vec<Change>,
    ) -> Action;
}

impl Declared for TopicDecl {
    type Config = TopicConfig;
    const KIND: ObjectKind = ObjectKind::Topic;

    fn cluster(&self) -> &str {
        &self.cluster
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn declared(desired: &Desired) -> &[Self] {
        &desired.topics
    }
    fn declared_mut(desired: &mut Desired) -> &mut Vec<Self> {
        &mut desired.topics
    }
    fn config(&self) -> TopicConfig {
        self.to_topic_config()
    }
    fn held(broker: &ObservedBroker) -> &BTreeMap<String, TopicConfig> {
        &broker.topics
    }
    fn changes(&self, _want: &TopicConfig, have: &TopicConfig) -> Vec<Change> {
        topic_changes(self, have)
    }
    fn create(cluster: String, broker: BrokerRef, config: TopicConfig) -> Action {
        Action::CreateTopic {
            cluster,
            broker,
            config,
        }
    }
    fn update(
        cluster: String,
        broker: BrokerRef,
        config: TopicConfig,
        changes: Vec<Change>,
    ) -> Action {
        Action::UpdateTopic {
            cluster,
            broker,
            config,
            changes,
        }
    }
}

impl Declared for GroupDecl {
    type Config = SubscriptionGroupConfig;
    const KIND: ObjectKind = ObjectKind::Group;

    fn cluster(&self) -> &str {
        &self.cluster
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn declared(desired: &Desired) -> &[Self] {
        &desired.groups
    }
    fn declared_mut(desired: &mut Desired) -> &mut Vec<Self> {
        &mut desired.groups
    }
    fn config(&self) -> SubscriptionGroupConfig {
        self.to_group_config()
    }
    fn held(broker: &ObservedBroker) -> &BTreeMap<String, SubscriptionGroupConfig> {
        &broker.groups
    }
    fn changes(
        &self,
        want: &SubscriptionGroupConfig,
        have: &SubscriptionGroupConfig,
    ) -> Vec<Change> {
        group_changes(want, have)
    }
    fn create(cluster: String, broker: BrokerRef, config: SubscriptionGroupConfig) -> Action {
        Action::CreateGroup {
            cluster,
            broker,
            config,
        }
    }
    fn update(
        cluster: String,
        broker: BrokerRef,
        config: SubscriptionGroupConfig,
        changes: Vec<Change>,
    ) -> Action {
        Action::UpdateGroup {
            cluster,
            broker,
            config,
            changes,
        }
    }
}

/// (kind, cluster, name) of every declaration, topics first.
pub(super) fn declared_keys(desired: &Desired) -> impl Iterator<Item = (ObjectKind, &str, &str)> {
    fn keys<'a, D: Declared + 'a>(
        desired: &'a Desired,
    ) -> impl Iterator<Item = (ObjectKind, &'a str, &'a str)> {
        D::declared(desired)
            .iter()
            .map(|d| (D::KIND, d.cluster(), d.name()))
    }
    keys::<TopicDecl>(desired).chain(keys::<GroupDecl>(desired))
}

/// Collects the fields whose observed and declared values differ.
#[derive(Default)]
struct Diff(Vec<Change>);

impl Diff {
    fn field(&mut self, field: &str, from: impl ToString, to: impl ToString) {
        let (from, to) = (from.to_string(), to.to_string());
        if from != to {
            self.0.push(Change {
                field: field.into(),
                from,
                to,
            });
        }
    }
}

/// What differs between a declared topic and a broker's config.
pub fn topic_changes(decl: &TopicDecl, have: &TopicConfig) -> Vec<Change> {
    let mut diff = Diff::default();
    diff.field("readQueueNums", have.read_queue_nums, decl.queues);
    diff.field("writeQueueNums", have.write_queue_nums, decl.queues);
    diff.field("perm", have.perm & 6, decl.perm.bits());
    diff.field("order", have.order, decl.message_type == MessageType::Fifo);
    // Brokers without attributes (Apache 4.9) report none: an absent message.type reads as
    // NORMAL, or FIFO for an ordered topic.
    let have_type = attribute(have, MESSAGE_TYPE_ATTRIBUTE).unwrap_or(if have.order {
        "FIFO"
    } else {
        "NORMAL"
    });
    diff.field(
        MESSAGE_TYPE_ATTRIBUTE,
        have_type,
        decl.message_type.attribute(),
    );
    for (k, v) in &decl.attributes {
        diff.field(k, attribute(have, k).unwrap_or("<unset>"), v);
    }
    diff.0
}

fn attribute<'a>(t: &'a TopicConfig, key: &str) -> Option<&'a str> {
    t.attributes
        .iter()
        .find(|(k, _)| k.trim_start_matches('+') == key)
        .map(|(_, v)| v.as_str())
}

/// What differs between a declared group config and a broker's.
pub fn group_changes(
    want: &SubscriptionGroupConfig,
    have: &SubscriptionGroupConfig,
) -> Vec<Change> {
    let mut diff = Diff::default();
    diff.field("retryMaxTimes", have.retry_max_times, want.retry_max_times);
    diff.field(
        "consumeMessageOrderly",
        have.consume_message_orderly,
        want.consume_message_orderly,
    );
    diff.field(
        "consumeBroadcastEnable",
        have.consume_broadcast_enable,
        want.consume_broadcast_enable,
    );
    diff.field("consumeEnable", have.consume_enable, want.consume_enable);
    diff.0
}
