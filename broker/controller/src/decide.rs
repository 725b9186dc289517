//! The controller's answers to brokers and admins: each reads the state (and who is alive)
//! and returns the [`Event`] to append to the log, or a [`Refusal`] with the Java controller's
//! code. Nothing here changes the state: the caller appends the event through consensus and
//! applies it once committed.

use crate::codes;
use crate::elect::{Alive, Ballot, elect};
use crate::event::Event;
use crate::state::{BrokerId, ControllerState, FIRST_BROKER_ID, Group};
use std::collections::BTreeSet;

/// A request the controller will not carry out: the response code and a remark that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The Java controller's response code ([`codes`]).
    pub code: i32,
    /// What was wrong.
    pub remark: String,
}

fn refuse<T>(code: i32, remark: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        code,
        remark: remark.into(),
    })
}

fn group<'a>(state: &'a ControllerState, name: &str) -> Result<&'a Group, Refusal> {
    state.group(name).map_or_else(
        || {
            refuse(
                codes::BROKER_NEED_TO_BE_REGISTERED,
                format!("broker group {name} is not registered with the controller"),
            )
        },
        Ok,
    )
}

/// A master's request to change its in-sync set, as it last knew the epochs.
#[derive(Debug, Clone)]
pub struct AlterRequest<'a> {
    /// The broker group.
    pub group: &'a str,
    /// The requesting master's id.
    pub master: BrokerId,
    /// The master epoch it holds.
    pub master_epoch: u32,
    /// The in-sync epoch its change is based on.
    pub in_sync_epoch: u32,
    /// The in-sync set it asks for.
    pub in_sync: BTreeSet<BrokerId>,
}

/// Checks a change of the in-sync set: only the current master, at the current epochs, may
/// change it, to alive members, keeping itself. Returns the event and the new in-sync epoch.
pub fn alter_sync_state_set(
    state: &ControllerState,
    req: &AlterRequest<'_>,
    alive: &Alive,
) -> Result<(Event, u32), Refusal> {
    let g = group(state, req.group)?;
    let s = &g.sync;
    if s.in_sync == req.in_sync {
        return refuse(
            codes::ALTER_SYNC_STATE_SET_FAILED,
            "the in-sync set is unchanged",
        );
    }
    if s.master != Some(req.master) {
        return refuse(
            codes::INVALID_MASTER,
            format!(
                "broker {} is not the master of {} (the master is {:?})",
                req.master, req.group, s.master
            ),
        );
    }
    if req.master_epoch != s.master_epoch {
        return refuse(
            codes::FENCED_MASTER_EPOCH,
            format!(
                "master epoch {} was superseded by {}",
                req.master_epoch, s.master_epoch
            ),
        );
    }
    if req.in_sync_epoch != s.in_sync_epoch {
        return refuse(
            codes::FENCED_SYNC_STATE_SET_EPOCH,
            format!(
                "in-sync epoch {} was superseded by {}",
                req.in_sync_epoch, s.in_sync_epoch
            ),
        );
    }
    if let Some(id) = req.in_sync.iter().find(|id| !g.members.contains_key(id)) {
        return refuse(
            codes::INVALID_REPLICAS,
            format!("broker {id} is not a member of {}", req.group),
        );
    }
    if let Some(id) = req.in_sync.iter().find(|id| !alive.contains_key(id)) {
        return refuse(codes::BROKER_NOT_ALIVE, format!("broker {id} is not alive"));
    }
    if !req.in_sync.contains(&req.master) {
        return refuse(
            codes::ALTER_SYNC_STATE_SET_FAILED,
            "the in-sync set must hold the master",
        );
    }
    let event = Event::AlterSyncStateSet {
        group: req.group.to_owned(),
        in_sync: req.in_sync.clone(),
    };
    Ok((event, s.in_sync_epoch + 1))
}

/// Who asks for an election and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct ElectRequest<'a> {
    /// The broker group.
    pub group: &'a str,
    /// The broker asking (a broker that wants the role, or the one an admin designates);
    /// `None`: the controller itself, after the master stopped heartbeating.
    pub broker: Option<BrokerId>,
    /// An admin designates `broker` (`mqadmin electMaster`).
    pub designate: bool,
    /// Members outside the in-sync set may be elected (data loss accepted).
    pub allow_unclean: bool,
}

/// An election's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elected {
    /// `master` was elected: append `event`; the new epochs are the current ones plus one.
    New {
        /// The event to append.
        event: Event,
        /// The new master.
        master: BrokerId,
    },
    /// The current master is alive and stays (Java's `CONTROLLER_MASTER_STILL_EXIST`).
    Unchanged {
        /// The current master.
        master: BrokerId,
    },
    /// Nobody qualifies; the controller records that the group has no master (`event`) so the
    /// old one is fenced, and answers `MASTER_NOT_AVAILABLE`.
    NoMaster {
        /// The event to append.
        event: Event,
    },
}

/// Runs an election in `req.group` among the alive brokers.
pub fn elect_master(
    state: &ControllerState,
    req: &ElectRequest<'_>,
    alive: &Alive,
) -> Result<Elected, Refusal> {
    let g = group(state, req.group)?;
    let s = &g.sync;
    let members: BTreeSet<BrokerId> = g.members.keys().copied().collect();
    let first = s.master_epoch == 0 && req.broker.is_some_and(|b| alive.contains_key(&b));
    let master = if first {
        req.broker
    } else {
        let ballot = Ballot {
            in_sync: Some(&s.in_sync),
            unclean: req.allow_unclean.then_some(&members),
            old_master: s.master,
            designated: req.broker.filter(|_| req.designate),
        };
        elect(&ballot, alive)
    };
    let event = |master| Event::ElectMaster {
        group: req.group.to_owned(),
        master,
    };
    match master {
        Some(m) if s.master == Some(m) => Ok(Elected::Unchanged { master: m }),
        Some(m) => Ok(Elected::New {
            event: event(Some(m)),
            master: m,
        }),
        None if req.broker.is_none() => Ok(Elected::NoMaster { event: event(None) }),
        None => refuse(
            codes::ELECT_MASTER_FAILED,
            format!(
                "no alive in-sync replica of {} can become master",
                req.group
            ),
        ),
    }
}

/// The id a new member of `group` should apply for.
pub fn next_broker_id(state: &ControllerState, group: &str) -> BrokerId {
    state.group(group).map_or(FIRST_BROKER_ID, Group::next_id)
}

/// A broker's claim of `id` in `group`: granted when the id is free (the first member must
/// take [`FIRST_BROKER_ID`]) or already this broker's (same `check_code`).
pub fn apply_broker_id(
    state: &ControllerState,
    cluster: &str,
    group_name: &str,
    id: BrokerId,
    address: &str,
    check_code: &str,
) -> Result<Option<Event>, Refusal> {
    let event = || Event::ApplyBrokerId {
        cluster: cluster.to_owned(),
        group: group_name.to_owned(),
        id,
        address: address.to_owned(),
        check_code: check_code.to_owned(),
    };
    match state.group(group_name) {
        None if id == FIRST_BROKER_ID => Ok(Some(event())),
        None => refuse(
            codes::BROKER_ID_INVALID,
            format!(
                "{group_name} has no member yet: the first must take id {FIRST_BROKER_ID}, not {id}"
            ),
        ),
        Some(g) => match g.members.get(&id) {
            None => Ok(Some(event())),
            Some(m) if m.check_code == check_code => Ok(None),
            Some(_) => refuse(
                codes::BROKER_ID_INVALID,
                format!("id {id} of {group_name} belongs to another broker; ask for the next id"),
            ),
        },
    }
}
