//! `e2e:SIZE:RATE`: end-to-end latency while producing. Every such phase creates a fresh topic
//! (`--e2e-topic` and the phase's number, `--queues` queues) and reads it with one long-polling
//! pull loop per queue (a new group, 32 messages a pull: the native counterpart of the Java
//! driver's push consumer). Probes are sent until the consumer received one; then RATE
//! messages/s are offered on a fixed schedule, each body carrying its scheduled send time, and
//! the latency of a message is from that time to its delivery to the consumer. The latency of
//! every message due in the measured window counts, however late (the phase waits up to 10 s
//! for the last of them: `delivered`, `lost`); `msgs`/`tps` are those delivered by its end.

use crate::client::{PullOpts, RoundRobin, queues_of};
use crate::json::Obj;
use crate::latency::Latency;
use crate::load::{Load, create_topics};
use crate::pace::{Pullers, Schedule, Sub, Target, pace, spawn_pullers};
use crate::phases::{body, failed};
use crate::window::{Errors, Measured};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The stamp of a probe (a real stamp is nanoseconds since the phase began).
const PROBE: u64 = u64::MAX;
/// How long to wait for the last deliveries after the schedule ended.
const DRAIN: Duration = Duration::from_secs(10);
/// The consumer's pulls: 32 messages, held up to 2 s when nothing is there.
const PULLS: PullOpts = PullOpts {
    max: 32,
    suspend: Duration::from_secs(2),
    commit: None,
};

/// `template` with its first 8 bytes replaced by `stamp` (big endian).
pub fn stamped(template: &Bytes, stamp: u64) -> Bytes {
    let mut b = BytesMut::from(&template[..]);
    b[..8].copy_from_slice(&stamp.to_be_bytes());
    b.freeze()
}

/// The stamp a body carries.
pub fn stamp_of(body: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(body.get(..8)?.try_into().ok()?))
}

/// What the consumer received.
struct Inbox {
    /// Stamps count from here.
    base: Instant,
    /// The measured window, once the schedule is known.
    window: Mutex<Option<(Instant, Instant)>>,
    /// From the scheduled send time to the delivery.
    lat: Mutex<Latency>,
    /// Deliveries of messages due in the window.
    received: AtomicU64,
    /// Of them, delivered by the end of the window.
    received_by_end: AtomicU64,
    /// Probes received.
    probes: AtomicU64,
}

impl Inbox {
    fn deliver(&self, bodies: &[Bytes]) {
        let now = Instant::now();
        let window = *self.window.lock();
        for stamp in bodies.iter().filter_map(|b| stamp_of(b)) {
            if stamp == PROBE {
                self.probes.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let due = self.base + Duration::from_nanos(stamp);
            if let Some((start, end)) = window
                && due >= start
                && due < end
            {
                self.lat.lock().record(now.saturating_duration_since(due));
                self.received.fetch_add(1, Ordering::Relaxed);
                self.received_by_end
                    .fetch_add(u64::from(now <= end), Ordering::Relaxed);
            }
        }
    }
}

/// The running consumer of one phase and where to send.
struct Consumer {
    targets: Vec<Target>,
    inbox: Arc<Inbox>,
    errors: Arc<Errors>,
    pullers: Pullers,
}

impl Load {
    /// `e2e:SIZE:RATE` (see the module doc).
    pub async fn e2e(&mut self, size: usize, rate: f64) -> Obj {
        let mut o = Obj::phase("e2e");
        o.set("size", size);
        o.set("rate", rate);
        self.e2e_runs += 1;
        let topic = format!("{}{}", self.e2e_topic, self.e2e_runs);
        o.set("topic", topic.as_str());
        let (queues, timeout) = (self.queues, self.phase_timeout);
        let t = create_topics(&self.rmq, &self.broker, &[&topic], queues, timeout).await;
        if !t.ok() {
            return failed(o, t.text("error").unwrap_or("topic not created").to_owned());
        }
        let route = match self.rmq.route(&topic).await {
            Ok(r) => r,
            Err(e) => return failed(o, e),
        };
        let topic: Arc<str> = topic.into();
        let group: Arc<str> =
            format!("bench_e2e_{}_{}", self.e2e_runs, crate::client::now_ms()).into();
        let subs: Vec<Sub> = queues_of(&route, false)
            .into_iter()
            .map(|queue| Sub {
                group: group.clone(),
                topic: topic.clone(),
                queue,
            })
            .collect();
        let targets: Vec<Target> = queues_of(&route, true)
            .into_iter()
            .map(|queue| Target {
                topic: topic.clone(),
                queue,
            })
            .collect();
        let inbox = Arc::new(Inbox {
            base: Instant::now(),
            window: Mutex::new(None),
            lat: Mutex::new(Latency::new()),
            received: AtomicU64::new(0),
            received_by_end: AtomicU64::new(0),
            probes: AtomicU64::new(0),
        });
        let errors = Arc::new(Errors::default());
        let sink = inbox.clone();
        let pullers = spawn_pullers(
            &self.rmq,
            subs,
            PULLS,
            false,
            &errors,
            Arc::new(move |b: &[Bytes]| sink.deliver(b)),
        );
        let c = Consumer {
            targets,
            inbox,
            errors,
            pullers,
        };
        self.e2e_measure(o, size, rate, c).await
    }

    /// The probes, then the paced sends and their deliveries.
    async fn e2e_measure(&self, mut o: Obj, size: usize, rate: f64, c: Consumer) -> Obj {
        let Consumer {
            targets,
            inbox,
            errors,
            pullers,
        } = c;
        let (targets, errors) = (&targets[..], &*errors);
        let template = body(size);
        let t0 = Instant::now();
        let rr = RoundRobin::new(targets.iter().map(|t| t.queue.clone()).collect());
        let topic = targets.first().map(|t| t.topic.clone()).unwrap_or_default();
        while inbox.probes.load(Ordering::Relaxed) == 0 {
            if t0.elapsed() > self.phase_timeout {
                return failed(o, "the consumer received no probe message".into());
            }
            if let Err(e) = self
                .rmq
                .send(rr.pick(), &topic, &stamped(&template, PROBE))
                .await
            {
                errors.add(&e);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        o.set("readyMs", t0.elapsed().as_millis() as u64);
        let s = Schedule::new(rate, self.warmup, self.measure);
        *inbox.window.lock() = Some((s.start, s.end));
        let stamp = |due: Instant| stamped(&template, (due - inbox.base).as_nanos() as u64);
        let probe = self.probe();
        let (paced, window) = tokio::join!(
            pace(
                &self.rmq,
                targets,
                &s,
                self.max_open_inflight,
                errors,
                stamp
            ),
            async {
                tokio::time::sleep_until(s.start.into()).await;
                probe.begin().await
            }
        );
        let paced = match paced {
            Ok(p) => p,
            Err(e) => return failed(o, e),
        };
        let deadline = Instant::now() + DRAIN;
        while inbox.received.load(Ordering::Relaxed) < paced.acked && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(pullers);
        let received = inbox.received.load(Ordering::Relaxed);
        let secs = self.measure.as_secs_f64();
        let m = Measured {
            msgs: inbox.received_by_end.load(Ordering::Relaxed),
            size,
            secs,
            rss_peak: None,
        };
        let lat = inbox.lat.lock().clone();
        probe.finish(window, &mut o, m, Some(&lat), errors).await;
        o.set("offered", paced.offered);
        o.set("offeredTps", paced.offered as f64 / secs.max(1e-9));
        o.set("acked", paced.acked);
        o.set("delivered", received);
        o.set("lost", paced.acked.saturating_sub(received));
        o.set("lagMaxMs", paced.lag_max.as_secs_f64() * 1e3);
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_measure_the_window_only() {
        let template = body(16);
        let b = stamped(&template, 123_456_789);
        assert_eq!(b.len(), 16);
        assert_eq!(&b[8..], &template[8..]);
        assert_eq!(stamp_of(&b), Some(123_456_789));
        assert_eq!(stamp_of(b"short"), None);
        let base = Instant::now();
        let inbox = Inbox {
            base,
            window: Mutex::new(Some((
                base + Duration::from_millis(10),
                base + Duration::from_millis(20),
            ))),
            lat: Mutex::new(Latency::new()),
            received: AtomicU64::new(0),
            received_by_end: AtomicU64::new(0),
            probes: AtomicU64::new(0),
        };
        let ms = |m: u64| stamped(&template, m * 1_000_000);
        inbox.deliver(&[ms(5), ms(10), ms(19), ms(20), stamped(&template, PROBE)]);
        assert_eq!(inbox.received.load(Ordering::Relaxed), 2);
        assert_eq!(inbox.probes.load(Ordering::Relaxed), 1);
    }
}
