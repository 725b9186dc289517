//! The send phases: `sync` (closed loop: each sender waits for its ack), `async` (one sender,
//! up to `--inflight` in flight) and `open` (open loop: a fixed offered rate whatever the acks,
//! latency from each message's scheduled send time, so a stalled broker shows as latency
//! instead of as fewer samples; a clock thread wakes the sender at each scheduled time). Sends are
//! SEND_MESSAGE_V2, round robin over the topic's queues.

use crate::client::{QueueRef, Rmq, RoundRobin};
use crate::json::Obj;
use crate::latency::Latency;
use crate::load::Load;
use crate::ticker::Ticker;
use crate::window::{Errors, Measured};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a phase waits for its last acknowledgements after the window closed.
const DRAIN: Duration = Duration::from_secs(10);

/// A message body of `size` letters (deterministic, like the Java driver's seeded random).
pub fn body(size: usize) -> Bytes {
    let mut x: u32 = 0x9e37_79b9 ^ size as u32;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b'a' + (x % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Marks `o` failed with `error`.
pub fn failed(mut o: Obj, error: String) -> Obj {
    o.set("ok", false);
    o.set("error", error);
    o
}

/// One finished send.
struct Done {
    /// When it should have been sent (open loop) or was decided on (closed loop).
    sched: Instant,
    /// When the request was handed to the connection.
    sent: Instant,
    /// When the response arrived.
    done: Instant,
    result: Result<(), String>,
}

async fn send_one(rmq: &Rmq, q: &QueueRef, topic: &str, body: &Bytes, sched: Instant) -> Done {
    let sent = Instant::now();
    let result = rmq.send(q, topic, body).await;
    Done {
        sched,
        sent,
        done: Instant::now(),
        result,
    }
}

/// What the sends of one window add up to.
struct Acc<'a> {
    start: Instant,
    end: Instant,
    errors: &'a Errors,
    /// From the scheduled send time to the ack.
    lat: Latency,
    /// From the actual send to the ack.
    service: Latency,
    /// Largest delay of an actual send behind its schedule.
    lag_max: Duration,
    /// Acknowledgements sent and received inside the window.
    msgs: u64,
    /// Open loop: the latency of every send scheduled in the window counts, also when its
    /// acknowledgement came after the window (else only those counted in `msgs`).
    late: bool,
}

impl<'a> Acc<'a> {
    fn new(start: Instant, end: Instant, errors: &'a Errors) -> Self {
        Self {
            start,
            end,
            errors,
            lat: Latency::new(),
            service: Latency::new(),
            lag_max: Duration::ZERO,
            msgs: 0,
            late: false,
        }
    }

    /// Counts an ack sent and received inside the window (and its latency; with `late`, the
    /// latency of every ack of a send scheduled in the window); an error anywhere.
    fn add(&mut self, d: Done) {
        if let Err(e) = &d.result {
            self.errors.add(e);
            return;
        }
        let (scheduled, in_time) = (
            d.sched >= self.start && d.sched < self.end,
            d.done <= self.end,
        );
        if scheduled && (in_time || self.late) {
            self.lat.record(d.done - d.sched);
            self.service.record(d.done - d.sent);
            self.lag_max = self.lag_max.max(d.sent - d.sched);
        }
        self.msgs += u64::from(scheduled && in_time);
    }
}

/// One closed-loop sender: send, wait for the ack, repeat until `end`.
async fn closed_sender(
    rmq: Arc<Rmq>,
    rr: Arc<RoundRobin>,
    topic: Arc<str>,
    body: Bytes,
    errors: Arc<Errors>,
    start: Instant,
    end: Instant,
) -> (Latency, u64) {
    let mut acc = Acc::new(start, end, &errors);
    loop {
        let s = Instant::now();
        if s >= end {
            break;
        }
        let d = send_one(&rmq, rr.pick(), &topic, &body, s).await;
        acc.add(d);
    }
    (acc.lat, acc.msgs)
}

impl Load {
    /// The writable queues of `topic`, round robin.
    async fn queues(&self, topic: &str) -> Result<RoundRobin, String> {
        RoundRobin::from_route(&self.rmq, topic).await
    }

    /// `sync:SIZE:THREADS`: `threads` closed-loop senders for `warm` + `measure`; reported only
    /// when `report` (the initial warm-up is not).
    pub async fn sync(
        &self,
        size: usize,
        threads: usize,
        warm: Duration,
        measure: Duration,
        report: bool,
    ) -> Obj {
        let mut o = Obj::phase("sync");
        o.set("size", size);
        o.set("threads", threads);
        let rr = match self.queues(&self.topic).await {
            Ok(rr) => Arc::new(rr),
            Err(e) => return failed(o, e),
        };
        let errors = Arc::new(Errors::default());
        let (body, topic): (Bytes, Arc<str>) = (body(size), self.topic.as_str().into());
        let start = Instant::now() + warm;
        let end = start + measure;
        let tasks: Vec<_> = (0..threads)
            .map(|_| {
                tokio::spawn(closed_sender(
                    self.rmq.clone(),
                    rr.clone(),
                    topic.clone(),
                    body.clone(),
                    errors.clone(),
                    start,
                    end,
                ))
            })
            .collect();
        tokio::time::sleep_until(start.into()).await;
        let window = if report {
            Some(self.probe().begin().await)
        } else {
            None
        };
        let (mut lat, mut msgs) = (Latency::new(), 0);
        for t in tasks {
            match t.await {
                Ok((l, n)) => {
                    lat.merge(&l);
                    msgs += n;
                }
                Err(e) => errors.add(&format!("sender task: {e}")),
            }
        }
        if let Some(w) = window {
            let m = Measured {
                msgs,
                size,
                secs: measure.as_secs_f64(),
                rss_peak: None,
            };
            self.probe().finish(w, &mut o, m, Some(&lat), &errors).await;
        }
        o
    }

    /// `async:SIZE`: one sender keeping `--inflight` sends in flight.
    pub async fn async_phase(&self, size: usize) -> Obj {
        let mut o = Obj::phase("async");
        o.set("size", size);
        o.set("inflight", self.inflight);
        let rr = match self.queues(&self.topic).await {
            Ok(rr) => rr,
            Err(e) => return failed(o, e),
        };
        let (errors, body) = (Errors::default(), body(size));
        let start = Instant::now() + self.warmup;
        let end = start + self.measure;
        let mut acc = Acc::new(start, end, &errors);
        let mut pending = FuturesUnordered::new();
        let mut window = None;
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            if window.is_none() && now >= start {
                window = Some(self.probe().begin().await);
            }
            if pending.len() < self.inflight {
                pending.push(send_one(&self.rmq, rr.pick(), &self.topic, &body, now));
                continue;
            }
            if let Ok(Some(d)) =
                tokio::time::timeout(Duration::from_millis(100), pending.next()).await
            {
                acc.add(d);
            }
        }
        let window = match window {
            Some(w) => w,
            None => self.probe().begin().await,
        };
        let deadline = tokio::time::Instant::now() + DRAIN;
        while let Ok(Some(d)) = tokio::time::timeout_at(deadline, pending.next()).await {
            acc.add(d);
        }
        let m = Measured {
            msgs: acc.msgs,
            size,
            secs: self.measure.as_secs_f64(),
            rss_peak: None,
        };
        self.probe()
            .finish(window, &mut o, m, Some(&acc.lat), &errors)
            .await;
        o
    }

    /// `openpct:SIZE:PCT`: [`Self::open`] at `pct` % of the best msgs/s of the closed-loop
    /// phases with `size` bodies that ran before it (`peakTps`, from `peakPhase`).
    pub async fn open_pct(&self, size: usize, pct: f64) -> Obj {
        let Some((peak, from)) = self.peaks.get(&size).cloned() else {
            let mut o = Obj::phase("openpct");
            o.set("size", size);
            o.set("pct", pct);
            let e = format!(
                "no closed-loop phase of {size} B ran ok before it (its peak sets the rate)"
            );
            return failed(o, e);
        };
        let mut o = self.open(size, peak * pct / 100.0).await;
        o.set("phase", "openpct");
        o.set("pct", pct);
        o.set("peakTps", peak);
        o.set("peakPhase", from);
        o
    }

    /// `open:SIZE:RATE`: messages offered at `rate` per second on a fixed schedule, at most
    /// `--max-inflight` unacknowledged; `msgs`/`tps`: those scheduled in the window and
    /// acknowledged by its end; `p50Ms`.. count from the scheduled send time to the
    /// acknowledgement for every message scheduled in the window, however late (10 s drain),
    /// `serviceP50Ms`.. from the actual send.
    pub async fn open(&self, size: usize, rate: f64) -> Obj {
        let mut o = Obj::phase("open");
        o.set("size", size);
        o.set("rate", rate);
        o.set("maxInflight", self.max_open_inflight);
        let rr = match self.queues(&self.topic).await {
            Ok(rr) => rr,
            Err(e) => return failed(o, e),
        };
        let (errors, body) = (Errors::default(), body(size));
        let t0 = Instant::now();
        let (start, end) = (t0 + self.warmup, t0 + self.warmup + self.measure);
        let at = |i: u64| t0 + Duration::from_secs_f64(i as f64 / rate);
        let ticker = match Ticker::start(t0, rate, end) {
            Ok(t) => t,
            Err(e) => return failed(o, format!("cannot start the open-loop clock: {e}")),
        };
        let mut acc = Acc::new(start, end, &errors);
        acc.late = true;
        let (mut pending, mut window) = (FuturesUnordered::new(), None);
        let (mut next, mut offered) = (0u64, 0u64);
        loop {
            let due = at(next);
            if due >= end {
                break;
            }
            let now = Instant::now();
            if window.is_none() && now >= start {
                window = Some(self.probe().begin().await);
            }
            let room = pending.len() < self.max_open_inflight;
            if due <= now && room {
                pending.push(send_one(&self.rmq, rr.pick(), &self.topic, &body, due));
                offered += u64::from(due >= start);
                next += 1;
                continue;
            }
            tokio::select! {
                Some(d) = pending.next(), if !pending.is_empty() => acc.add(d),
                () = ticker.wait(), if room => {}
                else => {}
            }
        }
        let window = match window {
            Some(w) => w,
            None => self.probe().begin().await,
        };
        let deadline = tokio::time::Instant::now() + DRAIN;
        while let Ok(Some(d)) = tokio::time::timeout_at(deadline, pending.next()).await {
            acc.add(d);
        }
        let secs = self.measure.as_secs_f64();
        let m = Measured {
            msgs: acc.msgs,
            size,
            secs,
            rss_peak: None,
        };
        self.probe()
            .finish(window, &mut o, m, Some(&acc.lat), &errors)
            .await;
        acc.service.write_ms_as(&mut o, "service");
        o.set("offered", offered);
        o.set("offeredTps", offered as f64 / secs.max(1e-9));
        o.set("lagMaxMs", acc.lag_max.as_secs_f64() * 1e3);
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_latency_counts_late_acks_but_throughput_does_not() {
        let errors = Errors::default();
        let t0 = Instant::now();
        let (start, end) = (
            t0 + Duration::from_millis(10),
            t0 + Duration::from_millis(20),
        );
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let done = |sched: u64, done: u64| Done {
            sched: ms(sched),
            sent: ms(sched),
            done: ms(done),
            result: Ok(()),
        };
        let feed = |acc: &mut Acc| {
            acc.add(done(5, 12)); // scheduled before the window
            acc.add(done(12, 14)); // in the window, acked in time
            acc.add(done(15, 60)); // in the window, acked late
            acc.add(Done {
                result: Err("busy".into()),
                ..done(16, 17)
            });
        };
        let mut closed = Acc::new(start, end, &errors);
        feed(&mut closed);
        assert_eq!(closed.msgs, 1);
        let max = closed.lat.max_ns().unwrap_or(0);
        assert!((1_990_000..2_010_000).contains(&max), "{max}");
        let mut open = Acc::new(start, end, &errors);
        open.late = true;
        feed(&mut open);
        assert_eq!(open.msgs, 1);
        let max = open.lat.max_ns().unwrap_or(0);
        assert!((44_900_000..45_100_000).contains(&max), "{max}");
        assert_eq!(errors.count(), 2);
    }

    #[test]
    fn bodies_are_letters_of_the_size_asked() {
        let b = body(1024);
        assert_eq!(b.len(), 1024);
        assert!(b.iter().all(u8::is_ascii_lowercase));
        assert_eq!(body(16), body(16));
        assert!(body(0).is_empty());
    }
}
