//! The cleaning loop: every `cleanResourceInterval` it measures the disk holding the store,
//! refuses or accepts writes, and runs a cleaning pass when [`decide`] says so — the store
//! deletes commit-log segments (one at a time, `deleteCommitLogFilesInterval` apart) and the
//! consume-queue and index files below the new minimum.

use super::{Retention, Trigger, decide};
use rmq_store::{CleanReport, MessageStore, RetentionPass};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Starts the cleaning loop; it ends when `stop` is cancelled.
pub fn spawn(store: Arc<MessageStore>, retention: Arc<Retention>, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let next = check(&store, &retention).await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(next) => {}
            }
        }
    });
}

/// One check; returns when to check again.
async fn check(store: &Arc<MessageStore>, retention: &Arc<Retention>) -> Duration {
    let cfg = retention.config();
    let ratio = match store.disk_usage() {
        Ok(u) => u.ratio(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot measure the disk holding the store; retention waits");
            return cfg.clean_interval;
        }
    };
    let hour = u8::try_from(jiff::Zoned::now().hour()).unwrap_or(0);
    let manual = retention.take_manual_pass();
    let d = decide(&cfg, ratio, hour, manual);
    if retention.observe(ratio, d.refuse_writes) {
        log_refusal_change(d.refuse_writes, ratio, cfg.warning_percent);
    }
    if let Some((trigger, force)) = d.pass {
        run_pass(store, retention, trigger, force).await;
    }
    d.next_check
}

fn log_refusal_change(refused: bool, ratio: f64, warning: u8) {
    let used = format!("{:.1}%", ratio * 100.0);
    if refused {
        tracing::error!(
            used,
            warning_percent = warning,
            "disk full: refusing writes until space returns (reads continue)"
        );
    } else {
        tracing::warn!(
            used,
            "disk space back below diskSpaceWarningLevelRatio: accepting writes again"
        );
    }
}

/// Deletes up to `deleteFileBatchMax` segments, one store call each, pausing between them.
async fn run_pass(
    store: &Arc<MessageStore>,
    retention: &Arc<Retention>,
    trigger: Trigger,
    force: bool,
) {
    let cfg = retention.config();
    let pass = RetentionPass {
        reserved: cfg.file_reserved_time,
        force,
        max_files: 1,
    };
    let mut total = CleanReport::default();
    for i in 0..cfg.delete_batch_max {
        if i > 0 && !cfg.delete_files_interval.is_zero() {
            tokio::time::sleep(cfg.delete_files_interval).await;
        }
        let s = store.clone();
        let p = pass.clone();
        let report = match tokio::task::spawn_blocking(move || s.delete_expired(&p)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(error = %e, reason = trigger.describe(), "retention pass failed");
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "retention pass panicked");
                break;
            }
        };
        let done = report.segments_deleted == 0;
        add(&mut total, &report);
        if done {
            break;
        }
    }
    if total.segments_deleted > 0 {
        retention.count_deleted(total.segments_deleted as u64);
        tracing::info!(
            reason = trigger.describe(),
            segments = total.segments_deleted,
            freed_mib = total.bytes_freed / (1 << 20),
            queue_files = total.queue_files_deleted,
            index_files = total.index_files_deleted,
            commit_log_min_offset = total.min_offset,
            "retention deleted old commit-log segments"
        );
    }
}

fn add(total: &mut CleanReport, r: &CleanReport) {
    total.segments_deleted += r.segments_deleted;
    total.bytes_freed += r.bytes_freed;
    total.queue_files_deleted += r.queue_files_deleted;
    total.index_files_deleted += r.index_files_deleted;
    total.min_offset = r.min_offset;
}
