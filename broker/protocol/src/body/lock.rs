//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies and MessageQueue.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A queue: topic, broker group, queue id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    /// The queue's topic.
    pub topic: String,
    /// Broker group.
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
}

/// Lock (and unlock) request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    /// Consumer group.
    pub consumer_group: String,
    /// Client id of the lock owner.
    pub client_id: String,
    /// Lock only on this broker (no quorum).
    pub only_this_broker: bool,
    /// Queues to lock.
    pub mq_set: BTreeSet<MessageQueue>,
}

/// Lock response body: the queues actually locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LockBatchResponseBody {
    /// Locked queues.
    #[serde(rename = "lockOKMQSet", default)]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}
