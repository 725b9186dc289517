//! The entries of the controller's replicated log: every change of the state is one of these.

use crate::ids::BrokerId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One change of the controller's state, applied in log order by every controller replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Event {
    /// A broker took `id` in `group` (the group is created by its first member).
    ApplyBrokerId {
        /// The cluster the group belongs to.
        cluster: String,
        /// The broker group (`brokerName`).
        group: String,
        /// The id it took.
        id: BrokerId,
        /// Its remoting address.
        address: String,
        /// What identifies the broker that owns the id across restarts (address and a
        /// token it keeps on disk), so that only it may claim the id again.
        check_code: String,
    },
    /// A member's address changed (a pod rescheduled, a node replaced).
    UpdateAddress {
        /// The broker group.
        group: String,
        /// The member.
        id: BrokerId,
        /// Its new address.
        address: String,
    },
    /// The master changed its group's in-sync set.
    AlterSyncStateSet {
        /// The broker group.
        group: String,
        /// The new in-sync set (always holds the master).
        in_sync: BTreeSet<BrokerId>,
    },
    /// An election's outcome: `Some(id)` is the new master (alone in the new in-sync set);
    /// `None`: the master is gone and nobody could be elected (the group has no master).
    ElectMaster {
        /// The broker group.
        group: String,
        /// The new master.
        master: Option<BrokerId>,
    },
    /// Members removed; an empty `ids` removes the whole group.
    CleanGroup {
        /// The broker group.
        group: String,
        /// The members to forget.
        ids: BTreeSet<BrokerId>,
    },
}
