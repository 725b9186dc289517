//! Who becomes master: the election policy of RocketMQ 5's controller.
//!
//! Candidates are the alive members of the in-sync set; only when none is alive, and the user
//! accepted data loss, the other alive members. Among candidates the old master stays if it is
//! one (and nobody else was designated); a designated broker wins if it is a candidate; else
//! the one with the newest epoch, then the most data (max offset), then the best (lowest)
//! election priority, then the lowest id.

use crate::state::BrokerId;
use std::collections::{BTreeMap, BTreeSet};

/// What an alive broker last reported in its heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveInfo {
    /// The newest master epoch in its commit log.
    pub epoch: u32,
    /// The end of its commit log.
    pub max_offset: i64,
    /// Lower wins ties (`brokerElectionPriority`).
    pub priority: i32,
}

/// The alive brokers of a group, by id; a broker missing here is dead.
pub type Alive = BTreeMap<BrokerId, LiveInfo>;

/// An election's inputs besides the liveness view.
#[derive(Debug, Clone, Default)]
pub struct Ballot<'a> {
    /// The in-sync set.
    pub in_sync: Option<&'a BTreeSet<BrokerId>>,
    /// Every member, when an unclean election (a replica outside the in-sync set) is allowed.
    pub unclean: Option<&'a BTreeSet<BrokerId>>,
    /// The current master.
    pub old_master: Option<BrokerId>,
    /// The broker asked for (`mqadmin electMaster -i`), if any.
    pub designated: Option<BrokerId>,
}

/// The new master, or `None` when no candidate qualifies.
pub fn elect(ballot: &Ballot<'_>, alive: &Alive) -> Option<BrokerId> {
    [ballot.in_sync, ballot.unclean]
        .into_iter()
        .flatten()
        .find_map(|pool| elect_from(pool, ballot, alive))
}

fn elect_from(pool: &BTreeSet<BrokerId>, ballot: &Ballot<'_>, alive: &Alive) -> Option<BrokerId> {
    let candidates: Vec<(BrokerId, LiveInfo)> = pool
        .iter()
        .filter_map(|id| alive.get(id).map(|info| (*id, *info)))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let is_candidate = |id: BrokerId| candidates.iter().any(|(c, _)| *c == id);
    if let Some(old) = ballot.old_master
        && is_candidate(old)
        && ballot.designated.is_none_or(|d| d == old)
    {
        return Some(old);
    }
    if let Some(d) = ballot.designated {
        return is_candidate(d).then_some(d);
    }
    candidates
        .into_iter()
        .min_by(|(a_id, a), (b_id, b)| {
            b.epoch
                .cmp(&a.epoch)
                .then(b.max_offset.cmp(&a.max_offset))
                .then(a.priority.cmp(&b.priority))
                .then(a_id.cmp(b_id))
        })
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(epoch: u32, max_offset: i64, priority: i32) -> LiveInfo {
        LiveInfo {
            epoch,
            max_offset,
            priority,
        }
    }

    fn set(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn the_in_sync_replica_with_most_data_wins() {
        let in_sync = set(&[1, 2, 3]);
        let alive = Alive::from([(2, live(3, 100, 0)), (3, live(3, 250, 0))]);
        let b = Ballot {
            in_sync: Some(&in_sync),
            old_master: Some(1),
            ..Ballot::default()
        };
        assert_eq!(elect(&b, &alive), Some(3));
    }

    #[test]
    fn newer_epoch_beats_more_data_and_priority_breaks_ties() {
        let in_sync = set(&[2, 3, 4]);
        let alive = Alive::from([
            (2, live(2, 900, 0)),
            (3, live(3, 100, 5)),
            (4, live(3, 100, 1)),
        ]);
        let b = Ballot {
            in_sync: Some(&in_sync),
            ..Ballot::default()
        };
        assert_eq!(elect(&b, &alive), Some(4));
    }

    #[test]
    fn out_of_sync_replicas_only_in_an_unclean_election() {
        let in_sync = set(&[1]);
        let all = set(&[1, 2]);
        let alive = Alive::from([(2, live(1, 10, 0))]);
        let clean = Ballot {
            in_sync: Some(&in_sync),
            old_master: Some(1),
            ..Ballot::default()
        };
        assert_eq!(elect(&clean, &alive), None);
        let unclean = Ballot {
            unclean: Some(&all),
            ..clean
        };
        assert_eq!(elect(&unclean, &alive), Some(2));
    }

    #[test]
    fn an_alive_old_master_stays_unless_another_is_designated() {
        let in_sync = set(&[1, 2]);
        let alive = Alive::from([(1, live(1, 10, 9)), (2, live(1, 99, 0))]);
        let mut b = Ballot {
            in_sync: Some(&in_sync),
            old_master: Some(1),
            ..Ballot::default()
        };
        assert_eq!(elect(&b, &alive), Some(1));
        b.designated = Some(2);
        assert_eq!(elect(&b, &alive), Some(2));
        b.designated = Some(7);
        assert_eq!(
            elect(&b, &alive),
            None,
            "a designated non-member is refused"
        );
    }
}
