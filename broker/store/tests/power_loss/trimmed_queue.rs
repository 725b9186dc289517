//! A consume queue cut by recovery (its units pointed past the recovered commit log end)
//! stays cut after the next power loss, even when its queue gets no new record and the
//! commit log grows past the units' old offsets with other queues' records.

use super::*;
use crate::common::record;
use std::os::unix::fs::FileExt;

/// Puts `n` records on `topic`/0 of `store`, each acknowledged (`wait_durable`); returns them.
async fn put_acked(store: &MessageStore, topic: &str, n: usize) -> Vec<Acked> {
    let mut acked = Vec::new();
    for i in 0..n {
        let body = format!("{topic}-{i}-").repeat(40).into_bytes();
        let (rec, tags) = record(topic, 0, &body, None);
        let r = store.put(topic, 0, rec, tags).unwrap();
        let durable = store.wait_durable(r.end_offset(), Duration::from_secs(10));
        assert!(durable.await.unwrap());
        let queue = (topic.to_string(), 0);
        let (offset, end) = (r.queue_offset, r.end_offset());
        acked.push(Acked {
            queue,
            offset,
            body,
            end,
        });
    }
    acked
}

/// What a power cut leaves when a queue's fsync ran ahead of the commit log's: a copy of the
/// cleanly closed `from` in `to` whose commit log lost everything from `cut` on (zeroed),
/// with no checkpoint and the abort marker, so that recovery scans the whole log.
fn lose_commit_log_tail(from: &Path, to: &Path, cut: i64) {
    PowerLossModel::new(from).power_loss(to); // a copy: everything there is durable
    let seg = fs::OpenOptions::new()
        .write(true)
        .open(to.join("commitlog/00000000000000000000"))
        .unwrap();
    let len = seg.metadata().unwrap().len();
    let zeros = vec![0u8; (len - cut as u64) as usize];
    seg.write_all_at(&zeros, cut as u64).unwrap();
    fs::remove_file(to.join("checkpoint")).unwrap();
    fs::write(to.join("abort"), b"").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_cut_by_recovery_stays_cut_after_the_next_power_loss() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let base = tempfile::tempdir().unwrap();
    let (c0, c1, c2) = (
        base.path().join("c0"),
        base.path().join("c1"),
        base.path().join("c2"),
    );
    let hour = Duration::from_secs(3600); // flushes only when asked
    let store = MessageStore::open(config(&c0, FlushMode::Sync, hour)).unwrap();
    let a = put_acked(&store, "PL_A", 10).await;
    store.flush().unwrap();
    drop(store);
    lose_commit_log_tail(&c0, &c1, a[6].end);

    // recovery cuts PL_A/0 to 7 units; PL_B/0 then carries the log well past PL_A's old end,
    // a flush writes the checkpoint (so the next recovery re-dispatches nothing), power cut
    let model = PowerLossModel::new(&c1);
    let mut cfg = config(&c1, FlushMode::Sync, hour);
    cfg.fault = Some(model.hook());
    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.max_offset("PL_A", 0), 7, "recovery cuts the queue");
    let b = put_acked(&store, "PL_B", 20).await;
    assert!(b.last().unwrap().end > a[9].end + 4096);
    store.flush().unwrap();
    model.power_loss(&c2);
    drop(store);

    // every unit of PL_A/0 still points at its own record (read_all decodes and checks each)
    let expected = Expected {
        before: BTreeMap::new(),
        acked: a[..7].iter().chain(&b).cloned().collect(),
    };
    let (store, _, now, lost) = reopen(&c2, FlushMode::Sync, hour, &expected).await;
    assert!(lost.is_empty(), "acknowledged records lost: {}", lost.len());
    let pl_a = &now.before[&("PL_A".to_string(), 0)];
    assert_eq!(
        pl_a.len(),
        8,
        "7 recovered units and the check's write, no stale unit"
    );
    drop(store);
}
