//! Pure decisions of controller mode: which role the controller's view gives this broker, and
//! how a master's in-sync replica set should change given its slaves' progress.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The controller's view of a group (GET_REPLICA_INFO, REGISTER_BROKER, ELECT_MASTER).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// The master's id, when the group has one.
    pub master_id: Option<i64>,
    /// The master's remoting address.
    pub master_addr: Option<String>,
    /// The master epoch.
    pub master_epoch: i32,
    /// The in-sync set's epoch.
    pub set_epoch: i32,
    /// The in-sync set (when the answer had it).
    pub sync_set: BTreeSet<i64>,
}

/// The role this broker runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// This broker is the master of `epoch`.
    Master {
        /// The master epoch of the election.
        epoch: i32,
    },
    /// This broker replicates from the master at `master_addr` (remoting address).
    Slave {
        /// The master's id.
        master_id: i64,
        /// Its remoting address.
        master_addr: String,
        /// The master epoch.
        epoch: i32,
    },
}

/// The role `view` gives broker `me`; `None` when the group has no master (ask for an
/// election).
pub fn role_of(me: i64, view: &View) -> Option<Role> {
    match (view.master_id, &view.master_addr) {
        (Some(m), _) if m == me => Some(Role::Master {
            epoch: view.master_epoch,
        }),
        (Some(m), Some(addr)) if !addr.is_empty() => Some(Role::Slave {
            master_id: m,
            master_addr: addr.clone(),
            epoch: view.master_epoch,
        }),
        _ => None,
    }
}

/// Whether running as `current` must end because the controller now says `view`: another
/// master, another epoch, or no master at all while this broker is master.
pub fn must_restart(me: i64, current: &Role, view: &View) -> bool {
    match role_of(me, view) {
        Some(new) => new != *current,
        // no master: a master was deposed; a slave waits (the controller elects)
        None => matches!(current, Role::Master { .. }),
    }
}

/// One slave's progress as the master sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaveProgress {
    /// Its broker id.
    pub id: i64,
    /// The offset it acknowledged.
    pub ack: i64,
}

/// The master's memory of when each slave last had everything (Java's `lastCaughtUpTime`).
#[derive(Debug, Default)]
pub struct InSyncTracker {
    caught_up: BTreeMap<i64, Instant>,
}

impl InSyncTracker {
    /// Notes which slaves have everything below `master_max` at `now`. Members of `set` seen
    /// for the first time get `now` (a grace period after the master took over).
    pub fn observe(
        &mut self,
        set: &BTreeSet<i64>,
        slaves: &[SlaveProgress],
        master_max: i64,
        now: Instant,
    ) {
        for id in set {
            self.caught_up.entry(*id).or_insert(now);
        }
        for s in slaves.iter().filter(|s| s.ack >= master_max) {
            self.caught_up.insert(s.id, now);
        }
    }

    /// The in-sync set master `me` should ask for, `None` when `set` is right: a slave that
    /// caught up within the last observation joins, a member that has not caught up for
    /// longer than `max_lag` leaves; the master always stays.
    pub fn decide(
        &self,
        me: i64,
        set: &BTreeSet<i64>,
        slaves: &[SlaveProgress],
        now: Instant,
        max_lag: Duration,
    ) -> Option<BTreeSet<i64>> {
        let fresh = |id: &i64| {
            self.caught_up
                .get(id)
                .is_some_and(|t| now.saturating_duration_since(*t) <= max_lag)
        };
        let mut next: BTreeSet<i64> = set.iter().copied().filter(fresh).collect();
        next.extend(
            slaves
                .iter()
                .map(|s| s.id)
                .filter(|id| self.caught_up.get(id) == Some(&now)),
        );
        next.insert(me);
        (next != *set).then_some(next)
    }
}

/// The confirm offset of a master: the commit log offset every other member of the in-sync
/// set (`members`) acknowledged, `master_max` when it has no other member; `None` when a member
/// has no connection or has not reported yet (the offset cannot be known: keep the last one).
/// `acks` are the connected slaves' (id, acknowledged offset).
pub fn confirm_offset(
    members: &BTreeSet<i64>,
    acks: &[(i64, i64)],
    master_max: i64,
) -> Option<i64> {
    let mut confirmed = master_max;
    for m in members {
        let best = acks.iter().filter(|(id, _)| id == m).map(|(_, a)| *a).max();
        match best {
            Some(ack) if ack >= 0 => confirmed = confirmed.min(ack),
            _ => return None,
        }
    }
    Some(confirmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(master: Option<i64>, epoch: i32) -> View {
        View {
            master_id: master,
            master_addr: master.map(|m| format!("h:{m}")),
            master_epoch: epoch,
            ..View::default()
        }
    }

    #[test]
    fn roles_follow_the_controller() {
        assert_eq!(
            role_of(1, &view(Some(1), 3)),
            Some(Role::Master { epoch: 3 })
        );
        let slave = role_of(2, &view(Some(1), 3)).unwrap();
        assert!(matches!(
            &slave,
            Role::Slave {
                master_id: 1,
                epoch: 3,
                ..
            }
        ));
        assert_eq!(role_of(2, &view(None, 3)), None);
        // a new epoch or master ends the current role; the same view does not
        assert!(!must_restart(2, &slave, &view(Some(1), 3)));
        assert!(must_restart(2, &slave, &view(Some(2), 4)));
        assert!(must_restart(2, &slave, &view(Some(1), 4)));
        let master = Role::Master { epoch: 3 };
        assert!(must_restart(1, &master, &view(None, 3)));
        assert!(!must_restart(2, &slave, &view(None, 3)));
    }

    #[test]
    fn slaves_join_when_caught_up_and_leave_after_lagging_too_long() {
        let mut t = InSyncTracker::default();
        let t0 = Instant::now();
        let lag = Duration::from_secs(3);
        let set = BTreeSet::from([1]);
        let behind = [SlaveProgress { id: 2, ack: 50 }];
        t.observe(&set, &behind, 100, t0);
        assert_eq!(t.decide(1, &set, &behind, t0, lag), None);
        let caught = [SlaveProgress { id: 2, ack: 100 }];
        let t1 = t0 + Duration::from_secs(1);
        t.observe(&set, &caught, 100, t1);
        let set = t.decide(1, &set, &caught, t1, lag).unwrap();
        assert_eq!(set, BTreeSet::from([1, 2]));
        // behind but within the allowed time: stays; then too long: leaves
        let t2 = t1 + Duration::from_secs(2);
        t.observe(&set, &behind, 200, t2);
        assert_eq!(t.decide(1, &set, &behind, t2, lag), None);
        let t3 = t1 + Duration::from_secs(4);
        t.observe(&set, &[], 200, t3);
        assert_eq!(t.decide(1, &set, &[], t3, lag), Some(BTreeSet::from([1])));
    }

    #[test]
    fn the_confirm_offset_is_what_every_other_member_acknowledged() {
        let set = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<i64>>();
        assert_eq!(confirm_offset(&set(&[]), &[], 900), Some(900));
        let acks = [(2, 700), (3, 500), (4, 100)];
        assert_eq!(confirm_offset(&set(&[2]), &acks, 900), Some(700));
        assert_eq!(confirm_offset(&set(&[2, 3]), &acks, 900), Some(500));
        assert_eq!(confirm_offset(&set(&[2]), &[(2, 1000)], 900), Some(900));
        // a member not connected, or connected but silent: unknown
        assert_eq!(confirm_offset(&set(&[2, 5]), &acks, 900), None);
        assert_eq!(confirm_offset(&set(&[2]), &[(2, -1)], 900), None);
        // an old and a new connection of one slave: the newer report counts as the best
        assert_eq!(
            confirm_offset(&set(&[2]), &[(2, 300), (2, 600)], 900),
            Some(600)
        );
    }
}
