//! Controller mode end to end: three real `rmq-controller` replicas (Raft) and a broker group
//! played by this test through the remoting protocol (ids, registration, heartbeats, in-sync
//! changes), as a Java 5 broker in controller mode talks to the controller.
//!
//! What it proves: the leader elects a new master from the in-sync set when the master stops
//! heartbeating (the time is printed), the epoch grows and the old master's stale requests are
//! fenced; killing the Raft leader (-9) leaves a working controller; with two of three replicas
//! gone nothing can change (no quorum) and the last one refuses requests; the killed replicas
//! come back with their state from their own logs; Apache's `mqadmin` reads the metadata and
//! the in-sync set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rmq_e2e::Admin;
use rmq_e2e::controller::{
    ControllerProc, field, find_leader, leader_seen_by, request, start_controllers,
};
use rmq_e2e::wait_until;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLUSTER: &str = "DefaultCluster";
const GROUP: &str = "broker-a";
/// The brokers' heartbeat timeout (`heartbeatTimeoutMills`); they beat every 300 ms.
const HB_TIMEOUT_MS: u64 = 1500;

fn broker_addr(id: u64) -> String {
    format!("127.0.0.1:{}", 20910 + id)
}

/// Sends heartbeats for the ids in `beating` to every replica, every 300 ms, until dropped.
struct Heartbeats {
    beating: Arc<Mutex<BTreeSet<u64>>>,
    stop: Arc<AtomicBool>,
}

impl Heartbeats {
    fn start(addrs: Vec<String>) -> Self {
        let beating = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (beating.clone(), stop.clone());
        std::thread::spawn(move || {
            let admin = Admin::new();
            while !s.load(Ordering::Relaxed) {
                let ids: Vec<u64> = b.lock().unwrap().iter().copied().collect();
                for id in ids {
                    for addr in &addrs {
                        let req = request(904, &heartbeat(id), None);
                        let _ = admin.invoke(addr, req);
                    }
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        Self { beating, stop }
    }

    fn set(&self, ids: &[u64]) {
        *self.beating.lock().unwrap() = ids.iter().copied().collect();
    }
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn heartbeat(id: u64) -> Vec<(&'static str, String)> {
    vec![
        ("clusterName", CLUSTER.into()),
        ("brokerAddr", broker_addr(id)),
        ("brokerName", GROUP.into()),
        ("brokerId", id.to_string()),
        ("epoch", "1".into()),
        ("maxOffset", (100 * id).to_string()),
        ("confirmOffset", "0".into()),
        ("heartbeatTimeoutMills", HB_TIMEOUT_MS.to_string()),
        ("electionPriority", "0".into()),
    ]
}

/// The current leader, waiting for one to be elected.
fn leader(admin: &Admin, procs: &[ControllerProc]) -> String {
    let mut found = None;
    wait_until(
        "a controller leader is elected",
        Duration::from_secs(30),
        || {
            found = find_leader(admin, procs);
            found.is_some()
        },
    );
    found.unwrap()
}

/// Sends `code` with `fields` to the leader, retrying while leadership moves.
fn to_leader(
    admin: &Admin,
    procs: &[ControllerProc],
    code: i32,
    fields: &[(&str, String)],
    body: Option<String>,
) -> rmq_protocol::RemotingCommand {
    for _ in 0..20 {
        let addr = leader(admin, procs);
        if let Some(r) = admin.invoke(&addr, request(code, fields, body.clone()))
            && r.code != 2007
        {
            return r;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("no leader answered request {code}");
}

/// (masterBrokerId, masterEpoch) from the leader's CONTROLLER_GET_REPLICA_INFO.
fn replica_info(admin: &Admin, procs: &[ControllerProc]) -> (String, String, String) {
    let r = to_leader(admin, procs, 1004, &[("brokerName", GROUP.into())], None);
    assert_eq!(r.code, 0, "replica info: {:?}", r.remark);
    let body = String::from_utf8_lossy(&r.body).into_owned();
    (field(&r, "masterBrokerId"), field(&r, "masterEpoch"), body)
}

fn alter(
    master: u64,
    master_epoch: u32,
    set: &[u64],
    set_epoch: u32,
) -> (Vec<(&'static str, String)>, String) {
    let fields = vec![
        ("brokerName", GROUP.to_owned()),
        ("masterBrokerId", master.to_string()),
        ("masterEpoch", master_epoch.to_string()),
    ];
    let ids: Vec<String> = set.iter().map(u64::to_string).collect();
    let body = format!(
        "{{\"syncStateSet\":[{}],\"syncStateSetEpoch\":{set_epoch}}}",
        ids.join(",")
    );
    (fields, body)
}

/// Waits until the leader reports `master` as master; returns how long it took.
fn wait_for_master(admin: &Admin, procs: &[ControllerProc], master: &str) -> Duration {
    let started = Instant::now();
    wait_until(
        &format!("broker {master} is master"),
        Duration::from_secs(30),
        || replica_info(admin, procs).0 == master,
    );
    started.elapsed()
}

fn register_group(admin: &Admin, procs: &[ControllerProc]) {
    for id in 1..=3u64 {
        let names = [
            ("clusterName", CLUSTER.to_owned()),
            ("brokerName", GROUP.to_owned()),
        ];
        let next = to_leader(admin, procs, 1012, &names, None);
        assert_eq!(field(&next, "nextBrokerId"), id.to_string());
        let mut apply = names.to_vec();
        apply.push(("appliedBrokerId", id.to_string()));
        apply.push((
            "registerCheckCode",
            format!("{};token-{id}", broker_addr(id)),
        ));
        let r = to_leader(admin, procs, 1013, &apply, None);
        assert_eq!(r.code, 0, "apply id {id}: {:?}", r.remark);
    }
}

#[test]
fn controllers_fail_over_masters_and_survive_their_own_failures() {
    let conf = [
        ("scanNotActiveBrokerInterval", "300"),
        ("raftHeartbeatIntervalMs", "100"),
        ("raftElectionTimeoutMs", "800"),
    ];
    let mut procs = start_controllers(3, &conf);
    let admin = Admin::new();
    let addrs: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    eprintln!("controller leader: {}", leader(&admin, &procs));
    let beats = Heartbeats::start(addrs);
    first_master(&admin, &procs, &beats);
    master_failover(&admin, &procs, &beats);
    leader_failover(&admin, &mut procs, &beats);
    let last = no_quorum(&admin, &mut procs);
    let leader = restarts(&admin, &mut procs, &last);
    mqadmin_reads(&procs, &leader);
}

/// Ids 1, 2, 3, all heartbeating and registered; broker 1 asks to be master and then adds
/// broker 2 to the in-sync set.
fn first_master(admin: &Admin, procs: &[ControllerProc], beats: &Heartbeats) {
    register_group(admin, procs);
    beats.set(&[1, 2, 3]);
    std::thread::sleep(Duration::from_millis(700));
    for id in 1..=3u64 {
        let fields = [
            ("clusterName", CLUSTER.to_owned()),
            ("brokerName", GROUP.to_owned()),
            ("brokerId", id.to_string()),
            ("brokerAddress", broker_addr(id)),
        ];
        let r = to_leader(admin, procs, 1003, &fields, None);
        assert_eq!(r.code, 0, "register {id}: {:?}", r.remark);
    }
    let elect = [
        ("clusterName", CLUSTER.to_owned()),
        ("brokerName", GROUP.to_owned()),
        ("brokerId", "1".to_owned()),
        ("designateElect", "false".to_owned()),
    ];
    let r = to_leader(admin, procs, 1002, &elect, None);
    assert_eq!(r.code, 0, "first election: {:?}", r.remark);
    assert_eq!(
        (field(&r, "masterBrokerId"), field(&r, "masterEpoch")),
        ("1".into(), "1".into())
    );
    // master 1 adds broker 2 to the in-sync set (epoch 1 -> 2)
    let (fields, body) = alter(1, 1, &[1, 2], 1);
    let r = to_leader(admin, procs, 1001, &fields, Some(body));
    assert_eq!(r.code, 0, "alter: {:?}", r.remark);
    assert_eq!(field(&r, "newSyncStateSetEpoch"), "2");
}

/// Master 1 goes silent: the leader elects 2 (in sync), not 3 (more data, not in sync); the
/// old master's stale request is fenced; the new master adds 3.
fn master_failover(admin: &Admin, procs: &[ControllerProc], beats: &Heartbeats) {
    beats.set(&[2, 3]);
    let took = wait_for_master(admin, procs, "2");
    eprintln!(
        "FAILOVER broker 1 -> 2 after the last heartbeat: {took:?} (heartbeat timeout {HB_TIMEOUT_MS} ms)"
    );
    assert!(took < Duration::from_secs(10), "failover took {took:?}");
    let (_, epoch, body) = replica_info(admin, procs);
    assert_eq!(epoch, "2", "the master epoch grew");
    assert!(body.contains("\"syncStateSet\":[2]"), "{body}");
    let (fields, body) = alter(1, 1, &[1, 2], 2);
    let r = to_leader(admin, procs, 1001, &fields, Some(body));
    assert!(
        r.code == 2002 || r.code == 2000,
        "stale alter answered {} {:?}",
        r.code,
        r.remark
    );
    // the new master adds 3 (in-sync epoch 3 -> 4)
    let (fields, body) = alter(2, 2, &[2, 3], 3);
    let r = to_leader(admin, procs, 1001, &fields, Some(body));
    assert_eq!(r.code, 0, "alter by the new master: {:?}", r.remark);
}

/// kill -9 the Raft leader: another replica leads and still elects (2 silent -> 3).
fn leader_failover(admin: &Admin, procs: &mut [ControllerProc], beats: &Heartbeats) {
    let old = find_leader(admin, procs).unwrap();
    let started = Instant::now();
    procs.iter_mut().find(|p| p.addr == old).unwrap().kill9();
    let new_leader = leader(admin, procs);
    eprintln!(
        "CONTROLLER FAILOVER {old} -> {new_leader}: {:?}",
        started.elapsed()
    );
    assert_ne!(new_leader, old);
    beats.set(&[3]);
    let took = wait_for_master(admin, procs, "3");
    eprintln!("FAILOVER broker 2 -> 3 under the new controller leader: {took:?}");
    assert_eq!(replica_info(admin, procs).1, "3");
}

/// A second replica (the leader) dies: no quorum; the last one refuses writes and reads
/// (2007). Returns the last replica's address.
fn no_quorum(admin: &Admin, procs: &mut [ControllerProc]) -> String {
    let leader = find_leader(admin, procs).unwrap();
    procs.iter_mut().find(|p| p.addr == leader).unwrap().kill9();
    let last = procs.iter().find(|p| p.running()).unwrap().addr.clone();
    let (fields, body) = alter(3, 3, &[3], 5);
    let r = admin.invoke(&last, request(1001, &fields, Some(body)));
    let r = r.expect("the last replica answers");
    eprintln!("NO QUORUM write answered {} {:?}", r.code, r.remark);
    assert_eq!(
        r.code, 2007,
        "write without quorum: {} {:?}",
        r.code, r.remark
    );
    let read = admin.invoke(&last, request(1004, &[("brokerName", GROUP.into())], None));
    let read = read.expect("the last replica answers reads");
    eprintln!("NO QUORUM read answered {} {:?}", read.code, read.remark);
    assert_eq!(read.code, 2007, "a lone follower does not serve reads");
    last
}

/// The killed replicas restart from their own stores: the state is there, even once the
/// replica that never died is gone too. Returns the final leader.
fn restarts(admin: &Admin, procs: &mut [ControllerProc], last: &str) -> String {
    for p in procs.iter_mut().filter(|p| !p.running()) {
        p.start_again();
    }
    let (master, epoch, body) = replica_info(admin, procs);
    assert_eq!((master.as_str(), epoch.as_str()), ("3", "3"), "{body}");
    let survivor = procs.iter().position(|p| p.addr == last).unwrap();
    procs[survivor].kill9();
    let (master, epoch, _) = replica_info(admin, procs);
    assert_eq!((master.as_str(), epoch.as_str()), ("3", "3"));
    procs[survivor].start_again();
    let now_leader = leader(admin, procs);
    wait_until(
        "the restarted replica knows the leader",
        Duration::from_secs(10),
        || leader_seen_by(admin, &procs[survivor].addr).is_some_and(|(_, a)| a == now_leader),
    );
    now_leader
}

/// Apache's `mqadmin` against the group: the metadata names the leader, the in-sync set shows
/// master 3.
fn mqadmin_reads(procs: &[ControllerProc], leader: &str) {
    use rmq_e2e::mqadmin::mqadmin;
    let any = &procs[0].addr;
    let (ok, out) = mqadmin(&["getControllerMetaData", "-a", any]);
    assert!(ok, "{out}");
    assert!(out.contains("#ControllerGroup\trmq-e2e"), "{out}");
    assert!(
        out.contains(&format!("#ControllerLeaderAddress\t{leader}")),
        "{out}"
    );
    for p in procs {
        assert!(
            out.contains(&format!("#Peer:\t{}:{}", p.id, p.addr)),
            "{out}"
        );
    }
    let (ok, out) = mqadmin(&["getSyncStateSet", "-a", any, "-b", GROUP]);
    assert!(ok, "{out}");
    assert!(out.contains("#MasterBrokerId\t3"), "{out}");
    assert!(out.contains("#MasterEpoch\t3"), "{out}");
    assert!(out.contains("InSyncReplica:"), "{out}");
    // electMaster naming the alive master: the controller keeps it (2011, MASTER_STILL_EXIST)
    let (_, out) = mqadmin(&[
        "electMaster",
        "-a",
        any,
        "-c",
        CLUSTER,
        "-bn",
        GROUP,
        "-b",
        "3",
    ]);
    assert!(out.contains("2011"), "{out}");
}
