//! Reads capped at a commit log offset (controller mode's confirm offset): pulls, max offsets
//! and searches by time show only records that end at or below the cap; a pull between the
//! visible end and the written end waits (it is not moved); lifting the cap shows everything.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_store::{Boundary, GetStatus, PutResult};

#[test]
fn a_read_cap_hides_the_records_past_it_until_it_moves() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    // an older queue lies wholly below every cap used here
    for i in 0..2 {
        let (rec, tags) = record("U", 0, &body(i), None);
        store.put("U", 0, rec, tags).unwrap();
    }
    let put: Vec<PutResult> = (0..10)
        .map(|i| {
            let (rec, tags) = record("T", 0, &body(i), Some("A"));
            store.put("T", 0, rec, tags).unwrap()
        })
        .collect();
    let end_of = |i: usize| put[i].commit_log_offset + put[i].size as i64;
    assert_eq!(store.read_limit(), None);

    // records 0..6 are confirmed: the rest is invisible
    store.set_read_limit(Some(end_of(5)));
    assert_eq!(store.read_limit(), Some(end_of(5)));
    assert_eq!(store.max_offset("T", 0), 6);
    assert_eq!(
        store.max_offset("U", 0),
        2,
        "a queue below the cap shows everything"
    );
    let got = store.get_messages("T", 0, 4, 32, usize::MAX, &all);
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(got.messages.len(), 2, "only offsets 4 and 5");
    assert_eq!((got.next_begin_offset, got.max_offset), (6, 6));
    for offset in [6, 8, 10] {
        let got = store.get_messages("T", 0, offset, 32, usize::MAX, &all);
        assert_eq!(got.status, GetStatus::OffsetOverflowOne, "offset {offset}");
        assert_eq!(got.next_begin_offset, offset, "it waits where it is");
    }
    let past = store.get_messages("T", 0, 11, 32, usize::MAX, &all);
    assert_eq!(past.status, GetStatus::OffsetOverflowBadly);
    assert_eq!(past.next_begin_offset, 6);
    let newest = put[9].store_timestamp + 1000;
    assert_eq!(store.offset_by_time("T", 0, newest, Boundary::Lower), 6);

    // a cap inside a record hides that record too; one past the end hides nothing
    store.set_read_limit(Some(end_of(7) - 1));
    assert_eq!(store.max_offset("T", 0), 7);
    store.set_read_limit(Some(end_of(9) + 100));
    assert_eq!(store.read_limit(), None);
    assert_eq!(store.max_offset("T", 0), 10);
    store.set_read_limit(None);
    let got = store.get_messages("T", 0, 6, 32, usize::MAX, &all);
    assert_eq!((got.status, got.messages.len()), (GetStatus::Found, 4));
    assert_eq!(decode(&got.messages[3]).body, body(9));
    store.shutdown().unwrap();
}
