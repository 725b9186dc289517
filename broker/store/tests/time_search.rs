//! Search by store timestamp (SEARCH_OFFSET_BY_TIMESTAMP semantics) against a brute force
//! oracle over the real store times, including runs of equal timestamps.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_store::Boundary;
use std::time::Duration;

fn oracle(times: &[i64], ts: i64, b: Boundary) -> i64 {
    match b {
        Boundary::Lower => times
            .iter()
            .position(|t| *t >= ts)
            .map_or(times.len() as i64, |p| p as i64),
        Boundary::Upper => times.iter().rposition(|t| *t <= ts).map_or(0, |p| p as i64),
    }
}

#[test]
fn lower_and_upper_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&small_config(dir.path()));
    assert_eq!(store.offset_by_time("Q", 0, 0, Boundary::Lower), 0);
    assert_eq!(store.earliest_store_time("Q", 0), None);
    // runs of messages within one millisecond, separated by small sleeps
    for run in 0..8 {
        let batch: Vec<_> = (0..3)
            .map(|i| record("Q", 0, &body(run * 3 + i), None))
            .collect();
        store.put_batch("Q", 0, batch).unwrap(); // one store timestamp per batch
        let (rec, tags) = record("Q", 0, b"single", None);
        store.put("Q", 0, rec, tags).unwrap();
        std::thread::sleep(Duration::from_millis(3));
    }
    let max = store.max_offset("Q", 0);
    let times: Vec<i64> = (0..max)
        .map(|n| store.store_time_at("Q", 0, n).unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "store times never decrease"
    );
    assert!(
        times.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]),
        "equal runs exist"
    );
    assert_eq!(store.earliest_store_time("Q", 0), Some(times[0]));
    let (first, last) = (times[0], *times.last().unwrap());
    for ts in (first - 2)..=(last + 2) {
        for b in [Boundary::Lower, Boundary::Upper] {
            assert_eq!(
                store.offset_by_time("Q", 0, ts, b),
                oracle(&times, ts, b),
                "ts {ts} {b:?}"
            );
        }
    }
    // the documented edge cases
    assert_eq!(
        store.offset_by_time("Q", 0, last + 100, Boundary::Lower),
        max
    );
    assert_eq!(
        store.offset_by_time("Q", 0, last + 100, Boundary::Upper),
        max - 1
    );
    assert_eq!(
        store.offset_by_time("Q", 0, first - 100, Boundary::Lower),
        0
    );
    assert_eq!(
        store.offset_by_time("Q", 0, first - 100, Boundary::Upper),
        0
    );
    // with equal timestamps: lower = the earliest, upper = the latest of the run
    let eq = times[0];
    let run_end = times.iter().rposition(|t| *t == eq).unwrap() as i64;
    assert_eq!(store.offset_by_time("Q", 0, eq, Boundary::Lower), 0);
    assert_eq!(store.offset_by_time("Q", 0, eq, Boundary::Upper), run_end);
    assert!(run_end >= 2);
    assert_eq!(store.offset_by_time("missing", 0, eq, Boundary::Upper), 0);
}
