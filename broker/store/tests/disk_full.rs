//! A full disk: appends fail with `StoreError::DiskFull` and are rolled back, acknowledged
//! records stay readable across a restart, and writes resume once space is freed. Runs on an
//! 8 MiB tmpfs, so it needs root (to mount); elsewhere it is skipped with the reason printed.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "retention/helpers.rs"]
mod helpers;

use helpers::{Put, QUEUES, body, keyed};
use rmq_protocol::message::{TagsCode, decode_message};
use rmq_store::{GetStatus, MessageStore, StoreConfig, StoreError};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a temporary directory, unmounted on drop (also when a test panics).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts an 8 MiB tmpfs, or says why it cannot.
    fn mount() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed (not root?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // still busy (a panic left files open): detach it so nothing stays mounted
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

fn config(root: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(root);
    c.commit_log_segment_size = 1 << 20;
    c.consume_queue_units_per_file = 1000;
    c
}

/// Appends record `i` (to `QUEUES[i % 3]`).
fn put(store: &MessageStore, i: usize) -> Result<Put, StoreError> {
    let (topic, queue) = QUEUES[i % QUEUES.len()];
    let res = store.put(topic, queue, keyed(topic, queue, i), TagsCode::Hash(0))?;
    Ok(Put {
        i,
        topic,
        queue,
        res,
    })
}

/// Every acknowledged record is readable through its queue, and nothing else is there.
fn check_acked(store: &MessageStore, acked: &[Put]) {
    for (topic, queue) in QUEUES {
        let mine: Vec<&Put> = acked
            .iter()
            .filter(|p| (p.topic, p.queue) == (topic, queue))
            .collect();
        assert_eq!(store.max_offset(topic, queue), mine.len() as i64);
        for p in mine {
            let r = store.get_messages(topic, queue, p.res.queue_offset, 1, usize::MAX, &|_| true);
            assert_eq!(r.status, GetStatus::Found);
            let (m, _) = decode_message(&r.messages[0]).unwrap();
            assert_eq!(m.commit_log_offset, p.res.commit_log_offset);
            assert_eq!(&m.body[..], &body(p.i)[..]);
        }
    }
    let end = acked.last().map_or(0, |p| p.res.end_offset());
    assert_eq!(store.max_physical_offset(), end);
}

/// The commit log files end exactly at the last acknowledged record.
fn check_tail(root: &Path, end: i64) {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(root.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let start: i64 = last.file_name().unwrap().to_str().unwrap().parse().unwrap();
    assert_eq!(std::fs::metadata(last).unwrap().len() as i64, end - start);
}

#[test]
fn a_full_disk_refuses_writes_without_damage_and_writes_resume() {
    let fs = match Tmpfs::mount() {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("skipping disk_full: {why}");
            return;
        }
    };
    let ballast = fs.path().join("ballast");
    std::fs::write(&ballast, vec![1u8; 2 << 20]).unwrap();
    let root = fs.path().join("store");
    let store = MessageStore::open(config(&root)).unwrap();
    let mut acked = Vec::new();
    let err = loop {
        match put(&store, acked.len()) {
            Ok(p) => acked.push(p),
            Err(e) => break e,
        }
        assert!(acked.len() < 100_000, "the disk never filled");
    };
    eprintln!("after {} records: {err}", acked.len());
    assert!(err.is_disk_full(), "{err}");
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("the disk holding ") && text.contains("is full"),
        "{text}"
    );
    assert!(
        acked.len() > 100,
        "{} records before the disk filled",
        acked.len()
    );
    // refused again, batches too; nothing published
    let end = store.max_physical_offset();
    assert!(put(&store, acked.len()).unwrap_err().is_disk_full());
    let (topic, queue) = QUEUES[0];
    let batch = (0..3)
        .map(|k| (keyed(topic, queue, 90_000 + k), TagsCode::Hash(0)))
        .collect();
    assert!(
        store
            .put_batch(topic, queue, batch)
            .unwrap_err()
            .is_disk_full()
    );
    assert_eq!(store.max_physical_offset(), end);
    check_acked(&store, &acked);
    check_tail(&root, end);
    // a restart while the disk is still full: clean, everything acknowledged is there
    drop(store);
    let store = MessageStore::open(config(&root)).unwrap();
    check_acked(&store, &acked);
    check_tail(&root, end);
    // space comes back: the write that failed now succeeds where it would have gone (at the
    // end, or at the next segment if it needed one)
    std::fs::remove_file(&ballast).unwrap();
    let resumed = acked.len();
    for _ in 0..200 {
        acked.push(put(&store, acked.len()).unwrap());
    }
    let next_segment = end - end % (1 << 20) + (1 << 20);
    let first = acked[resumed].res.commit_log_offset;
    assert!(first == end || first == next_segment, "{first} after {end}");
    check_acked(&store, &acked);
    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(config(&root)).unwrap();
    check_acked(&store, &acked);
}
