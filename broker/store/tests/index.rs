//! The key index: lookups by `KEYS` entry and `UNIQ_KEY`, time ranges, rolling files, reopen,
//! a commit log cut back by recovery; and the delivery-time tagsCode of schedule records.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use rmq_protocol::message::{
    DelayLevels, MessageRecord, SCHEDULE_TOPIC, TagsCode, decode_message, encode_record, sys_flag,
};
use rmq_store::{MessageStore, StoreConfig};
use std::cell::Cell;
use std::time::{Duration, Instant};

fn keyed(topic: &str, i: usize, keys: &str, flag: i32) -> BytesMut {
    let properties = format!("KEYS\u{1}{keys}\u{2}UNIQ_KEY\u{1}U{i:04}\u{2}");
    encoded(topic, 0, flag, &body(i), properties)
}

fn caught_up(store: &MessageStore) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.indexed_offset() < store.max_physical_offset() {
        assert!(Instant::now() < deadline, "index did not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn bodies(store: &MessageStore, topic: &str, key: &str, unique: bool, max: usize) -> Vec<String> {
    store
        .query_by_key(topic, key, unique, max, 0, i64::MAX)
        .unwrap()
        .messages
        .iter()
        .map(|m| String::from_utf8(decode_message(m).unwrap().0.body.to_vec()).unwrap())
        .collect()
}

fn config(dir: &std::path::Path) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.commit_log_segment_size = 4096;
    c.index_entries_per_file = 16;
    c
}

#[test]
fn lookups_by_key_and_unique_key_across_files_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let store = MessageStore::open(cfg.clone()).unwrap();
    for i in 0..40 {
        let keys = format!("k{i} shared");
        store.put("T", 0, keyed("T", i, &keys, 0), NO_TAGS).unwrap();
    }
    store.put("U", 0, keyed("U", 99, "k1", 0), NO_TAGS).unwrap();
    let rollback = sys_flag::TRANSACTION_ROLLBACK;
    store
        .put("T", 0, keyed("T", 98, "gone", rollback), NO_TAGS)
        .unwrap();
    caught_up(&store);
    assert!(
        std::fs::read_dir(dir.path().join("index")).unwrap().count() > 3,
        "3 entries per message, 16 per file: the index rolled"
    );
    assert_eq!(bodies(&store, "T", "k7", false, 32), vec!["message-00007"]);
    assert_eq!(bodies(&store, "U", "k1", false, 32), vec!["message-00099"]);
    let shared = bodies(&store, "T", "shared", false, 5);
    assert_eq!(shared.len(), 5);
    assert_eq!(shared[0], "message-00039", "newest first");
    assert_eq!(
        bodies(&store, "T", "U0012", true, 32),
        vec!["message-00012"]
    );
    assert!(
        bodies(&store, "T", "U0012", false, 32).is_empty(),
        "not a KEYS entry"
    );
    assert!(
        bodies(&store, "T", "gone", false, 32).is_empty(),
        "rollback"
    );
    assert!(bodies(&store, "T", "nope", false, 32).is_empty());
    let future = store
        .query_by_key("T", "k7", false, 32, i64::MAX - 1, i64::MAX)
        .unwrap();
    assert!(future.messages.is_empty(), "outside the time range");
    assert!(future.index_last_update_phy_offset > 0);
    store.shutdown().unwrap();
    drop(store);

    let store = MessageStore::open(cfg).unwrap();
    caught_up(&store);
    assert_eq!(bodies(&store, "T", "k3", false, 32), vec!["message-00003"]);
    assert_eq!(bodies(&store, "T", "shared", false, 100).len(), 40);
    store
        .put("T", 0, keyed("T", 40, "k40", 0), NO_TAGS)
        .unwrap();
    caught_up(&store);
    assert_eq!(bodies(&store, "T", "k40", false, 32), vec!["message-00040"]);
}

#[test]
fn an_index_ahead_of_a_cut_commit_log_is_cut_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let store = MessageStore::open(cfg.clone()).unwrap();
    let mut cut_at = 0;
    for i in 0..10 {
        let p = store
            .put("T", 0, keyed("T", i, &format!("k{i}"), 0), NO_TAGS)
            .unwrap();
        if i == 6 {
            cut_at = p.commit_log_offset;
        }
    }
    caught_up(&store);
    store.shutdown().unwrap();
    drop(store);
    // tear the commit log at message 6 (garbage there; recovery truncates)
    let seg = dir.path().join("commitlog").join(format!("{:020}", 0));
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(cut_at as u64 + 10).unwrap();
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();

    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.max_physical_offset(), cut_at);
    caught_up(&store);
    assert!(bodies(&store, "T", "k8", false, 32).is_empty());
    store
        .put("T", 0, keyed("T", 60, "k60", 0), NO_TAGS)
        .unwrap();
    caught_up(&store);
    assert_eq!(bodies(&store, "T", "k60", false, 32), vec!["message-00060"]);
    assert_eq!(bodies(&store, "T", "k5", false, 32), vec!["message-00005"]);
    assert!(bodies(&store, "T", "k6", false, 32).is_empty());
}

/// Copies the files of `from` into `to` (flat: the index directory).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A power cut with asynchronous flush can leave the key index (durable) ahead of the commit
/// log (lost), and the log is then written again with other records: the index's resume point
/// lies inside a record. Opening must notice and re-index instead of stalling on "bad magic".
#[test]
fn an_index_resuming_inside_a_rewritten_commit_log_re_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.index_entries_per_file = 1024;
    let stale = dir.path().join("stale-index");
    let store = MessageStore::open(cfg.clone()).unwrap();
    for i in 0..30 {
        store.put("T", 0, keyed("T", i, "old", 0), NO_TAGS).unwrap();
    }
    caught_up(&store);
    let stale_end = store.max_physical_offset();
    store.shutdown().unwrap();
    drop(store);
    copy_dir(&dir.path().join("index"), &stale);
    for sub in ["commitlog", "consumequeue", "index"] {
        let _ = std::fs::remove_dir_all(dir.path().join(sub));
    }
    let _ = std::fs::remove_file(dir.path().join("checkpoint"));
    // the log written again: different sizes, so the old resume point is not a boundary
    let store = MessageStore::open(cfg.clone()).unwrap();
    for i in 0..40 {
        let keys = format!("new{i} with-a-longer-key-list");
        store
            .put("T", 0, keyed("T", 100 + i, &keys, 0), NO_TAGS)
            .unwrap();
    }
    caught_up(&store);
    let end = store.max_physical_offset();
    assert!(end > stale_end, "the new log covers the stale resume point");
    store.shutdown().unwrap();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    copy_dir(&stale, &dir.path().join("index"));

    let store = MessageStore::open(cfg).unwrap();
    caught_up(&store);
    assert_eq!(store.indexed_offset(), end);
    assert_eq!(
        bodies(&store, "T", "new3", false, 32),
        vec!["message-00103"]
    );
    assert_eq!(
        bodies(&store, "T", "new39", false, 32),
        vec!["message-00139"]
    );
    assert!(bodies(&store, "T", "old", false, 32).is_empty());
}

#[test]
fn schedule_records_get_their_delivery_time_as_tags_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StoreConfig::new(dir.path());
    cfg.index_enabled = false;
    let store = MessageStore::open(cfg).unwrap();
    let rec = MessageRecord {
        topic: "SCHEDULE_TOPIC_XXXX".into(),
        queue_id: 2,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: "10.0.0.5:50000".parse().unwrap(),
        store_host: "10.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(b"x"),
        properties: "DELAY\u{1}3\u{2}TAGS\u{1}a\u{2}".into(),
    };
    let mut buf = BytesMut::new();
    encode_record(&rec, &mut buf).unwrap();
    // the caller's rule (the one recovery uses too): deliver DELAY level 3's 10 s after storing
    let tags = TagsCode::of(SCHEDULE_TOPIC, &rec.properties, &DelayLevels::default());
    assert_eq!(tags, TagsCode::DeliverAfter(10_000));
    let put = store.put("SCHEDULE_TOPIC_XXXX", 2, buf, tags).unwrap();
    let seen = Cell::new(0);
    let got = store.get_messages("SCHEDULE_TOPIC_XXXX", 2, 0, 1, 1 << 20, &|t| {
        seen.set(t);
        true
    });
    assert_eq!(got.messages.len(), 1);
    assert_eq!(seen.get(), put.store_timestamp + 10_000);
    assert_eq!(store.indexed_offset(), store.max_physical_offset());
    let none = store.query_by_key("T", "k", false, 1, 0, i64::MAX).unwrap();
    assert!(none.messages.is_empty(), "index disabled");
    // rebuilt from the commit log (the store's own rule for records it dispatches itself), the
    // unit gets the same code
    store.shutdown().unwrap();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let mut cfg = StoreConfig::new(dir.path());
    cfg.index_enabled = false;
    let store = MessageStore::open(cfg).unwrap();
    let rebuilt = Cell::new(0);
    let got = store.get_messages("SCHEDULE_TOPIC_XXXX", 2, 0, 1, 1 << 20, &|t| {
        rebuilt.set(t);
        true
    });
    assert_eq!(got.messages.len(), 1);
    assert_eq!(rebuilt.get(), seen.get());
}
