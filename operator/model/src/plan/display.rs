//! One human-readable line per [`Action`] (what `rmqctl apply` and `--dry-run` print).

use super::model::{Action, BrokerRef, Change};
use crate::validate::MESSAGE_TYPE_ATTRIBUTE;
use rmq_protocol::body::route::perm;
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use std::fmt;

fn at(b: &BrokerRef) -> String {
    format!("{} ({})", b.name, b.addr)
}

fn changes(list: &[Change]) -> String {
    list.iter()
        .map(|c| format!("{} {} -> {}", c.field, c.from, c.to))
        .collect::<Vec<_>>()
        .join(", ")
}

fn perm_name(bits: i32) -> &'static str {
    match (perm::is_readable(bits), perm::is_writeable(bits)) {
        (true, true) => "ReadWrite",
        (true, false) => "ReadOnly",
        (false, true) => "WriteOnly",
        (false, false) => "Deny",
    }
}

impl Action {
    /// `+`, `~` or `-`: creates, changes or removes something.
    pub fn sign(&self) -> char {
        match self {
            Action::Own { .. } | Action::CreateTopic { .. } | Action::CreateGroup { .. } => '+',
            Action::UpdateTopic { .. } | Action::UpdateGroup { .. } => '~',
            Action::DeleteTopic { .. } | Action::DeleteGroup { .. } | Action::Disown { .. } => '-',
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.sign())?;
        match self {
            Action::Own {
                key,
                manager,
                name_servers,
                adopt,
            } => {
                let verb = if *adopt { "adopt" } else { "own" };
                write!(
                    f,
                    "{verb} {key}: record owner {manager} on {}",
                    name_servers.join(", ")
                )?;
                if *adopt {
                    write!(f, " (it exists but was not created by rmq)")?;
                }
                Ok(())
            }
            Action::CreateTopic { broker, config, .. } => create_topic(f, broker, config),
            Action::UpdateTopic {
                broker,
                config,
                changes: c,
                ..
            } => update(f, "topic", &config.topic_name, broker, c),
            Action::DeleteTopic {
                cluster,
                topic,
                brokers,
                name_servers,
            } => write!(
                f,
                "delete topic {topic} (cluster {cluster}) from {} and its route from {}",
                list(brokers),
                name_servers.join(", ")
            ),
            Action::CreateGroup { broker, config, .. } => create_group(f, broker, config),
            Action::UpdateGroup {
                broker,
                config,
                changes: c,
                ..
            } => update(f, "group", &config.group_name, broker, c),
            Action::DeleteGroup {
                cluster,
                group,
                brokers,
            } => write!(
                f,
                "delete group {group} (cluster {cluster}) from {} (consumer offsets are kept)",
                list(brokers)
            ),
            Action::Disown { key, name_servers } => write!(
                f,
                "forget {key}: remove the ownership record from {}",
                name_servers.join(", ")
            ),
        }
    }
}

fn list(brokers: &[BrokerRef]) -> String {
    brokers.iter().map(at).collect::<Vec<_>>().join(", ")
}

fn create_topic(
    f: &mut fmt::Formatter<'_>,
    broker: &BrokerRef,
    config: &TopicConfig,
) -> fmt::Result {
    write!(
        f,
        "create topic {} on {}: {} queues, {}, {}",
        config.topic_name,
        at(broker),
        config.write_queue_nums,
        perm_name(config.perm),
        config
            .attributes
            .get(MESSAGE_TYPE_ATTRIBUTE)
            .map_or("NORMAL", String::as_str)
    )
}

fn create_group(
    f: &mut fmt::Formatter<'_>,
    broker: &BrokerRef,
    config: &SubscriptionGroupConfig,
) -> fmt::Result {
    write!(
        f,
        "create group {} on {}: retryMaxTimes {}, orderly {}, broadcast {}",
        config.group_name,
        at(broker),
        config.retry_max_times,
        config.consume_message_orderly,
        config.consume_broadcast_enable
    )
}

/// `update topic|group NAME on BROKER: field a -> b, ...`.
fn update(
    f: &mut fmt::Formatter<'_>,
    kind: &str,
    name: &str,
    broker: &BrokerRef,
    differ: &[Change],
) -> fmt::Result {
    write!(
        f,
        "update {kind} {name} on {}: {}",
        at(broker),
        changes(differ)
    )
}
