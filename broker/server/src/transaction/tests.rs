//! Resolution against a real store: commits happen once per transaction (also for another copy
//! of the half, and after the op records are reloaded), and a commit whose op record was lost
//! is recognised through the key index.

use super::*;
use crate::config::FeaturesConfig;
use crate::state::{OffsetTable, now_ms};
use crate::writer::MessageWriter;
use bytes::Bytes;
use rmq_protocol::message::{MessageExt, MessageRecord, decode_message, property, sys_flag};
use rmq_protocol::names;
use rmq_store::{MessageStore, StoreConfig};
use std::sync::Arc;

/// A store with its writer and a transaction book over it.
struct Broker {
    store: Arc<MessageStore>,
    writer: MessageWriter,
    store_host: std::net::SocketAddr,
    transactions: Transactions,
}

fn broker(dir: &std::path::Path) -> Broker {
    let store = MessageStore::open(StoreConfig::new(dir)).unwrap();
    let store_host = "127.0.0.1:10911".parse().unwrap();
    let writer = MessageWriter::new(
        store.clone(),
        Arc::default(),
        Default::default(),
        store_host,
    );
    let offsets = Arc::new(OffsetTable::load(dir).unwrap());
    let transactions = Transactions::new(writer.clone(), offsets, &FeaturesConfig::default());
    Broker {
        store,
        writer,
        store_host,
        transactions,
    }
}

/// Stores a half message of transaction `uniq` for topic T; returns it as read back.
fn half(b: &Broker, uniq: &str) -> MessageExt {
    let mut rec = MessageRecord {
        topic: "T".into(),
        queue_id: 1,
        flag: 0,
        sys_flag: sys_flag::TRANSACTION_PREPARED,
        born_timestamp: now_ms(),
        born_host: b.store_host,
        store_host: b.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(b"x"),
        properties: format!("TRAN_MSG\u{1}true\u{2}PGROUP\u{1}pg\u{2}UNIQ_KEY\u{1}{uniq}\u{2}"),
    };
    assert!(prepare_half(&mut rec, uniq));
    let put = b.writer.put(rec, true).unwrap();
    let raw = b.store.read_record(put.commit_log_offset).unwrap().unwrap();
    decode_message(&raw).unwrap().0
}

fn commits_in_t(b: &Broker) -> usize {
    let got = b.store.get_messages("T", 1, 0, 32, 1 << 20, &|_| true);
    got.messages.len()
}

fn index_caught_up(b: &Broker) {
    while b.store.indexed_offset() < b.store.max_physical_offset() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn one_commit_per_transaction_even_after_reload() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    b.transactions.load();
    let h = half(&b, "U1");
    assert_eq!(h.topic, names::TRANS_HALF_TOPIC);
    assert_eq!(h.properties.get(property::REAL_QUEUE_ID), Some("1"));
    assert!(b.transactions.resolve(&h, true).unwrap());
    assert!(!b.transactions.resolve(&h, true).unwrap(), "same half");
    let copy = half(&b, "U1");
    assert!(
        !b.transactions.resolve(&copy, true).unwrap(),
        "another copy"
    );
    assert_eq!(commits_in_t(&b), 1);
    let committed = decode_message(
        &b.store
            .get_messages("T", 1, 0, 1, 1 << 20, &|_| true)
            .messages[0],
    )
    .unwrap()
    .0;
    assert_eq!(
        sys_flag::transaction_type(committed.sys_flag),
        sys_flag::TRANSACTION_COMMIT
    );
    assert_eq!(committed.prepared_transaction_offset, h.commit_log_offset);
    assert!(committed.properties.get(property::REAL_TOPIC).is_none());
    assert!(
        committed
            .properties
            .get(property::TRANSACTION_PREPARED)
            .is_none()
    );

    // rollback: an op record only
    let r = half(&b, "U2");
    assert!(b.transactions.resolve(&r, false).unwrap());
    assert_eq!(commits_in_t(&b), 1);

    // a fresh book (restart) rebuilt from the op queue knows both transactions
    let reloaded = Transactions::new(
        b.writer.clone(),
        Arc::new(OffsetTable::load(dir.path()).unwrap()),
        &FeaturesConfig::default(),
    );
    reloaded.load();
    assert!(reloaded.is_resolved(&copy));
    assert!(reloaded.is_resolved(&half(&b, "U2")));
    assert!(!reloaded.is_resolved(&half(&b, "U3")));
}

#[test]
fn a_commit_without_op_record_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path());
    b.transactions.load();
    let h = half(&b, "U9");
    // the crash window: the commit is stored, its op record is not
    let commit = b.transactions.commit_record(&h).unwrap();
    b.writer.put(commit, true).unwrap();
    let other = half(&b, "U8");
    index_caught_up(&b);
    assert!(!b.transactions.is_resolved(&h));
    assert!(b.transactions.recover_lost_op(&h));
    assert!(b.transactions.is_resolved(&h), "the op record was written");
    assert!(!b.transactions.recover_lost_op(&other), "never committed");
}
