//! Power loss, modelled through the fsync fault hook (see `power_loss/model.rs` for the
//! rules): what SYNC flush acknowledges survives a power cut at any point, recovery serves
//! every queue and accepts writes again; under ASYNC flush the same cut does lose records
//! acknowledged after the last fsync (the test can see loss).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;
#[path = "power_loss/during_open.rs"]
mod during_open;
#[path = "power_loss/model.rs"]
mod model;
#[path = "power_loss/trimmed_queue.rs"]
mod trimmed_queue;
#[path = "power_loss/workload.rs"]
mod workload;

use model::PowerLossModel;
use rmq_store::{FaultPoint, FlushMode, MessageStore};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workload::*;

/// What the store must hold after the next power loss: its content when opened and what it
/// acknowledged since.
#[derive(Debug, Default)]
struct Expected {
    before: BTreeMap<QueueKey, Vec<Vec<u8>>>,
    acked: Vec<Acked>,
}

/// Opens a store on `root` under a fresh model, checks it against `expected` (returning the
/// records lost), checks every queue takes new writes, and returns the store, its model and
/// its content, once the key index caught up with the commit log.
async fn reopen(
    root: &Path,
    mode: FlushMode,
    interval: Duration,
    expected: &Expected,
) -> (Arc<MessageStore>, PowerLossModel, Expected, Vec<Acked>) {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let model = PowerLossModel::new(root);
    let mut cfg = config(root, mode, interval);
    cfg.fault = Some(model.hook());
    let store = MessageStore::open(cfg).unwrap();
    let lost = missing(&read_all(&store), &expected.before, &expected.acked);
    check_writable(&store).await;
    // the key index (its fsyncs bypass the hook: the model keeps no index data) is rebuilt
    // generous: CI runs this beside the Kubernetes and end-to-end suites on two cores
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.indexed_offset() < store.max_physical_offset() {
        assert!(
            Instant::now() < deadline,
            "the key index does not catch up: indexed {} of {} (root {})",
            store.indexed_offset(),
            store.max_physical_offset(),
            root.display()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let now = Expected {
        before: read_all(&store),
        acked: Vec::new(),
    };
    (store, model, now, lost)
}

/// The root of cycle `i` under `base`; the root of cycle `i - 2` is removed (its store is
/// gone) to keep the disk use flat.
fn cycle_root(base: &Path, i: usize) -> PathBuf {
    if i >= 2 {
        fs::remove_dir_all(base.join(format!("c{}", i - 2))).unwrap();
    }
    base.join(format!("c{i}"))
}

#[test]
fn model_keeps_only_what_was_synced() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("old"), b"before the model").unwrap();
    let model = PowerLossModel::new(&root);
    let hook = model.hook();
    let sync = |point, path: &Path| (hook.0)(point, path).unwrap();
    fs::write(root.join("file_only"), b"b").unwrap();
    sync(FaultPoint::SyncData, &root.join("file_only"));
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/both"), b"synced").unwrap();
    sync(FaultPoint::SyncData, &root.join("sub/both"));
    sync(FaultPoint::SyncDir, &root.join("sub"));
    fs::write(root.join("entry_only"), b"data").unwrap();
    sync(FaultPoint::SyncDir, &root);
    fs::write(root.join("sub/both"), b"synced, then more").unwrap();
    fs::write(root.join("unsynced"), b"a").unwrap();
    fs::write(root.join("late"), b"after the last dir sync").unwrap();
    sync(FaultPoint::SyncData, &root.join("late"));
    fs::rename(root.join("old"), root.join("renamed")).unwrap();
    assert_eq!(model.syncs(), (3, 2));

    let after = model.power_loss(&dir.path().join("after"));
    let read = |p: &str| fs::read(after.join(p)).ok();
    assert_eq!(read("unsynced"), None, "neither file nor directory synced");
    assert_eq!(read("late"), None, "file synced, directory not (since)");
    assert_eq!(
        read("sub/both").as_deref(),
        Some(&b"synced"[..]),
        "later writes lost"
    );
    assert_eq!(
        read("entry_only").as_deref(),
        Some(&b""[..]),
        "entry without data"
    );
    assert_eq!(read("file_only").as_deref(), Some(&b"b"[..]));
    assert_eq!(read("old").as_deref(), Some(&b"before the model"[..]));
    assert_eq!(read("renamed"), None, "the rename was not synced");
    let err = (model.hook().0)(FaultPoint::SyncData, &root.join("late"));
    assert!(err.is_err(), "no fsync succeeds after the power cut");
}

#[test]
fn model_follows_synced_renames_and_removals() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let model = PowerLossModel::new(&root);
    let sync = |point, path: &Path| (model.hook().0)(point, path).unwrap();
    fs::write(root.join("tmp"), b"marker").unwrap();
    sync(FaultPoint::SyncData, &root.join("tmp"));
    fs::rename(root.join("tmp"), root.join("marker")).unwrap();
    fs::write(root.join("doomed"), b"x").unwrap();
    sync(FaultPoint::SyncDir, &root);
    fs::remove_file(root.join("doomed")).unwrap();
    sync(FaultPoint::SyncDir, &root);
    let after = model.power_loss(&dir.path().join("after"));
    let names: Vec<_> = fs::read_dir(&after)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["marker"],
        "content follows the inode; removal durable"
    );
    assert_eq!(fs::read(after.join("marker")).unwrap(), b"marker");
}

/// Produces until `stop` or until the store refuses: puts, waits for durability, and records
/// what was acknowledged in `acked`.
async fn produce(
    store: Arc<MessageStore>,
    mut rng: Rng,
    cycle: usize,
    acked: Arc<Mutex<Vec<Acked>>>,
    stop: Arc<AtomicBool>,
) {
    let mut seq = 0;
    while !stop.load(Ordering::SeqCst) {
        let Some(recs) = put_some(&store, &mut rng, cycle, &mut seq) else {
            return;
        };
        let end = recs.last().unwrap().end;
        match store.wait_durable(end, Duration::from_secs(10)).await {
            Ok(true) => acked.lock().unwrap().extend(recs),
            _ => return,
        }
    }
}

/// One SYNC cycle: three producers run until `target` records are acknowledged, then the
/// power is cut (while they still run) into `next`. Returns what was acknowledged.
async fn sync_cycle(
    store: &Arc<MessageStore>,
    model: &PowerLossModel,
    rng: &mut Rng,
    cycle: usize,
    next: &Path,
) -> Vec<Acked> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let rng = Rng::new(rng.next() ^ p);
            let (s, a, st) = (store.clone(), acked.clone(), stop.clone());
            tokio::spawn(produce(s, rng, cycle, a, st))
        })
        .collect();
    let target = rng.range(1, 120) as usize;
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_micros(rng.range(0, 3000))).await;
    model.power_loss(next);
    stop.store(true, Ordering::SeqCst);
    for p in producers {
        p.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() >= target,
        "cycle {cycle}: only {} acknowledged",
        acked.len()
    );
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flush_acknowledged_records_survive_power_loss() {
    const CYCLES: usize = 30;
    let base = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_0001);
    let mut expected = Expected::default();
    let (mut total, mut syncs) = (0, (0, 0));
    for cycle in 0..=CYCLES {
        let root = cycle_root(base.path(), cycle);
        fs::create_dir_all(&root).unwrap();
        let interval = Duration::from_millis(rng.range(2, 60));
        let (store, model, now, lost) = reopen(&root, FlushMode::Sync, interval, &expected).await;
        assert!(
            lost.is_empty(),
            "cycle {cycle}: acknowledged records lost: {:?}",
            lost.len()
        );
        if cycle == CYCLES {
            break;
        }
        let next = base.path().join(format!("c{}", cycle + 1));
        let acked = sync_cycle(&store, &model, &mut rng, cycle, &next).await;
        total += acked.len();
        let s = model.syncs();
        syncs = (syncs.0 + s.0, syncs.1 + s.1);
        drop(store); // its shutdown flush fails: the model is frozen
        expected = Expected { acked, ..now };
    }
    let records: usize = expected.before.values().map(Vec::len).sum();
    let segments = fs::read_dir(base.path().join(format!("c{CYCLES}/commitlog")))
        .unwrap()
        .count();
    eprintln!(
        "SYNC: {CYCLES} power losses, {total} acknowledged, 0 lost; {records} records, \
         {segments} segments at the end; {} file and {} dir fsyncs seen",
        syncs.0, syncs.1
    );
    assert!(segments >= 3, "several segments: {segments}");
}

/// One ASYNC cycle: puts `n` records (each acknowledged by `put` returning), flushing once
/// part-way, then cuts the power into `next`. Returns what was acknowledged and the flushed
/// offset at the cut.
fn async_cycle(
    store: &MessageStore,
    model: &PowerLossModel,
    rng: &mut Rng,
    cycle: usize,
    next: &Path,
) -> (Vec<Acked>, i64) {
    let n = rng.range(5, 60);
    let flush_at = rng.range(0, n);
    let (mut acked, mut seq) = (Vec::new(), 0);
    for i in 0..n {
        if i == flush_at {
            store.flush().unwrap();
        }
        acked.extend(put_some(store, rng, cycle, &mut seq).unwrap());
    }
    let flushed = store.flushed_offset();
    model.power_loss(next);
    (acked, flushed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_flush_loses_what_was_not_flushed() {
    const CYCLES: usize = 10;
    let base = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_0002);
    let mut expected = Expected::default();
    let mut flushed = 0;
    let (mut total, mut lost_total, mut lossy_cycles) = (0, 0, 0);
    for cycle in 0..=CYCLES {
        let root = cycle_root(base.path(), cycle);
        fs::create_dir_all(&root).unwrap();
        let hour = Duration::from_secs(3600); // only explicit flushes
        let (store, model, now, lost) = reopen(&root, FlushMode::Async, hour, &expected).await;
        for l in &lost {
            assert!(
                l.end > flushed,
                "cycle {cycle}: lost below the flushed offset"
            );
        }
        lost_total += lost.len();
        lossy_cycles += usize::from(!lost.is_empty());
        if cycle == CYCLES {
            break;
        }
        let next = base.path().join(format!("c{}", cycle + 1));
        let (acked, at) = async_cycle(&store, &model, &mut rng, cycle, &next);
        total += acked.len();
        flushed = at;
        drop(store);
        expected = Expected { acked, ..now };
    }
    eprintln!(
        "ASYNC: {CYCLES} power losses, {total} acknowledged, {lost_total} lost in \
         {lossy_cycles} cycles (all past the flushed offset)"
    );
    assert!(
        lossy_cycles > 0,
        "the model must show ASYNC losing unflushed records"
    );
}

/// Puts `n` times on `store` (see [`put_some`]); with `durable`, waits for each put's fsync.
async fn put_n(
    store: &MessageStore,
    rng: &mut Rng,
    seq: &mut usize,
    n: usize,
    durable: bool,
) -> Vec<Acked> {
    let mut acked = Vec::new();
    for _ in 0..n {
        let recs = put_some(store, rng, 0, seq).unwrap();
        if durable {
            let end = recs.last().unwrap().end;
            assert!(
                store
                    .wait_durable(end, Duration::from_secs(10))
                    .await
                    .unwrap()
            );
        }
        acked.extend(recs);
    }
    acked
}

/// The write-back buffer under a power cut: with a buffer that only a segment roll or a flush
/// writes out, the records made durable (an explicit flush under ASYNC, `wait_durable` under
/// SYNC) survive, the records appended after them — buffered, or written but never fsynced —
/// are all gone, and what recovery serves is an intact prefix (every record decodes with its
/// CRC, every queue is dense and takes new writes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_appends_cut_by_power_loss_leave_an_intact_prefix() {
    let base = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_0003);
    for (i, mode) in [FlushMode::Async, FlushMode::Sync].into_iter().enumerate() {
        let root = base.path().join(format!("m{i}"));
        fs::create_dir_all(&root).unwrap();
        let model = PowerLossModel::new(&root);
        let mut cfg = config(&root, mode, Duration::from_secs(3600));
        cfg.commit_log_write_back = 1 << 20;
        cfg.fault = Some(model.hook());
        let store = MessageStore::open(cfg).unwrap();
        let mut seq = 0;
        let sync = mode == FlushMode::Sync;
        let durable = put_n(&store, &mut rng, &mut seq, 20, sync).await;
        if !sync {
            store.flush().unwrap();
        }
        let flushed = store.flushed_offset();
        assert_eq!(flushed, durable.last().unwrap().end);
        let buffered = put_n(&store, &mut rng, &mut seq, 8, false).await;
        assert!(store.max_physical_offset() > flushed);
        let next = base.path().join(format!("m{i}-after"));
        model.power_loss(&next);
        drop(store);
        let all: Vec<Acked> = durable.iter().chain(&buffered).cloned().collect();
        let expected = Expected {
            before: BTreeMap::new(),
            acked: all,
        };
        let (store, _model, _now, lost) =
            reopen(&next, mode, Duration::from_secs(3600), &expected).await;
        assert_eq!(
            lost.len(),
            buffered.len(),
            "{mode:?}: exactly the unflushed records are lost"
        );
        assert!(
            lost.iter().all(|l| l.end > flushed),
            "{mode:?}: lost below the flushed offset"
        );
        assert!(
            store.max_physical_offset() > flushed,
            "{mode:?}: writable again"
        );
    }
}
