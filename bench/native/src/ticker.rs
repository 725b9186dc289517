//! A precise clock for open-loop sends: a thread that sleeps (nanosleep, microsecond precision)
//! until each scheduled send time and wakes the sending task. tokio's timer only has
//! millisecond ticks, which would add up to a millisecond of schedule lag to every latency
//! measured from the scheduled time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Shortest sleep between two ticks. Above 20,000 sends per second a tick releases every send
/// due by then at once: a wakeup per send (5 µs apart at 200,000/s) and a write of one or two
/// sends cost the driver's core more than the broker's, so at 80 % of rmq's peak the driver,
/// not the broker, fell behind the schedule (measured: 102k of 194k msgs/s with a tick per
/// send, 166k with 25 µs, all 191k with 50 µs). A send leaves at most this much after its
/// scheduled time, which the latency from the scheduled time includes.
const MIN_TICK: Duration = Duration::from_micros(50);

/// Index of the first send scheduled after `elapsed` at `rate` per second (send `i` is due at
/// `i / rate` seconds).
pub fn next_index(elapsed: Duration, rate: f64) -> u64 {
    (elapsed.as_secs_f64() * rate).floor() as u64 + 1
}

/// Wakes [`Ticker::wait`] at every scheduled send time until dropped or `end`.
pub struct Ticker {
    notify: Arc<Notify>,
    stop: Arc<AtomicBool>,
}

impl Ticker {
    /// Starts the clock thread for sends at `rate` per second from `t0` until `end`.
    pub fn start(t0: Instant, rate: f64, end: Instant) -> std::io::Result<Self> {
        let notify = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (n, s) = (notify.clone(), stop.clone());
        std::thread::Builder::new()
            .name("open-loop-clock".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    let i = next_index(now - t0, rate);
                    let due = t0 + Duration::from_secs_f64(i as f64 / rate);
                    std::thread::sleep(due.saturating_duration_since(now).max(MIN_TICK));
                    n.notify_one();
                }
                n.notify_one();
            })?;
        Ok(Self { notify, stop })
    }

    /// Waits for the next tick (returns at once if one passed since the last wait).
    pub async fn wait(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_index_is_the_first_send_after_now() {
        assert_eq!(next_index(Duration::ZERO, 1000.0), 1);
        assert_eq!(next_index(Duration::from_micros(999), 1000.0), 1);
        assert_eq!(next_index(Duration::from_millis(1), 1000.0), 2);
        assert_eq!(next_index(Duration::from_millis(2500), 2.0), 6);
    }
}
