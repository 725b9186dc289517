//! When to rebuild a TLS config: files are compared by (mtime, length) stamps, and a change that
//! failed to load is not retried (nor logged again) until the files change once more. Plus the
//! periodic task that calls `ServerTls::reload_if_changed`.

use super::ServerTls;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A file's (modification time, length); `None` when it cannot be stat'ed (missing, no access).
pub(crate) type Stamp = Option<(SystemTime, u64)>;

/// The stamps of `paths`, in order.
pub(crate) fn stamps(paths: &[&Path]) -> Vec<Stamp> {
    paths
        .iter()
        .map(|p| {
            let meta = std::fs::metadata(p).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// What to do with the files as they are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Same as the config in use.
    Unchanged,
    /// Same as the last attempt, which failed: keep quiet until they change again.
    KnownBroken,
    /// Changed: build a new config.
    Rebuild,
}

/// The stamps of the config in use and of the last failed attempt.
#[derive(Debug)]
pub(crate) struct ReloadState {
    applied: Vec<Stamp>,
    failed: Option<Vec<Stamp>>,
}

impl ReloadState {
    /// State after loading files with these stamps.
    pub(crate) fn new(applied: Vec<Stamp>) -> Self {
        Self {
            applied,
            failed: None,
        }
    }

    /// Compares the current stamps with the applied and the failed ones.
    pub(crate) fn decide(&self, now: &[Stamp]) -> Decision {
        if now == self.applied.as_slice() {
            Decision::Unchanged
        } else if self.failed.as_deref() == Some(now) {
            Decision::KnownBroken
        } else {
            Decision::Rebuild
        }
    }

    /// Files with these stamps are now in use.
    pub(crate) fn applied(&mut self, now: Vec<Stamp>) {
        self.applied = now;
        self.failed = None;
    }

    /// Files with these stamps could not be used.
    pub(crate) fn failed(&mut self, now: Vec<Stamp>) {
        self.failed = Some(now);
    }
}

impl ServerTls {
    /// Checks the files every `period` until `stop` is cancelled and swaps in a new config when
    /// they changed (errors are logged by `reload_if_changed`). File reads run off the async
    /// threads.
    pub fn spawn_reload(
        self: Arc<Self>,
        period: Duration,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let tls = self.clone();
                // The outcome is logged inside; a panic in the blocking task is not expected.
                let _ = tokio::task::spawn_blocking(move || tls.reload_if_changed()).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, len: u64) -> Stamp {
        Some((SystemTime::UNIX_EPOCH + Duration::from_secs(secs), len))
    }

    #[test]
    fn changes_rebuild_once_and_failures_stay_quiet() {
        let mut state = ReloadState::new(vec![at(1, 10), at(1, 20)]);
        assert_eq!(state.decide(&[at(1, 10), at(1, 20)]), Decision::Unchanged);
        let broken = vec![at(2, 10), at(1, 20)];
        assert_eq!(state.decide(&broken), Decision::Rebuild);
        state.failed(broken.clone());
        assert_eq!(state.decide(&broken), Decision::KnownBroken);
        let fixed = vec![at(2, 10), at(3, 21)];
        assert_eq!(state.decide(&fixed), Decision::Rebuild);
        state.applied(fixed.clone());
        assert_eq!(state.decide(&fixed), Decision::Unchanged);
        assert_eq!(state.decide(&[at(2, 10), None]), Decision::Rebuild);
    }

    #[test]
    fn stamps_follow_length_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.pem");
        std::fs::write(&f, "abc").unwrap();
        let gone = dir.path().join("gone.pem");
        let s = stamps(&[&f, &gone]);
        assert_eq!(s[0].map(|(_, len)| len), Some(3));
        assert_eq!(s[1], None);
    }
}
