//! Cutting a divergent tail ([`MessageStore::truncate_tail`]): after the next open the commit
//! log, the consume queues and the key index end at the cut, new records continue there, and a
//! pending cut survives a crash (the marker stays until the cut store is durable).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use bytes::BytesMut;
use common::*;
use rmq_protocol::message::decode_message;
use rmq_store::epoch::{EpochEntry, EpochHistory};
use rmq_store::{GetStatus, MessageStore, PutResult};
use std::time::{Duration, Instant};

fn keyed(i: usize) -> BytesMut {
    encoded(
        "T",
        (i % 2) as i32,
        0,
        &body(i),
        format!("KEYS\u{1}k{i}\u{2}UNIQ_KEY\u{1}U{i:04}\u{2}"),
    )
}

fn put(store: &MessageStore, i: usize) -> PutResult {
    store.put("T", (i % 2) as i32, keyed(i), NO_TAGS).unwrap()
}

fn caught_up(store: &MessageStore) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.indexed_offset() < store.max_physical_offset() {
        assert!(Instant::now() < deadline, "index did not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn found(store: &MessageStore, i: usize) -> bool {
    caught_up(store);
    !store
        .query_by_key("T", &format!("k{i}"), false, 4, 0, i64::MAX)
        .unwrap()
        .messages
        .is_empty()
}

/// Bodies of queue `q` from offset 0, in order.
fn queue(store: &MessageStore, q: i32) -> Vec<String> {
    let r = store.get_messages("T", q, 0, 1000, usize::MAX, &all);
    assert!(
        matches!(
            r.status,
            GetStatus::Found | GetStatus::NoMatchedMessage | GetStatus::NoMessageInQueue
        ),
        "{:?}",
        r.status
    );
    r.messages
        .iter()
        .map(|m| String::from_utf8(decode_message(m).unwrap().0.body.to_vec()).unwrap())
        .collect()
}

/// 100 records over two queues (spanning many 1 KiB segments); returns their put results.
fn hundred(store: &MessageStore) -> Vec<PutResult> {
    (0..100).map(|i| put(store, i)).collect()
}

#[test]
fn the_next_open_cuts_at_the_offset_and_writing_continues_there() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    let puts = hundred(&store);
    let cut = puts[60].commit_log_offset;
    store.shutdown().unwrap();
    drop(store);

    let epochs = [
        (1, 0),
        (2, puts[40].commit_log_offset),
        (3, puts[70].commit_log_offset),
    ];
    let entries = epochs
        .map(|(epoch, start)| EpochEntry { epoch, start })
        .to_vec();
    EpochHistory::from_entries(entries)
        .unwrap()
        .save(dir.path())
        .unwrap();
    MessageStore::truncate_tail(dir.path(), cut).unwrap();
    let store = open(&cfg);
    assert_eq!(store.max_physical_offset(), cut);
    let kept = EpochHistory::load(dir.path()).unwrap();
    assert_eq!(
        kept.last().map(|e| e.epoch),
        Some(2),
        "epoch 3 began after the cut"
    );
    assert!(
        !dir.path().join("truncate").exists(),
        "the marker goes once the cut is durable"
    );
    assert_eq!(
        (store.max_offset("T", 0), store.max_offset("T", 1)),
        (30, 30)
    );
    let q0 = queue(&store, 0);
    assert_eq!(q0.len(), 30);
    assert_eq!(q0.last().unwrap(), "message-00058");
    assert!(found(&store, 59) && !found(&store, 60) && !found(&store, 99));

    // new records take the cut's place with the queue offsets that follow
    let next = put(&store, 100);
    assert_eq!((next.commit_log_offset, next.queue_offset), (cut, 30));
    assert!(found(&store, 100));
    store.shutdown().unwrap();
    drop(store);
    let store = open(&cfg);
    assert_eq!(store.max_offset("T", 0), 31);
    assert_eq!(queue(&store, 0).last().unwrap(), "message-00100");
}

#[test]
fn a_cut_inside_a_record_takes_the_whole_record_and_a_cut_past_the_end_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    let puts = hundred(&store);
    let end = store.max_physical_offset();
    store.shutdown().unwrap();
    drop(store);

    MessageStore::truncate_tail(dir.path(), end + 4096).unwrap();
    let store = open(&cfg);
    assert_eq!(store.max_physical_offset(), end);
    assert_eq!(store.max_offset("T", 1), 50);
    store.shutdown().unwrap();
    drop(store);

    MessageStore::truncate_tail(dir.path(), puts[80].commit_log_offset + 7).unwrap();
    let store = open(&cfg);
    assert_eq!(store.max_physical_offset(), puts[80].commit_log_offset);
    assert_eq!(store.max_offset("T", 0), 40);
}

#[test]
fn a_cut_inside_a_record_above_the_checkpoint_takes_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    let puts = hundred(&store);
    store.flush().unwrap();
    let more: Vec<PutResult> = (100..110).map(|i| put(&store, i)).collect();
    // a crash: the checkpoint is at most where the flush left it, below the cut
    drop(store);
    MessageStore::truncate_tail(dir.path(), more[5].commit_log_offset + 3).unwrap();
    let store = open(&cfg);
    assert_eq!(store.max_physical_offset(), more[5].commit_log_offset);
    assert_eq!(queue(&store, 1).last().unwrap(), "message-00103");
    assert!(puts.len() == 100 && found(&store, 104) && !found(&store, 105));
}

#[test]
fn a_pending_cut_survives_a_crash_before_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = open(&cfg);
    let puts = hundred(&store);
    store.flush().unwrap();
    // no clean shutdown: the store is dropped as a crash leaves it
    drop(store);
    MessageStore::truncate_tail(dir.path(), puts[10].commit_log_offset).unwrap();
    assert!(dir.path().join("truncate").exists());
    let store = open(&cfg);
    assert_eq!(store.max_physical_offset(), puts[10].commit_log_offset);
    assert_eq!((store.max_offset("T", 0), store.max_offset("T", 1)), (5, 5));
}

#[test]
fn bad_cuts_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let e = MessageStore::truncate_tail(dir.path(), -1).unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
    std::fs::write(dir.path().join("truncate"), "soon\n").unwrap();
    let e = MessageStore::open(small_config(dir.path())).err().unwrap();
    assert!(e.to_string().contains("remove it"), "{e}");
}
