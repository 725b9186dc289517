//! Durability under power loss: a failed fsync is never retried into an acknowledgment, and
//! every created file's directory entry is fsynced (observed through `StoreConfig::fault`).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_store::{FaultHook, FaultPoint, FlushMode, StoreError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fsync_fails_the_waiter_and_later_puts_and_keeps_acknowledged_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.flush = FlushMode::Sync;
    cfg.flush_interval = Duration::from_secs(3600); // only waiters drive the flusher
    let failing = Arc::new(AtomicBool::new(false));
    let f = failing.clone();
    let commitlog = dir.path().join("commitlog");
    cfg.fault = Some(FaultHook(Arc::new(move |point, path: &Path| {
        let hit = point == FaultPoint::SyncData && path.starts_with(&commitlog);
        match hit && f.load(Ordering::SeqCst) {
            true => Err(io::Error::other("injected EIO")),
            false => Ok(()),
        }
    })));
    let store = open(&cfg);
    let mut acked = Vec::new();
    for i in 0..10 {
        let (rec, tags) = record("F", 0, &body(i), None);
        let r = store.put("F", 0, rec, tags).unwrap();
        let durable = store.wait_durable(r.end_offset(), Duration::from_secs(5));
        assert!(durable.await.unwrap());
        acked.push(i);
    }
    let flushed = store.flushed_offset();
    failing.store(true, Ordering::SeqCst);
    let (rec, tags) = record("F", 0, &body(10), None);
    let r = store.put("F", 0, rec, tags).unwrap();
    let res = store
        .wait_durable(r.end_offset(), Duration::from_secs(5))
        .await;
    assert!(matches!(res, Err(StoreError::PersistFailed(_))), "{res:?}");
    assert!(
        !store
            .wait_flushed(r.end_offset(), Duration::from_secs(1))
            .await
    );
    assert!(store.is_failed());
    assert_eq!(
        store.flushed_offset(),
        flushed,
        "never past the failed fsync"
    );
    let (rec, tags) = record("F", 0, &body(11), None);
    let later = store.put("F", 0, rec, tags);
    assert!(
        matches!(later, Err(StoreError::PersistFailed(_))),
        "{later:?}"
    );
    failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        store.flushed_offset(),
        flushed,
        "no retry into an acknowledgment"
    );
    assert!(matches!(store.flush(), Err(StoreError::PersistFailed(_))));
    assert!(
        store.shutdown().is_err(),
        "a failed store cannot shut down cleanly"
    );
    assert!(dir.path().join("abort").exists());
    drop(store);

    cfg.fault = None;
    let store = open(&cfg);
    let got = store.get_messages("F", 0, 0, 100, usize::MAX, &all);
    assert!(got.messages.len() >= acked.len());
    for (i, m) in acked.iter().zip(&got.messages) {
        assert_eq!(decode(m).body.as_ref(), body(*i).as_slice());
    }
    assert!(!store.is_failed());
    let (rec, tags) = record("F", 0, &body(12), None);
    assert!(
        store.put("F", 0, rec, tags).is_ok(),
        "writable again after reopening"
    );
}

#[test]
fn created_files_have_their_directory_synced() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.index_entries_per_file = 16;
    let syncs: Arc<Mutex<Vec<(FaultPoint, PathBuf)>>> = Arc::default();
    let s = syncs.clone();
    cfg.fault = Some(FaultHook(Arc::new(move |point, path: &Path| {
        s.lock().unwrap().push((point, path.to_path_buf()));
        Ok(())
    })));
    let store = open(&cfg);
    for i in 0..40 {
        let (rec, tags) = record("D", i as i32 % 2, &body(i), Some("t"));
        store.put("D", i as i32 % 2, rec, tags).unwrap();
    }
    store.flush().unwrap();
    let dir_syncs = |d: PathBuf| {
        let syncs = syncs.lock().unwrap();
        syncs
            .iter()
            .filter(|(p, path)| *p == FaultPoint::SyncDir && *path == d)
            .count()
    };
    let files = |d: PathBuf| std::fs::read_dir(d).unwrap().count();
    let cl = dir.path().join("commitlog");
    assert!(files(cl.clone()) > 2, "several segments");
    assert!(
        dir_syncs(cl.clone()) >= files(cl),
        "one per segment created"
    );
    for q in 0..2 {
        let qdir = dir.path().join("consumequeue/D").join(q.to_string());
        assert!(files(qdir.clone()) > 2, "several queue files");
        assert!(dir_syncs(qdir.clone()) >= files(qdir), "one per queue file");
    }
    assert!(
        dir_syncs(dir.path().join("consumequeue/D")) >= 2,
        "queue directories"
    );
    assert!(
        dir_syncs(dir.path().join("consumequeue")) >= 1,
        "topic directory"
    );
    assert!(dir_syncs(dir.path().join("index")) >= 1, "index file");
    assert!(
        dir_syncs(dir.path().to_path_buf()) >= 3,
        "checkpoint, abort, directories"
    );
    store.shutdown().unwrap();
}
