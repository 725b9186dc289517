//! What the fixed-rate phases (`e2e`, `scale`) share: a paced sender (messages offered on a
//! fixed schedule whatever the acknowledgements, woken by [`Ticker`], round robin over a list
//! of topic queues, each body built from its scheduled send time) and long-polling pull loops,
//! one per queue and consumer group, as a push consumer runs them.

use crate::client::{PullOpts, QueueRef, Rmq};
use crate::ticker::Ticker;
use crate::window::Errors;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long the sender waits for its last acknowledgements after the schedule ended.
const DRAIN: Duration = Duration::from_secs(10);

/// One queue of one topic to send to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The topic.
    pub topic: Arc<str>,
    /// The queue and its master.
    pub queue: QueueRef,
}

/// The send times of a paced phase: send `i` is due at `t0 + i / rate`; those due in
/// `[start, end)` are measured.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// The first send.
    pub t0: Instant,
    /// Start of the measured window (after the warm-up).
    pub start: Instant,
    /// End of the schedule and of the window.
    pub end: Instant,
    /// Sends per second.
    pub rate: f64,
}

impl Schedule {
    /// A schedule starting now: `warmup` unmeasured, then `measure` measured.
    pub fn new(rate: f64, warmup: Duration, measure: Duration) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            start: t0 + warmup,
            end: t0 + warmup + measure,
            rate,
        }
    }

    /// When send `i` is due.
    pub fn due(&self, i: u64) -> Instant {
        self.t0 + Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// True when `t` is inside the measured window.
    pub fn measured(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

/// What a paced sender did in the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Paced {
    /// Sends due in the window.
    pub offered: u64,
    /// Of them, acknowledged with SEND_OK (during the window or the drain after it).
    pub acked: u64,
    /// Of them, acknowledged by the end of the window.
    pub acked_by_end: u64,
    /// Largest delay of an actual send behind its schedule.
    pub lag_max: Duration,
}

/// A finished send: when it was due, when its answer came, and the answer.
type Sent = (Instant, Instant, Result<(), String>);

async fn send(rmq: &Rmq, t: &Target, body: Bytes, due: Instant) -> Sent {
    let r = rmq.send(&t.queue, &t.topic, &body).await;
    (due, Instant::now(), r)
}

/// Offers the sends of `s` to `targets` round robin (the body of each from its due time), at
/// most `max_inflight` unacknowledged; waits for the last acknowledgements (up to 10 s).
pub async fn pace(
    rmq: &Rmq,
    targets: &[Target],
    s: &Schedule,
    max_inflight: usize,
    errors: &Errors,
    body: impl Fn(Instant) -> Bytes,
) -> Result<Paced, String> {
    if targets.is_empty() {
        return Err("no queue to send to".into());
    }
    let ticker = Ticker::start(s.t0, s.rate, s.end)
        .map_err(|e| format!("cannot start the send clock: {e}"))?;
    let mut out = Paced::default();
    let mut count = |(due, done, r): Sent| match r {
        Err(e) => errors.add(&e),
        Ok(()) => {
            out.acked += u64::from(s.measured(due));
            out.acked_by_end += u64::from(s.measured(due) && done <= s.end);
        }
    };
    let (mut pending, mut next, mut offered, mut lag_max) =
        (FuturesUnordered::new(), 0u64, 0u64, Duration::ZERO);
    loop {
        let due = s.due(next);
        if due >= s.end {
            break;
        }
        let (now, room) = (Instant::now(), pending.len() < max_inflight);
        if due <= now && room {
            let t = &targets[(next % targets.len() as u64) as usize];
            lag_max = lag_max.max(now - due);
            pending.push(send(rmq, t, body(due), due));
            offered += u64::from(s.measured(due));
            next += 1;
            continue;
        }
        tokio::select! {
            Some(d) = pending.next(), if !pending.is_empty() => count(d),
            () = ticker.wait(), if room => {}
            else => {}
        }
    }
    let deadline = tokio::time::Instant::now() + DRAIN;
    while let Ok(Some(d)) = tokio::time::timeout_at(deadline, pending.next()).await {
        count(d);
    }
    out.offered = offered;
    out.lag_max = lag_max;
    Ok(out)
}

/// One pull loop's queue: which group reads which topic's queue.
#[derive(Debug, Clone)]
pub struct Sub {
    /// The consumer group.
    pub group: Arc<str>,
    /// The topic.
    pub topic: Arc<str>,
    /// The queue and its master.
    pub queue: QueueRef,
}

/// Where pull loops hand the bodies they received.
pub type Sink = Arc<dyn Fn(&[Bytes]) + Send + Sync>;

/// Running pull loops; dropping them stops them.
pub struct Pullers(Vec<JoinHandle<()>>);

impl Drop for Pullers {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// Starts one pull loop per entry of `subs`, from offset 0: each pull asks as `opts` says
/// (with `commit`, it also stores the offset it pulls from, as a push consumer does) and hands
/// the bodies to `sink`; errors are counted, then the loop waits 100 ms.
pub fn spawn_pullers(
    rmq: &Arc<Rmq>,
    subs: Vec<Sub>,
    opts: PullOpts,
    commit: bool,
    errors: &Arc<Errors>,
    sink: Sink,
) -> Pullers {
    let tasks = subs.into_iter().map(|sub| {
        let (rmq, errors, sink) = (rmq.clone(), errors.clone(), sink.clone());
        tokio::spawn(async move {
            let mut offset = 0;
            loop {
                let opts = PullOpts {
                    commit: commit.then_some(offset),
                    ..opts
                };
                match rmq
                    .pull(&sub.queue, &sub.topic, &sub.group, offset, opts)
                    .await
                {
                    Ok(p) => {
                        sink(&p.bodies);
                        offset = p.next.max(offset);
                    }
                    Err(e) => {
                        errors.add(&e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })
    });
    Pullers(tasks.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_windows_and_due_times() {
        let s = Schedule::new(1000.0, Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(s.due(0), s.t0);
        assert_eq!(s.due(250) - s.t0, Duration::from_millis(250));
        assert!(!s.measured(s.due(99)));
        assert!(s.measured(s.due(100)));
        assert!(s.measured(s.due(1099)));
        assert!(!s.measured(s.due(1100)));
    }
}
