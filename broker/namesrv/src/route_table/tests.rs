//! Rules of the route registry.

use super::*;
use rmq_protocol::body::topic_config::TopicConfig;

fn reg(name: &str, id: i64, addr: &str, topics: &[(&str, i32)], version: i64) -> Registration {
    let mut wrapper = TopicConfigSerializeWrapper::default();
    wrapper.data_version.counter = version;
    for (t, q) in topics {
        wrapper
            .topic_config_table
            .insert((*t).to_owned(), TopicConfig::new(*t, *q));
    }
    Registration {
        cluster: "DefaultCluster".into(),
        broker_name: name.into(),
        broker_addr: addr.into(),
        broker_id: id,
        ha_server_addr: addr.replace(":10911", ":10912"),
        timeout_ms: None,
        topics: wrapper,
        channel_id: Some(id as u64 + 100),
    }
}

#[test]
fn master_registration_creates_routes() {
    let mut t = RouteTable::new();
    t.register(reg("broker-a", 0, "10.0.0.1:10911", &[("T", 4)], 1), 0);
    let r = t.route("T").unwrap();
    assert_eq!(r.queue_datas[0].write_queue_nums, 4);
    assert_eq!(r.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    assert!(t.route("missing").is_none());
    let info = t.cluster_info();
    assert!(info.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    assert_eq!(t.topics_in_cluster("DefaultCluster"), vec!["T"]);
    assert!(t.topics_in_cluster("Other").is_empty());
}

#[test]
fn slaves_learn_their_master_and_do_not_change_routes() {
    let mut t = RouteTable::new();
    let r = t.register(reg("broker-a", 1, "10.0.0.2:10911", &[("T", 8)], 1), 0);
    assert_eq!(r, RegisterResult::default(), "no master yet");
    assert!(
        t.route("T").is_none(),
        "a slave's topics do not create queue data"
    );
    t.register(reg("broker-a", 0, "10.0.0.1:10911", &[("T", 4)], 1), 0);
    let r = t.register(reg("broker-a", 1, "10.0.0.2:10911", &[("T", 8)], 1), 1);
    assert_eq!(r.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(r.ha_server_addr.as_deref(), Some("10.0.0.1:10912"));
    assert_eq!(t.route("T").unwrap().queue_datas[0].read_queue_nums, 4);
}

#[test]
fn changed_data_version_updates_queues_and_same_version_does_not() {
    let mut t = RouteTable::new();
    t.register(reg("a", 0, "x:1", &[("T", 4)], 1), 0);
    t.register(reg("a", 0, "x:1", &[("T", 4)], 1), 1);
    t.register(reg("a", 0, "x:1", &[("T", 8)], 1), 2);
    assert_eq!(t.route("T").unwrap().queue_datas[0].read_queue_nums, 4);
    t.register(reg("a", 0, "x:1", &[("T", 8)], 2), 3);
    assert_eq!(t.route("T").unwrap().queue_datas[0].read_queue_nums, 8);
}

#[test]
fn a_first_incremental_registration_does_not_hide_the_whole_table_that_follows() {
    // The nameserver restarted; the broker's next round carries only its latest change (U),
    // then its periodic round the whole table at the same version.
    let mut t = RouteTable::new();
    t.register(reg("a", 0, "x:1", &[("U", 4)], 7), 0);
    assert!(t.route("T").is_none());
    t.register(reg("a", 0, "x:1", &[("T", 4), ("U", 4)], 7), 1);
    assert_eq!(t.route("T").unwrap().queue_datas[0].read_queue_nums, 4);
    assert!(t.route("U").is_some());
}

#[test]
fn expiry_and_channel_close_unregister() {
    let mut t = RouteTable::new();
    t.register(reg("a", 0, "x:1", &[("T", 4)], 1), 0);
    t.register(reg("a", 1, "y:1", &[("T", 4)], 1), 100_000);
    assert!(t.expire(110_000).is_empty());
    let gone = t.expire(120_001);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].broker_addr, "x:1");
    // Master gone, slave remains: queues stay so consumers can read from the slave.
    let r = t.route("T").unwrap();
    assert_eq!(r.broker_datas[0].master_addr(), None);
    assert_eq!(r.broker_datas[0].broker_addrs[&1], "y:1");
    // Closing the slave's connection removes the group and its queues.
    assert_eq!(t.channel_closed(101).len(), 1);
    assert!(t.route("T").is_none());
    assert!(t.cluster_info().cluster_addr_table.is_empty());
}

#[test]
fn touch_keeps_a_broker_alive() {
    let mut t = RouteTable::new();
    t.register(reg("a", 0, "x:1", &[("T", 4)], 1), 0);
    assert!(t.touch("DefaultCluster", "x:1", 100_000));
    assert!(t.expire(150_000).is_empty());
    assert!(!t.touch("DefaultCluster", "nope:1", 0));
}

#[test]
fn address_switching_ids_replaces_the_old_entry() {
    let mut t = RouteTable::new();
    t.register(reg("a", 1, "x:1", &[], 1), 0);
    t.register(reg("a", 0, "x:1", &[], 1), 1);
    let b = t.broker("a").unwrap();
    assert_eq!(b.broker_addrs.len(), 1);
    assert_eq!(b.master_addr(), Some("x:1"));
}

#[test]
fn delete_topic_whole_or_per_cluster() {
    let mut t = RouteTable::new();
    t.register(reg("a", 0, "x:1", &[("T", 4), ("U", 4)], 1), 0);
    let mut other = reg("b", 0, "z:1", &[("T", 4)], 1);
    other.cluster = "Other".into();
    t.register(other, 0);
    t.delete_topic("T", Some("Other"));
    assert_eq!(t.route("T").unwrap().queue_datas.len(), 1);
    t.delete_topic("T", None);
    assert!(t.route("T").is_none());
    assert_eq!(t.topics(), vec!["U"]);
}

#[test]
fn write_permission_wipe_and_restore() {
    let mut t = RouteTable::new();
    t.register(reg("a", 0, "x:1", &[("T", 4), ("U", 4)], 1), 0);
    assert_eq!(t.wipe_write_perm("a"), 2);
    assert_eq!(t.route("T").unwrap().queue_datas[0].perm, perm::READ);
    assert_eq!(t.add_write_perm("a"), 2);
    assert_eq!(t.route("T").unwrap().queue_datas[0].perm, perm::READ_WRITE);
    assert_eq!(t.wipe_write_perm("unknown"), 0);
}

#[test]
fn system_topics_list_clusters_and_brokers() {
    let mut t = RouteTable::new();
    t.register(reg("a", 0, "x:1", &[], 1), 0);
    let (list, addr) = t.system_topics();
    assert_eq!(list, vec!["DefaultCluster", "a"]);
    assert_eq!(addr.as_deref(), Some("x:1"));
}

/// A master registration carrying controller mode's master epoch as its state version.
fn master_at_epoch(addr: &str, epoch: i64) -> Registration {
    let mut r = reg("broker-a", 0, addr, &[("T", 4)], 1);
    r.topics.data_version.state_version = epoch;
    r
}

#[test]
fn a_deposed_master_cannot_take_the_route_back() {
    let mut t = RouteTable::new();
    t.register(master_at_epoch("10.0.0.1:10911", 5), 0);
    // the master of epoch 4, paused while the controllers elected 10.0.0.1, registers again
    let r = t.register(master_at_epoch("10.0.0.2:10911", 4), 10);
    assert_eq!(r, RegisterResult::default());
    let route = t.route("T").unwrap();
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 1, "{route:?}");
    assert!(
        !t.live
            .contains_key(&("DefaultCluster".into(), "10.0.0.2:10911".into()))
    );
    // the live master's own registrations go on
    t.register(master_at_epoch("10.0.0.1:10911", 5), 20);
    assert_eq!(
        t.route("T").unwrap().broker_datas[0].master_addr(),
        Some("10.0.0.1:10911")
    );
}

#[test]
fn a_master_of_the_same_or_a_newer_epoch_or_after_the_old_one_expired_is_taken() {
    let mut t = RouteTable::new();
    t.register(master_at_epoch("10.0.0.1:10911", 5), 0);
    t.register(master_at_epoch("10.0.0.2:10911", 6), 10);
    let master = |t: &RouteTable| {
        t.route("T").unwrap().broker_datas[0]
            .master_addr()
            .map(str::to_owned)
    };
    assert_eq!(master(&t).as_deref(), Some("10.0.0.2:10911"));
    // the same epoch (outside controller mode every state version is 0: a promoted slave)
    t.register(master_at_epoch("10.0.0.3:10911", 6), 20);
    assert_eq!(master(&t).as_deref(), Some("10.0.0.3:10911"));
    // a lower epoch is taken once the live master has expired
    let later = 20 + DEFAULT_BROKER_TIMEOUT_MS + 1;
    t.register(master_at_epoch("10.0.0.1:10911", 5), later);
    assert_eq!(master(&t).as_deref(), Some("10.0.0.1:10911"));
}
