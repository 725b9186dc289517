//! Decisions about a group's membership that Java's `ReplicasInfoManager` makes besides
//! elections: a member announcing itself (`registerBroker`) and an admin removing members
//! (`cleanBrokerData`). Pure, like [`crate::decide`].

use crate::codes;
use crate::decide::Refusal;
use crate::event::Event;
use crate::state::{BrokerId, ControllerState, SyncState};
use std::collections::BTreeSet;

/// What a registering broker learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The master and its address, when it is alive.
    pub master: Option<(BrokerId, String)>,
    /// The group's sync state.
    pub sync: SyncState,
}

/// A member with an id announces itself at `address`: refused unless it applied for the id;
/// a changed address is recorded (the returned event).
pub fn register_broker(
    state: &ControllerState,
    group: &str,
    id: BrokerId,
    address: &str,
    is_alive: impl Fn(BrokerId) -> bool,
) -> Result<(Option<Event>, Registered), Refusal> {
    let refuse = |remark: String| Refusal {
        code: codes::BROKER_NEED_TO_BE_REGISTERED,
        remark,
    };
    let g = state.group(group).ok_or_else(|| {
        refuse(format!(
            "broker group {group} is not registered with the controller: apply for a broker id first"
        ))
    })?;
    let known = g.address(id).ok_or_else(|| {
        refuse(format!(
            "broker id {id} is not registered in {group}: apply for it first"
        ))
    })?;
    let master = g
        .sync
        .master
        .filter(|m| is_alive(*m))
        .and_then(|m| g.address(m).map(|a| (m, a.to_owned())));
    let event = (known != address).then(|| Event::UpdateAddress {
        group: group.to_owned(),
        id,
        address: address.to_owned(),
    });
    Ok((
        event,
        Registered {
            master,
            sync: g.sync.clone(),
        },
    ))
}

/// An admin's request to forget members of `group` (`ids` as `1;2`; none: the whole group).
/// Alive members are kept unless `clean_living`; a group with a master is only removed whole
/// when `clean_living`.
pub fn clean_broker_data(
    state: &ControllerState,
    group: &str,
    ids: Option<&str>,
    clean_living: bool,
    is_alive: impl Fn(BrokerId) -> bool,
) -> Result<Event, Refusal> {
    let refuse = |remark: String| Refusal {
        code: codes::INVALID_CLEAN_BROKER_METADATA,
        remark,
    };
    let ids = ids.map(str::trim).filter(|s| !s.is_empty());
    let parsed: BTreeSet<BrokerId> = match ids {
        None => BTreeSet::new(),
        Some(text) => text
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<BrokerId>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                refuse(format!(
                    "brokerControllerIdsToClean {text:?} is not a ;-separated list of broker ids (e.g. 1;2)"
                ))
            })?,
    };
    let g = state.group(group).ok_or_else(|| {
        refuse(format!(
            "broker group {group} does not exist, nothing to clean"
        ))
    })?;
    if !clean_living {
        if parsed.is_empty() && g.sync.master.is_some() {
            return Err(refuse(format!(
                "broker group {group} still has a master; name the ids to clean or clean living brokers"
            )));
        }
        if let Some(id) = parsed.iter().find(|id| is_alive(**id)) {
            return Err(refuse(format!(
                "broker {id} of {group} is still alive, not cleaned"
            )));
        }
    }
    Ok(Event::CleanGroup {
        group: group.to_owned(),
        ids: parsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_of_two() -> ControllerState {
        let mut s = ControllerState::default();
        for id in [1, 2] {
            s.apply(&Event::ApplyBrokerId {
                cluster: "c".into(),
                group: "g".into(),
                id,
                address: format!("a{id}:1"),
                check_code: format!("a{id}:1;x"),
            });
        }
        s.apply(&Event::ElectMaster {
            group: "g".into(),
            master: Some(1),
        });
        s
    }

    #[test]
    fn register_reports_the_alive_master_and_records_a_new_address() {
        let s = group_of_two();
        let (ev, r) = register_broker(&s, "g", 2, "a2:1", |_| true).unwrap();
        assert_eq!((ev, r.master), (None, Some((1, "a1:1".to_owned()))));
        assert_eq!(r.sync.master_epoch, 1);
        let (ev, r) = register_broker(&s, "g", 2, "b2:1", |id| id != 1).unwrap();
        assert!(matches!(ev, Some(Event::UpdateAddress { .. })));
        assert_eq!(r.master, None, "a dead master is not reported");
        for (g, id) in [("h", 1), ("g", 7)] {
            let e = register_broker(&s, g, id, "x:1", |_| true).unwrap_err();
            assert_eq!(e.code, codes::BROKER_NEED_TO_BE_REGISTERED);
        }
    }

    #[test]
    fn clean_keeps_living_brokers_unless_told() {
        let s = group_of_two();
        let code = |ids, living, alive: bool| {
            clean_broker_data(&s, "g", ids, living, |_| alive)
                .map_err(|e| e.code)
                .map(|_| ())
        };
        let bad = Err(codes::INVALID_CLEAN_BROKER_METADATA);
        assert_eq!(code(None, false, false), bad, "group with a master");
        assert_eq!(code(Some("2"), false, true), bad, "alive");
        assert_eq!(code(Some("2;x"), false, false), bad, "not ids");
        assert_eq!(code(Some("2"), false, false), Ok(()));
        assert_eq!(code(None, true, true), Ok(()));
        assert_eq!(
            clean_broker_data(&s, "h", None, true, |_| false)
                .unwrap_err()
                .code,
            codes::INVALID_CLEAN_BROKER_METADATA
        );
    }
}
