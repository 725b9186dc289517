//! Retention and disk safety at runtime: the settings in force (changed by UPDATE_BROKER_CONFIG),
//! the last disk reading, whether writes are refused, and the counters runtime info shows. The
//! cleaning loop (`service`) measures the disk and asks [`decide`] what to do; the send path asks
//! [`Retention::refusal`] before it writes.

mod decide;
mod service;

pub use decide::{Decision, Trigger, decide};
pub use service::spawn;

use crate::config::{ConfigError, RetentionConfig};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// How many cleaning passes one DELETE_EXPIRED_COMMITLOG request forces (as the Java broker).
const MANUAL_PASSES: u32 = 20;

/// Shared retention state: one per broker.
#[derive(Debug)]
pub struct Retention {
    config: RwLock<RetentionConfig>,
    writes_refused: AtomicBool,
    /// The last disk usage ratio (`f64` bits), as `df` computes it.
    disk_ratio: AtomicU64,
    manual_passes: AtomicU32,
    skipped_messages: AtomicU64,
    segments_deleted: AtomicU64,
}

impl Retention {
    /// Retention with the settings of broker.conf.
    pub fn new(config: RetentionConfig) -> Self {
        Self {
            config: RwLock::new(config),
            writes_refused: AtomicBool::new(false),
            disk_ratio: AtomicU64::new(0f64.to_bits()),
            manual_passes: AtomicU32::new(0),
            skipped_messages: AtomicU64::new(0),
            segments_deleted: AtomicU64::new(0),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> RetentionConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes settings at runtime (UPDATE_BROKER_CONFIG): all of `entries` apply, or none.
    pub fn update(&self, entries: &[(String, String)], origin: &str) -> Result<(), ConfigError> {
        let mut next = self.config();
        for (k, v) in entries {
            next.apply(k, v.trim(), origin)?;
        }
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }

    /// Why a write must be refused now (the disk is above `diskSpaceWarningLevelRatio`), as
    /// the remark the producer sees; `None` while writes are accepted.
    pub fn refusal(&self) -> Option<String> {
        if !self.writes_refused.load(Ordering::Relaxed) {
            return None;
        }
        Some(format!(
            "service not available now: the broker's disk is full (used {:.1}% >= diskSpaceWarningLevelRatio {}%); \
             writes resume once retention or an operator frees space (reads continue)",
            self.disk_ratio() * 100.0,
            self.config().warning_percent
        ))
    }

    /// Records a disk reading and whether writes are refused; true when the refusal changed.
    pub fn observe(&self, ratio: f64, refuse_writes: bool) -> bool {
        self.disk_ratio.store(ratio.to_bits(), Ordering::Relaxed);
        self.writes_refused.swap(refuse_writes, Ordering::Relaxed) != refuse_writes
    }

    /// The last disk usage ratio (0..1), `used / (used + available)` like `df`.
    pub fn disk_ratio(&self) -> f64 {
        f64::from_bits(self.disk_ratio.load(Ordering::Relaxed))
    }

    /// DELETE_EXPIRED_COMMITLOG: the next passes delete expired segments whatever the hour.
    pub fn request_manual_delete(&self) {
        self.manual_passes.store(MANUAL_PASSES, Ordering::Relaxed);
    }

    /// Takes one forced pass, if any is left.
    pub fn take_manual_pass(&self) -> bool {
        self.manual_passes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Counts messages a consumer skipped because retention deleted them before it read them.
    pub fn count_skipped(&self, n: u64) {
        self.skipped_messages.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts deleted commit-log segments.
    pub fn count_deleted(&self, segments: u64) {
        self.segments_deleted.fetch_add(segments, Ordering::Relaxed);
    }

    /// Messages consumers skipped since start (runtime info `retentionSkippedMessages`).
    pub fn skipped_messages(&self) -> u64 {
        self.skipped_messages.load(Ordering::Relaxed)
    }

    /// Segments deleted since start (runtime info `retentionDeletedSegments`).
    pub fn segments_deleted(&self) -> u64 {
        self.segments_deleted.load(Ordering::Relaxed)
    }

    /// Whether writes are refused now.
    pub fn writes_refused(&self) -> bool {
        self.writes_refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_update_is_all_or_nothing() {
        let r = Retention::new(RetentionConfig::default());
        let good = [("fileReservedTime".to_owned(), "24".to_owned())];
        r.update(&good, "t").unwrap();
        assert_eq!(r.config().file_reserved_time.as_secs(), 24 * 3600);
        let mixed = [
            ("deleteWhen".to_owned(), "05".to_owned()),
            ("diskMaxUsedSpaceRatio".to_owned(), "lots".to_owned()),
        ];
        assert!(r.update(&mixed, "t").is_err());
        assert_eq!(
            r.config().delete_when,
            vec![4],
            "nothing of a refused update applies"
        );
    }

    #[test]
    fn refusal_follows_the_readings() {
        let r = Retention::new(RetentionConfig::default());
        assert!(r.refusal().is_none());
        assert!(r.observe(0.93, true));
        let why = r.refusal().unwrap();
        assert!(
            why.contains("disk is full") && why.contains("93.0%"),
            "{why}"
        );
        assert!(!r.observe(0.94, true), "no change");
        assert!(r.observe(0.5, false));
        assert!(r.refusal().is_none());
    }

    #[test]
    fn a_manual_request_forces_a_bounded_number_of_passes() {
        let r = Retention::new(RetentionConfig::default());
        assert!(!r.take_manual_pass());
        r.request_manual_delete();
        let passes = std::iter::from_fn(|| r.take_manual_pass().then_some(())).count();
        assert_eq!(passes, MANUAL_PASSES as usize);
    }
}
