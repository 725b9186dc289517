//! The HA seams: `read_raw` on a master, `append_raw` + dispatch on a slave, with chunks that
//! cut records and fillers anywhere.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_protocol::message::sys_flag;
use rmq_store::{MessageStore, StoreError};
use std::sync::{Arc, Mutex};

fn copy_all(master: &MessageStore, slave: &MessageStore, chunk: usize) {
    loop {
        let at = slave.max_physical_offset();
        let data = master.read_raw(at, chunk).unwrap().unwrap();
        if data.is_empty() {
            break;
        }
        slave.append_raw(at, &data).unwrap();
    }
}

fn same_queues(master: &MessageStore, slave: &MessageStore) {
    assert_eq!(slave.max_physical_offset(), master.max_physical_offset());
    for t in master.topics() {
        assert_eq!(slave.queue_ids(&t), master.queue_ids(&t));
        for q in master.queue_ids(&t) {
            let max = master.max_offset(&t, q);
            assert_eq!(slave.max_offset(&t, q), max, "{t}/{q}");
            let a = master.get_messages(&t, q, 0, 10_000, usize::MAX, &all);
            let b = slave.get_messages(&t, q, 0, 10_000, usize::MAX, &all);
            assert_eq!(a.messages, b.messages);
            assert_eq!(a.messages.len() as i64, max);
        }
    }
}

#[test]
fn slave_rebuilds_queues_from_raw_bytes() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = open(&small_config(md.path()));
    let slave = open(&small_config(sd.path()));
    let arrivals = Arc::new(Mutex::new(0));
    let a = arrivals.clone();
    slave.set_arrival_listener(Box::new(move |_, _, _, _| *a.lock().unwrap() += 1));
    for i in 0..25 {
        let topic = if i % 3 == 0 { "A" } else { "B" };
        let q = (i % 2) as i32;
        let flag = if i == 7 {
            sys_flag::TRANSACTION_PREPARED
        } else {
            0
        };
        let (rec, tags) = record_with_flag(topic, q, &body(i), Some("t"), flag);
        master.put(topic, q, rec, tags).unwrap();
        copy_all(&master, &slave, 37); // tiny chunks cut records and fillers
    }
    same_queues(&master, &slave);
    assert_eq!(*arrivals.lock().unwrap(), 24);
    // a big chunk size too, from a fresh slave
    let sd2 = tempfile::tempdir().unwrap();
    let slave2 = open(&small_config(sd2.path()));
    copy_all(&master, &slave2, 1 << 20);
    same_queues(&master, &slave2);
    // the slave recovers like any store
    slave.shutdown().unwrap();
    drop(slave);
    let slave = open(&small_config(sd.path()));
    same_queues(&master, &slave);
}

#[test]
fn raw_append_checks_offsets_and_data() {
    let (md, sd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = open(&small_config(md.path()));
    let slave = open(&small_config(sd.path()));
    for i in 0..3 {
        let (rec, tags) = record("A", 0, &body(i), None);
        master.put("A", 0, rec, tags).unwrap();
    }
    let data = master.read_raw(0, 1 << 20).unwrap().unwrap();
    assert!(matches!(
        slave.append_raw(5, &data),
        Err(StoreError::OffsetMismatch {
            offset: 5,
            expected: 0
        })
    ));
    let mut bad = data.to_vec();
    let second = master.get_messages("A", 0, 1, 1, usize::MAX, &all);
    let pos = decode(&second.messages[0]).commit_log_offset as usize;
    bad[pos + 4] ^= 0xff; // the second record's magic
    assert!(matches!(
        slave.append_raw(0, &bad),
        Err(StoreError::Corrupt(_))
    ));
    // the valid prefix stays, the rest is cut
    assert_eq!(slave.max_physical_offset(), pos as i64);
    assert_eq!(slave.max_offset("A", 0), 1);
    slave.append_raw(pos as i64, &data[pos..]).unwrap();
    same_queues(&master, &slave);
    assert!(
        master
            .read_raw(master.max_physical_offset() + 1, 10)
            .unwrap()
            .is_none()
    );
}
