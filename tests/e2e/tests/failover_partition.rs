//! Split brain in controller mode: a master cut off from everything (frozen with SIGSTOP, so
//! it misses its heartbeats and the controllers elect the slave) comes back believing it still
//! leads. With `allAckInSyncStateSet=true` it must not acknowledge a single send in its old
//! epoch — clients with a stale route send straight to it — and it must step down, cut what it
//! stored alone and follow the new master; every acknowledged message is read, nothing that
//! only the old master stored.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rmq_e2e::failover::{Cluster, Frozen, HB_TIMEOUT_MS, route_master, send_direct};
use rmq_e2e::{Admin, wait_until};
use rmq_protocol::response_code as code;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const GROUP: &str = "broker-sb";
const TOPIC: &str = "SplitBrainTopic";
const PREFIX: &str = "sb";
/// Messages per Java produce round.
const N: i64 = 300;
/// Indices of the raw sends to the old master (never acknowledged, so never consumed).
const DIRECT_BASE: i64 = 1_000_000;
/// The old master stays frozen at least this long: past `haMaxTimeSlaveNotCatchup` (5 s), so
/// on resuming its in-sync upkeep finds the slave lagging and asks (at its old epoch) to drop
/// it, which the controllers must refuse.
const MIN_FROZEN: Duration = Duration::from_secs(7);
/// Parallel raw senders.
const LANES: i64 = 4;
/// How long the raw senders keep at the old master after it resumes.
const DIRECT_FOR: Duration = Duration::from_secs(12);

/// The line a broker logs just before it re-executes itself with a new role.
const REEXEC: &str = "restarting the broker process with its new role";

/// Seconds of the day of a log line's timestamp (`…T19:51:22.123456Z …`).
fn time_of(line: &str) -> Option<f64> {
    let hms = line.split('T').nth(1)?.split('Z').next()?;
    let mut parts = hms.split(':').map(|p| p.parse::<f64>().ok());
    Some(parts.next()?? * 3600.0 + parts.next()?? * 60.0 + parts.next()??)
}

/// Seconds from the first log line holding `from` to the first later one holding `to`.
fn seconds_between(log: &str, from: &str, to: &str) -> f64 {
    let at = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .and_then(time_of)
            .unwrap_or_else(|| panic!("no timed log line with {needle:?}"))
    };
    (at(to) - at(from)).rem_euclid(86_400.0)
}

/// One answer of the old master: when (since SIGCONT), which message, which code (`None`: no
/// answer or the connection closed).
#[derive(Debug, Clone, Copy)]
struct Answer {
    at: Duration,
    index: i64,
    code: Option<i32>,
}

fn code_name(c: Option<i32>) -> &'static str {
    match c {
        None => "no answer / closed",
        Some(code::SUCCESS) => "SEND_OK",
        Some(code::SLAVE_NOT_AVAILABLE) => "SLAVE_NOT_AVAILABLE",
        Some(code::FLUSH_SLAVE_TIMEOUT) => "FLUSH_SLAVE_TIMEOUT",
        Some(code::SERVICE_NOT_AVAILABLE) => "SERVICE_NOT_AVAILABLE",
        Some(_) => "other error",
    }
}

/// Sends from `LANES` threads to `addr` until `until`; the lanes start before `resume` is
/// called (their first requests wait in the frozen broker's socket) and every answer is timed
/// from the moment `resume` returned.
fn hammer(addr: &str, until: Duration, resume: impl FnOnce()) -> Vec<Answer> {
    let answers = Mutex::new(Vec::new());
    let zero = Mutex::new(None::<Instant>);
    std::thread::scope(|s| {
        for lane in 0..LANES {
            let (answers, zero) = (&answers, &zero);
            s.spawn(move || {
                let admin = Admin::new();
                let mut i = DIRECT_BASE + lane;
                loop {
                    let c = send_direct(&admin, addr, TOPIC, PREFIX, i);
                    let since = zero.lock().unwrap().map(|z| z.elapsed());
                    let at = since.unwrap_or_default();
                    answers.lock().unwrap().push(Answer {
                        at,
                        index: i,
                        code: c,
                    });
                    if since.is_some_and(|d| d >= until) {
                        return;
                    }
                    i += LANES;
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        resume();
        *zero.lock().unwrap() = Some(Instant::now());
    });
    let mut all = answers.into_inner().unwrap();
    all.sort_by_key(|a| a.at);
    all
}

/// Prints the old master's answers as a timeline: per code, how many and when (first, last).
fn timeline(answers: &[Answer]) -> BTreeMap<&'static str, (usize, Duration, Duration)> {
    let mut t: BTreeMap<&'static str, (usize, Duration, Duration)> = BTreeMap::new();
    for a in answers {
        let e = t.entry(code_name(a.code)).or_insert((0, a.at, a.at));
        e.0 += 1;
        e.2 = a.at;
    }
    eprintln!("OLD MASTER ANSWERS after SIGCONT (count, first, last): {t:#?}");
    t
}

/// Resumes the frozen old master at `old` while raw sends hit it (see [`hammer`]): panics if
/// any is acknowledged; whether any was refused after being stored (SLAVE_NOT_AVAILABLE or
/// FLUSH_SLAVE_TIMEOUT: the old master then holds a tail the new master never had).
fn resume_under_sends(old: &str, frozen: &mut Frozen) -> bool {
    let answers = hammer(old, DIRECT_FOR, || frozen.thaw());
    let t = timeline(&answers);
    let acked: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.code == Some(code::SUCCESS))
        .collect();
    let acked_ids: Vec<(i64, Duration)> = acked.iter().map(|a| (a.index, a.at)).collect();
    assert!(
        acked.is_empty(),
        "SPLIT BRAIN: the old master acknowledged {} sends after resuming (index, since \
         SIGCONT): {acked_ids:?}; timeline {t:?}",
        acked.len()
    );
    answers.iter().any(|a| {
        matches!(
            a.code,
            Some(code::SLAVE_NOT_AVAILABLE | code::FLUSH_SLAVE_TIMEOUT)
        )
    })
}

/// Runs `resume` while polling the nameserver's master of `c`'s group every 50 ms; returns
/// its result and when (since the polling began) the route named `old` as the master.
fn watch_route<T>(c: &Cluster, old: &str, resume: impl FnOnce() -> T) -> (T, Vec<Duration>) {
    let done = std::sync::atomic::AtomicBool::new(false);
    let (ns, group) = (c.ns.addr.as_str(), c.group.as_str());
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let (admin, start, mut seen) = (Admin::new(), Instant::now(), Vec::new());
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if route_master(&admin, ns, group).as_deref() == Some(old) {
                    seen.push(start.elapsed());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            seen
        });
        let out = resume();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (out, watcher.join().unwrap())
    })
}

/// Waits until the old master (broker 0) stepped down and re-executed itself; the restart
/// must not have waited for readiness probes (`shutdownUnreadyWaitMillis`).
fn steps_down_at_once(c: &Cluster) {
    wait_until("the old master steps down", Duration::from_secs(30), || {
        c.brokers[0].log().contains("restarting with the new role")
    });
    wait_until(
        "the old master re-executes",
        Duration::from_secs(30),
        || c.brokers[0].log().contains(REEXEC),
    );
    let log = c.brokers[0].log();
    let took = seconds_between(&log, "restarting with the new role", REEXEC);
    eprintln!("SPLIT: the old master re-executed {took:.3} s after it saw the new master");
    assert!(
        took < 2.0,
        "a role change waited {took:.3} s for readiness probes before the restart"
    );
}

#[test]
fn a_frozen_master_that_resumes_acknowledges_nothing_and_rejoins_as_slave() {
    // registrations every 10 s (RocketMQ's shortest period; asking for less gets 10 s): the
    // old master, frozen for about as long, may register as soon as it resumes, racing its
    // own discovery that it was replaced. A shutdown that waited for readiness probes (there
    // are none here) would wait the whole 4 s.
    let extra = [
        ("allAckInSyncStateSet", "true"),
        ("registerNameServerPeriod", "10000"),
        ("shutdownUnreadyWaitMillis", "4000"),
    ];
    let c = Cluster::start(GROUP, TOPIC, PREFIX, &extra);
    c.wait_in_sync("the slave joins the in-sync set");
    c.produce(0, N);
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        c.admin.has_topic(&c.brokers[1].addr, TOPIC)
    });
    let before = c.view();
    let old = c.brokers[0].addr.clone();
    let mut frozen = Frozen::freeze(c.brokers[0].pid());
    let frozen_at = Instant::now();
    let (elected, routed) = c.wait_master(1);
    let after = c.view();
    eprintln!(
        "SPLIT: master frozen; slave elected after {elected:?}, routed after {routed:?} \
         (heartbeat timeout {HB_TIMEOUT_MS} ms); epoch {} -> {}, in-sync {:?}",
        before.epoch, after.epoch, after.in_sync
    );
    assert!(
        after.epoch > before.epoch,
        "a new epoch: {before:?} -> {after:?}"
    );
    assert_eq!(
        after.in_sync,
        vec![c.id_of(1)],
        "the new master is alone in sync"
    );
    c.produce(N, N);
    std::thread::sleep(MIN_FROZEN.saturating_sub(frozen_at.elapsed()));
    eprintln!(
        "SPLIT: old master frozen for {:?}, resuming",
        frozen_at.elapsed()
    );
    let (refused_stored, routed_old) =
        watch_route(&c, &old, || resume_under_sends(&old, &mut frozen));
    assert!(
        routed_old.is_empty(),
        "the nameserver routed the group to the deposed master after it resumed \
         (since SIGCONT): {routed_old:?}"
    );
    steps_down_at_once(&c);
    assert_eq!(c.master_index(), Some(1), "the new master stays");
    let fenced: Vec<String> = (c.brokers[0].log().lines())
        .filter(|l| l.contains("cannot change the in-sync set"))
        .map(str::to_owned)
        .collect();
    eprintln!("SPLIT: the old master's refused in-sync changes: {fenced:#?}");
    let took = c.wait_in_sync("the old master rejoins the in-sync set as slave");
    eprintln!("SPLIT: old master back in sync {took:?} after the raw sends ended");
    if refused_stored {
        // what it stored (and refused) after resuming is a tail the new master never had
        assert!(
            c.brokers[0].log().contains("diverged from the new master"),
            "the old master stored refused sends but did not cut them"
        );
    }
    assert_eq!(c.view().master, c.id_of(1));
    wait_until(
        "the old master has the topic",
        Duration::from_secs(30),
        || c.admin.has_topic(&c.brokers[0].addr, TOPIC),
    );
    c.produce(2 * N, N);
    let got = c.consume_all("split-brain-java5", 3 * N);
    let direct: Vec<i64> = got.iter().copied().filter(|i| *i >= DIRECT_BASE).collect();
    assert!(
        direct.is_empty(),
        "messages only the old master stored (and refused) were delivered: {direct:?}"
    );
    assert_eq!(
        got,
        (0..3 * N).collect::<Vec<_>>(),
        "every acknowledged message is there"
    );
}
