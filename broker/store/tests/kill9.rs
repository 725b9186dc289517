//! A real `kill -9`: this test binary re-runs itself as a child that appends in a loop and
//! prints every acknowledged offset; the parent SIGKILLs it, reopens the store and checks that
//! every acknowledged record is readable and intact (ASYNC: appends reach the OS before the
//! acknowledgement; SYNC: after the group-commit fsync).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use rmq_store::{FlushMode, GetStatus, StoreConfig};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DIR_VAR: &str = "RMQ_STORE_KILL9_DIR";
const MODE_VAR: &str = "RMQ_STORE_KILL9_MODE";

fn config(dir: &Path, mode: FlushMode) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.commit_log_segment_size = 16 * 1024;
    c.consume_queue_units_per_file = 64;
    c.flush = mode;
    c.flush_interval = Duration::from_millis(30);
    c
}

/// The child: appends until killed (or 60 s), printing `ack <i> <queue> <offset> <qo> <size>`.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return; // not the child
    };
    let mode = match std::env::var(MODE_VAR).as_deref() {
        Ok("sync") => FlushMode::Sync,
        _ => FlushMode::Async,
    };
    let store = rmq_store::MessageStore::open(config(Path::new(&dir), mode)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let start = Instant::now();
    let mut i = 0usize;
    while start.elapsed() < Duration::from_secs(60) {
        let q = (i % 3) as i32;
        let r = if i.is_multiple_of(7) {
            let batch = (0..3)
                .map(|k| record("K", q, &body(i + k), Some("b")))
                .collect();
            store.put_batch("K", q, batch).unwrap()
        } else {
            let (rec, tags) = record("K", q, &body(i), Some("s"));
            vec![store.put("K", q, rec, tags).unwrap()]
        };
        if mode == FlushMode::Sync {
            let end = r.last().unwrap().end_offset();
            assert!(rt.block_on(store.wait_flushed(end, Duration::from_secs(5))));
        }
        for (k, r) in r.iter().enumerate() {
            println!(
                "ack {} {q} {} {} {}",
                i + k,
                r.commit_log_offset,
                r.queue_offset,
                r.size
            );
        }
        i += r.len();
    }
}

fn run(mode: FlushMode) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["kill9_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir.path())
        .env(
            MODE_VAR,
            if mode == FlushMode::Sync {
                "sync"
            } else {
                "async"
            },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = vec![];
    let deadline = Instant::now() + Duration::from_secs(30);
    let target = if mode == FlushMode::Sync { 300 } else { 3000 };
    while acks.len() < target && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("ack ") => acks.push(l),
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // everything printed before the kill was acknowledged
    for l in lines.map_while(Result::ok) {
        if l.starts_with("ack ") {
            acks.push(l);
        }
    }
    assert!(acks.len() >= 100, "child produced only {} acks", acks.len());
    assert!(
        dir.path().join("abort").exists(),
        "the child did not shut down"
    );

    let store = rmq_store::MessageStore::open(config(dir.path(), mode)).unwrap();
    for l in &acks {
        let f: Vec<i64> = l[4..].split(' ').map(|x| x.parse().unwrap()).collect();
        let (i, q, offset, qo, size) = (f[0] as usize, f[1] as i32, f[2], f[3], f[4] as usize);
        let rec = store
            .read_record(offset)
            .unwrap()
            .unwrap_or_else(|| panic!("lost {l}"));
        assert_eq!(rec.len(), size);
        let m = decode(&rec);
        assert_eq!(&m.body[..], &body(i)[..], "{l}");
        assert_eq!((m.queue_id, m.queue_offset), (q, qo));
        let got = store.get_messages("K", q, qo, 1, usize::MAX, &all);
        assert_eq!(got.status, GetStatus::Found, "{l}");
        assert_eq!(got.messages[0], rec);
    }
    // the queues are dense up to their max and the store accepts new writes
    for q in 0..3 {
        let max = store.max_offset("K", q);
        let mut offset = 0;
        while offset < max {
            let r = store.get_messages("K", q, offset, 32, usize::MAX, &all);
            assert_eq!(r.status, GetStatus::Found);
            for m in &r.messages {
                assert_eq!(decode(m).queue_offset, offset);
                offset += 1;
            }
        }
    }
    let (rec, tags) = record("K", 0, b"after", None);
    let r = store.put("K", 0, rec, tags).unwrap();
    assert_eq!(r.queue_offset, store.max_offset("K", 0) - 1);
}

#[test]
fn kill9_async_loses_nothing_acknowledged() {
    if std::env::var(DIR_VAR).is_ok() {
        return;
    }
    run(FlushMode::Async);
}

#[test]
fn kill9_sync_loses_nothing_acknowledged() {
    if std::env::var(DIR_VAR).is_ok() {
        return;
    }
    run(FlushMode::Sync);
}
