//! Reopen and recovery: clean restarts, torn tails, garbage, consume queues ahead of and behind
//! the commit log, lost or damaged checkpoints, full rebuilds.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_store::{GetStatus, MessageStore, PutResult, StoreConfig, StoreError};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

fn segments(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Puts `n` messages on T/0 and T/1 alternately; flushes after `checkpoint_after` and keeps a
/// copy of that (older) checkpoint; shuts down cleanly. Returns the results.
fn fill(cfg: &StoreConfig, n: usize, checkpoint_after: usize) -> (Vec<PutResult>, Vec<u8>) {
    let store = open(cfg);
    let mut res = vec![];
    let mut old_cp = vec![];
    for i in 0..n {
        let q = (i % 2) as i32;
        let (rec, tags) = record("T", q, &body(i), Some("tag"));
        res.push(store.put("T", q, rec, tags).unwrap());
        if i + 1 == checkpoint_after {
            store.flush().unwrap();
            old_cp = fs::read(cfg.root_dir.join("checkpoint")).unwrap();
        }
    }
    store.shutdown().unwrap();
    assert!(!cfg.root_dir.join("abort").exists());
    (res, old_cp)
}

/// Makes the directory look like a crash after the old checkpoint.
fn as_crashed(cfg: &StoreConfig, old_cp: &[u8]) {
    fs::write(cfg.root_dir.join("checkpoint"), old_cp).unwrap();
    fs::write(cfg.root_dir.join("abort"), b"").unwrap();
}

/// Every message `i < upto` is readable through its queue and by commit log offset, intact.
fn check_readable(store: &MessageStore, res: &[PutResult], upto: usize) {
    for (i, r) in res.iter().enumerate().take(upto) {
        let q = (i % 2) as i32;
        let got = store.get_messages("T", q, r.queue_offset, 1, usize::MAX, &all);
        assert_eq!(got.status, GetStatus::Found, "message {i}");
        let m = decode(&got.messages[0]);
        assert_eq!(&m.body[..], &body(i)[..]);
        assert_eq!(m.commit_log_offset, r.commit_log_offset);
        let by_offset = store.read_record(r.commit_log_offset).unwrap().unwrap();
        assert_eq!(by_offset, got.messages[0]);
    }
}

fn queue_total(store: &MessageStore) -> i64 {
    store.max_offset("T", 0) + store.max_offset("T", 1)
}

#[test]
fn clean_restart_keeps_everything_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, _) = fill(&cfg, 30, 1);
    let store = open(&cfg);
    assert!(dir.path().join("abort").exists());
    assert_eq!(queue_total(&store), 30);
    check_readable(&store, &res, 30);
    assert_eq!(store.max_physical_offset(), res[29].end_offset());
    let (rec, tags) = record("T", 0, b"after", None);
    let r = store.put("T", 0, rec, tags).unwrap();
    assert_eq!(r.queue_offset, 15);
    assert!(r.store_timestamp >= res[29].store_timestamp);
    assert!(r.commit_log_offset >= res[29].end_offset());
}

#[test]
fn torn_tail_with_garbage_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, old_cp) = fill(&cfg, 30, 10);
    as_crashed(&cfg, &old_cp);
    // tear the last record in the middle and append garbage after it
    let last = res[29];
    let seg = segments(dir.path()).pop().unwrap();
    let seg_start: i64 = seg.file_name().unwrap().to_str().unwrap().parse().unwrap();
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len((last.commit_log_offset - seg_start) as u64 + 40)
        .unwrap();
    drop(f);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[0xA5; 77]).unwrap();
    drop(f);

    let store = open(&cfg);
    assert_eq!(store.max_physical_offset(), last.commit_log_offset);
    assert_eq!(queue_total(&store), 29);
    check_readable(&store, &res, 29);
    assert_eq!(store.read_record(last.commit_log_offset).unwrap(), None);
    let r = store.get_messages("T", 1, last.queue_offset, 32, usize::MAX, &all);
    assert_eq!(r.status, GetStatus::OffsetOverflowOne);
    // the slot is reused by the next put
    let (rec, tags) = record("T", 1, b"replacement", None);
    let r = store.put("T", 1, rec, tags).unwrap();
    assert_eq!(
        (r.commit_log_offset, r.queue_offset),
        (last.commit_log_offset, last.queue_offset)
    );
    store.shutdown().unwrap();
    drop(store);
    let store = open(&cfg);
    assert_eq!(queue_total(&store), 30);
    check_readable(&store, &res, 29);
}

#[test]
fn garbage_after_a_complete_tail_and_bad_crc() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, old_cp) = fill(&cfg, 21, 5);
    as_crashed(&cfg, &old_cp);
    let seg = segments(dir.path()).pop().unwrap();
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[0x11; 50]).unwrap();
    drop(f);
    {
        let store = open(&cfg);
        assert_eq!(queue_total(&store), 21);
        check_readable(&store, &res, 21);
        assert_eq!(store.max_physical_offset(), res[20].end_offset());
        store.shutdown().unwrap();
    }
    // a body byte flipped in the last record (complete length, wrong CRC): it is cut
    as_crashed(&cfg, &old_cp);
    let last = res[20];
    let seg_start = last.commit_log_offset - last.commit_log_offset % 1024;
    let path = dir.path().join(format!("commitlog/{seg_start:020}"));
    let mut bytes = fs::read(&path).unwrap();
    let body_pos = (last.commit_log_offset - seg_start) as usize + 88; // IPv4 body start
    bytes[body_pos] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let store = open(&cfg);
    assert_eq!(queue_total(&store), 20);
    check_readable(&store, &res, 20);
}

#[test]
fn consume_queue_ahead_of_the_commit_log_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, old_cp) = fill(&cfg, 30, 10);
    as_crashed(&cfg, &old_cp);
    // lose the last three records from the commit log (cut at a record boundary)
    let cut = res[27].commit_log_offset;
    for seg in segments(dir.path()) {
        let start: i64 = seg.file_name().unwrap().to_str().unwrap().parse().unwrap();
        if start >= cut && start > 0 {
            fs::remove_file(&seg).unwrap();
        } else if start + 1024 > cut {
            OpenOptions::new()
                .write(true)
                .open(&seg)
                .unwrap()
                .set_len((cut - start) as u64)
                .unwrap();
        }
    }
    let store = open(&cfg);
    assert_eq!(queue_total(&store), 27);
    assert_eq!(store.max_offset("T", 1), 13); // lost 27 and 29
    assert_eq!(store.max_offset("T", 0), 14); // lost 28
    check_readable(&store, &res, 27);
    let r = store.get_messages("T", 1, 13, 32, usize::MAX, &all);
    assert_eq!(r.status, GetStatus::OffsetOverflowOne);
}

#[test]
fn consume_queue_behind_the_commit_log_is_redispatched() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, old_cp) = fill(&cfg, 30, 10);
    as_crashed(&cfg, &old_cp);
    // queue 0: drop its newest file and cut a unit in half; queue 1: drop a trailing unit and
    // zero another (a power-loss hole)
    let q0 = dir.path().join("consumequeue/T/0");
    let mut files: Vec<_> = fs::read_dir(&q0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    fs::remove_file(files.pop().unwrap()).unwrap();
    let last = files.pop().unwrap();
    OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(70)
        .unwrap();
    let q1 = dir.path().join("consumequeue/T/1");
    let mut files: Vec<_> = fs::read_dir(&q1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let last = files.pop().unwrap();
    let mut b = fs::read(&last).unwrap();
    let n = b.len();
    b[n - 20..].fill(0);
    fs::write(&last, &b).unwrap();
    let store = open(&cfg);
    assert_eq!(queue_total(&store), 30);
    check_readable(&store, &res, 30);
}

#[test]
fn missing_consume_queues_are_rebuilt_from_the_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, _) = fill(&cfg, 30, 1);
    fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let store = open(&cfg);
    assert_eq!(queue_total(&store), 30);
    check_readable(&store, &res, 30);
}

#[test]
fn lost_or_damaged_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, _) = fill(&cfg, 30, 1);
    fs::remove_file(dir.path().join("checkpoint")).unwrap();
    {
        let store = open(&cfg);
        assert_eq!(queue_total(&store), 30);
        check_readable(&store, &res, 30);
    }
    fs::write(dir.path().join("checkpoint"), [0xffu8; 128]).unwrap();
    let store = open(&cfg);
    assert_eq!(queue_total(&store), 30);
    check_readable(&store, &res, 30);
}

#[test]
fn corruption_below_the_durable_offset_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, _) = fill(&cfg, 30, 1);
    // full rebuild scans everything; an early record with a bad CRC is below the checkpoint
    fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let path = dir.path().join("commitlog/00000000000000000000");
    let mut bytes = fs::read(&path).unwrap();
    bytes[res[1].commit_log_offset as usize + 88] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    match MessageStore::open(cfg.clone()) {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("refusing"), "{msg}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // nothing was cut
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn changed_segment_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    fill(&cfg, 30, 1);
    let mut other = cfg.clone();
    other.commit_log_segment_size = 4096;
    assert!(matches!(
        MessageStore::open(other),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn tail_ending_with_a_filler() {
    // fill until a record just rolled to a new segment, then cut that segment away: the
    // recovered end is the start of the (recreated) next segment
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, old_cp) = fill(&cfg, 12, 2);
    let rolled = res
        .iter()
        .position(|r| r.commit_log_offset % 1024 == 0 && r.commit_log_offset > 0)
        .unwrap();
    as_crashed(&cfg, &old_cp);
    let start = res[rolled].commit_log_offset;
    for seg in segments(dir.path()) {
        let s: i64 = seg.file_name().unwrap().to_str().unwrap().parse().unwrap();
        if s >= start {
            fs::remove_file(&seg).unwrap();
        }
    }
    let store = open(&cfg);
    assert_eq!(store.max_physical_offset(), start);
    assert_eq!(queue_total(&store), rolled as i64);
    check_readable(&store, &res, rolled);
    let (rec, tags) = record("T", (rolled % 2) as i32, &body(rolled), Some("tag"));
    let r = store.put("T", (rolled % 2) as i32, rec, tags).unwrap();
    assert_eq!(r.commit_log_offset, start);
}

#[test]
fn changed_consume_queue_file_size_rebuilds_the_queues() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let (res, _) = fill(&cfg, 30, 1);
    let mut other = cfg.clone();
    other.consume_queue_units_per_file = 3; // old files are named for 4 units per file
    let store = open(&other);
    assert_eq!(queue_total(&store), 30);
    check_readable(&store, &res, 30);
}
