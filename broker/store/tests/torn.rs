//! Power loss tearing a record: a 4 KiB page inside a record after the checkpoint reads back as
//! zeros while later pages survived. Recovery must cut the commit log at that record; nothing
//! from it on is served, everything before it is, and new writes continue at the cut.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use rmq_protocol::message::{
    CRC32_RESERVED_LEN, MessageRecord, TagsCode, encode_record, record_crc_ok,
};
use rmq_store::{GetStatus, MessageStore, PutResult, StoreConfig};
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;

const PAGE: i64 = 4096;
/// Records written before the (kept) checkpoint.
const BEFORE_CHECKPOINT: usize = 3;

/// Body and properties of message `i`: small ones, bodies spanning several pages, and large
/// properties (the part only the whole-record checksum or strict structure protects).
fn shape(i: usize) -> (Vec<u8>, String) {
    let body_len = [30, 5000, 200, 13_000, 70, 9000, 40, 300][i % 8];
    let body = (0..body_len).map(|b| (b % 251 + 1) as u8).collect();
    let props = format!(
        "TAGS\u{1}t{i}\u{2}UNIQ_KEY\u{1}K{i}\u{2}BIG\u{1}{}\u{2}",
        big(i)
    );
    (body, props)
}

/// The value of message `i`'s large property.
fn big(i: usize) -> String {
    "p".repeat([0, 100, 9000, 0, 30_000, 2000, 6000, 0][i % 8])
}

/// Record `i` as encoded by the broker (with the whole-record checksum property) or, without
/// `with_crc`, as an older store wrote it (no property: checked structurally).
fn encoded(i: usize, with_crc: bool) -> BytesMut {
    let (body, properties) = shape(i);
    let rec = MessageRecord {
        topic: "T".into(),
        queue_id: 0,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.0.0.5:50000".parse().unwrap(),
        store_host: "10.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(body),
        properties,
    };
    let mut buf = BytesMut::new();
    encode_record(&rec, &mut buf).unwrap();
    if !with_crc {
        let n = CRC32_RESERVED_LEN;
        let total = buf.len() - n;
        buf.truncate(total);
        buf[..4].copy_from_slice(&(total as i32).to_be_bytes());
        let props_len_pos = total - rec.properties.len() - 2;
        let props_len = rec.properties.len() as i16;
        buf[props_len_pos..props_len_pos + 2].copy_from_slice(&props_len.to_be_bytes());
    }
    buf
}

fn config(dir: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.commit_log_segment_size = 64 * 1024;
    c.consume_queue_units_per_file = 8;
    c
}

/// Writes `n` records on T/0, keeping the checkpoint taken after [`BEFORE_CHECKPOINT`]; shuts
/// down, then makes the directory look like a crash after that checkpoint.
fn fill(cfg: &StoreConfig, n: usize, with_crc: bool) -> Vec<PutResult> {
    let store = MessageStore::open(cfg.clone()).unwrap();
    let mut res = vec![];
    let mut old_cp = vec![];
    for i in 0..n {
        let rec = encoded(i, with_crc);
        res.push(store.put("T", 0, rec, TagsCode::Hash(0)).unwrap());
        if i + 1 == BEFORE_CHECKPOINT {
            store.flush().unwrap();
            old_cp = fs::read(cfg.root_dir.join("checkpoint")).unwrap();
        }
    }
    store.shutdown().unwrap();
    fs::write(cfg.root_dir.join("checkpoint"), &old_cp).unwrap();
    fs::write(cfg.root_dir.join("abort"), b"").unwrap();
    res
}

/// Zeroes the commit log page `[page, page + PAGE)` (clipped to its segment file); returns
/// whether any byte changed.
fn zero_page(cfg: &StoreConfig, page: i64) -> bool {
    let seg_size = cfg.commit_log_segment_size as i64;
    let seg_start = page / seg_size * seg_size;
    let path = cfg
        .root_dir
        .join("commitlog")
        .join(format!("{seg_start:020}"));
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut old = vec![0u8; PAGE as usize];
    let n = f.read_at(&mut old, (page - seg_start) as u64).unwrap();
    f.write_all_at(&vec![0u8; n], (page - seg_start) as u64)
        .unwrap();
    old[..n].iter().any(|b| *b != 0)
}

/// The page to tear in record `r`: one wholly inside it if there is one, else the page of its
/// middle byte.
fn page_in(r: &PutResult) -> i64 {
    let (start, end) = (r.commit_log_offset, r.end_offset());
    let first_whole = (start + PAGE - 1) / PAGE * PAGE;
    if first_whole + PAGE <= end {
        first_whole
    } else {
        (start + (end - start) / 2) / PAGE * PAGE
    }
}

fn assert_served(store: &MessageStore, res: &[PutResult], upto: usize, with_crc: bool) {
    for (i, r) in res.iter().enumerate() {
        let got = store.get_messages("T", 0, r.queue_offset, 1, usize::MAX, &all);
        let raw = store.read_record(r.commit_log_offset).unwrap();
        if i < upto {
            assert_eq!(got.status, GetStatus::Found, "message {i}");
            let m = decode(&got.messages[0]);
            assert_eq!(m.body, shape(i).0, "message {i}");
            assert_eq!(m.properties.get("BIG"), Some(&*big(i)));
            assert_eq!(record_crc_ok(&got.messages[0]), with_crc.then_some(true));
            assert_eq!(raw.as_ref(), Some(&got.messages[0]));
        } else {
            assert_ne!(got.status, GetStatus::Found, "message {i} is served");
            assert_eq!(raw, None, "message {i} is readable by offset");
        }
    }
}

#[test]
fn a_zeroed_page_in_any_record_after_the_checkpoint_cuts_there() {
    torn_records_are_cut(true);
}

#[test]
fn a_zeroed_page_in_a_record_without_the_checksum_property_cuts_there() {
    torn_records_are_cut(false);
}

/// For each record after the checkpoint: tear one page in it, reopen, check the cut.
fn torn_records_are_cut(with_crc: bool) {
    let n = 16;
    for torn in BEFORE_CHECKPOINT..n {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let res = fill(&cfg, n, with_crc);
        let page = page_in(&res[torn]);
        assert!(
            zero_page(&cfg, page),
            "record {torn}: page {page} was zeros"
        );
        // the first record with a byte in the page is the first damaged one
        let cut = res
            .iter()
            .position(|r| r.end_offset() > page && r.commit_log_offset < page + PAGE)
            .unwrap();
        assert!(cut >= BEFORE_CHECKPOINT && cut <= torn);

        let store = MessageStore::open(cfg.clone()).unwrap();
        assert_eq!(
            store.max_physical_offset(),
            res[cut].commit_log_offset,
            "record {torn}, page {page}"
        );
        assert_eq!(store.max_offset("T", 0), res[cut].queue_offset);
        assert_served(&store, &res, cut, with_crc);

        // new writes continue at the cut and survive a restart
        let rec = encoded(cut, with_crc);
        let r = store.put("T", 0, rec, TagsCode::Hash(0)).unwrap();
        assert_eq!(
            (r.commit_log_offset, r.queue_offset),
            (res[cut].commit_log_offset, res[cut].queue_offset)
        );
        store.shutdown().unwrap();
        drop(store);
        let store = MessageStore::open(cfg.clone()).unwrap();
        assert_eq!(store.max_physical_offset(), r.end_offset());
        assert_served(&store, &res, cut + 1, with_crc);
    }
}
