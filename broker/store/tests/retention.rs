//! Retention (`delete_expired`) and commit log resets (`reset_to`): 64 KiB segments, ages set
//! by moving file modification times back, every remaining record, offset and key checked.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "retention/helpers.rs"]
mod helpers;

use helpers::*;
use rmq_store::{GetStatus, MessageStore, RetentionPass, StoreError};
use std::time::Duration;

/// A pass keeping 10 minutes: segments aged by [`age_segments`] (an hour) are expired, fresh
/// ones are not however slow the test runs.
fn pass(force: bool, max_files: usize) -> RetentionPass {
    RetentionPass {
        reserved: Duration::from_secs(600),
        force,
        max_files,
    }
}

#[test]
fn segments_expire_after_the_reserved_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let puts = fill(&store, 0, 300);
    wait_indexed(&store);
    let n = files(&dir.path().join("commitlog")).len() as i64;
    let one_second = RetentionPass {
        reserved: Duration::from_secs(1),
        force: false,
        max_files: 100,
    };
    std::thread::sleep(Duration::from_millis(1100));
    let r = store.delete_expired(&one_second).unwrap();
    assert_eq!(
        r.segments_deleted as i64,
        n - 1,
        "all but the segment being written"
    );
    check(&store, &puts, (n - 1) * SEG);
}

#[test]
fn expired_segments_and_their_queue_and_index_files_go() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = MessageStore::open(config(root)).unwrap();
    let mut puts = fill(&store, 0, 400);
    wait_indexed(&store);
    let segs = files(&root.join("commitlog"));
    assert!(segs.len() >= 6, "{} segments", segs.len());
    store.flush().unwrap(); // consume queue units reach their files
    let (cq_before, ix_before) = (tree(&root.join("consumequeue")), files(&root.join("index")));
    // nothing is old yet
    let r = store.delete_expired(&pass(false, 10)).unwrap();
    assert_eq!((r.segments_deleted, r.min_offset), (0, 0));
    age_segments(root, 0..4);
    let r = store.delete_expired(&pass(false, 10)).unwrap();
    assert_eq!(r.segments_deleted, 4);
    assert_eq!(r.min_offset, 4 * SEG);
    assert!(r.bytes_freed >= 4 * SEG as u64, "{r:?}");
    assert!(
        r.queue_files_deleted > 0 && r.index_files_deleted > 0,
        "{r:?}"
    );
    assert_eq!(files(&root.join("commitlog")), segs[4..].to_vec());
    let cq_after = tree(&root.join("consumequeue"));
    assert_eq!(cq_after.len(), cq_before.len() - r.queue_files_deleted);
    let ix_after = files(&root.join("index"));
    assert_eq!(ix_after.len(), ix_before.len() - r.index_files_deleted);
    check(&store, &puts, 4 * SEG);
    // the next pass has nothing left to do
    let again = store.delete_expired(&pass(false, 10)).unwrap();
    assert_eq!((again.segments_deleted, again.queue_files_deleted), (0, 0));
    assert_eq!(again.min_offset, 4 * SEG);
    // writes continue the queues; a restart sees the same store
    puts.extend(fill(&store, 400, 430));
    wait_indexed(&store);
    check(&store, &puts, 4 * SEG);
    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(config(root)).unwrap();
    wait_indexed(&store);
    check(&store, &puts, 4 * SEG);
    assert_eq!(store.stats().commit_log_min_offset, 4 * SEG);
    assert_eq!(
        store.stats().earliest_message_time,
        puts.iter()
            .find(|p| p.res.commit_log_offset == 4 * SEG)
            .map(|p| p.res.store_timestamp)
    );
}

#[test]
fn the_first_young_segment_stops_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let puts = fill(&store, 0, 400);
    wait_indexed(&store);
    age_segments(dir.path(), [0, 1, 3, 4]);
    let r = store.delete_expired(&pass(false, 10)).unwrap();
    assert_eq!((r.segments_deleted, r.min_offset), (2, 2 * SEG));
    check(&store, &puts, 2 * SEG);
}

#[test]
fn force_and_max_files_but_never_the_segment_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let mut puts = fill(&store, 0, 400);
    wait_indexed(&store);
    let n = files(&dir.path().join("commitlog")).len();
    let young = RetentionPass {
        reserved: Duration::from_secs(3600),
        ..pass(false, 10)
    };
    assert_eq!(store.delete_expired(&young).unwrap().segments_deleted, 0);
    // forced: young segments go too, at most max_files per pass
    let r = store
        .delete_expired(&RetentionPass {
            force: true,
            max_files: 2,
            ..young.clone()
        })
        .unwrap();
    assert_eq!((r.segments_deleted, r.min_offset), (2, 2 * SEG));
    check(&store, &puts, 2 * SEG);
    // even aged, the last segment (being written) stays
    age_segments(dir.path(), 0..n - 2);
    let r = store.delete_expired(&pass(true, 100)).unwrap();
    assert_eq!(r.segments_deleted, n - 3);
    let last = (n as i64 - 1) * SEG;
    assert_eq!(r.min_offset, last);
    assert_eq!(files(&dir.path().join("commitlog")).len(), 1);
    assert_eq!(
        store
            .delete_expired(&pass(true, 100))
            .unwrap()
            .segments_deleted,
        0
    );
    check(&store, &puts, last);
    // max_files 0 removes no segment
    puts.extend(fill(&store, 400, 500));
    wait_indexed(&store);
    assert_eq!(
        store
            .delete_expired(&pass(true, 0))
            .unwrap()
            .segments_deleted,
        0
    );
    check(&store, &puts, last);
    // every unit of a queue below the min: min = max, offsets continue after a restart
    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(config(dir.path())).unwrap();
    let r = store.delete_expired(&pass(true, 100)).unwrap();
    assert!(r.segments_deleted > 0);
    check(&store, &puts, r.min_offset);
    for p in fill(&store, 500, 503) {
        let before = puts
            .iter()
            .filter(|q| (q.topic, q.queue) == (p.topic, p.queue))
            .count();
        assert_eq!(p.res.queue_offset, before as i64);
    }
}

#[test]
fn reset_to_restarts_an_empty_log_at_a_segment_start() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = MessageStore::open(config(root)).unwrap();
    fill(&store, 0, 200);
    wait_indexed(&store);
    assert!(matches!(
        store.reset_to(SEG + 1),
        Err(StoreError::UnalignedOffset { .. })
    ));
    assert!(store.reset_to(-SEG).is_err());
    let at = 40 * SEG;
    store.reset_to(at).unwrap();
    assert_eq!(
        (store.min_physical_offset(), store.max_physical_offset()),
        (at, at)
    );
    assert!(store.topics().is_empty());
    assert_eq!((store.min_offset("A", 0), store.max_offset("A", 0)), (0, 0));
    let r = store.get_messages("A", 0, 0, 32, usize::MAX, &|_| true);
    assert_eq!(r.status, GetStatus::NoMatchedLogicQueue);
    assert_eq!(files(&root.join("commitlog")).len(), 1);
    assert!(tree(&root.join("consumequeue")).is_empty());
    assert!(!root.join("reset").exists());
    let found = store
        .query_by_key("A", "key-0", false, 4, 0, i64::MAX)
        .unwrap();
    assert!(found.messages.is_empty());
    // new records go at the offset, their queues start at 0
    let puts = fill(&store, 1000, 1090);
    assert_eq!(puts[0].res.commit_log_offset, at);
    assert_eq!(puts[0].res.queue_offset, 0);
    wait_indexed(&store);
    check(&store, &puts, at);
    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(config(root)).unwrap();
    wait_indexed(&store);
    check(&store, &puts, at);
}

#[test]
fn a_reset_interrupted_by_a_crash_completes_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    {
        let store = MessageStore::open(config(root)).unwrap();
        fill(&store, 0, 200);
    }
    // the marker is durable; some files are already gone
    std::fs::write(root.join("reset"), format!("{}\n", 8 * SEG)).unwrap();
    std::fs::remove_dir_all(root.join("consumequeue")).unwrap();
    std::fs::remove_file(&files(&root.join("commitlog"))[0]).unwrap();
    let store = MessageStore::open(config(root)).unwrap();
    assert!(!root.join("reset").exists());
    assert_eq!(store.min_physical_offset(), 8 * SEG);
    assert_eq!(store.max_physical_offset(), 8 * SEG);
    assert!(store.topics().is_empty());
    let puts = fill(&store, 0, 10);
    assert_eq!(puts[0].res.commit_log_offset, 8 * SEG);
    wait_indexed(&store);
    check(&store, &puts, 8 * SEG);
}

/// A slave behind a master whose oldest segments are gone restarts at the master's first
/// offset and replicates from there: its queues continue at the master's queue offsets.
#[test]
fn a_reset_slave_continues_the_masters_queue_offsets() {
    let (mdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = MessageStore::open(config(mdir.path())).unwrap();
    let puts = fill(&master, 0, 400);
    wait_indexed(&master);
    let r = master.delete_expired(&pass(true, 3)).unwrap();
    assert_eq!(r.min_offset, 3 * SEG);
    let slave = MessageStore::open(config(sdir.path())).unwrap();
    fill(&slave, 0, 5); // diverged local data, behind the master's min
    slave.reset_to(master.min_physical_offset()).unwrap();
    let mut at = slave.max_physical_offset();
    while at < master.max_physical_offset() {
        let chunk = master.read_raw(at, 32 * 1024).unwrap().unwrap();
        slave.append_raw(at, &chunk).unwrap();
        at += chunk.len() as i64;
    }
    wait_indexed(&slave);
    check(&slave, &puts, 3 * SEG);
}

/// Relative paths of every file under `root`, sorted: commit log segments, then consume queue
/// files, then index files — the order in which a pass removes them.
fn relative_tree(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    tree(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .collect()
}

/// A kill -9 at any point of a pass: every prefix of the files the pass removes is a store that
/// opens cleanly, reads right, takes new writes, and whose next pass finishes the job.
#[test]
fn every_crash_point_of_a_pass_reopens_cleanly() {
    let base = tempfile::tempdir().unwrap();
    let puts = {
        let store = MessageStore::open(config(base.path())).unwrap();
        let puts = fill(&store, 0, 400);
        wait_indexed(&store);
        puts
    };
    age_segments(base.path(), 0..4);
    let probe = tempfile::tempdir().unwrap();
    copy_tree(base.path(), probe.path());
    let before = relative_tree(probe.path());
    let store = MessageStore::open(config(probe.path())).unwrap();
    let report = store.delete_expired(&pass(false, 10)).unwrap();
    drop(store);
    let after = relative_tree(probe.path());
    let removed: Vec<_> = before.iter().filter(|p| !after.contains(p)).collect();
    let counts = (
        report.segments_deleted,
        report.queue_files_deleted,
        report.index_files_deleted,
    );
    let kinds = ["commitlog", "consumequeue", "index"]
        .map(|k| removed.iter().filter(|p| p.starts_with(k)).count());
    assert_eq!((kinds[0], kinds[1], kinds[2]), counts);
    assert!(counts.1 > 0 && counts.2 > 0);
    for k in 0..=removed.len() {
        let state = tempfile::tempdir().unwrap();
        copy_tree(base.path(), state.path());
        for p in &removed[..k] {
            std::fs::remove_file(state.path().join(p)).unwrap();
        }
        std::fs::write(state.path().join("abort"), b"").unwrap();
        let store = MessageStore::open(config(state.path())).unwrap();
        wait_indexed(&store);
        let cl_min = k.min(4) as i64 * SEG;
        check(&store, &puts, cl_min);
        let mut more = puts.clone();
        more.extend(fill(&store, 400, 406));
        wait_indexed(&store);
        check(&store, &more, cl_min);
        let r = store.delete_expired(&pass(false, 10)).unwrap();
        assert_eq!(r.min_offset, 4 * SEG, "state {k}");
        check(&store, &more, 4 * SEG);
        for p in &removed {
            assert!(!state.path().join(p).exists(), "state {k}: {p:?} left");
        }
    }
}

/// Passes run beside a writer and a reader: every pull is FOUND (possibly past records removed
/// while it ran), OFFSET_TOO_SMALL / MESSAGE_WAS_REMOVING (then the reader moves on) or at the
/// end; no error, no wrong record.
#[test]
fn passes_run_beside_writers_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            fill(&store, 0, 1500);
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        s.spawn(|| {
            let mut offset = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let r = store.get_messages("A", 0, offset, 16, usize::MAX, &|_| true);
                match r.status {
                    GetStatus::Found => {
                        // Like Java's getMessage, units whose record a pass removed while the
                        // pull ran are skipped: the batch may start past `offset`, but never
                        // before it, and it is consecutive from its first record on.
                        let (first, _) =
                            rmq_protocol::message::decode_message(&r.messages[0]).unwrap();
                        assert!(first.queue_offset >= offset, "went back at {offset}");
                        if first.queue_offset > offset {
                            let removed = store.min_physical_offset() > 0;
                            assert!(removed, "skipped from {offset} though nothing was removed");
                        }
                        offset = first.queue_offset;
                        for m in &r.messages {
                            let (msg, _) = rmq_protocol::message::decode_message(m).unwrap();
                            assert_eq!(msg.queue_offset, offset);
                            offset += 1;
                        }
                        assert_eq!(r.next_begin_offset, offset);
                    }
                    GetStatus::OffsetTooSmall | GetStatus::MessageWasRemoving => {
                        offset = r.next_begin_offset;
                    }
                    GetStatus::OffsetOverflowOne | GetStatus::NoMatchedLogicQueue => {}
                    GetStatus::NoMessageInQueue => {}
                    other => panic!("unexpected {other:?} at {offset}"),
                }
            }
        });
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            store.delete_expired(&pass(true, 1)).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    wait_indexed(&store);
    let r = store.delete_expired(&pass(true, 100)).unwrap();
    assert_eq!(files(&dir.path().join("commitlog")).len(), 1);
    assert_eq!(r.min_offset, store.min_physical_offset());
}
