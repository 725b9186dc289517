//! A controller-mode cluster for the failover suites: one nameserver, three `rmq-controller`
//! replicas and a broker group of two `rmq-broker`s with `enableControllerMode=true`, with
//! what the tests ask of it (the controller's view, who is master, the nameserver's route, the
//! in-sync set), and raw sends straight to one broker (bypassing the route, as a client with a
//! stale route would).

use crate::controller::{ControllerProc, field, find_leader, request, start_controllers};
use crate::process::{free_port, unsafe_free_kill};
use crate::{Admin, BrokerOpts, BrokerProc, Client, Flow, NamesrvProc, wait_until};
use rmq_protocol::header::send::SendMessageRequestHeaderV2;
use rmq_protocol::{RemotingCommand, request_code};
use std::time::{Duration, Instant};

/// The brokers' heartbeat timeout at the controllers (they beat every third of it).
pub const HB_TIMEOUT_MS: &str = "1500";

/// The running cluster (everything stops on drop).
pub struct Cluster {
    /// The nameserver.
    pub ns: NamesrvProc,
    /// The controller replicas.
    pub ctrls: Vec<ControllerProc>,
    /// The group's brokers; the first one started master.
    pub brokers: Vec<BrokerProc>,
    /// Admin calls to any of them.
    pub admin: Admin,
    /// The broker group (brokerName).
    pub group: String,
    /// The test topic (4 queues).
    pub topic: String,
    /// The message body prefix of the harness flow.
    pub prefix: String,
}

/// The controller's view of the group (GET_REPLICA_INFO).
#[derive(Debug, Clone)]
pub struct ReplicaView {
    /// The master's broker id ("" when none).
    pub master: String,
    /// The master epoch.
    pub epoch: i32,
    /// The in-sync set's ids.
    pub in_sync: Vec<String>,
}

/// Broker settings for controller mode with `ctrls`, plus `extra`.
pub fn broker_opts(group: &str, ctrls: &[ControllerProc], extra: &[(&str, &str)]) -> BrokerOpts {
    let addrs: Vec<&str> = ctrls.iter().map(|c| c.addr.as_str()).collect();
    let mut o = BrokerOpts {
        name: group.into(),
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
        // the stores hold a few MiB: do not refuse writes because a shared disk is above 90%
        ("diskSpaceWarningLevelRatio", "99"),
    ] {
        o.set.push((k.into(), v.into()));
    }
    for (k, v) in extra {
        o.set.push(((*k).into(), (*v).into()));
    }
    o
}

impl Cluster {
    /// Starts a nameserver, three controllers and two brokers (the first becomes master) and
    /// creates `topic` on the master.
    pub fn start(group: &str, topic: &str, prefix: &str, extra: &[(&str, &str)]) -> Self {
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
        let first = BrokerProc::start(&ns.addr, broker_opts(group, &ctrls, extra));
        let second = BrokerProc::start(&ns.addr, broker_opts(group, &ctrls, extra));
        let c = Cluster {
            ns,
            ctrls,
            brokers: vec![first, second],
            admin,
            group: group.into(),
            topic: topic.into(),
            prefix: prefix.into(),
        };
        assert_eq!(c.master_index(), Some(0), "the first broker is master");
        wait_until(
            "the route shows the master",
            Duration::from_secs(30),
            || c.route_master().as_deref() == Some(c.brokers[0].addr.as_str()),
        );
        assert_eq!(c.admin.create_topic(&c.brokers[0].addr, topic, 4), Some(0));
        c
    }

    /// GET_REPLICA_INFO from the controller leader (retried for 10 s).
    pub fn view(&self) -> ReplicaView {
        for _ in 0..50 {
            if let Some(leader) = find_leader(&self.admin, &self.ctrls) {
                let req = request(1004, &[("brokerName", self.group.clone())], None);
                if let Some(r) = self.admin.invoke(&leader, req)
                    && r.code == 0
                {
                    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                    let set = v["syncStateSet"].as_array().cloned().unwrap_or_default();
                    return ReplicaView {
                        master: field(&r, "masterBrokerId"),
                        epoch: field(&r, "masterEpoch").parse().unwrap_or(-1),
                        in_sync: set.iter().map(|x| x.to_string()).collect(),
                    };
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("no controller leader answered GET_REPLICA_INFO");
    }

    /// The id the controller granted broker `i` (from its store's identity file).
    pub fn id_of(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.brokers[i].store.join("controller-id"))
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("brokerId="))
            .unwrap_or_default()
            .to_owned()
    }

    /// Which broker (index) the controller names master.
    pub fn master_index(&self) -> Option<usize> {
        let master = self.view().master;
        (0..self.brokers.len()).find(|i| self.id_of(*i) == master)
    }

    /// The address the nameserver's cluster info lists as brokerId 0 of the group.
    pub fn route_master(&self) -> Option<String> {
        route_master(&self.admin, &self.ns.addr, &self.group)
    }

    /// The Java 5 harness flow on the test topic.
    pub fn flow(&self) -> Flow<'_> {
        Flow {
            client: Client::Java5,
            ns: &self.ns.addr,
            topic: &self.topic,
            prefix: &self.prefix,
        }
    }

    /// Produces `[start, start + count)` with the Java 5 client; all must be acknowledged.
    pub fn produce(&self, start: i64, count: i64) {
        let flags = "--timeout-ms 120000 --send-timeout-ms 10000";
        let p = self.flow().produce(start, count, flags);
        eprintln!("produce {start}..{}: {}", start + count, p.json);
        p.assert_ok();
        assert_eq!(p.json["status"], serde_json::json!({ "SEND_OK": count }));
    }

    /// Consumes from the start in a new `group`; returns the indices received.
    pub fn consume_all(&self, group: &str, expect: i64) -> Vec<i64> {
        let flags = "--from first --timeout-ms 60000";
        let r = self.flow().consume("consume", group, expect, flags);
        assert_eq!(r.json["corrupt"], 0);
        crate::harness::parse_ranges(&r.str("ranges"))
    }

    /// Waits until the controller's in-sync set holds both brokers.
    pub fn wait_in_sync(&self, what: &str) -> Duration {
        let started = Instant::now();
        let ids = [self.id_of(0), self.id_of(1)];
        wait_until(what, Duration::from_secs(60), || {
            let set = self.view().in_sync;
            ids.iter().all(|id| set.contains(id))
        });
        started.elapsed()
    }

    /// Waits until broker `i` is master at the controller and in the nameserver's route;
    /// returns both delays.
    pub fn wait_master(&self, i: usize) -> (Duration, Duration) {
        let started = Instant::now();
        wait_until("the controller elects", Duration::from_secs(60), || {
            self.master_index() == Some(i)
        });
        let elected = started.elapsed();
        wait_until(
            "the route shows the new master",
            Duration::from_secs(60),
            || self.route_master().as_deref() == Some(self.brokers[i].addr.as_str()),
        );
        (elected, started.elapsed())
    }
}

/// One SEND_MESSAGE_V2 of body `<prefix>-<index>` (WAIT=true, as Java's sync send) to queue
/// `index % 4` of `topic` on the broker at `addr`: the response code, `None` when the broker did
/// not answer within 3 s or the connection closed.
pub fn send_direct(
    admin: &Admin,
    addr: &str,
    topic: &str,
    prefix: &str,
    index: i64,
) -> Option<i32> {
    let header = SendMessageRequestHeaderV2 {
        producer_group: "rmq-direct-producer".into(),
        topic: topic.into(),
        default_topic: Some("TBW102".into()),
        default_topic_queue_nums: Some(4),
        queue_id: i32::try_from(index % 4).unwrap_or(0),
        sys_flag: Some(0),
        born_timestamp: Some(0),
        flag: Some(0),
        properties: Some("WAIT\u{1}true\u{2}".into()),
        ..Default::default()
    };
    let req = RemotingCommand::request_with(request_code::SEND_MESSAGE_V2, &header)
        .with_body(format!("{prefix}-{index}"));
    admin.invoke(addr, req).map(|r| r.code)
}

/// The address nameserver `ns`'s cluster info (GET_BROKER_CLUSTER_INFO) lists as brokerId 0 of
/// `group`, asked through `admin`.
pub fn route_master(admin: &Admin, ns: &str, group: &str) -> Option<String> {
    let r = admin.call(ns, 106)?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v["brokerAddrTable"][group]["brokerAddrs"]["0"]
        .as_str()
        .map(str::to_owned)
}

/// A process stopped with SIGSTOP on creation and continued with SIGCONT on [`Frozen::thaw`]
/// or drop (a failing test leaves no stopped process behind).
pub struct Frozen(Option<u32>);

impl Frozen {
    /// Stops `pid` and returns once every thread of it is stopped. `kill` returns when the
    /// signal is queued, and only the thread it wakes starts the group stop: on a busy machine
    /// another thread can run (and, say, acknowledge replicated data) for milliseconds after.
    pub fn freeze(pid: u32) -> Self {
        unsafe_free_kill(pid, libc::SIGSTOP);
        let frozen = Self(Some(pid));
        wait_until(
            "every thread of the frozen process stops",
            Duration::from_secs(10),
            || all_threads_stopped(pid),
        );
        frozen
    }

    /// Continues it (once).
    pub fn thaw(&mut self) {
        if let Some(pid) = self.0.take() {
            unsafe_free_kill(pid, libc::SIGCONT);
        }
    }
}

/// Whether every thread of `pid` is in state `T` (stopped) in `/proc/PID/task/*/stat`.
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // "tid (comm) S ...": the name may hold spaces and parentheses, the state follows the last ')'
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        state.is_some_and(|s| s.starts_with('T'))
    })
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.thaw();
    }
}
