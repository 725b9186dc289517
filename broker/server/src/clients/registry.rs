//! The registry of producer and consumer connections by group.

use parking_lot::RwLock;
use rmq_protocol::LanguageCode;
use rmq_protocol::body::heartbeat::{ConsumerData, SubscriptionData};
use rmq_protocol::net::Channel;
use std::collections::HashMap;
use std::sync::Arc;

/// One client connection in a group.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    /// The connection.
    pub channel: Channel,
    /// Client id (`ip@instance`).
    pub client_id: String,
    /// Client language.
    pub language: LanguageCode,
    /// Client version.
    pub version: i32,
    /// Last heartbeat (ms).
    pub last_update_ms: i64,
}

#[derive(Debug, Default)]
struct ConsumerGroup {
    channels: HashMap<u64, ClientChannel>,
    subscriptions: HashMap<String, Arc<SubscriptionData>>,
    consume_type: String,
    message_model: String,
    consume_from_where: String,
}

/// A consumer group as admin requests see it.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroupView {
    /// The group's live consumer connections.
    pub channels: Vec<ClientChannel>,
    /// Subscriptions by topic.
    pub subscriptions: Vec<Arc<SubscriptionData>>,
    /// CONSUME_ACTIVELY / CONSUME_PASSIVELY.
    pub consume_type: String,
    /// CLUSTERING / BROADCASTING.
    pub message_model: String,
    /// Where the group starts.
    pub consume_from_where: String,
}

/// What a consumer heartbeat changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerChange {
    /// A connection joined the group.
    pub new_channel: bool,
    /// The subscription table changed.
    pub subscriptions_changed: bool,
}

/// Connections per group name, sorted by group.
pub type GroupCounts = Vec<(String, usize)>;

/// Producer and consumer sessions.
#[derive(Default)]
pub struct ClientRegistry {
    consumers: RwLock<HashMap<String, ConsumerGroup>>,
    producers: RwLock<HashMap<String, HashMap<u64, ClientChannel>>>,
}

impl ClientRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers or refreshes a consumer connection and its subscriptions.
    pub fn register_consumer(&self, client: ClientChannel, data: &ConsumerData) -> ConsumerChange {
        let mut groups = self.consumers.write();
        let group = groups.entry(data.group_name.clone()).or_default();
        group.consume_type.clone_from(&data.consume_type);
        group.message_model.clone_from(&data.message_model);
        group
            .consume_from_where
            .clone_from(&data.consume_from_where);
        let new_channel = group.channels.insert(client.channel.id(), client).is_none();
        let mut changed = false;
        for sub in &data.subscription_data_set {
            match group.subscriptions.get(&sub.topic) {
                Some(old) if old.sub_version >= sub.sub_version && **old == *sub => {}
                Some(old) if old.sub_version > sub.sub_version => {}
                _ => {
                    group
                        .subscriptions
                        .insert(sub.topic.clone(), Arc::new(sub.clone()));
                    changed = true;
                }
            }
        }
        let before = group.subscriptions.len();
        group
            .subscriptions
            .retain(|topic, _| data.subscription_data_set.iter().any(|s| &s.topic == topic));
        changed |= group.subscriptions.len() != before;
        ConsumerChange {
            new_channel,
            subscriptions_changed: changed,
        }
    }

    /// Registers or refreshes a producer connection.
    pub fn register_producer(&self, group: &str, client: ClientChannel) {
        self.producers
            .write()
            .entry(group.to_owned())
            .or_default()
            .insert(client.channel.id(), client);
    }

    /// Removes a consumer connection from a group; true if it was there.
    pub fn unregister_consumer(&self, group: &str, channel_id: u64) -> bool {
        let mut groups = self.consumers.write();
        let Some(g) = groups.get_mut(group) else {
            return false;
        };
        let removed = g.channels.remove(&channel_id).is_some();
        if g.channels.is_empty() {
            groups.remove(group);
        }
        removed
    }

    /// Removes a producer connection from a group.
    pub fn unregister_producer(&self, group: &str, channel_id: u64) {
        let mut producers = self.producers.write();
        if let Some(g) = producers.get_mut(group) {
            g.remove(&channel_id);
            if g.is_empty() {
                producers.remove(group);
            }
        }
    }

    /// Removes a connection everywhere; returns the consumer groups it left.
    pub fn channel_closed(&self, channel_id: u64) -> Vec<String> {
        self.remove_where(|c| c.channel.id() == channel_id)
            .into_iter()
            .map(|(g, _)| g)
            .collect()
    }

    /// Removes connections silent for longer than `timeout_ms`; returns (consumer groups left,
    /// every expired connection) so the caller can close them and notify the groups.
    pub fn expire(&self, now_ms: i64, timeout_ms: i64) -> (Vec<String>, Vec<Channel>) {
        let stale = |c: &ClientChannel| c.last_update_ms + timeout_ms < now_ms;
        let mut expired: Vec<Channel> = Vec::new();
        {
            let mut producers = self.producers.write();
            for g in producers.values_mut() {
                g.retain(|_, c| {
                    let keep = !stale(c);
                    if !keep {
                        expired.push(c.channel.clone());
                    }
                    keep
                });
            }
            producers.retain(|_, g| !g.is_empty());
        }
        let left = self.remove_where(stale);
        let mut groups = Vec::new();
        for (g, ch) in left {
            expired.push(ch);
            groups.push(g);
        }
        groups.sort();
        groups.dedup();
        (groups, expired)
    }

    fn remove_where(&self, pred: impl Fn(&ClientChannel) -> bool) -> Vec<(String, Channel)> {
        let mut removed = Vec::new();
        {
            let mut producers = self.producers.write();
            for g in producers.values_mut() {
                g.retain(|_, c| !pred(c));
            }
            producers.retain(|_, g| !g.is_empty());
        }
        let mut groups = self.consumers.write();
        for (name, g) in groups.iter_mut() {
            g.channels.retain(|_, c| {
                let hit = pred(c);
                if hit {
                    removed.push((name.clone(), c.channel.clone()));
                }
                !hit
            });
        }
        groups.retain(|_, g| !g.channels.is_empty());
        removed
    }

    /// Client ids of a consumer group's live connections.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        self.consumers
            .read()
            .get(group)
            .map(|g| g.channels.values().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default()
    }

    /// Connections of a consumer group.
    pub fn consumer_channels(&self, group: &str) -> Vec<Channel> {
        self.consumers
            .read()
            .get(group)
            .map(|g| g.channels.values().map(|c| c.channel.clone()).collect())
            .unwrap_or_default()
    }

    /// The group's subscription to `topic`, if the group is online.
    pub fn subscription(&self, group: &str, topic: &str) -> Option<Arc<SubscriptionData>> {
        self.consumers
            .read()
            .get(group)?
            .subscriptions
            .get(topic)
            .cloned()
    }

    /// True if the consumer group has connections.
    pub fn consumer_online(&self, group: &str) -> bool {
        self.consumers.read().contains_key(group)
    }

    /// Message model of an online group.
    pub fn message_model(&self, group: &str) -> Option<String> {
        self.consumers
            .read()
            .get(group)
            .map(|g| g.message_model.clone())
    }

    /// Snapshot of a consumer group.
    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroupView> {
        let groups = self.consumers.read();
        let g = groups.get(group)?;
        Some(ConsumerGroupView {
            channels: g.channels.values().cloned().collect(),
            subscriptions: g.subscriptions.values().cloned().collect(),
            consume_type: g.consume_type.clone(),
            message_model: g.message_model.clone(),
            consume_from_where: g.consume_from_where.clone(),
        })
    }

    /// Online consumer groups subscribed to `topic`.
    pub fn groups_consuming(&self, topic: &str) -> Vec<String> {
        self.consumers
            .read()
            .iter()
            .filter(|(_, g)| g.subscriptions.contains_key(topic))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// One live connection of a producer group (for transaction checks).
    pub fn producer_channel(&self, group: &str) -> Option<Channel> {
        self.producers
            .read()
            .get(group)?
            .values()
            .filter(|c| !c.channel.is_closed())
            .max_by_key(|c| c.last_update_ms)
            .map(|c| c.channel.clone())
    }

    /// Connections of a producer group.
    pub fn producer_clients(&self, group: &str) -> Vec<ClientChannel> {
        self.producers
            .read()
            .get(group)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Connections per group: `(producers by group, consumers by group)`, each sorted.
    pub fn counts_by_group(&self) -> (GroupCounts, GroupCounts) {
        let mut p: Vec<(String, usize)> = (self.producers.read().iter())
            .map(|(g, c)| (g.clone(), c.len()))
            .collect();
        let mut c: Vec<(String, usize)> = (self.consumers.read().iter())
            .map(|(g, c)| (g.clone(), c.channels.len()))
            .collect();
        p.sort();
        c.sort();
        (p, c)
    }

    /// Number of (producer, consumer) connections.
    pub fn counts(&self) -> (usize, usize) {
        let p = self.producers.read().values().map(HashMap::len).sum();
        let c = self
            .consumers
            .read()
            .values()
            .map(|g| g.channels.len())
            .sum();
        (p, c)
    }
}
