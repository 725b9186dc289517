//! Automatic failover in controller mode with real processes: one nameserver, three
//! `rmq-controller` replicas and a broker group of two `rmq-broker`s with
//! `enableControllerMode=true` ([`rmq_e2e::failover::Cluster`]). The brokers get their ids and
//! roles from the controllers, the master keeps the in-sync replica set, and when the master is
//! killed (-9) the slave becomes master; the Java 5 client produces through whichever broker is
//! master and a consumer reads every acknowledged message; a killed master comes back as slave
//! of the new one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rmq_e2e::failover::{Cluster, HB_TIMEOUT_MS};
use rmq_e2e::wait_until;
use std::time::Duration;

const GROUP: &str = "broker-fo";
const TOPIC: &str = "FailoverTopic";
const PREFIX: &str = "fo";
/// Messages per produce round.
const N: i64 = 500;
/// Keys controller mode ignores (the broker logs that it does).
const IGNORED: [(&str, &str); 2] = [("brokerRole", "SLAVE"), ("brokerId", "7")];

/// Produces `[start, start + count)` without asserting; returns the harness result.
fn send(c: &Cluster, start: i64, count: i64) -> rmq_e2e::HarnessResult {
    let flags = "--timeout-ms 120000 --send-timeout-ms 10000";
    let p = c.flow().produce(start, count, flags);
    eprintln!("produce {start}..{}: {}", start + count, p.json);
    p
}

#[test]
fn the_slave_takes_over_when_the_master_dies_and_nothing_acknowledged_is_lost() {
    let mut c = Cluster::start(GROUP, TOPIC, PREFIX, &IGNORED);
    assert!(
        c.brokers[0]
            .log()
            .contains("brokerRole and brokerId from the configuration are ignored")
    );
    c.produce(0, N);
    let took = c.wait_in_sync("the slave joins the in-sync set");
    eprintln!("IN-SYNC: the slave joined after {took:?}");
    assert!(c.brokers[0].log().contains("in-sync replica set changed"));
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        c.admin.has_topic(&c.brokers[1].addr, TOPIC)
    });
    let mut produced = N;
    // kill the master, twice: 0 -> 1, then 1 -> 0
    for (dead, heir) in [(0usize, 1usize), (1, 0)] {
        let epoch_before = c.view().epoch;
        c.brokers[dead].kill9();
        let (elected, routed) = c.wait_master(heir);
        eprintln!(
            "FAILOVER broker {dead} -> {heir}: elected after {elected:?}, in the route after \
             {routed:?} (heartbeat timeout {HB_TIMEOUT_MS} ms)"
        );
        assert!(routed < Duration::from_secs(30), "failover took {routed:?}");
        assert!(c.view().epoch > epoch_before, "the master epoch grew");
        c.produce(produced, N);
        produced += N;
        c.brokers[dead].start_again();
        assert_eq!(
            c.master_index(),
            Some(heir),
            "the old master came back as slave"
        );
        let took = c.wait_in_sync("the old master rejoins the in-sync set as slave");
        eprintln!("IN-SYNC: broker {dead} rejoined after {took:?}");
        let log = c.brokers[heir].log();
        let changes: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("in-sync replica set changed"))
            .collect();
        eprintln!("the new master's in-sync changes: {changes:#?}");
        assert!(
            !changes.is_empty(),
            "the new master never changed its in-sync set"
        );
        wait_until(
            "the new slave has the topic",
            Duration::from_secs(30),
            || c.admin.has_topic(&c.brokers[dead].addr, TOPIC),
        );
    }
    // Apache's mqadmin reads the same in-sync set from the controller
    let (ok, out) =
        rmq_e2e::mqadmin::mqadmin(&["getSyncStateSet", "-a", &c.ctrls[0].addr, "-b", GROUP]);
    assert!(ok, "{out}");
    assert!(out.contains("#MasterBrokerId\t1"), "{out}");
    assert!(out.contains("#SyncStateSetNums\t2"), "{out}");
    let got = c.consume_all("failover-java5", produced);
    assert_eq!(
        got,
        (0..produced).collect::<Vec<_>>(),
        "every acknowledged message is there"
    );
}

/// With `allAckInSyncStateSet=true` a send is acknowledged only once every in-sync member has
/// it. The slave dies; sends to the master are stored but not acknowledged (the slave is still
/// in the in-sync set); the master dies; the slave comes back and is elected; the old master
/// comes back, cuts the records the new master never had, and follows it. Every acknowledged
/// message is read, the unacknowledged ones are gone.
#[test]
fn sync_replication_loses_nothing_acknowledged_and_a_demoted_master_cuts_its_tail() {
    let extra = [
        ("allAckInSyncStateSet", "true"),
        ("haMaxTimeSlaveNotCatchup", "60000"),
        // the unacknowledged sends reach the master's files before its kill -9 (with the
        // default write-back buffer, a kill within a flush interval of them loses them, and
        // the restarted master then has no tail to cut)
        ("commitLogWriteBack", "0"),
    ];
    let mut c = Cluster::start(GROUP, TOPIC, PREFIX, &extra);
    c.wait_in_sync("the slave joins the in-sync set");
    c.produce(0, N);
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        c.admin.has_topic(&c.brokers[1].addr, TOPIC)
    });
    c.brokers[1].kill9();
    let p = send(&c, N, 20);
    assert_eq!(
        p.json["status"].get("SEND_OK"),
        None,
        "acknowledged without the slave: {}",
        p.json
    );
    c.brokers[0].kill9();
    c.brokers[1].start_again();
    let (elected, routed) = c.wait_master(1);
    eprintln!(
        "FAILOVER to the restarted slave (timed from its boot): elected after {elected:?}, routed after {routed:?}"
    );
    c.produce(N + 20, N);
    c.brokers[0].start_again();
    wait_until(
        "the demoted master cuts its tail",
        Duration::from_secs(30),
        || c.brokers[0].log().contains("diverged from the new master"),
    );
    c.wait_in_sync("the demoted master rejoins the in-sync set");
    let got = c.consume_all("failover-sync", 2 * N);
    let expected: Vec<i64> = (0..N).chain(N + 20..2 * N + 20).collect();
    assert_eq!(
        got, expected,
        "acknowledged messages all there, unacknowledged ones cut"
    );
}
