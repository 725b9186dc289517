//! Flushing: SYNC group commit (`wait_flushed`), ASYNC periodic flush.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_store::FlushMode;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_flush_acknowledges_after_fsync_and_shares_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.commit_log_segment_size = 1 << 20;
    cfg.consume_queue_units_per_file = 1000;
    cfg.flush = FlushMode::Sync;
    cfg.flush_interval = Duration::from_secs(3600); // only waiters drive the flusher
    let store = open(&cfg);
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let s = store.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    let (rec, tags) = record("S", t % 4, &body(i), None);
                    let r = s.put("S", t % 4, rec, tags).unwrap();
                    assert!(
                        s.wait_flushed(r.end_offset(), Duration::from_secs(10))
                            .await
                    );
                    assert!(s.flushed_offset() >= r.end_offset());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.flushed_offset(), store.max_physical_offset());
    // nothing will ever reach this offset: the wait times out
    let start = Instant::now();
    let far = store.max_physical_offset() + 1_000_000;
    assert!(!store.wait_flushed(far, Duration::from_millis(100)).await);
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(store.wait_flushed(0, Duration::ZERO).await);
    store.shutdown().unwrap();
}

#[test]
fn async_flush_catches_up_periodically_and_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.flush_interval = Duration::from_millis(20);
    let store = open(&cfg);
    for i in 0..10 {
        let (rec, tags) = record("A", 0, &body(i), None);
        store.put("A", 0, rec, tags).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.flushed_offset() < store.max_physical_offset() {
        assert!(Instant::now() < deadline, "async flush did not run");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = store.stats();
    assert_eq!(stats.flushed_offset, stats.commit_log_max_offset);
    // wait_flushed also works in ASYNC mode (it wakes the flusher)
    let (rec, tags) = record("A", 0, b"x", None);
    let r = store.put("A", 0, rec, tags).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert!(rt.block_on(store.wait_flushed(r.end_offset(), Duration::from_secs(5))));
    let (rec, tags) = record("A", 0, b"y", None);
    store.put("A", 0, rec, tags).unwrap();
    store.shutdown().unwrap();
    assert_eq!(store.flushed_offset(), store.max_physical_offset());
}
