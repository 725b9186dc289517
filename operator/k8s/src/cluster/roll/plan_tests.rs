use super::*;

const LIMIT: Duration = Duration::from_secs(600);
const GATES: Gates = Gates {
    stuck_after: LIMIT,
    route_settle: Duration::ZERO,
    namesrv_ready_for: None,
};

fn pod(name: &str, id: u32, stale: Option<Stale>) -> PodView {
    PodView {
        name: name.to_owned(),
        broker_id: id,
        ready: true,
        not_ready_for: Duration::ZERO,
        ready_for: Duration::from_secs(3600),
        stale,
    }
}

fn group(name: &str, pods: Vec<PodView>, in_sync: Option<usize>) -> GroupView {
    GroupView {
        name: name.to_owned(),
        pods,
        in_sync_slaves: in_sync,
    }
}

/// Group `g` with a master and `slaves` slaves, all stale for `why`, all in sync.
fn stale_group(g: &str, slaves: u32, why: Stale) -> GroupView {
    let pods = (0..=slaves)
        .map(|id| pod(&format!("{g}-{id}"), id, Some(why.clone())))
        .collect();
    group(g, pods, Some(slaves as usize))
}

fn restarted(step: &RollStep) -> &str {
    match step {
        RollStep::Restart { pod, .. } => pod,
        other => panic!("expected a restart, got {other:?}"),
    }
}

#[test]
fn nothing_stale_is_done() {
    let g = group("a", vec![pod("a-0", 0, None), pod("a-1", 1, None)], Some(1));
    assert_eq!(next_step(&[g], &GATES), RollStep::Done);
}

/// Simulates a whole roll: each restart makes the pod current. The order is group by group,
/// slaves (highest id first) before the master.
#[test]
fn groups_one_at_a_time_slaves_before_the_master() {
    let mut groups = vec![
        stale_group("a", 2, Stale::Template),
        stale_group("b", 1, Stale::Config),
    ];
    let mut order = Vec::new();
    for _ in 0..10 {
        let step = next_step(&groups, &GATES);
        if step == RollStep::Done {
            break;
        }
        let name = restarted(&step).to_owned();
        for p in groups.iter_mut().flat_map(|g| g.pods.iter_mut()) {
            if p.name == name {
                p.stale = None;
            }
        }
        order.push(name);
    }
    assert_eq!(order, ["a-2", "a-1", "a-0", "b-1", "b-0"]);
}

#[test]
fn a_change_for_slaves_only_never_restarts_the_master() {
    let g = group(
        "a",
        vec![pod("a-0", 0, None), pod("a-1", 1, Some(Stale::Config))],
        Some(1),
    );
    let step = next_step(std::slice::from_ref(&g), &GATES);
    assert_eq!(restarted(&step), "a-1");
    let mut after = g;
    after.pods[1].stale = None;
    assert_eq!(next_step(&[after], &GATES), RollStep::Done);
}

#[test]
fn a_pod_that_is_down_holds_the_next_restart() {
    let mut g = stale_group("a", 1, Stale::Template);
    g.pods[1].stale = None;
    g.pods[1].ready = false;
    g.pods[1].not_ready_for = Duration::from_secs(20);
    let step = next_step(&[g], &GATES);
    assert_eq!(
        step,
        RollStep::Wait {
            pod: "a-0".into(),
            waiting_for: "a-1 to be Ready".into()
        }
    );
}

#[test]
fn the_master_waits_for_a_slave_in_sync() {
    let mut g = stale_group("a", 1, Stale::Template);
    g.pods[1].stale = None;
    g.in_sync_slaves = Some(0);
    match next_step(&[g.clone()], &GATES) {
        RollStep::Wait { pod, waiting_for } => {
            assert_eq!(pod, "a-0");
            assert!(waiting_for.contains("catch up"), "{waiting_for}");
        }
        other => panic!("{other:?}"),
    }
    g.in_sync_slaves = None; // the master could not be asked
    assert!(matches!(next_step(&[g], &GATES), RollStep::Wait { .. }));
}

#[test]
fn a_lagging_slave_in_another_group_holds_the_roll_too() {
    let a = stale_group("a", 1, Stale::Template);
    let b = group("b", vec![pod("b-0", 0, None), pod("b-1", 1, None)], Some(0));
    match next_step(&[a, b], &GATES) {
        RollStep::Wait { waiting_for, .. } => {
            assert!(waiting_for.contains("of b"), "{waiting_for}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_group_without_slaves_restarts_its_master() {
    let g = stale_group("a", 0, Stale::Config);
    assert_eq!(restarted(&next_step(&[g], &GATES)), "a-0");
}

#[test]
fn a_pod_down_past_the_limit_stops_the_roll() {
    let mut g = stale_group("a", 1, Stale::Template);
    g.pods[1].stale = None;
    g.pods[1].ready = false;
    g.pods[1].not_ready_for = LIMIT + Duration::from_secs(1);
    match next_step(&[g], &GATES) {
        RollStep::Stuck { pod, reason } => {
            assert_eq!(pod, "a-1");
            assert!(reason.contains("601 s"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stale_pod_that_is_down_restarts_at_once() {
    let mut g = stale_group("a", 1, Stale::Config);
    g.pods[0].ready = false; // a crash-looping master with a bad config
    g.pods[0].not_ready_for = Duration::from_secs(5);
    let step = next_step(&[g], &GATES);
    assert_eq!(restarted(&step), "a-0");
    match step {
        RollStep::Restart { reason, .. } => assert!(reason.contains("not Ready"), "{reason}"),
        _ => unreachable!(),
    }
}

/// A master waits until the other masters and the nameservers have been Ready long enough for
/// producers to route to them again; slaves do not wait for that.
#[test]
fn a_master_waits_for_clients_to_route_around_it() {
    let settle = Duration::from_secs(35);
    let gates = Gates {
        route_settle: settle,
        ..GATES
    };
    let a = group("a", vec![pod("a-0", 0, Some(Stale::Config))], Some(0));
    let mut b = group("b", vec![pod("b-0", 0, None)], Some(0));
    b.pods[0].ready_for = Duration::from_secs(10);
    match next_step(&[a.clone(), b.clone()], &gates) {
        RollStep::Wait { pod, waiting_for } => {
            assert_eq!(pod, "a-0");
            assert!(waiting_for.contains("master b-0 again"), "{waiting_for}");
        }
        other => panic!("expected a wait, got {other:?}"),
    }
    b.pods[0].ready_for = settle;
    assert_eq!(
        restarted(&next_step(&[a.clone(), b.clone()], &gates)),
        "a-0"
    );
    let fresh_namesrv = Gates {
        namesrv_ready_for: Some(Duration::from_secs(3)),
        ..gates.clone()
    };
    match next_step(&[a.clone(), b.clone()], &fresh_namesrv) {
        RollStep::Wait { waiting_for, .. } => {
            assert!(waiting_for.contains("nameserver"), "{waiting_for}")
        }
        other => panic!("expected a wait, got {other:?}"),
    }
    // A slave is not held: producers never send to it.
    let mut with_slave = group(
        "a",
        vec![pod("a-0", 0, None), pod("a-1", 1, Some(Stale::Config))],
        Some(1),
    );
    with_slave.pods[0].ready_for = Duration::from_secs(1);
    assert_eq!(
        restarted(&next_step(&[with_slave, b], &fresh_namesrv)),
        "a-1"
    );
}
