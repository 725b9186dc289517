//! The order in which an apply replaces instances after their launch templates changed (pure):
//! one node at a time, nameservers first, then the brokers, a group's master last so that a
//! group loses its master once.
//!
//! With `failover: Manual` the master is fixed (replica 0), so the plan itself orders slaves
//! before masters. With `failover: Automatic` any replica may be the master, so the plan rolls
//! the brokers in index order and whoever applies it moves the current masters last with
//! [`roll_masters_last`], from the nameservers' cluster info read just before the apply
//! ([`master_nodes`]); without that information index order stands (a group then fails over up
//! to twice: once when its master is replaced, again if the replica elected is replaced next).

use crate::action::{Action, Op};
use crate::resource::{Kind, State};
use std::collections::BTreeSet;

/// Where an action sorts among the actions of its kind: creates first, then updates of
/// nameservers (and the bastion), then of brokers; with `fixed_masters`, slaves before masters.
pub(crate) fn roll_order(a: &Action, fixed_masters: bool) -> u32 {
    let Some(node) = rolled_node(a) else {
        return 0;
    };
    match node.rsplit_once('-') {
        Some((group, r)) if group.starts_with("broker-") => match r.parse::<u32>() {
            Ok(0) if fixed_masters => 3,
            Ok(_) => 2,
            Err(_) => 1,
        },
        _ => 1,
    }
}

/// The node whose instance `a` replaces: an update of its Auto Scaling group.
fn rolled_node(a: &Action) -> Option<&str> {
    if a.kind != Kind::AutoScalingGroup || a.op != Op::Update {
        return None;
    }
    a.key.strip_prefix("asg/")
}

/// The nodes (not the bastion hosts) whose Auto Scaling group `actions` update, in order: the
/// nodes a roll may replace and the readiness gate then waits for.
pub fn rolled_nodes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(rolled_node)
        .filter(|n| n.starts_with("broker-") || n.starts_with("namesrv-"))
        .map(str::to_owned)
        .collect()
}

/// The order in which a plan replaces the instances of `nodes` (named as the layout names
/// them, `namesrv-<i>` and `<group>-<replica>`, given in layout order): the order
/// [`crate::plan`] sorts their group updates in, for whoever replays a roll elsewhere (the
/// local continuity test drives local processes through it).
pub fn roll_sequence(nodes: &[&str], fixed_masters: bool) -> Vec<String> {
    let mut actions: Vec<Action> = nodes
        .iter()
        .map(|n| Action {
            op: Op::Update,
            kind: Kind::AutoScalingGroup,
            key: format!("asg/{n}"),
            id: None,
            reason: String::new(),
        })
        .collect();
    actions.sort_by_key(|a| roll_order(a, fixed_masters));
    rolled_nodes(&actions)
}

/// True if `actions` replace a broker's instance.
pub fn rolls_brokers(actions: &[Action]) -> bool {
    actions
        .iter()
        .filter_map(rolled_node)
        .any(|n| n.starts_with("broker-"))
}

/// Moves the updates of the Auto Scaling groups of `masters` (node names) behind every other
/// group update, keeping both sequences in their order; nothing else moves.
pub fn roll_masters_last(actions: &mut Vec<Action>, masters: &BTreeSet<String>) {
    let Some(last) = actions.iter().rposition(|a| rolled_node(a).is_some()) else {
        return;
    };
    let is_master = |a: &Action| rolled_node(a).is_some_and(|n| masters.contains(n));
    let tail = actions.split_off(last + 1);
    let (moved, kept): (Vec<Action>, Vec<Action>) = actions.drain(..).partition(is_master);
    actions.extend(kept);
    actions.extend(moved);
    actions.extend(tail);
}

/// The broker nodes whose fixed address (the private IP of `eni/<node>` in `state`) is the
/// host of one of `master_addrs` (`ip:port`, as the nameservers report masters).
pub fn master_nodes(state: &State, master_addrs: &[String]) -> BTreeSet<String> {
    let hosts: BTreeSet<&str> = master_addrs
        .iter()
        .map(|a| a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h))
        .collect();
    state
        .resources
        .values()
        .filter(|a| a.kind == Kind::NetworkInterface)
        .filter_map(|a| {
            let node = a.key.strip_prefix("eni/")?;
            let ip = a.attrs.get("ip")?;
            (node.starts_with("broker-") && hosts.contains(ip.as_str())).then(|| node.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Actual;

    fn update(key: &str) -> Action {
        Action {
            op: Op::Update,
            kind: Kind::AutoScalingGroup,
            key: key.into(),
            id: None,
            reason: "spec changed".into(),
        }
    }

    fn keys(actions: &[Action]) -> Vec<&str> {
        actions.iter().map(|a| a.key.as_str()).collect()
    }

    #[test]
    fn fixed_masters_roll_last_elected_ones_in_index_order() {
        let a0 = update("asg/broker-a-0");
        let a1 = update("asg/broker-a-1");
        let ns = update("asg/namesrv-0");
        assert_eq!(
            [&ns, &a1, &a0].map(|a| roll_order(a, true)),
            [1, 2, 3],
            "Manual: slaves before the master"
        );
        assert_eq!(
            [&ns, &a1, &a0].map(|a| roll_order(a, false)),
            [1, 2, 2],
            "Automatic: no replica is the master by its index"
        );
        let mut create = update("asg/broker-a-0");
        create.op = Op::Create;
        assert_eq!(roll_order(&create, true), 0);
    }

    #[test]
    fn current_masters_move_behind_the_other_replicas() {
        let mut actions = vec![
            update("lt/broker-a-0"),
            update("asg/namesrv-0"),
            update("asg/broker-a-0"),
            update("asg/broker-a-1"),
            update("asg/broker-b-0"),
            update("asg/broker-b-1"),
            Action {
                op: Op::Delete,
                ..update("asg/broker-c-0")
            },
        ];
        actions[0].kind = Kind::LaunchTemplate;
        let masters = BTreeSet::from(["broker-a-0".to_owned(), "broker-b-1".to_owned()]);
        roll_masters_last(&mut actions, &masters);
        assert_eq!(
            keys(&actions),
            [
                "lt/broker-a-0",
                "asg/namesrv-0",
                "asg/broker-a-1",
                "asg/broker-b-0",
                "asg/broker-a-0",
                "asg/broker-b-1",
                "asg/broker-c-0",
            ]
        );
        let before = actions.clone();
        roll_masters_last(&mut actions, &BTreeSet::new());
        assert_eq!(actions, before, "no masters known: nothing moves");
        assert!(rolls_brokers(&actions));
        assert!(!rolls_brokers(&actions[..2]));
    }

    #[test]
    fn a_replayed_roll_goes_nameservers_slaves_masters() {
        let nodes = [
            "namesrv-0",
            "namesrv-1",
            "broker-a-0",
            "broker-a-1",
            "broker-b-0",
            "broker-b-1",
        ];
        assert_eq!(
            roll_sequence(&nodes, true),
            [
                "namesrv-0",
                "namesrv-1",
                "broker-a-1",
                "broker-b-1",
                "broker-a-0",
                "broker-b-0"
            ]
        );
        assert_eq!(
            roll_sequence(&nodes, false),
            nodes,
            "Automatic: index order"
        );
    }

    #[test]
    fn masters_are_found_by_their_fixed_address() {
        let mut state = State::default();
        for (k, ip) in [
            ("eni/broker-a-0", "10.0.0.7"),
            ("eni/broker-a-1", "10.0.32.8"),
            ("eni/namesrv-0", "10.0.0.9"),
        ] {
            state.put(Actual::new(Kind::NetworkInterface, k, "eni-1").with("ip", ip));
        }
        let found = master_nodes(
            &state,
            &["10.0.32.8:10911".to_owned(), "10.0.0.9:10911".to_owned()],
        );
        assert_eq!(found, BTreeSet::from(["broker-a-1".to_owned()]));
    }
}
