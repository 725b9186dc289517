//! The backlog phases: `fill` stores exactly COUNT messages in the backlog topic with batch
//! sends (SEND_BATCH_MESSAGE of 64 from 4 senders, 3 attempts each, as the Java driver does);
//! `consume` pulls them back (PULL_MESSAGE, one puller per queue from offset 0, 32 messages a
//! pull like the Java push consumer's default batch; offsets are not committed) and measures
//! from the first message received to the last.

use crate::client::{PullOpts, Rmq, RoundRobin, queues_of};
use crate::json::Obj;
use crate::load::Load;
use crate::phases::{body, failed};
use crate::window::{Errors, Measured};
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Messages per SEND_BATCH_MESSAGE.
const BATCH: u64 = 64;
/// Concurrent batch senders.
const FILL_SENDERS: usize = 4;
/// Pulls: 32 messages at most (the Java push consumer's default batch), held up to 2 s when
/// nothing is there, no offset stored.
pub const PULL_OPTS: PullOpts = PullOpts {
    max: 32,
    suspend: Duration::from_secs(2),
    commit: None,
};

/// State shared by the fill senders.
struct Fill {
    rmq: Arc<Rmq>,
    rr: RoundRobin,
    topic: String,
    body: Bytes,
    count: u64,
    next: AtomicU64,
    acked: AtomicU64,
    errors: Errors,
    deadline: Instant,
}

async fn fill_sender(f: Arc<Fill>) {
    while Instant::now() < f.deadline {
        let from = f.next.fetch_add(BATCH, Ordering::Relaxed);
        if from >= f.count {
            return;
        }
        let n = BATCH.min(f.count - from);
        for _ in 0..3 {
            if Instant::now() >= f.deadline {
                return;
            }
            match f
                .rmq
                .send_batch(f.rr.pick(), &f.topic, &f.body, n as usize)
                .await
            {
                Ok(()) => {
                    f.acked.fetch_add(n, Ordering::Relaxed);
                    break;
                }
                Err(e) => f.errors.add(&e),
            }
        }
    }
}

/// State shared by the pullers.
struct Drain {
    rmq: Arc<Rmq>,
    topic: String,
    group: String,
    expect: u64,
    got: AtomicU64,
    bytes: AtomicU64,
    first: Mutex<Option<Instant>>,
    done: Mutex<Option<Instant>>,
    finished: tokio::sync::Notify,
    errors: Errors,
}

impl Drain {
    fn received(&self, msgs: u64, bytes: u64) {
        let now = Instant::now();
        self.first.lock().get_or_insert(now);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let total = self.got.fetch_add(msgs, Ordering::Relaxed) + msgs;
        if total >= self.expect {
            let mut done = self.done.lock();
            if done.is_none() {
                *done = Some(now);
                self.finished.notify_one();
            }
        }
    }
}

async fn puller(d: Arc<Drain>, q: crate::client::QueueRef) {
    let mut offset = 0;
    while d.got.load(Ordering::Relaxed) < d.expect {
        match d.rmq.pull(&q, &d.topic, &d.group, offset, PULL_OPTS).await {
            Ok(p) => {
                if p.msgs > 0 {
                    d.received(p.msgs, p.bytes);
                }
                offset = p.next.max(offset);
            }
            Err(e) => {
                d.errors.add(&e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

impl Load {
    /// `fill:SIZE:COUNT`.
    pub async fn fill(&mut self, size: usize, count: u64) -> Obj {
        let mut o = Obj::phase("fill");
        o.set("size", size);
        o.set("requested", count);
        o.set("batch", BATCH);
        let rr = match RoundRobin::from_route(&self.rmq, &self.backlog_topic).await {
            Ok(rr) => rr,
            Err(e) => return failed(o, e),
        };
        let t0 = Instant::now();
        let f = Arc::new(Fill {
            rmq: self.rmq.clone(),
            rr,
            topic: self.backlog_topic.clone(),
            body: body(size),
            count,
            next: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            errors: Errors::default(),
            deadline: t0 + self.phase_timeout,
        });
        let window = self.probe().begin().await;
        let tasks: Vec<_> = (0..FILL_SENDERS)
            .map(|_| tokio::spawn(fill_sender(f.clone())))
            .collect();
        for t in tasks {
            if let Err(e) = t.await {
                f.errors.add(&format!("fill task: {e}"));
            }
        }
        let acked = f.acked.load(Ordering::Relaxed);
        let m = Measured {
            msgs: acked,
            size,
            secs: t0.elapsed().as_secs_f64(),
            rss_peak: None,
        };
        self.probe()
            .finish(window, &mut o, m, None, &f.errors)
            .await;
        o.set("timedOut", acked < count);
        if acked < count {
            o.set("ok", false);
        }
        self.filled = Some((acked, size));
        o
    }

    /// `consume`: pulls back what `fill` stored.
    pub async fn consume(&self) -> Obj {
        let mut o = Obj::phase("consume");
        let Some((expect, size)) = self.filled.filter(|(n, _)| *n > 0) else {
            o.set("expect", self.filled.map_or(-1, |(n, _)| n as i64));
            return failed(o, "nothing was filled".into());
        };
        o.set("expect", expect);
        let queues = match self.rmq.route(&self.backlog_topic).await {
            Ok(r) => queues_of(&r, false),
            Err(e) => return failed(o, e),
        };
        if queues.is_empty() {
            let e = format!("topic {} has no readable queue", self.backlog_topic);
            return failed(o, e);
        }
        let d = Arc::new(Drain {
            rmq: self.rmq.clone(),
            topic: self.backlog_topic.clone(),
            group: format!("bench_consumer_{}", crate::client::now_ms()),
            expect,
            got: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            first: Mutex::new(None),
            done: Mutex::new(None),
            finished: tokio::sync::Notify::new(),
            errors: Errors::default(),
        });
        let window = self.probe().begin().await;
        let t0 = Instant::now();
        let tasks: Vec<_> = queues
            .into_iter()
            .map(|q| tokio::spawn(puller(d.clone(), q)))
            .collect();
        let finished = tokio::time::timeout(self.phase_timeout, d.finished.notified())
            .await
            .is_ok();
        tasks.iter().for_each(tokio::task::JoinHandle::abort);
        let t1 = (*d.done.lock()).unwrap_or_else(Instant::now);
        let first = *d.first.lock();
        let secs = first.map_or((t1 - t0).as_secs_f64(), |f| {
            (t1 - f).as_secs_f64().max(1e-3)
        });
        let m = Measured {
            msgs: d.got.load(Ordering::Relaxed),
            size,
            secs,
            rss_peak: None,
        };
        self.probe()
            .finish(window, &mut o, m, None, &d.errors)
            .await;
        o.set(
            "firstMsgMs",
            first.map_or(-1, |f| (f - t0).as_millis() as i64),
        );
        o.set("totalMs", (t1 - t0).as_millis() as u64);
        o.set("bytes", d.bytes.load(Ordering::Relaxed));
        o.set("timedOut", !finished);
        if !finished {
            o.set("ok", false);
        }
        o
    }
}
