//! The controller's state: broker groups with their members and sync state, changed only by
//! applying [`Event`]s.

use crate::event::Event;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::ids::{BrokerId, FIRST_BROKER_ID};

/// A member of a broker group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// Its remoting address (`host:port`).
    pub address: String,
    /// What it proved its identity with when it took the id (see [`Event::ApplyBrokerId`]).
    pub check_code: String,
}

/// Who is master and who is in sync, with the epochs that fence stale requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    /// The master; `None` before the first election and after a failed one.
    pub master: Option<BrokerId>,
    /// Grows at every election (0: never elected).
    pub master_epoch: u32,
    /// The replicas holding everything the master acknowledged (the master included).
    pub in_sync: BTreeSet<BrokerId>,
    /// Grows at every change of `in_sync`.
    pub in_sync_epoch: u32,
}

/// A broker group: its cluster, members and sync state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The cluster the group belongs to.
    pub cluster: String,
    /// Members by id.
    pub members: BTreeMap<BrokerId, Member>,
    /// Master and in-sync set.
    pub sync: SyncState,
}

impl Group {
    /// The id the next new member should apply for.
    pub fn next_id(&self) -> BrokerId {
        self.members
            .keys()
            .next_back()
            .map_or(FIRST_BROKER_ID, |last| last + 1)
    }

    /// The address of member `id`.
    pub fn address(&self, id: BrokerId) -> Option<&str> {
        self.members.get(&id).map(|m| m.address.as_str())
    }
}

/// Every broker group the controller knows, by `brokerName`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerState {
    groups: BTreeMap<String, Group>,
}

impl ControllerState {
    /// The group named `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Every group, by name.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &Group)> {
        self.groups.iter().map(|(n, g)| (n.as_str(), g))
    }

    /// Applies one log entry. Deterministic: the same events in the same order give the same
    /// state on every replica. An event about an unknown group (removed meanwhile) is ignored.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::ApplyBrokerId {
                cluster,
                group,
                id,
                address,
                check_code,
            } => {
                let g = self.groups.entry(group.clone()).or_insert_with(|| Group {
                    cluster: cluster.clone(),
                    members: BTreeMap::new(),
                    sync: SyncState::default(),
                });
                g.members.entry(*id).or_insert_with(|| Member {
                    address: address.clone(),
                    check_code: check_code.clone(),
                });
            }
            Event::UpdateAddress { group, id, address } => {
                if let Some(m) = self.member_mut(group, *id) {
                    m.address = address.clone();
                }
            }
            Event::AlterSyncStateSet { group, in_sync } => {
                if let Some(g) = self.groups.get_mut(group) {
                    g.sync.in_sync = in_sync.clone();
                    g.sync.in_sync_epoch += 1;
                }
            }
            Event::ElectMaster { group, master } => {
                if let Some(g) = self.groups.get_mut(group) {
                    elected(&mut g.sync, *master);
                }
            }
            Event::CleanGroup { group, ids } => self.clean(group, ids),
        }
    }

    fn member_mut(&mut self, group: &str, id: BrokerId) -> Option<&mut Member> {
        self.groups.get_mut(group)?.members.get_mut(&id)
    }

    fn clean(&mut self, group: &str, ids: &BTreeSet<BrokerId>) {
        if ids.is_empty() {
            self.groups.remove(group);
            return;
        }
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        for id in ids {
            g.members.remove(id);
            g.sync.in_sync.remove(id);
        }
        if g.members.is_empty() {
            self.groups.remove(group);
        }
    }
}

/// An election's outcome: a new master starts a new epoch alone in the in-sync set; no master
/// also starts a new epoch (the old master is fenced) and keeps the in-sync set, so that a
/// later election still knows who had everything.
fn elected(sync: &mut SyncState, master: Option<BrokerId>) {
    sync.master = master;
    sync.master_epoch += 1;
    if let Some(m) = master {
        sync.in_sync = BTreeSet::from([m]);
        sync.in_sync_epoch += 1;
    }
}
