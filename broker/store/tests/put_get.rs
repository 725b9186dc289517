//! Appends and reads: segment boundaries, fillers, batches, tag filters, every pull status.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_protocol::message::{sys_flag, tags_hash_code};
use rmq_store::{GetStatus, MessageStore, PutResult, StoreError};
use std::sync::{Arc, Mutex};

#[test]
fn round_trip_across_segments_with_fillers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let mut results = vec![];
    for i in 0..40 {
        let (rec, tags) = record("T", 1, &body(i), Some("A"));
        results.push(store.put("T", 1, rec, tags).unwrap());
    }
    // queue offsets are consecutive, records never span a 1024-byte segment
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.queue_offset, i as i64);
        let seg = r.commit_log_offset / 1024;
        assert_eq!((r.commit_log_offset + r.size as i64 - 1) / 1024, seg);
        assert!(r.commit_log_offset % 1024 + r.size as i64 + 8 <= 1024);
    }
    assert!(
        results
            .windows(2)
            .any(|w| w[1].commit_log_offset % 1024 == 0)
    );
    assert_eq!(store.max_offset("T", 1), 40);
    assert_eq!(store.min_offset("T", 1), 0);
    read_back_in_small_batches(&store, &results);
    records_by_commit_log_offset(&store, &results);
    // consume queue files hold 4 units each (written back on flush), commit log files are
    // named by offset
    store.flush().unwrap();
    let cq_files = std::fs::read_dir(dir.path().join("consumequeue/T/1"))
        .unwrap()
        .count();
    assert_eq!(cq_files, 10);
    assert!(dir.path().join("commitlog/00000000000000001024").exists());
    let stats = store.stats();
    assert_eq!(stats.put_count, 40);
    assert!(stats.segment_count >= 4);
    assert_eq!(
        stats.earliest_message_time,
        Some(results[0].store_timestamp)
    );
    assert!(stats.disk_usage_ratio.is_some());
    store.shutdown().unwrap();
}

/// Reads the 40 records of `T`/1 back 7 at a time and checks each against its put result.
fn read_back_in_small_batches(store: &MessageStore, results: &[PutResult]) {
    let mut offset = 0;
    let mut seen = 0;
    while offset < 40 {
        let res = store.get_messages("T", 1, offset, 7, usize::MAX, &all);
        assert_eq!(res.status, GetStatus::Found);
        for (k, m) in res.messages.iter().enumerate() {
            let msg = decode(m);
            let i = (offset as usize) + k;
            assert_eq!(&msg.body[..], &body(i)[..]);
            assert_eq!(msg.queue_offset, i as i64);
            assert_eq!(msg.commit_log_offset, results[i].commit_log_offset);
            assert_eq!(msg.store_timestamp, results[i].store_timestamp);
            assert_eq!(msg.topic, "T");
            assert_eq!(msg.properties.get("TAGS"), Some("A"));
            seen += 1;
        }
        assert_eq!(
            res.total_bytes,
            res.messages.iter().map(|m| m.len()).sum::<usize>()
        );
        offset = res.next_begin_offset;
    }
    assert_eq!(seen, 40);
}

/// The filler is not a record; records are found by commit log offset.
fn records_by_commit_log_offset(store: &MessageStore, results: &[PutResult]) {
    for r in results {
        let rec = store.read_record(r.commit_log_offset).unwrap().unwrap();
        assert_eq!(rec.len(), r.size);
        assert_eq!(r.end_offset(), r.commit_log_offset + r.size as i64);
    }
    let filler_at = results
        .windows(2)
        .find(|w| w[1].commit_log_offset % 1024 == 0)
        .map(|w| w[0].end_offset())
        .unwrap();
    assert_eq!(store.read_record(filler_at).unwrap(), None);
    assert_eq!(
        store.read_record(results[0].commit_log_offset + 3).unwrap(),
        None
    );
    assert_eq!(store.read_record(1 << 40).unwrap(), None);
    assert_eq!(store.read_record(-5).unwrap(), None);
    assert_eq!(store.min_physical_offset(), 0);
    assert_eq!(store.max_physical_offset(), results[39].end_offset());
}

#[test]
fn batches_get_consecutive_offsets_and_one_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    store
        .put("B", 0, record("B", 0, b"first", None).0, NO_TAGS)
        .unwrap();
    let batch: Vec<_> = (0..12)
        .map(|i| record("B", 0, &body(i), Some("x")))
        .collect();
    let res = store.put_batch("B", 0, batch).unwrap();
    assert_eq!(
        res.iter().map(|r| r.queue_offset).collect::<Vec<_>>(),
        (1..13).collect::<Vec<_>>()
    );
    assert!(
        res.iter()
            .all(|r| r.store_timestamp == res[0].store_timestamp)
    );
    let got = store.get_messages("B", 0, 1, 100, usize::MAX, &all);
    assert_eq!(got.messages.len(), 12);
    for (i, m) in got.messages.iter().enumerate() {
        let msg = decode(m);
        assert_eq!(&msg.body[..], &body(i)[..]);
        assert_eq!(msg.commit_log_offset, res[i].commit_log_offset);
    }
    assert!(store.put_batch("B", 0, vec![]).unwrap().is_empty());
    // a batch with a record of another queue is refused as a whole
    let bad = vec![record("B", 0, b"a", None), record("B", 1, b"b", None)];
    assert!(matches!(
        store.put_batch("B", 0, bad),
        Err(StoreError::InvalidRecord(_))
    ));
    assert_eq!(store.max_offset("B", 0), 13);
}

#[test]
fn tag_filter_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    for i in 0..10 {
        let tag = if i % 3 == 0 { "A" } else { "B" };
        let (rec, tags) = record("F", 0, &body(i), Some(tag));
        store.put("F", 0, rec, tags).unwrap();
    }
    let a = tags_hash_code("A");
    let only_a = move |t: i64| t == a;
    let res = store.get_messages("F", 0, 0, 32, usize::MAX, &only_a);
    assert_eq!(res.status, GetStatus::Found);
    let bodies: Vec<_> = res.messages.iter().map(|m| decode(m).body).collect();
    assert_eq!(bodies, vec![body(0), body(3), body(6), body(9)]);
    assert_eq!(res.next_begin_offset, 10);
    // count limit: stops before the third match; next = the unit that did not fit
    let res = store.get_messages("F", 0, 0, 2, usize::MAX, &only_a);
    assert_eq!(res.messages.len(), 2);
    assert_eq!(res.next_begin_offset, 4); // batch full when unit 4 comes up
    // byte limit: the first message always fits, the second would exceed
    let one = store.read_record(0).unwrap().unwrap().len();
    let res = store.get_messages("F", 0, 0, 32, one + 1, &all);
    assert_eq!((res.messages.len(), res.next_begin_offset), (1, 1));
    let res = store.get_messages("F", 0, 0, 32, 1, &all);
    assert_eq!((res.messages.len(), res.next_begin_offset), (1, 1));
    // units examined but none matched
    let res = store.get_messages("F", 0, 1, 32, usize::MAX, &|_| false);
    assert_eq!(res.status, GetStatus::NoMatchedMessage);
    assert_eq!(res.next_begin_offset, 10);
    assert!(res.messages.is_empty());
    let (min, max) = (res.min_offset, res.max_offset);
    assert_eq!((min, max), (0, 10));
}

#[test]
fn every_get_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let r = store.get_messages("none", 0, 5, 32, usize::MAX, &all);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::NoMatchedLogicQueue, 0)
    );
    for i in 0..10 {
        let (rec, tags) = record("S", 2, &body(i), None);
        store.put("S", 2, rec, tags).unwrap();
    }
    let get = |o| store.get_messages("S", 2, o, 32, usize::MAX, &all);
    let r = get(3);
    assert_eq!(
        (r.status, r.next_begin_offset, r.messages.len()),
        (GetStatus::Found, 10, 7)
    );
    assert_eq!((r.min_offset, r.max_offset), (0, 10));
    let r = get(10);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetOverflowOne, 10)
    );
    let r = get(15);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetOverflowBadly, 10)
    );
    let r = get(-1);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetTooSmall, 0)
    );
    assert_eq!(GetStatus::OffsetFoundNull.as_str(), "OFFSET_FOUND_NULL");
    store.shutdown().unwrap();
    drop(store);

    // a queue whose oldest consume queue files are gone: OFFSET_TOO_SMALL below the new
    // min offset, OFFSET_FOUND_NULL for a unit in a missing file
    std::fs::remove_file(dir.path().join("consumequeue/S/2/00000000000000000000")).unwrap();
    let store = open(&small_config(dir.path()));
    assert_eq!(store.min_offset("S", 2), 4);
    let r = store.get_messages("S", 2, 1, 32, usize::MAX, &all);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetTooSmall, 4)
    );
    let r = store.get_messages("S", 2, 4, 32, usize::MAX, &all);
    assert_eq!((r.status, r.messages.len()), (GetStatus::Found, 6));
    drop(store);

    // a queue with no messages: its directory exists but holds nothing
    std::fs::create_dir_all(dir.path().join("consumequeue/E/0")).unwrap();
    let store = open(&small_config(dir.path()));
    let r = store.get_messages("E", 0, 0, 32, usize::MAX, &all);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::NoMessageInQueue, 0)
    );
    assert_eq!(store.queue_ids("E"), vec![0]);
    drop(store);

    // commit log data gone (oldest segment removed by hand): MESSAGE_WAS_REMOVING
    std::fs::remove_file(dir.path().join("commitlog/00000000000000000000")).unwrap();
    let store = open(&small_config(dir.path()));
    assert!(store.min_physical_offset() > 0);
    let q_min = store.min_offset("S", 2);
    assert!(
        q_min > 4,
        "queue min offset follows the commit log min offset"
    );
    // ask below the queue min but inside its first file: the unit points into the deleted data
    let r = store.get_messages("S", 2, q_min, 32, usize::MAX, &all);
    assert_eq!(r.status, GetStatus::Found);
}

/// MESSAGE_WAS_REMOVING needs units whose data is gone while the queue's min offset still
/// covers them; retention raises every queue's min offset right after it removes segments
/// (tests/retention.rs), so only a pull racing a pass sees it and the pure planner test covers
/// it. Here: after the oldest segment is gone the queue's min offset skips the units that point
/// into it.
#[test]
fn queue_min_offset_follows_commit_log_min() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.consume_queue_units_per_file = 1000;
    {
        let store = open(&cfg);
        for i in 0..20 {
            let (rec, tags) = record("R", 0, &body(i), None);
            store.put("R", 0, rec, tags).unwrap();
        }
    }
    std::fs::remove_file(dir.path().join("commitlog/00000000000000000000")).unwrap();
    let store = open(&cfg);
    let min = store.min_offset("R", 0);
    assert!(min > 0);
    let r = store.get_messages("R", 0, 0, 32, usize::MAX, &all);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetTooSmall, min)
    );
    let r = store.get_messages("R", 0, min, 32, usize::MAX, &all);
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(decode(&r.messages[0]).queue_offset, min);
}

#[test]
fn transactions_prepared_and_rollback_get_no_unit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let kinds = [
        sys_flag::TRANSACTION_NOT,
        sys_flag::TRANSACTION_PREPARED,
        sys_flag::TRANSACTION_COMMIT,
        sys_flag::TRANSACTION_ROLLBACK,
    ];
    let mut res = vec![];
    for (i, k) in kinds.iter().enumerate() {
        let (rec, tags) = record_with_flag("X", 0, &body(i), None, *k);
        res.push(store.put("X", 0, rec, tags).unwrap());
    }
    assert_eq!(
        res.iter().map(|r| r.queue_offset).collect::<Vec<_>>(),
        vec![0, 0, 1, 0]
    );
    assert_eq!(store.max_offset("X", 0), 2);
    let got = store.get_messages("X", 0, 0, 32, usize::MAX, &all);
    let bodies: Vec<_> = got.messages.iter().map(|m| decode(m).body).collect();
    assert_eq!(bodies, vec![body(0), body(2)]);
    // the prepared record is still readable by commit log offset
    let half = decode(
        &store
            .read_record(res[1].commit_log_offset)
            .unwrap()
            .unwrap(),
    );
    assert_eq!(&half.body[..], &body(1)[..]);
    // only-prepared topics create no queue
    let (rec, _) = record_with_flag("H", 0, b"h", None, sys_flag::TRANSACTION_PREPARED);
    store.put("H", 0, rec, NO_TAGS).unwrap();
    assert!(store.queue_ids("H").is_empty());
    // and recovery agrees
    store.shutdown().unwrap();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let store = open(&small_config(dir.path()));
    assert_eq!(store.max_offset("X", 0), 2);
    assert!(store.queue_ids("H").is_empty());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.max_message_size = 100;
    let store = open(&cfg);
    let (rec, _) = record("T", 0, &[1u8; 101], None);
    assert!(matches!(
        store.put("T", 0, rec, NO_TAGS),
        Err(StoreError::MessageTooLarge { .. })
    ));
    let (rec, _) = record("T", 0, &[1u8; 100], None);
    assert!(store.put("T", 0, rec, NO_TAGS).is_ok());
    let (rec, _) = record("T", 0, b"x", None);
    assert!(matches!(
        store.put("U", 0, rec, NO_TAGS),
        Err(StoreError::InvalidRecord(_))
    ));
    let (rec, _) = record("T", 0, b"x", None);
    assert!(matches!(
        store.put("T", 1, rec, NO_TAGS),
        Err(StoreError::InvalidRecord(_))
    ));
    for garbage in [&b""[..], b"short", &[0xffu8; 200]] {
        let r = store.put("T", 0, bytes::BytesMut::from(garbage), NO_TAGS);
        assert!(matches!(r, Err(StoreError::InvalidRecord(_))));
    }
    let (mut rec, _) = record("T", 0, b"x", None);
    rec.extend_from_slice(b"trailing");
    assert!(matches!(
        store.put("T", 0, rec, NO_TAGS),
        Err(StoreError::InvalidRecord(_))
    ));
    let (rec, _) = record("../x", 0, b"x", None);
    assert!(matches!(
        store.put("../x", 0, rec, NO_TAGS),
        Err(StoreError::InvalidTopic(_))
    ));
    let mut big = small_config(tempfile::tempdir().unwrap().path());
    big.commit_log_segment_size = 256;
    let dir2 = tempfile::tempdir().unwrap();
    big.root_dir = dir2.path().to_path_buf();
    let s2 = open(&big);
    let (rec, _) = record("T", 0, &[0u8; 200], None);
    assert!(matches!(
        s2.put("T", 0, rec, NO_TAGS),
        Err(StoreError::RecordTooLarge { .. })
    ));
    assert_eq!(store.max_offset("T", 0), 1);
    // a second process (or open) on the same directory is refused
    assert!(matches!(
        MessageStore::open(cfg.clone()),
        Err(StoreError::Locked(_))
    ));
    store.shutdown().unwrap();
    store.shutdown().unwrap(); // idempotent
    let (rec, _) = record("T", 0, b"x", None);
    assert!(matches!(
        store.put("T", 0, rec, NO_TAGS),
        Err(StoreError::ShutDown)
    ));
}

#[test]
fn listener_queue_ids_and_delete_topic() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    let seen = Arc::new(Mutex::new(vec![]));
    let s = seen.clone();
    store.set_arrival_listener(Box::new(move |t, q, max, tags| {
        s.lock().unwrap().push((t.to_owned(), q, max, tags));
    }));
    for q in [3, 1, 2] {
        let (rec, tags) = record("L", q, b"x", Some("t"));
        store.put("L", q, rec, tags).unwrap();
    }
    let batch = vec![
        record("L", 1, b"y", Some("u")),
        record("L", 1, b"z", Some("v")),
    ];
    store.put_batch("L", 1, batch).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0], ("L".to_owned(), 3, 1, tags_hash_code("t")));
    assert_eq!(seen[4], ("L".to_owned(), 1, 3, tags_hash_code("v")));
    assert_eq!(store.queue_ids("L"), vec![1, 2, 3]);
    assert_eq!(store.topics(), vec!["L".to_owned()]);
    store.delete_topic("L").unwrap();
    assert!(store.queue_ids("L").is_empty());
    assert!(!dir.path().join("consumequeue/L").exists());
    assert_eq!(store.max_offset("L", 1), 0);
    // the topic does not come back after a restart; new messages start again at 0
    store.shutdown().unwrap();
    drop(store);
    let store = open(&small_config(dir.path()));
    assert!(store.queue_ids("L").is_empty());
    let (rec, tags) = record("L", 1, b"again", None);
    assert_eq!(store.put("L", 1, rec, tags).unwrap().queue_offset, 0);
    store.delete_topic("never-existed").unwrap();
}

#[test]
fn concurrent_puts_keep_queues_dense() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.commit_log_segment_size = 64 * 1024;
    cfg.consume_queue_units_per_file = 300;
    let store = open(&cfg);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = store.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let q = i % 2;
                    let (rec, tags) = record("C", q, format!("{t}-{i}").as_bytes(), None);
                    s.put("C", q, rec, tags).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for q in 0..2 {
        assert_eq!(store.max_offset("C", q), 1000);
        let mut offset = 0;
        let mut last_phys = -1;
        while offset < 1000 {
            let r = store.get_messages("C", q, offset, 32, usize::MAX, &all);
            for m in &r.messages {
                let msg = decode(m);
                assert_eq!(msg.queue_offset, offset);
                assert!(msg.commit_log_offset > last_phys);
                last_phys = msg.commit_log_offset;
                offset += 1;
            }
        }
    }
}

#[test]
fn readers_follow_writers_without_torn_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config(dir.path());
    cfg.commit_log_segment_size = 32 * 1024;
    cfg.consume_queue_units_per_file = 500;
    cfg.flush_interval = std::time::Duration::from_millis(5);
    let store = open(&cfg);
    const N: i64 = 3000;
    let writers: Vec<_> = (0..2)
        .map(|q| {
            let s = store.clone();
            std::thread::spawn(move || {
                for i in 0..N as usize {
                    if i % 10 == 9 {
                        let batch = vec![record("RW", q, &body(i), None)];
                        s.put_batch("RW", q, batch).unwrap();
                    } else {
                        let (rec, tags) = record("RW", q, &body(i), None);
                        s.put("RW", q, rec, tags).unwrap();
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|q| {
            let s = store.clone();
            std::thread::spawn(move || {
                let mut offset = 0;
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while offset < N {
                    assert!(std::time::Instant::now() < deadline);
                    let r = s.get_messages("RW", q, offset, 7, usize::MAX, &all);
                    match r.status {
                        GetStatus::Found => {
                            for m in &r.messages {
                                let msg = decode(m);
                                assert_eq!(msg.queue_offset, offset);
                                assert_eq!(&msg.body[..], &body(offset as usize)[..]);
                                offset += 1;
                            }
                            assert_eq!(r.next_begin_offset, offset);
                        }
                        GetStatus::OffsetOverflowOne | GetStatus::NoMatchedLogicQueue => {
                            std::thread::yield_now()
                        }
                        GetStatus::NoMessageInQueue => std::thread::yield_now(),
                        other => panic!("unexpected {other:?} at {offset}"),
                    }
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().unwrap();
    }
}
