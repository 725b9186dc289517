//! Automatic failover in controller mode with real processes: one nameserver, three
//! `rmq-controller` replicas and a broker group of two `rmq-broker`s with
//! `enableControllerMode=true`. The brokers get their ids and roles from the controllers, the
//! master keeps the in-sync replica set, and when the master is killed (-9) the slave becomes
//! master; the Java 5 client produces through whichever broker is master and a consumer reads
//! every acknowledged message; a killed master comes back as slave of the new one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rmq_e2e::controller::{ControllerProc, field, find_leader, request, start_controllers};
use rmq_e2e::process::free_port;
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, Flow, NamesrvProc, wait_until};
use std::time::{Duration, Instant};

const GROUP: &str = "broker-fo";
const TOPIC: &str = "FailoverTopic";
const PREFIX: &str = "fo";
/// Messages per produce round.
const N: i64 = 500;
/// The brokers' heartbeat timeout at the controllers (they beat every third of it).
const HB_TIMEOUT_MS: &str = "1500";

/// What the test runs.
struct Cluster {
    ns: NamesrvProc,
    ctrls: Vec<ControllerProc>,
    brokers: Vec<BrokerProc>,
    admin: Admin,
}

fn broker_opts(ctrls: &[ControllerProc], extra: &[(&str, &str)]) -> BrokerOpts {
    let addrs: Vec<&str> = ctrls.iter().map(|c| c.addr.as_str()).collect();
    let mut o = BrokerOpts {
        name: GROUP.into(),
        port: free_port(),
        ..BrokerOpts::default()
    };
    for (k, v) in [
        ("enableControllerMode", "true"),
        ("controllerAddr", &addrs.join(";")),
        ("controllerHeartBeatTimeoutMills", HB_TIMEOUT_MS),
        ("syncBrokerMetadataPeriod", "500"),
        ("checkSyncStateSetPeriod", "500"),
        ("haMaxTimeSlaveNotCatchup", "5000"),
        ("haSendHeartbeatInterval", "1000"),
        // ignored in controller mode (the log says so)
        ("brokerRole", "SLAVE"),
        ("brokerId", "7"),
    ] {
        o.set.push((k.into(), v.into()));
    }
    for (k, v) in extra {
        o.set.push(((*k).into(), (*v).into()));
    }
    o
}

impl Cluster {
    /// GET_REPLICA_INFO from the controller leader: (master id, master epoch, in-sync body).
    fn view(&self) -> (String, String, String) {
        for _ in 0..50 {
            if let Some(leader) = find_leader(&self.admin, &self.ctrls) {
                let req = request(1004, &[("brokerName", GROUP.into())], None);
                if let Some(r) = self.admin.invoke(&leader, req)
                    && r.code == 0
                {
                    let body = String::from_utf8_lossy(&r.body).into_owned();
                    return (field(&r, "masterBrokerId"), field(&r, "masterEpoch"), body);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("no controller leader answered GET_REPLICA_INFO");
    }

    /// The id the controller granted broker `i` (from its store's identity file).
    fn id_of(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.brokers[i].store.join("controller-id"))
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("brokerId="))
            .unwrap_or_default()
            .to_owned()
    }

    /// Which broker (index) the controller names master.
    fn master_index(&self) -> Option<usize> {
        let (master, _, _) = self.view();
        (0..self.brokers.len()).find(|i| self.id_of(*i) == master)
    }

    /// The address the nameserver's cluster info lists as brokerId 0 of the group.
    fn route_master(&self) -> Option<String> {
        let r = self.admin.call(&self.ns.addr, 106)?;
        let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
        let addrs = &v["brokerAddrTable"][GROUP]["brokerAddrs"];
        addrs["0"].as_str().map(str::to_owned)
    }

    fn flow(&self) -> Flow<'_> {
        Flow {
            client: Client::Java5,
            ns: &self.ns.addr,
            topic: TOPIC,
            prefix: PREFIX,
        }
    }

    /// Produces messages `[start, start + count)`; returns the harness result.
    fn send(&self, start: i64, count: i64) -> rmq_e2e::HarnessResult {
        let flags = "--timeout-ms 120000 --send-timeout-ms 10000";
        let p = self.flow().produce(start, count, flags);
        eprintln!("produce {start}..{}: {}", start + count, p.json);
        p
    }

    /// Produces messages `[start, start + N)`; all must be acknowledged.
    fn produce(&self, start: i64) {
        let p = self.send(start, N);
        p.assert_ok();
        assert_eq!(p.json["status"], serde_json::json!({ "SEND_OK": N }));
    }

    /// Starts a nameserver, three controllers and two brokers (the first becomes master).
    fn start(extra: &[(&str, &str)]) -> Self {
        let conf = [
            ("scanNotActiveBrokerInterval", "300"),
            ("raftHeartbeatIntervalMs", "100"),
            ("raftElectionTimeoutMs", "800"),
        ];
        let ns = NamesrvProc::start();
        let ctrls = start_controllers(3, &conf);
        let admin = Admin::new();
        wait_until("a controller leads", Duration::from_secs(30), || {
            find_leader(&admin, &ctrls).is_some()
        });
        let first = BrokerProc::start(&ns.addr, broker_opts(&ctrls, extra));
        let second = BrokerProc::start(&ns.addr, broker_opts(&ctrls, extra));
        let c = Cluster {
            ns,
            ctrls,
            brokers: vec![first, second],
            admin,
        };
        assert_eq!(
            c.master_index(),
            Some(0),
            "the first broker asked to be master"
        );
        assert_eq!((c.id_of(0).as_str(), c.id_of(1).as_str()), ("1", "2"));
        wait_until(
            "the route shows the master",
            Duration::from_secs(30),
            || c.route_master().as_deref() == Some(c.brokers[0].addr.as_str()),
        );
        assert_eq!(c.admin.create_topic(&c.brokers[0].addr, TOPIC, 4), Some(0));
        c
    }

    /// Consumes from the start in a new `group`; returns the indices received.
    fn consume_all(&self, group: &str, expect: i64) -> Vec<i64> {
        let flags = "--from first --timeout-ms 60000";
        let r = self.flow().consume("consume", group, expect, flags);
        assert_eq!(r.json["corrupt"], 0);
        rmq_e2e::harness::parse_ranges(&r.str("ranges"))
    }

    /// Waits until the controller's in-sync set holds both brokers.
    fn wait_in_sync(&self, what: &str) -> Duration {
        let started = Instant::now();
        let ids = [self.id_of(0), self.id_of(1)];
        wait_until(what, Duration::from_secs(60), || {
            let (_, _, body) = self.view();
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let set = v["syncStateSet"].as_array().cloned().unwrap_or_default();
            let set: Vec<String> = set.iter().map(|x| x.to_string()).collect();
            ids.iter().all(|id| set.contains(id))
        });
        started.elapsed()
    }

    /// Waits until broker `i` is master at the controller and in the nameserver's route.
    fn wait_master(&self, i: usize) -> (Duration, Duration) {
        let started = Instant::now();
        wait_until(
            "the controller elects the slave",
            Duration::from_secs(60),
            || self.master_index() == Some(i),
        );
        let elected = started.elapsed();
        wait_until(
            "the route shows the new master",
            Duration::from_secs(60),
            || self.route_master().as_deref() == Some(self.brokers[i].addr.as_str()),
        );
        (elected, started.elapsed())
    }
}

#[test]
fn the_slave_takes_over_when_the_master_dies_and_nothing_acknowledged_is_lost() {
    let mut c = Cluster::start(&[]);
    assert!(
        c.brokers[0]
            .log()
            .contains("brokerRole and brokerId from the configuration are ignored")
    );
    c.produce(0);
    let took = c.wait_in_sync("the slave joins the in-sync set");
    eprintln!("IN-SYNC: the slave joined after {took:?}");
    assert!(c.brokers[0].log().contains("in-sync replica set changed"));
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        c.admin.has_topic(&c.brokers[1].addr, TOPIC)
    });
    let mut produced = N;
    // kill the master, twice: 0 -> 1, then 1 -> 0
    for (dead, heir) in [(0usize, 1usize), (1, 0)] {
        let (_, epoch_before, _) = c.view();
        c.brokers[dead].kill9();
        let (elected, routed) = c.wait_master(heir);
        eprintln!(
            "FAILOVER broker {dead} -> {heir}: elected after {elected:?}, in the route after \
             {routed:?} (heartbeat timeout {HB_TIMEOUT_MS} ms)"
        );
        assert!(routed < Duration::from_secs(30), "failover took {routed:?}");
        let (_, epoch_after, _) = c.view();
        assert!(epoch_after.parse::<i32>().unwrap() > epoch_before.parse::<i32>().unwrap());
        c.produce(produced);
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
    ];
    let mut c = Cluster::start(&extra);
    c.wait_in_sync("the slave joins the in-sync set");
    c.produce(0);
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        c.admin.has_topic(&c.brokers[1].addr, TOPIC)
    });
    c.brokers[1].kill9();
    let p = c.send(N, 20);
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
    c.produce(N + 20);
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
