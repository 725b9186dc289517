//! A group's life through the decisions and the log: registration, first election, in-sync
//! changes, failover, fencing of the returning old master, removal.

use crate::codes;
use crate::decide::{
    AlterRequest, ElectRequest, Elected, alter_sync_state_set, apply_broker_id, elect_master,
    next_broker_id,
};
use crate::elect::{Alive, LiveInfo};
use crate::{BrokerId, ControllerState, Event, FIRST_BROKER_ID};
use std::collections::BTreeSet;

fn live(max_offset: i64) -> LiveInfo {
    LiveInfo {
        epoch: 1,
        max_offset,
        priority: 0,
    }
}

fn set(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
    ids.iter().copied().collect()
}

/// Group `g` of three members (ids 1, 2, 3), none elected yet.
fn three_members() -> ControllerState {
    let mut s = ControllerState::default();
    for n in 0..3 {
        let id = next_broker_id(&s, "g");
        let ev = apply_broker_id(
            &s,
            "c",
            "g",
            id,
            &format!("10.0.0.{n}:10911"),
            &format!("code-{n}"),
        )
        .unwrap()
        .unwrap();
        s.apply(&ev);
    }
    s
}

/// Runs the election of `req` and applies its new master.
fn apply_elected(s: &mut ControllerState, req: &ElectRequest<'_>, alive: &Alive) -> BrokerId {
    match elect_master(s, req, alive).unwrap() {
        Elected::New { event, master } => {
            s.apply(&event);
            master
        }
        other => panic!("expected a new master: {other:?}"),
    }
}

#[test]
fn ids_are_handed_out_from_one_and_kept_by_their_owner() {
    let s = three_members();
    let g = s.group("g").unwrap();
    assert_eq!(g.members.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(next_broker_id(&s, "g"), 4);
    assert_eq!(next_broker_id(&s, "other"), FIRST_BROKER_ID);
    // the owner re-applies after a restart: nothing to append
    assert_eq!(
        apply_broker_id(&s, "c", "g", 2, "10.0.0.1:10911", "code-1"),
        Ok(None)
    );
    let stolen = apply_broker_id(&s, "c", "g", 2, "10.0.0.9:10911", "code-9").unwrap_err();
    assert_eq!(stolen.code, codes::BROKER_ID_INVALID);
    let first = apply_broker_id(&s, "c", "new", 5, "a:1", "x").unwrap_err();
    assert_eq!(first.code, codes::BROKER_ID_INVALID);
}

#[test]
fn failover_elects_from_the_in_sync_set_and_fences_the_old_master() {
    let mut s = three_members();
    let all_alive = Alive::from([(1, live(0)), (2, live(0)), (3, live(0))]);
    // first election: the asking broker becomes master, alone in sync, epoch 1
    let req = ElectRequest {
        group: "g",
        broker: Some(1),
        ..ElectRequest::default()
    };
    assert_eq!(apply_elected(&mut s, &req, &all_alive), 1);
    let sync = s.group("g").unwrap().sync.clone();
    assert_eq!(
        (sync.master, sync.master_epoch, sync.in_sync_epoch),
        (Some(1), 1, 1)
    );
    // the master adds broker 2 (caught up); broker 3 lags
    let alter = AlterRequest {
        group: "g",
        master: 1,
        master_epoch: 1,
        in_sync_epoch: 1,
        in_sync: set(&[1, 2]),
    };
    let (ev, epoch) = alter_sync_state_set(&s, &alter, &all_alive).unwrap();
    s.apply(&ev);
    assert_eq!((epoch, s.group("g").unwrap().sync.in_sync_epoch), (2, 2));
    // broker 1 dies: the controller elects; 3 has more data but is not in sync
    let alive = Alive::from([(2, live(10)), (3, live(99))]);
    let by_controller = ElectRequest {
        group: "g",
        ..ElectRequest::default()
    };
    assert_eq!(apply_elected(&mut s, &by_controller, &alive), 2);
    let sync = s.group("g").unwrap().sync.clone();
    assert_eq!(
        (sync.master, sync.master_epoch, sync.in_sync.clone()),
        (Some(2), 2, set(&[2]))
    );
    // the old master returns and tries to act at its old epoch: fenced
    let stale = AlterRequest {
        master: 1,
        master_epoch: 1,
        in_sync_epoch: 2,
        ..alter
    };
    assert_eq!(
        alter_sync_state_set(&s, &stale, &all_alive)
            .unwrap_err()
            .code,
        codes::INVALID_MASTER
    );
    // the new master asking with an old epoch is fenced too
    let old_epoch = AlterRequest {
        group: "g",
        master: 2,
        master_epoch: 1,
        in_sync_epoch: 3,
        in_sync: set(&[1, 2]),
    };
    assert_eq!(
        alter_sync_state_set(&s, &old_epoch, &all_alive)
            .unwrap_err()
            .code,
        codes::FENCED_MASTER_EPOCH
    );
}

#[test]
fn without_an_in_sync_replica_the_group_has_no_master_until_one_returns() {
    let mut s = three_members();
    let alive = Alive::from([(1, live(0)), (2, live(0)), (3, live(0))]);
    let req = ElectRequest {
        group: "g",
        broker: Some(1),
        ..ElectRequest::default()
    };
    apply_elected(&mut s, &req, &alive);
    // master 1 is alone in sync and dies; 2 and 3 are out of sync
    let others = Alive::from([(2, live(5)), (3, live(7))]);
    let by_controller = ElectRequest {
        group: "g",
        ..ElectRequest::default()
    };
    match elect_master(&s, &by_controller, &others).unwrap() {
        Elected::NoMaster { event } => s.apply(&event),
        other => panic!("no master expected: {other:?}"),
    }
    let sync = s.group("g").unwrap().sync.clone();
    assert_eq!(
        (sync.master, sync.master_epoch, sync.in_sync.clone()),
        (None, 2, set(&[1]))
    );
    // a broker asking for the role is refused...
    let ask = ElectRequest {
        group: "g",
        broker: Some(3),
        ..ElectRequest::default()
    };
    assert_eq!(
        elect_master(&s, &ask, &others).unwrap_err().code,
        codes::ELECT_MASTER_FAILED
    );
    // ...unless data loss is accepted: then the one with most data wins
    let unclean = ElectRequest {
        allow_unclean: true,
        ..by_controller
    };
    assert_eq!(apply_elected(&mut s, &unclean, &others), 3);
    assert_eq!(s.group("g").unwrap().sync.master_epoch, 3);
}

#[test]
fn an_alive_master_is_not_replaced_unless_designated() {
    let mut s = three_members();
    let alive = Alive::from([(1, live(0)), (2, live(0))]);
    let req = ElectRequest {
        group: "g",
        broker: Some(1),
        ..ElectRequest::default()
    };
    apply_elected(&mut s, &req, &alive);
    let again = ElectRequest {
        broker: Some(2),
        ..req
    };
    assert_eq!(
        elect_master(&s, &again, &alive),
        Ok(Elected::Unchanged { master: 1 })
    );
    // designated (mqadmin electMaster -i 2) but 2 is not in sync: refused
    let designate = ElectRequest {
        designate: true,
        ..again
    };
    assert_eq!(
        elect_master(&s, &designate, &alive).unwrap_err().code,
        codes::ELECT_MASTER_FAILED
    );
}

#[test]
fn alter_refuses_dead_unknown_and_masterless_sets() {
    let mut s = three_members();
    let alive = Alive::from([(1, live(0)), (2, live(0))]);
    let req = ElectRequest {
        group: "g",
        broker: Some(1),
        ..ElectRequest::default()
    };
    apply_elected(&mut s, &req, &alive);
    let base = AlterRequest {
        group: "g",
        master: 1,
        master_epoch: 1,
        in_sync_epoch: 1,
        in_sync: set(&[1, 3]),
    };
    let code = |r: &AlterRequest<'_>| alter_sync_state_set(&s, r, &alive).unwrap_err().code;
    assert_eq!(code(&base), codes::BROKER_NOT_ALIVE);
    assert_eq!(
        code(&AlterRequest {
            in_sync: set(&[1, 9]),
            ..base.clone()
        }),
        codes::INVALID_REPLICAS
    );
    assert_eq!(
        code(&AlterRequest {
            in_sync: set(&[2]),
            ..base.clone()
        }),
        codes::ALTER_SYNC_STATE_SET_FAILED
    );
    assert_eq!(
        code(&AlterRequest {
            in_sync: set(&[1]),
            ..base.clone()
        }),
        codes::ALTER_SYNC_STATE_SET_FAILED
    );
    assert_eq!(
        code(&AlterRequest {
            in_sync_epoch: 0,
            in_sync: set(&[1, 2]),
            ..base.clone()
        }),
        codes::FENCED_SYNC_STATE_SET_EPOCH
    );
    assert_eq!(
        alter_sync_state_set(
            &s,
            &AlterRequest {
                group: "nope",
                ..base
            },
            &alive
        )
        .unwrap_err()
        .code,
        codes::BROKER_NEED_TO_BE_REGISTERED
    );
}

#[test]
fn the_log_replays_to_the_same_state_and_cleans_members() {
    let mut s = three_members();
    let events = vec![
        Event::ElectMaster {
            group: "g".into(),
            master: Some(2),
        },
        Event::AlterSyncStateSet {
            group: "g".into(),
            in_sync: set(&[2, 3]),
        },
        Event::UpdateAddress {
            group: "g".into(),
            id: 3,
            address: "10.0.1.3:10911".into(),
        },
        Event::CleanGroup {
            group: "g".into(),
            ids: set(&[3]),
        },
    ];
    let json = serde_json::to_string(&events).unwrap();
    let replayed: Vec<Event> = serde_json::from_str(&json).unwrap();
    assert_eq!(replayed, events);
    let mut copy = s.clone();
    for e in &events {
        s.apply(e);
    }
    for e in &replayed {
        copy.apply(e);
    }
    assert_eq!(s, copy);
    let g = s.group("g").unwrap();
    assert_eq!(g.members.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(g.sync.in_sync, set(&[2]));
    s.apply(&Event::CleanGroup {
        group: "g".into(),
        ids: BTreeSet::new(),
    });
    assert!(s.group("g").is_none());
}
