//! Which brokers are alive, from their heartbeats: pure bookkeeping with the time passed in
//! (milliseconds on any monotonic clock), so that it is tested without sockets or sleeps.
//!
//! A broker is alive while its last heartbeat is younger than the timeout it announced
//! (`heartbeatTimeoutMills`, Java's default 10 s). Liveness is not replicated: every controller
//! replica keeps its own table from the heartbeats it receives, and a replica that just became
//! the Raft leader waits out one heartbeat timeout ([`Liveness::may_judge`]) before it calls a
//! master dead, so that a master heartbeating to the old leader is not replaced by mistake.

use crate::elect::{Alive, LiveInfo};
use crate::state::{BrokerId, ControllerState};
use std::collections::BTreeMap;

/// Java's `DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`: the timeout of a heartbeat that names none.
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 10_000;

/// One heartbeat as a broker sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The broker group (`brokerName`).
    pub group: String,
    /// The broker's id in its group.
    pub id: BrokerId,
    /// Its remoting address.
    pub address: String,
    /// How long it counts as alive after this heartbeat; `None`: the default.
    pub timeout_ms: Option<u64>,
    /// Its epoch, data and priority (what elections compare).
    pub info: LiveInfo,
}

#[derive(Debug, Clone)]
struct Seen {
    address: String,
    at_ms: u64,
    timeout_ms: u64,
    info: LiveInfo,
}

/// The heartbeats one controller replica received, by group and broker id.
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    seen: BTreeMap<(String, BrokerId), Seen>,
    /// When this replica last became the Raft leader (`None`: it is not the leader).
    leader_since_ms: Option<u64>,
}

impl Liveness {
    /// Records a heartbeat received at `now_ms`.
    pub fn heartbeat(&mut self, hb: Heartbeat, now_ms: u64) {
        let seen = Seen {
            address: hb.address,
            at_ms: now_ms,
            timeout_ms: hb.timeout_ms.unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT_MS),
            info: hb.info,
        };
        self.seen.insert((hb.group, hb.id), seen);
    }

    /// Whether broker `id` of `group` heartbeated within its timeout.
    pub fn is_alive(&self, group: &str, id: BrokerId, now_ms: u64) -> bool {
        self.seen
            .get(&(group.to_owned(), id))
            .is_some_and(|s| fresh(s, now_ms))
    }

    /// The alive brokers of `group` with what they last reported.
    pub fn alive(&self, group: &str, now_ms: u64) -> Alive {
        self.seen
            .iter()
            .filter(|((g, _), s)| g == group && fresh(s, now_ms))
            .map(|((_, id), s)| (*id, s.info))
            .collect()
    }

    /// The address broker `id` of `group` last heartbeated from.
    pub fn address(&self, group: &str, id: BrokerId) -> Option<&str> {
        self.seen
            .get(&(group.to_owned(), id))
            .map(|s| s.address.as_str())
    }

    /// Forgets brokers whose heartbeat expired; returns them (group, id).
    pub fn expire(&mut self, now_ms: u64) -> Vec<(String, BrokerId)> {
        let dead: Vec<_> = self
            .seen
            .iter()
            .filter(|(_, s)| !fresh(s, now_ms))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &dead {
            self.seen.remove(k);
        }
        dead
    }

    /// Tells the table whether this replica is the Raft leader (called on every scan; the
    /// moment it becomes leader is remembered).
    pub fn set_leader(&mut self, leader: bool, now_ms: u64) {
        match (leader, self.leader_since_ms) {
            (true, None) => self.leader_since_ms = Some(now_ms),
            (false, _) => self.leader_since_ms = None,
            (true, Some(_)) => {}
        }
    }

    /// Whether this replica may declare masters dead: it is the leader and has been for at
    /// least the longest heartbeat timeout it knows (a fresh leader first hears every broker).
    pub fn may_judge(&self, now_ms: u64) -> bool {
        let wait = self
            .seen
            .values()
            .map(|s| s.timeout_ms)
            .max()
            .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT_MS);
        self.leader_since_ms
            .is_some_and(|since| now_ms.saturating_sub(since) >= wait)
    }
}

fn fresh(s: &Seen, now_ms: u64) -> bool {
    now_ms.saturating_sub(s.at_ms) < s.timeout_ms
}

/// The groups that need an election: their master stopped heartbeating while another member
/// is alive (Java's `scanNeedReelectBrokerSets`; with nobody alive there is nobody to elect).
pub fn needs_election(state: &ControllerState, live: &Liveness, now_ms: u64) -> Vec<String> {
    state
        .groups()
        .filter(|(name, g)| {
            g.sync
                .master
                .is_some_and(|m| !live.is_alive(name, m, now_ms))
                && g.members.keys().any(|id| live.is_alive(name, *id, now_ms))
        })
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn hb(id: BrokerId, timeout_ms: Option<u64>) -> Heartbeat {
        Heartbeat {
            group: "g".into(),
            id,
            address: format!("10.0.0.{id}:10911"),
            timeout_ms,
            info: LiveInfo {
                epoch: 1,
                max_offset: 10 * id as i64,
                priority: 0,
            },
        }
    }

    #[test]
    fn a_broker_is_alive_until_its_own_timeout() {
        let mut l = Liveness::default();
        l.heartbeat(hb(1, Some(3_000)), 1_000);
        l.heartbeat(hb(2, None), 1_000);
        assert!(l.is_alive("g", 1, 3_999));
        assert!(!l.is_alive("g", 1, 4_000));
        assert!(l.is_alive("g", 2, 10_999), "default timeout is 10 s");
        assert_eq!(l.alive("g", 5_000).keys().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(l.alive("g", 5_000)[&2].max_offset, 20);
        assert!(l.alive("other", 1_000).is_empty());
        assert_eq!(l.expire(5_000), vec![("g".to_owned(), 1)]);
        assert_eq!(l.address("g", 2), Some("10.0.0.2:10911"));
        assert_eq!(l.address("g", 1), None);
    }

    #[test]
    fn a_new_leader_waits_one_timeout_before_judging() {
        let mut l = Liveness::default();
        l.heartbeat(hb(1, Some(2_000)), 0);
        assert!(!l.may_judge(100), "not the leader");
        l.set_leader(true, 1_000);
        l.set_leader(true, 2_000);
        assert!(!l.may_judge(2_999));
        assert!(l.may_judge(3_000));
        l.set_leader(false, 3_000);
        assert!(!l.may_judge(9_000));
    }

    #[test]
    fn only_groups_with_a_dead_master_and_an_alive_member_need_an_election() {
        let mut s = ControllerState::default();
        for (group, id) in [("g", 1), ("g", 2), ("h", 1)] {
            s.apply(&Event::ApplyBrokerId {
                cluster: "c".into(),
                group: group.into(),
                id,
                address: format!("a{id}"),
                check_code: String::new(),
            });
        }
        for group in ["g", "h"] {
            s.apply(&Event::ElectMaster {
                group: group.into(),
                master: Some(1),
            });
        }
        let mut l = Liveness::default();
        l.heartbeat(hb(1, Some(1_000)), 0);
        l.heartbeat(hb(2, Some(5_000)), 0);
        assert!(needs_election(&s, &l, 500).is_empty());
        // master 1 of g expired, 2 alive; group h has nobody alive at all
        assert_eq!(needs_election(&s, &l, 2_000), vec!["g".to_owned()]);
        assert!(needs_election(&s, &l, 6_000).is_empty(), "nobody to elect");
    }
}
