//! The commit log's write-back buffer seen from outside the store: readers (pulls, lookups,
//! the key index) see a record as soon as `put` returns, raw reads for HA write the buffer out
//! first, a flush writes the buffer out before its fsync, a SYNC acknowledgement waits for
//! that fsync, and a segment roll and shutdown write the buffer out.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_store::{FaultHook, FaultPoint, FlushMode, GetStatus, MessageStore, StoreConfig};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A store config whose flusher never runs on its own and whose buffer only a roll, a flush or
/// shutdown writes out.
fn config(dir: &Path, mode: FlushMode) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.commit_log_segment_size = 1 << 20;
    c.consume_queue_units_per_file = 1000;
    c.flush = mode;
    c.flush_interval = Duration::from_secs(3600);
    c.commit_log_write_back = 1 << 20;
    c
}

/// Length of the commit log segment file starting at `start`.
fn segment_len(root: &Path, start: i64) -> u64 {
    let path = root.join("commitlog").join(format!("{start:020}"));
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
fn readers_see_a_record_as_soon_as_put_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&config(dir.path(), FlushMode::Async));
    let (rec, tags) = record("W", 0, b"buffered", Some("t"));
    let r = store.put("W", 0, rec, tags).unwrap();
    assert_eq!(
        segment_len(dir.path(), 0),
        0,
        "the record is only in the buffer"
    );
    // a pull, the record by offset, its store time
    let got = store.get_messages("W", 0, 0, 32, usize::MAX, &all);
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(decode(&got.messages[0]).body.as_ref(), b"buffered");
    let rec = store.read_record(0).unwrap().unwrap();
    assert_eq!(rec, got.messages[0]);
    assert_eq!(store.store_time_at("W", 0, 0), Some(r.store_timestamp));
    // the key index thread scans the buffered tail too
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.indexed_offset() < store.max_physical_offset() {
        assert!(Instant::now() < deadline, "the key index does not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
    let found = store.query_by_key("W", "K8", true, 4, 0, i64::MAX).unwrap();
    assert_eq!(found.messages, vec![rec.clone()]);
    assert_eq!(
        segment_len(dir.path(), 0),
        0,
        "nothing wrote the buffer out"
    );
    // the bytes HA sends a slave: written out first
    let raw = store.read_raw(0, 1 << 20).unwrap().unwrap();
    assert_eq!(raw, rec);
    assert_eq!(segment_len(dir.path(), 0), r.size as u64);
}

/// A fault hook that records the length of every commit log segment file at its fsync.
fn recording_hook(commitlog: PathBuf, seen: Arc<Mutex<Vec<u64>>>) -> FaultHook {
    FaultHook(Arc::new(move |point, path: &Path| {
        if point == FaultPoint::SyncData && path.starts_with(&commitlog) {
            seen.lock().unwrap().push(std::fs::metadata(path)?.len());
        }
        Ok(())
    }))
}

#[test]
fn a_flush_writes_the_buffer_out_before_its_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = config(dir.path(), FlushMode::Async);
    cfg.fault = Some(recording_hook(dir.path().join("commitlog"), seen.clone()));
    let store = open(&cfg);
    seen.lock().unwrap().clear();
    for i in 0..10 {
        let (rec, tags) = record("W", 0, &body(i), None);
        store.put("W", 0, rec, tags).unwrap();
    }
    let end = store.max_physical_offset();
    assert_eq!(segment_len(dir.path(), 0), 0);
    store.flush().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![end as u64],
        "one fsync, after the write-out"
    );
    assert_eq!(store.flushed_offset(), end);
    assert_eq!(segment_len(dir.path(), 0), end as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_flush_acknowledges_only_after_the_fsync_of_the_written_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let commitlog = dir.path().join("commitlog");
    // commit log fsyncs wait while `held`, after recording the file length they cover
    let held = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (h, s) = (held.clone(), seen.clone());
    let mut cfg = config(dir.path(), FlushMode::Sync);
    cfg.fault = Some(FaultHook(Arc::new(move |point, path: &Path| {
        if point == FaultPoint::SyncData && path.starts_with(&commitlog) {
            s.lock().unwrap().push(std::fs::metadata(path)?.len());
            while h.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    })));
    let store = open(&cfg);
    seen.lock().unwrap().clear();
    held.store(true, Ordering::SeqCst);
    let (rec, tags) = record("W", 0, b"sync", None);
    let r = store.put("W", 0, rec, tags).unwrap();
    assert_eq!(
        segment_len(dir.path(), 0),
        0,
        "buffered until the flusher runs"
    );
    let s = store.clone();
    let waiter = tokio::spawn(async move {
        s.wait_durable(r.end_offset(), Duration::from_secs(30))
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the flusher never synced");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // the fsync is under way and covers the written record: no acknowledgement yet
    assert_eq!(*seen.lock().unwrap(), vec![r.end_offset() as u64]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiter.is_finished(),
        "acknowledged before its fsync returned"
    );
    assert!(store.flushed_offset() < r.end_offset());
    held.store(false, Ordering::SeqCst);
    assert!(waiter.await.unwrap().unwrap());
    assert_eq!(store.flushed_offset(), r.end_offset());
    store.shutdown().unwrap();
}

#[test]
fn a_segment_roll_and_shutdown_write_the_buffer_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FlushMode::Async);
    cfg.commit_log_segment_size = 4096;
    let store = open(&cfg);
    let mut puts = Vec::new();
    while store.max_physical_offset() < 2 * 4096 + 100 {
        let (rec, tags) = record("W", 0, &body(puts.len()), None);
        puts.push(store.put("W", 0, rec, tags).unwrap());
    }
    // the two finished segments are in their files up to their filler; the third is buffered
    for seg in [0, 4096] {
        let last = puts
            .iter()
            .filter(|p| p.commit_log_offset / 4096 == seg / 4096)
            .map(|p| p.end_offset())
            .max()
            .unwrap();
        assert_eq!(segment_len(dir.path(), seg), (last - seg) as u64 + 8);
    }
    assert_eq!(segment_len(dir.path(), 8192), 0);
    store.shutdown().unwrap();
    let end = store.max_physical_offset();
    assert_eq!(segment_len(dir.path(), 8192), (end - 8192) as u64);
    drop(store);
    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.max_physical_offset(), end);
    let got = store.get_messages("W", 0, 0, 1000, usize::MAX, &all);
    assert_eq!(got.messages.len(), puts.len());
    for (i, m) in got.messages.iter().enumerate() {
        assert_eq!(decode(m).body.as_ref(), &body(i)[..]);
    }
}
