//! Helpers of the retention tests: a store of 64 KiB segments, keyed 1 KiB records spread over
//! three queues, ageing files, and a full consistency check of what remains.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use rmq_protocol::message::{MessageRecord, TagsCode, decode_message, encode_record};
use rmq_store::{GetStatus, MessageStore, PutResult, StoreConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Segment size of these tests.
pub const SEG: i64 = 64 * 1024;
/// The queues records go to, in turn.
pub const QUEUES: [(&str, i32); 3] = [("A", 0), ("A", 1), ("B", 0)];

/// One acknowledged record.
#[derive(Debug, Clone)]
pub struct Put {
    pub i: usize,
    pub topic: &'static str,
    pub queue: i32,
    pub res: PutResult,
}

pub fn config(dir: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.commit_log_segment_size = SEG as u64;
    c.consume_queue_units_per_file = 16;
    c.index_entries_per_file = 64;
    c
}

pub fn body(i: usize) -> Vec<u8> {
    let mut b = format!("message-{i:05}-").into_bytes();
    b.resize(1000, b'x');
    b
}

/// Record `i`: KEYS `key-<i>`, UNIQ_KEY `U<i>`.
pub fn keyed(topic: &str, queue_id: i32, i: usize) -> BytesMut {
    let rec = MessageRecord {
        topic: topic.into(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.0.0.5:50000".parse().unwrap(),
        store_host: "10.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(body(i)),
        properties: format!("KEYS\u{1}key-{i}\u{2}UNIQ_KEY\u{1}U{i}\u{2}"),
    };
    let mut buf = BytesMut::new();
    encode_record(&rec, &mut buf).unwrap();
    buf
}

/// Appends records `from..to`, record `i` to `QUEUES[i % 3]`.
pub fn fill(store: &MessageStore, from: usize, to: usize) -> Vec<Put> {
    (from..to)
        .map(|i| {
            let (topic, queue) = QUEUES[i % QUEUES.len()];
            let res = store
                .put(topic, queue, keyed(topic, queue, i), TagsCode::Hash(0))
                .unwrap();
            Put {
                i,
                topic,
                queue,
                res,
            }
        })
        .collect()
}

/// Waits until the key index covers the whole commit log.
pub fn wait_indexed(store: &MessageStore) {
    let start = Instant::now();
    while store.indexed_offset() < store.max_physical_offset() {
        assert!(start.elapsed() < Duration::from_secs(10), "index stuck");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Numbered files of `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every file under `dir`, recursively, sorted.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in files(dir) {
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Sets the modification time of `path` `ago` into the past.
pub fn age(path: &Path, ago: Duration) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

/// Ages the commit log segments with these indexes (oldest = 0) by an hour.
pub fn age_segments(root: &Path, which: impl IntoIterator<Item = usize>) {
    let segs = files(&root.join("commitlog"));
    for k in which {
        age(&segs[k], Duration::from_secs(3600));
    }
}

/// Copies `from` to `to` recursively, keeping modification times.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for p in files(from) {
        let dst = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
            let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
            let f = std::fs::OpenOptions::new().write(true).open(&dst).unwrap();
            f.set_modified(mtime).unwrap();
        }
    }
}

/// Checks everything a client sees of the records in `puts` once the commit log starts at
/// `cl_min`: per queue the min offset (first record at or above `cl_min`), the max offset,
/// OFFSET_TOO_SMALL below the min, every remaining record, the earliest store time; key
/// lookups find remaining records only.
pub fn check(store: &MessageStore, puts: &[Put], cl_min: i64) {
    assert_eq!(store.min_physical_offset(), cl_min);
    for (topic, queue) in QUEUES {
        let mine: Vec<&Put> = puts
            .iter()
            .filter(|p| p.topic == topic && p.queue == queue)
            .collect();
        let max = mine.len() as i64;
        let min = mine
            .iter()
            .find(|p| p.res.commit_log_offset >= cl_min)
            .map_or(max, |p| p.res.queue_offset);
        assert_eq!(store.min_offset(topic, queue), min, "{topic}/{queue} min");
        assert_eq!(store.max_offset(topic, queue), max, "{topic}/{queue} max");
        if min > 0 {
            let r = store.get_messages(topic, queue, min - 1, 32, usize::MAX, &|_| true);
            assert_eq!(
                (r.status, r.next_begin_offset),
                (GetStatus::OffsetTooSmall, min)
            );
        }
        read_queue(store, topic, queue, min, &mine);
        let earliest = mine.get(min as usize).map(|p| p.res.store_timestamp);
        assert_eq!(store.earliest_store_time(topic, queue), earliest);
    }
    for p in puts {
        let found = store
            .query_by_key(p.topic, &format!("key-{}", p.i), false, 4, 0, i64::MAX)
            .unwrap();
        let kept = p.res.commit_log_offset >= cl_min;
        assert_eq!(found.messages.len(), usize::from(kept), "key-{}", p.i);
    }
}

/// Reads the queue from `min` to its end and compares every record with its put.
fn read_queue(store: &MessageStore, topic: &str, queue: i32, min: i64, mine: &[&Put]) {
    let mut offset = min;
    while offset < mine.len() as i64 {
        let r = store.get_messages(topic, queue, offset, 32, usize::MAX, &|_| true);
        assert_eq!(r.status, GetStatus::Found, "{topic}/{queue} at {offset}");
        for m in &r.messages {
            let (msg, _) = decode_message(m).unwrap();
            let p = mine[offset as usize];
            assert_eq!(msg.queue_offset, offset);
            assert_eq!(msg.commit_log_offset, p.res.commit_log_offset);
            assert_eq!(&msg.body[..], &body(p.i)[..]);
            offset += 1;
        }
        assert_eq!(r.next_begin_offset, offset);
    }
}
