//! `rmq-bench load`: the Java driver's `load` command. Optional steps first (wait for the
//! broker to register, read its pid, create the topics, sample the idle broker), then an
//! unreported warm-up and every phase of the plan, one JSON line each (with how busy the machine
//! was around it: [`crate::host`]).

use crate::args::Args;
use crate::client::{Rmq, now_ms, queues_of};
use crate::host::Snapshot;
use crate::json::{Obj, emit};
use crate::plan::{Phase, parse_plan};
use crate::procfs::Proc;
use crate::window::Probe;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings and state of one `load` run.
pub struct Load {
    /// Connections to the nameserver and the brokers.
    pub rmq: Arc<Rmq>,
    /// Broker address for admin calls (topic creation, runtime info).
    pub broker: String,
    /// Topic of the send phases.
    pub topic: String,
    /// Topic of `fill` and `consume`.
    pub backlog_topic: String,
    /// Unmeasured time at the start of each send phase.
    pub warmup: Duration,
    /// Measured time of each send phase.
    pub measure: Duration,
    /// Bound of `fill` and `consume`.
    pub phase_timeout: Duration,
    /// Sends in flight in `async` phases.
    pub inflight: usize,
    /// Most sends in flight in `open` phases (beyond it, sends wait and count as late).
    pub max_open_inflight: usize,
    /// The broker process, when its pid is known.
    pub broker_proc: Option<Proc>,
    /// This process.
    pub driver: Proc,
    /// Messages `fill` stored (for `consume`), and their size.
    pub filled: Option<(u64, usize)>,
    /// Queues of every topic the driver creates (`--queues`).
    pub queues: i32,
    /// Quiet time of `scale` before its idle sample (`--settle-ms`).
    pub settle: Duration,
    /// Topic name prefix of the `e2e` phases (`--e2e-topic`; each phase adds its number).
    pub e2e_topic: String,
    /// `e2e` phases run so far.
    pub e2e_runs: u32,
    /// By body size: the best msgs/s of the closed-loop phases so far, and which phase it was
    /// (`openpct` offers a share of it).
    pub peaks: HashMap<usize, (f64, String)>,
    clk_tck: u64,
    args: Args,
}

impl Load {
    /// Reads the `load` arguments (the Java driver's names and defaults).
    pub fn new(args: Args) -> Result<Self, String> {
        let ms = |name: &str, default: u64| args.num(name, default).map(Duration::from_millis);
        let topic = args.req("topic")?.to_owned();
        let e2e_topic = args
            .get("e2e-topic")
            .map_or_else(|| format!("{topic}E2e"), str::to_owned);
        let clk_tck = args.num("clk-tck", 100u64)?;
        Ok(Self {
            rmq: Arc::new(Rmq::new(args.req("namesrv")?)),
            broker: args.req("broker")?.to_owned(),
            backlog_topic: args
                .get("backlog-topic")
                .map_or_else(|| format!("{topic}Backlog"), str::to_owned),
            topic,
            warmup: ms("warmup-ms", 2000)?,
            measure: ms("measure-ms", 10_000)?,
            phase_timeout: ms("phase-timeout-ms", 60_000)?,
            inflight: args.num("inflight", 512usize)?.max(1),
            max_open_inflight: args.num("max-inflight", 65_536usize)?.max(1),
            broker_proc: args.get("broker-pid").map(|p| Proc::new(p, clk_tck)),
            driver: Proc::new("self", clk_tck),
            filled: None,
            queues: args.num("queues", 8i32)?,
            settle: ms("settle-ms", 30_000)?,
            e2e_topic,
            e2e_runs: 0,
            peaks: HashMap::new(),
            clk_tck,
            args,
        })
    }

    /// The window probe of this run.
    pub fn probe(&self) -> Probe<'_> {
        Probe {
            rmq: &self.rmq,
            broker: &self.broker,
            broker_proc: self.broker_proc.as_ref(),
            driver: &self.driver,
        }
    }

    /// Runs everything; the exit status: 0 all phases ok, 1 some failed, 2 bad arguments.
    pub async fn run(mut self) -> Result<i32, String> {
        let plan = parse_plan(self.args.req("plan")?, self.args.opt_num("rate")?)?;
        if !self.prepare().await? {
            return Ok(1);
        }
        let initial = Duration::from_millis(self.args.num("initial-warmup-ms", 3000u64)?);
        if !initial.is_zero() {
            // not reported: route lookup, connections, the broker's and the page cache's warm-up
            self.sync(128, 16, initial, Duration::ZERO, false).await;
        }
        let mut failures = 0;
        for phase in plan {
            let before = Snapshot::take(self.broker_proc.as_ref(), &self.driver);
            let mut o = match phase {
                Phase::Sync { size, threads } => {
                    self.sync(size, threads, self.warmup, self.measure, true)
                        .await
                }
                Phase::Async { size } => self.async_phase(size).await,
                Phase::Open { size, rate } => self.open(size, rate).await,
                Phase::OpenPct { size, pct } => self.open_pct(size, pct).await,
                Phase::E2e { size, rate } => self.e2e(size, rate).await,
                Phase::Fill { size, count } => self.fill(size, count).await,
                Phase::Consume => self.consume().await,
                Phase::Scale {
                    topics,
                    groups,
                    rate,
                } => self.scale(topics, groups, rate).await,
            };
            self.note_peak(phase, &o);
            let after = Snapshot::take(self.broker_proc.as_ref(), &self.driver);
            before.write_until(&after, self.clk_tck, &mut o);
            if !o.ok() {
                failures += 1;
            }
            emit(&o);
        }
        Ok(i32::from(failures > 0))
    }

    /// Keeps the best msgs/s of an ok closed-loop phase for its body size.
    fn note_peak(&mut self, phase: Phase, o: &Obj) {
        let (Phase::Sync { size, .. } | Phase::Async { size }) = phase else {
            return;
        };
        if let (true, Some(tps)) = (o.ok(), o.num("tps"))
            && self.peaks.get(&size).is_none_or(|(best, _)| tps > *best)
        {
            self.peaks.insert(size, (tps, phase.to_string()));
        }
    }

    /// The optional steps before the load (see the module doc); false when one failed.
    async fn prepare(&mut self) -> Result<bool, String> {
        if let Some(name) = self.args.get("watch-broker-name").map(str::to_owned) {
            // the watcher's connection is open before the broker starts: its first poll is
            // not what the start-up time measures
            for _ in 0..WATCH_WARMUP_POLLS {
                let _ = self.rmq.cluster_info().await;
            }
            if let Some(f) = self.args.get("ready-file") {
                std::fs::write(f, "ready\n").map_err(|e| format!("--ready-file {f}: {e}"))?;
            }
            let timeout = Duration::from_millis(self.args.num("watch-timeout-ms", 120_000u64)?);
            let w = watch_registered(&self.rmq, &name, timeout).await;
            emit(&w);
            if !w.ok() {
                return Ok(false);
            }
        }
        if let Some(f) = self.args.get("broker-pid-file")
            && self.broker_proc.is_none()
        {
            self.broker_proc = read_pid_file(Path::new(f), Duration::from_secs(60))
                .await
                .map(|pid| Proc::new(&pid, self.clk_tck));
            if self.broker_proc.is_none() {
                eprintln!("rmq-bench: no broker pid in {f}");
            }
        }
        if let Some(topics) = self.args.get("create-topics") {
            let queues = self.queues;
            let timeout = Duration::from_millis(self.args.num("topic-timeout-ms", 40_000u64)?);
            let topics: Vec<&str> = topics.split(',').map(str::trim).collect();
            let t = create_topics(&self.rmq, &self.broker, &topics, queues, timeout).await;
            emit(&t);
            if !t.ok() {
                return Ok(false);
            }
        }
        if let (Some(idle), Some(p)) = (self.args.opt_num::<u64>("idle-ms")?, &self.broker_proc) {
            let c0 = p.cpu_seconds();
            tokio::time::sleep(Duration::from_millis(idle)).await;
            let (rss, anon) = p.rss_kb();
            let mut m = Obj::phase("idle");
            m.set("brokerRssKb", rss);
            m.set("brokerRssAnonKb", anon);
            if let (Some(a), Some(b)) = (c0, p.cpu_seconds()) {
                m.set(
                    "brokerCpuPct",
                    (b - a) / (idle.max(1) as f64 / 1000.0) * 100.0,
                );
            }
            emit(&m);
        }
        Ok(true)
    }
}

/// Polls the pid file until it holds a pid (or `timeout` passes).
async fn read_pid_file(f: &Path, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(f)
            && !text.trim().is_empty()
        {
            return Some(text.trim().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Cluster-info polls the watcher makes before it says it is ready (connect, warm paths).
const WATCH_WARMUP_POLLS: usize = 20;

/// Polls the nameserver's cluster info every 10 ms until broker `name` is listed with an
/// address: `{"phase":"watch","ok":true,"registeredAtMs":...}`.
pub async fn watch_registered(rmq: &Rmq, name: &str, timeout: Duration) -> Obj {
    let deadline = Instant::now() + timeout;
    let mut o = Obj::phase("watch");
    let mut last = None;
    while Instant::now() < deadline {
        match rmq.cluster_info().await {
            Ok(ci) => {
                if ci
                    .broker_addr_table
                    .get(name)
                    .is_some_and(|b| !b.broker_addrs.is_empty())
                {
                    o.set("registeredAtMs", now_ms());
                    return o;
                }
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    o.set("ok", false);
    o.set(
        "error",
        last.unwrap_or_else(|| "broker never registered".into()),
    );
    o
}

/// UPDATE_AND_CREATE_TOPIC of each topic on `broker` (each retried every 200 ms), then waits
/// until the nameserver's route of each shows `queues` read and write queues (all created
/// first, so that the brokers' registrations of many topics overlap the waiting):
/// `{"phase":"topic","ok":..,"elapsedMs":..}`.
pub async fn create_topics(
    rmq: &Rmq,
    broker: &str,
    topics: &[&str],
    queues: i32,
    timeout: Duration,
) -> Obj {
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    let mut o = Obj::phase("topic");
    let all = async {
        for topic in topics {
            retry(deadline, 200, || rmq.create_topic(broker, topic, queues)).await?;
        }
        for topic in topics {
            let routed = || async {
                let r = rmq.route(topic).await?;
                let full = r
                    .queue_datas
                    .iter()
                    .any(|q| q.write_queue_nums == queues && q.read_queue_nums == queues);
                if full && !queues_of(&r, true).is_empty() {
                    Ok(())
                } else {
                    Err(format!("route for {topic} never showed {queues} queues"))
                }
            };
            retry(deadline, 50, routed).await?;
        }
        Ok::<(), String>(())
    };
    if let Err(e) = all.await {
        o.set("ok", false);
        o.set("error", e);
        return o;
    }
    o.set("elapsedMs", t0.elapsed().as_millis() as u64);
    o
}

/// Calls `f` until it succeeds, every `every_ms` until `deadline`; its last error when it
/// never did.
async fn retry<F, Fut>(deadline: Instant, every_ms: u64, f: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    loop {
        match f().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(every_ms)).await,
        }
    }
}
