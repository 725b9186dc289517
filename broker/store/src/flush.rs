//! Flush signalling: the flusher is a plain std thread; it publishes the durable commit log
//! offset through a `tokio::sync::watch` channel (usable without a runtime) so that SYNC-flush
//! senders can await it. Waiters only raise a "requested" mark and wake the thread; every fsync
//! covers everything appended before it started, so many waiters share one fsync (group commit).
//! The flush work itself (commit log, then consume queues, then the checkpoint) is
//! `Inner::flush_all` in [`crate::inner`].
//!
//! A failed fsync is final: [`FlushSignal::fail`] freezes the flushed offset where it is (the
//! last point known durable), wakes every waiter with an error and keeps the flusher from
//! spinning; the store refuses writes until it is reopened.

use crate::error::StoreError;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Shared state between the flusher thread, appenders and waiters.
#[derive(Debug)]
pub struct FlushSignal {
    requested: AtomicI64,
    flushed: AtomicI64,
    stop: Mutex<bool>,
    cv: Condvar,
    tx: watch::Sender<i64>,
    /// Set once an fsync failed; never cleared (the store must be reopened).
    failed: AtomicBool,
    /// What failed (for the errors handed to waiters and writers).
    failure: Mutex<Option<String>>,
}

impl FlushSignal {
    /// Everything below `flushed` is already durable.
    pub fn new(flushed: i64) -> Self {
        let (tx, _) = watch::channel(flushed);
        Self {
            requested: AtomicI64::new(flushed),
            flushed: AtomicI64::new(flushed),
            stop: Mutex::new(false),
            cv: Condvar::new(),
            tx,
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
        }
    }

    /// The commit log is durable below this offset.
    pub fn flushed(&self) -> i64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Highest offset a waiter asked for.
    pub fn requested(&self) -> i64 {
        self.requested.load(Ordering::Acquire)
    }

    /// Called by the flusher after an fsync covering everything below `offset`. Ignored once
    /// failed: the flushed offset stays at the last point known durable.
    pub fn publish(&self, offset: i64) {
        if self.is_failed() {
            return;
        }
        if offset > self.flushed.fetch_max(offset, Ordering::AcqRel) {
            self.tx.send_replace(offset);
        }
    }

    /// Enters the failed state after a failed fsync (`why` says what failed) and wakes every
    /// waiter, which then gets [`StoreError::PersistFailed`] unless its offset was already
    /// durable. Returns true for the first failure only.
    pub fn fail(&self, why: String) -> bool {
        let mut failure = self.failure.lock();
        if failure.is_some() {
            return false;
        }
        *failure = Some(why);
        self.failed.store(true, Ordering::Release);
        drop(failure);
        self.tx.send_replace(self.flushed());
        true
    }

    /// Whether an fsync failed (see [`Self::fail`]).
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// [`StoreError::PersistFailed`] once failed.
    pub fn check(&self) -> Result<(), StoreError> {
        if !self.is_failed() {
            return Ok(());
        }
        let why = self.failure.lock().clone().unwrap_or_default();
        Err(StoreError::PersistFailed(why))
    }

    /// Sets the durable offset to `offset`, also downwards (the commit log was restarted
    /// there, see `MessageStore::reset_to`).
    pub fn reset(&self, offset: i64) {
        self.requested.store(offset, Ordering::Release);
        self.flushed.store(offset, Ordering::Release);
        self.tx.send_replace(offset);
    }

    /// Asks the flusher to make everything below `offset` durable soon.
    pub fn request(&self, offset: i64) {
        if offset > self.requested.fetch_max(offset, Ordering::AcqRel) {
            let _guard = self.stop.lock();
            self.cv.notify_one();
        }
    }

    /// Flusher side: sleeps until a waiter needs a flush, `interval` elapses or a stop is
    /// requested (once failed, always the whole interval: no retry loop). Returns true when
    /// the flusher must do its final flush and exit.
    pub fn wait_next(&self, interval: Duration) -> bool {
        let mut stop = self.stop.lock();
        if !*stop && (self.requested() <= self.flushed() || self.is_failed()) {
            self.cv.wait_for(&mut stop, interval);
        }
        *stop
    }

    /// Asks the flusher thread to do a final flush and exit.
    pub fn stop(&self) {
        *self.stop.lock() = true;
        self.cv.notify_all();
    }

    /// Resolves true once everything below `offset` is durable, false after `timeout`, if
    /// the store went away or failed before `offset` was durable.
    pub async fn wait_flushed(&self, offset: i64, timeout: Duration) -> bool {
        matches!(self.wait_durable(offset, timeout).await, Ok(true))
    }

    /// `Ok(true)` once everything below `offset` is durable, `Ok(false)` after `timeout` (or if
    /// the store went away), [`StoreError::PersistFailed`] if an fsync failed before `offset`
    /// was durable.
    pub async fn wait_durable(&self, offset: i64, timeout: Duration) -> Result<bool, StoreError> {
        if self.flushed() >= offset {
            return Ok(true);
        }
        self.check()?;
        let mut rx = self.tx.subscribe();
        self.request(offset);
        let waited = rx.wait_for(|v| *v >= offset || self.is_failed());
        let _in_time = tokio::time::timeout(timeout, waited).await;
        if self.flushed() >= offset {
            return Ok(true);
        }
        self.check().map(|()| false)
    }
}

/// Runs `tick(final)` on a named thread: after each wake-up of [`FlushSignal::wait_next`], and
/// once more with `final = true` when stopped.
pub fn spawn(
    signal: std::sync::Arc<FlushSignal>,
    interval: Duration,
    mut tick: impl FnMut(bool) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("rmq-store-flush".into())
        .spawn(move || {
            loop {
                let stop = signal.wait_next(interval);
                tick(stop);
                if stop {
                    break;
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn waiters_share_flushes_and_time_out() {
        let signal = Arc::new(FlushSignal::new(0));
        let end = Arc::new(AtomicI64::new(0));
        let ticks = Arc::new(AtomicUsize::new(0));
        let (s, e, t) = (signal.clone(), end.clone(), ticks.clone());
        let handle = spawn(signal.clone(), Duration::from_secs(3600), move |_| {
            t.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            s.publish(e.load(Ordering::SeqCst));
        })
        .unwrap();
        end.store(1000, Ordering::SeqCst);
        let tasks: Vec<_> = (1..=50)
            .map(|i| {
                let s = signal.clone();
                tokio::spawn(async move { s.wait_flushed(i * 20, Duration::from_secs(5)).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert!(ticks.load(Ordering::SeqCst) < 50, "fsyncs are shared");
        assert!(!signal.wait_flushed(5000, Duration::from_millis(50)).await);
        signal.stop();
        handle.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_wakes_waiters_with_an_error_and_freezes_the_offset() {
        let signal = Arc::new(FlushSignal::new(100));
        let s = signal.clone();
        let waiter =
            tokio::spawn(async move { s.wait_durable(200, Duration::from_secs(30)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(signal.fail("fsync x: injected".into()));
        assert!(
            !signal.fail("again".into()),
            "only the first failure counts"
        );
        let res = waiter.await.unwrap();
        assert!(matches!(res, Err(StoreError::PersistFailed(ref w)) if w.contains("injected")));
        signal.publish(300);
        assert_eq!(signal.flushed(), 100, "never advances once failed");
        assert!(matches!(
            signal.wait_durable(50, Duration::ZERO).await,
            Ok(true)
        ));
        assert!(!signal.wait_flushed(150, Duration::ZERO).await);
    }
}
