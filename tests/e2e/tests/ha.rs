//! Master/slave replication with unmodified clients: a SYNC_MASTER acknowledges only what a
//! slave has (kill -9 the master, read everything from the slave through the route fallback),
//! answers SLAVE_NOT_AVAILABLE without a slave, and an ASYNC_MASTER reports the lag of a
//! stopped slave, which closes when the slave (or the master) comes back.
//!
//! Java 4.9.x and 5.x consumers fall back to the slave. The Go client produces to a
//! SYNC_MASTER but cannot consume from a slave-only broker group: its offset store only asks
//! the master (`FindBrokerAddrByName` returns `BrokerAddresses[0]`: "broker ... address not
//! found"), so Go is used here for the produce side only.

#![allow(clippy::unwrap_used)]

use rmq_e2e::failover::send_direct;
use rmq_e2e::harness::HarnessResult;
use rmq_e2e::http::{metric_value as value, scrape_metrics as scrape};
use rmq_e2e::process::free_port;
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, Flow, NamesrvProc, wait_until};
use std::time::Duration;

fn master_opts(name: &str, role: &str, ha_port: Option<u16>) -> BrokerOpts {
    let mut o = BrokerOpts {
        name: name.into(),
        ..BrokerOpts::default()
    };
    o.set.push(("brokerRole".into(), role.into()));
    if let Some(p) = ha_port {
        o.set.push(("haListenPort".into(), p.to_string()));
    }
    o
}

fn slave_opts(name: &str) -> BrokerOpts {
    let mut o = BrokerOpts {
        name: name.into(),
        ..BrokerOpts::default()
    };
    o.set.push(("brokerId".into(), "1".into()));
    o.set.push(("brokerRole".into(), "SLAVE".into()));
    o
}

fn produce(ns: &str, topic: &str, prefix: &str, start: i64, count: i64) -> HarnessResult {
    produce_with(Client::Java5, ns, topic, prefix, start, count)
}

fn produce_with(
    client: Client,
    ns: &str,
    topic: &str,
    prefix: &str,
    start: i64,
    count: i64,
) -> HarnessResult {
    let flags = "--timeout-ms 120000 --send-timeout-ms 10000";
    Flow {
        client,
        ns,
        topic,
        prefix,
    }
    .produce(start, count, flags)
}

fn consume(
    client: Client,
    ns: &str,
    topic: &str,
    group: &str,
    prefix: &str,
    expect: i64,
) -> HarnessResult {
    let flow = Flow {
        client,
        ns,
        topic,
        prefix,
    };
    flow.consume("consume", group, expect, "--from first --timeout-ms 90000")
}

fn lag(admin: &Admin, master: &BrokerProc) -> i64 {
    admin
        .key(&master.addr, "slaveFallBehindMuch")
        .parse()
        .unwrap_or(-1)
}

#[test]
fn sync_master_kill9_every_acked_message_is_on_the_slave() {
    const N: i64 = 2000;
    const GO_N: i64 = 300;
    const TOPIC: &str = "HaSyncTopic";
    let ns = NamesrvProc::start();
    let name = "broker-hs";
    let mut master = BrokerProc::start(
        &ns.addr,
        master_opts(name, "SYNC_MASTER", Some(free_port())),
    );
    let slave = BrokerProc::start(&ns.addr, slave_opts(name));
    let admin = Admin::new();
    wait_until("the slave connects", Duration::from_secs(30), || {
        admin.key(&master.addr, "haSlaveNum") == "1"
    });

    let p = produce(&ns.addr, TOPIC, "hs", 0, N);
    eprintln!("produce: {}", p.json);
    p.assert_ok();
    assert_eq!(p.num("sent"), N);
    assert_eq!(p.json["status"], serde_json::json!({ "SEND_OK": N }));
    let g = produce_with(Client::Go, &ns.addr, TOPIC, "hs", N, GO_N);
    eprintln!("go produce: {}", g.json);
    g.assert_ok();
    assert_eq!(g.json["status"], serde_json::json!({ "SEND_OK": GO_N }));
    // every SEND_OK waited for the slave's ack, so nothing is outstanding
    assert_eq!(lag(&admin, &master), 0, "{:?}", admin.info(&master.addr));
    let slave_info = admin.info(&slave.addr);
    assert_eq!(
        slave_info["commitLogMaxOffset"],
        admin.key(&master.addr, "commitLogMaxOffset")
    );
    assert_eq!(slave_info["haClientConnected"], "true");
    // the slave learns the new topic with its next metadata sync (every 10 s)
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        admin.has_topic(&slave.addr, TOPIC)
    });

    master.kill9();
    for (client, group) in [
        (Client::Java5, "ha-sync-java5"),
        (Client::Java4, "ha-sync-java4"),
    ] {
        let c = consume(client, &ns.addr, TOPIC, group, "hs", N + GO_N);
        c.assert_ok();
        assert_eq!(c.num("distinct"), N + GO_N, "{}", slave.log());
        assert_eq!(c.json["corrupt"], 0);
    }
}

#[test]
fn sync_master_without_slave_answers_slave_not_available() {
    const N: i64 = 50;
    const TOPIC: &str = "HaNoSlaveTopic";
    let ns = NamesrvProc::start();
    let master = BrokerProc::start(&ns.addr, master_opts("broker-hn", "SYNC_MASTER", None));
    let p = produce(&ns.addr, TOPIC, "hn", 0, N);
    eprintln!("produce: {}", p.json);
    assert_eq!(p.num("sent"), N, "{}", master.log());
    assert_eq!(
        p.json["status"],
        serde_json::json!({ "SLAVE_NOT_AVAILABLE": N })
    );
    // the messages are stored all the same
    let c = consume(Client::Java5, &ns.addr, TOPIC, "ha-noslave", "hn", N);
    c.assert_ok();
    assert_eq!(c.num("distinct"), N);
}

#[test]
fn async_lag_is_reported_and_closes_when_slave_and_master_return() {
    const TOPIC: &str = "HaAsyncTopic";
    let ns = NamesrvProc::start();
    let name = "broker-ha";
    let mut master = BrokerProc::start(
        &ns.addr,
        master_opts(name, "ASYNC_MASTER", Some(free_port())),
    );
    let mut slave = BrokerProc::start(&ns.addr, slave_opts(name));
    let admin = Admin::new();
    wait_until("the slave connects", Duration::from_secs(30), || {
        admin.key(&master.addr, "haSlaveNum") == "1"
    });
    produce(&ns.addr, TOPIC, "ha", 0, 500).assert_ok();
    wait_until("the slave catches up", Duration::from_secs(30), || {
        lag(&admin, &master) == 0
    });
    replication_metrics_follow_a_paused_slave(&master, &slave);

    // a slave that is gone: the master reports the lag
    slave.kill9();
    wait_until(
        "the master sees the slave go",
        Duration::from_secs(30),
        || admin.key(&master.addr, "haSlaveNum") == "0",
    );
    produce(&ns.addr, TOPIC, "ha", 500, 1000).assert_ok();
    let behind = lag(&admin, &master);
    let info = admin.info(&master.addr);
    eprintln!("lag with the slave down: {behind} bytes; {info:?}");
    assert!(behind > 0, "{info:?}");
    assert_eq!(info["inSyncSlaveNums"], "0");

    // the restarted slave catches up
    slave.start_again();
    wait_until(
        "the restarted slave catches up",
        Duration::from_secs(60),
        || lag(&admin, &master) == 0,
    );
    let s = admin.info(&slave.addr);
    assert_eq!(
        s["commitLogMaxOffset"],
        admin.key(&master.addr, "commitLogMaxOffset")
    );
    assert_eq!(s["haClientConnected"], "true");

    // the master goes away and returns (same ports): the slave reconnects and catches up
    master.kill9();
    wait_until(
        "the slave sees the master go",
        Duration::from_secs(30),
        || admin.key(&slave.addr, "haClientConnected") == "false",
    );
    master.start_again();
    produce(&ns.addr, TOPIC, "ha", 1500, 500).assert_ok();
    wait_until(
        "the slave catches up with the returned master",
        Duration::from_secs(60),
        || {
            admin.key(&master.addr, "haSlaveNum") == "1"
                && lag(&admin, &master) == 0
                && admin.key(&slave.addr, "commitLogMaxOffset")
                    == admin.key(&master.addr, "commitLogMaxOffset")
        },
    );
    assert_eq!(admin.key(&slave.addr, "haSlaveBehindBytes"), "0");

    // and everything is readable from the slave alone
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        admin.has_topic(&slave.addr, TOPIC)
    });
    master.kill9();
    let c = consume(Client::Java5, &ns.addr, TOPIC, "ha-async-java5", "ha", 2000);
    c.assert_ok();
    assert_eq!(c.num("distinct"), 2000, "{}", slave.log());
}

/// The master's and the slave's `/metrics` while the slave is caught up, paused (SIGSTOP: its
/// link stays open, it acknowledges nothing) behind 50 new messages, and resumed.
fn replication_metrics_follow_a_paused_slave(master: &BrokerProc, slave: &BrokerProc) {
    let lag_of = |text: &str, name: &str| value(text, name, &[]).unwrap_or(-1.0);
    let m = scrape(&master.http_addr);
    assert_eq!(lag_of(&m, "rmq_ha_slaves_connected"), 1.0, "{m}");
    assert_eq!(lag_of(&m, "rmq_ha_slave_lag_bytes"), 0.0, "{m}");
    assert_eq!(lag_of(&m, "rmq_ha_slave_lag_latency"), 0.0, "{m}");
    let s = scrape(&slave.http_addr);
    assert_eq!(lag_of(&s, "rmq_ha_master_connected"), 1.0, "{s}");
    assert_eq!(lag_of(&s, "rmq_ha_master_lag_bytes"), 0.0, "{s}");
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &slave.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} the slave");
    };
    let admin = Admin::new();
    let created = admin.create_topic(&master.addr, "HaPausedTopic", 4);
    assert_eq!(created, Some(0), "create HaPausedTopic on the master");
    signal("-STOP");
    // Sent in-process, not by a Java producer: a JVM's start on a loaded machine can outlast the
    // master's housekeeping interval (20 s), after which it drops the silent slave and its lag.
    let codes: Vec<Option<i32>> = (0..50)
        .map(|i| send_direct(&admin, &master.addr, "HaPausedTopic", "hp", i))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let m = scrape(&master.http_addr);
    signal("-CONT");
    assert!(
        codes.iter().all(|c| *c == Some(0)),
        "50 sends to the master: {codes:?}"
    );
    assert!(lag_of(&m, "rmq_ha_slave_lag_bytes") > 0.0, "{m}");
    assert!(
        lag_of(&m, "rmq_ha_slave_lag_latency") >= 1000.0,
        "the oldest unacknowledged message waited 1.5 s:\n{m}"
    );
    wait_until(
        "the resumed slave acknowledges",
        Duration::from_secs(30),
        || {
            let m = scrape(&master.http_addr);
            lag_of(&m, "rmq_ha_slave_lag_bytes") == 0.0
                && lag_of(&m, "rmq_ha_slave_lag_latency") == 0.0
        },
    );
}
