//! What an ownership record is about: [`OwnedKey`] and its KV-store form.

use serde::Serialize;
use std::fmt;

/// Topic or consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ObjectKind {
    /// A topic.
    Topic,
    /// A consumer (subscription) group.
    Group,
}

impl ObjectKind {
    /// The word the KV keys and messages use: `topic` or `group`.
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::Topic => "topic",
            ObjectKind::Group => "group",
        }
    }

    fn from_label(label: &str) -> Option<Self> {
        match label {
            "topic" => Some(ObjectKind::Topic),
            "group" => Some(ObjectKind::Group),
            _ => None,
        }
    }
}

/// What an ownership record is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OwnedKey {
    /// Whether the record is about a topic or a consumer group.
    pub kind: ObjectKind,
    /// The cluster (`brokerClusterName`) holding the object.
    pub cluster: String,
    /// The RocketMQ topic or group name.
    pub name: String,
}

impl OwnedKey {
    /// The KV key: `topic/<cluster>/<name>` or `group/<cluster>/<name>`.
    pub fn kv_key(&self) -> String {
        format!("{}/{}/{}", self.kind.label(), self.cluster, self.name)
    }

    /// Parses [`OwnedKey::kv_key`]; `None` for keys rmq did not write.
    pub fn parse(key: &str) -> Option<Self> {
        let (kind, rest) = key.split_once('/')?;
        let (cluster, name) = rest.rsplit_once('/')?;
        let kind = ObjectKind::from_label(kind)?;
        (!cluster.is_empty() && !name.is_empty()).then(|| Self {
            kind,
            cluster: cluster.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for OwnedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (cluster {})",
            self.kind.label(),
            self.name,
            self.cluster
        )
    }
}
