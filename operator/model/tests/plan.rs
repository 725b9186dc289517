//! The reconcile plan: creates, drift reverts, adoption, owned-only deletion, scope, errors.
#![allow(clippy::unwrap_used)]

use rmq_model::defaults::MANAGER_RMQCTL;
use rmq_model::manifest::load_files;
use rmq_model::plan::{
    Action, Desired, ObjectKind, Observed, ObservedBroker, ObservedCluster, OwnedKey, PlanError,
    plan,
};
use rmq_model::{GroupDecl, TopicDecl};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use std::collections::BTreeMap;

const NS: &str = "127.0.0.1:9876";

fn decls() -> (Vec<TopicDecl>, Vec<GroupDecl>) {
    let d = load_files(&[format!(
        "{}/tests/fixtures/topics.yaml",
        env!("CARGO_MANIFEST_DIR")
    )])
    .unwrap();
    (
        d.topics.into_iter().map(|(_, t)| t).collect(),
        d.groups.into_iter().map(|(_, g)| g).collect(),
    )
}

fn desired() -> Desired {
    let (t, g) = decls();
    Desired::new(t, g, &[])
}

fn broker(name: &str, port: u16) -> ObservedBroker {
    ObservedBroker {
        name: name.into(),
        addr: format!("127.0.0.1:{port}"),
        ..ObservedBroker::default()
    }
}

fn empty() -> Observed {
    let mut o = Observed {
        name_servers: vec![NS.into()],
        known_clusters: vec!["demo".into()],
        ..Observed::default()
    };
    o.clusters.insert(
        "demo".into(),
        ObservedCluster {
            name: "demo".into(),
            masters: vec![broker("broker-a", 10911), broker("broker-b", 10921)],
            groups_without_master: vec![],
        },
    );
    o
}

/// What the brokers hold once the plan of [`desired`] ran against [`empty`].
fn applied() -> Observed {
    let mut o = empty();
    let first = plan(&desired(), &o).unwrap();
    apply(&mut o, &first);
    o
}

/// One display line per action.
fn lines(actions: &[Action]) -> Vec<String> {
    actions.iter().map(ToString::to_string).collect()
}

fn key(kind: ObjectKind, name: &str) -> OwnedKey {
    OwnedKey {
        kind,
        cluster: "demo".into(),
        name: name.into(),
    }
}

/// The simulated master of broker group `name`.
fn master<'a>(cluster: &'a mut ObservedCluster, name: &str) -> &'a mut ObservedBroker {
    cluster.masters.iter_mut().find(|m| m.name == name).unwrap()
}

/// What the brokers and nameservers hold after `actions` ran (a tiny simulator).
fn apply(observed: &mut Observed, actions: &[Action]) {
    for a in actions {
        let cluster = observed.clusters.get_mut("demo").unwrap();
        match a {
            Action::Own {
                key,
                manager,
                name_servers,
                ..
            } => {
                for ns in name_servers {
                    observed
                        .owners
                        .entry(key.clone())
                        .or_default()
                        .insert(ns.clone(), manager.clone());
                }
            }
            Action::CreateTopic { broker, config, .. }
            | Action::UpdateTopic { broker, config, .. } => {
                master(cluster, &broker.name)
                    .topics
                    .insert(config.topic_name.clone(), config.clone());
            }
            Action::CreateGroup { broker, config, .. }
            | Action::UpdateGroup { broker, config, .. } => {
                master(cluster, &broker.name)
                    .groups
                    .insert(config.group_name.clone(), config.clone());
            }
            Action::DeleteTopic { topic, brokers, .. } => {
                for b in brokers {
                    master(cluster, &b.name).topics.remove(topic);
                }
            }
            Action::DeleteGroup { group, brokers, .. } => {
                for b in brokers {
                    master(cluster, &b.name).groups.remove(group);
                }
            }
            Action::Disown { key, .. } => {
                observed.owners.remove(key);
            }
        }
    }
}

#[test]
fn first_apply_owns_then_creates_everything_on_every_master() {
    let actions = plan(&desired(), &empty()).unwrap();
    assert_eq!(
        lines(&actions),
        [
            "+ own topic orders (cluster demo): record owner rmqctl on 127.0.0.1:9876",
            "+ create topic orders on broker-a (127.0.0.1:10911): 8 queues, ReadWrite, NORMAL",
            "+ create topic orders on broker-b (127.0.0.1:10921): 8 queues, ReadWrite, NORMAL",
            "+ own topic payments_fifo (cluster demo): record owner rmqctl on 127.0.0.1:9876",
            "+ create topic payments_fifo on broker-a (127.0.0.1:10911): 4 queues, ReadOnly, FIFO",
            "+ create topic payments_fifo on broker-b (127.0.0.1:10921): 4 queues, ReadOnly, FIFO",
            "+ own group billing (cluster demo): record owner rmqctl on 127.0.0.1:9876",
            "+ create group billing on broker-a (127.0.0.1:10911): retryMaxTimes 3, orderly true, broadcast true",
            "+ create group billing on broker-b (127.0.0.1:10921): retryMaxTimes 3, orderly true, broadcast true",
        ]
    );
}

#[test]
fn second_apply_has_no_changes() {
    let o = applied();
    assert_eq!(plan(&desired(), &o).unwrap(), vec![]);
}

#[test]
fn drift_is_reverted_on_the_broker_that_drifted() {
    let mut o = applied();
    let b = &mut o.clusters.get_mut("demo").unwrap().masters[1];
    let t = b.topics.get_mut("orders").unwrap();
    t.write_queue_nums = 2;
    t.perm = 4;
    b.groups.get_mut("billing").unwrap().retry_max_times = 16;
    o.clusters.get_mut("demo").unwrap().masters[0]
        .topics
        .remove("payments_fifo");
    assert_eq!(
        lines(&plan(&desired(), &o).unwrap()),
        [
            "~ update topic orders on broker-b (127.0.0.1:10921): writeQueueNums 2 -> 8, perm 4 -> 6",
            "+ create topic payments_fifo on broker-a (127.0.0.1:10911): 4 queues, ReadOnly, FIFO",
            "~ update group billing on broker-b (127.0.0.1:10921): retryMaxTimes 16 -> 3",
        ]
    );
}

#[test]
fn removed_declarations_delete_only_owned_objects() {
    let mut o = applied();
    // Someone else's topic and group, never recorded as owned.
    for m in &mut o.clusters.get_mut("demo").unwrap().masters {
        m.topics
            .insert("foreign".into(), TopicConfig::new("foreign", 4));
        m.groups.insert(
            "foreign-group".into(),
            SubscriptionGroupConfig::new("foreign-group"),
        );
    }
    // Owned by another manager.
    o.owners.insert(
        key(ObjectKind::Topic, "theirs"),
        BTreeMap::from([(NS.into(), "rmq-operator".into())]),
    );
    o.clusters.get_mut("demo").unwrap().masters[0]
        .topics
        .insert("theirs".into(), TopicConfig::new("theirs", 1));
    let (mut topics, groups) = decls();
    topics.retain(|t| t.name != "payments_fifo");
    let d = Desired::new(topics, groups.clone(), &[]);
    let actions = plan(&d, &o).unwrap();
    assert_eq!(
        lines(&actions),
        [
            "- delete topic payments_fifo (cluster demo) from broker-a (127.0.0.1:10911), broker-b (127.0.0.1:10921) and its route from 127.0.0.1:9876",
            "- forget topic payments_fifo (cluster demo): remove the ownership record from 127.0.0.1:9876",
        ]
    );
    apply(&mut o, &actions);
    assert_eq!(plan(&d, &o).unwrap(), vec![]);
    // Dropping the group too deletes it, keeping offsets.
    let d = Desired::new(d.topics.clone(), vec![], &["demo".to_owned()]);
    let dropped = lines(&plan(&d, &o).unwrap());
    assert_eq!(
        dropped[0],
        "- delete group billing (cluster demo) from broker-a (127.0.0.1:10911), broker-b (127.0.0.1:10921) (consumer offsets are kept)"
    );
    assert_eq!(dropped.len(), 2);
    let _ = groups;
}

#[test]
fn clusters_out_of_scope_are_never_pruned() {
    let o = applied();
    // No declarations at all and no scope: nothing may be deleted.
    let d = Desired::new(vec![], vec![], &[]);
    assert_eq!(plan(&d, &o).unwrap(), vec![]);
    // With the cluster in scope everything owned goes.
    let d = Desired::new(vec![], vec![], &["demo".to_owned()]);
    let actions = plan(&d, &o).unwrap();
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::DeleteTopic { .. }))
            .count(),
        2
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::DeleteGroup { .. }))
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::Disown { .. }))
            .count(),
        3
    );
    assert!(
        matches!(actions.last(), Some(Action::Disown { .. })),
        "records go after the deletes"
    );
}

#[test]
fn existing_unowned_topic_is_adopted_and_owner_written_to_every_nameserver() {
    let mut o = empty();
    o.name_servers.push("127.0.0.1:9877".into());
    for m in &mut o.clusters.get_mut("demo").unwrap().masters {
        let mut t = TopicConfig::new("orders", 8);
        t.attributes.insert("message.type".into(), "NORMAL".into());
        m.topics.insert("orders".into(), t);
    }
    o.owners.insert(
        key(ObjectKind::Group, "billing"),
        BTreeMap::from([(NS.into(), MANAGER_RMQCTL.into())]),
    );
    let actions = plan(&desired(), &o).unwrap();
    assert_eq!(
        actions[0].to_string(),
        "+ adopt topic orders (cluster demo): record owner rmqctl on 127.0.0.1:9876, 127.0.0.1:9877 (it exists but was not created by rmq)"
    );
    assert!(!actions.iter().any(|a| matches!(a, Action::CreateTopic { config, .. } | Action::UpdateTopic { config, .. } if config.topic_name == "orders")));
    let own_group = actions
        .iter()
        .find(|a| matches!(a, Action::Own { key, .. } if key.kind == ObjectKind::Group))
        .unwrap();
    assert_eq!(
        own_group.to_string(),
        "+ own group billing (cluster demo): record owner rmqctl on 127.0.0.1:9877"
    );
}

#[test]
fn apache_49_topics_without_attributes_are_not_drift() {
    let mut o = applied();
    for m in &mut o.clusters.get_mut("demo").unwrap().masters {
        for t in m.topics.values_mut() {
            t.attributes.retain(|k, _| k != "message.type");
            t.perm |= 1; // inherit bit
        }
    }
    let (mut topics, g) = decls();
    for t in &mut topics {
        t.attributes.clear();
    }
    assert_eq!(plan(&Desired::new(topics, g, &[]), &o).unwrap(), vec![]);
}

#[test]
fn unknown_cluster_and_missing_master_are_errors() {
    let mut o = empty();
    o.clusters.clear();
    o.known_clusters = vec!["DefaultCluster".into()];
    let errs = plan(&desired(), &o).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "cluster \"demo\" is not registered with the nameservers (known: DefaultCluster) (fix: check spec.cluster, or start the cluster first)"
    );
    let mut o = empty();
    o.clusters.get_mut("demo").unwrap().groups_without_master = vec!["broker-b".into()];
    assert!(
        matches!(&plan(&desired(), &o).unwrap_err()[0], PlanError::NoMaster { groups, .. } if groups == &["broker-b"])
    );
}

#[test]
fn ownership_keys_round_trip() {
    let k = key(ObjectKind::Topic, "%RETRY%x");
    assert_eq!(k.kv_key(), "topic/demo/%RETRY%x");
    assert_eq!(OwnedKey::parse(&k.kv_key()), Some(k));
    assert_eq!(OwnedKey::parse("other/demo/x"), None);
    assert_eq!(OwnedKey::parse("topic/x"), None);
}
