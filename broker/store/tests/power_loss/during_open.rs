//! Power cuts in the middle of recovery: the store that recovers from a power loss loses power
//! again at each of the fsyncs its open does in turn; the store recovered from *that* still
//! holds everything acknowledged before the first cut.

use super::*;

/// Records acknowledged (each `wait_durable`) before the first cut.
const ACKED_PUTS: usize = 150;
/// Records put after them without waiting (in flight at the cut).
const IN_FLIGHT_PUTS: usize = 10;

/// The state recovery starts from: a SYNC store that never flushed its consume queues or
/// checkpoint since it was opened (hour-long interval), with [`ACKED_PUTS`] acknowledged puts
/// and [`IN_FLIGHT_PUTS`] more in flight, cut into `out`. Returns what was acknowledged.
async fn crashed_state(root: &Path, out: &Path, rng: &mut Rng) -> Vec<Acked> {
    fs::create_dir_all(root).unwrap();
    let model = PowerLossModel::new(root);
    let mut cfg = config(root, FlushMode::Sync, Duration::from_secs(3600));
    cfg.fault = Some(model.hook());
    let store = MessageStore::open(cfg).unwrap();
    let (mut acked, mut seq) = (Vec::new(), 0);
    for _ in 0..ACKED_PUTS {
        let recs = put_some(&store, rng, 0, &mut seq).unwrap();
        let end = recs.last().unwrap().end;
        let durable = store.wait_durable(end, Duration::from_secs(5));
        assert!(durable.await.unwrap());
        acked.extend(recs);
    }
    for _ in 0..IN_FLIGHT_PUTS {
        put_some(&store, rng, 0, &mut seq).unwrap();
    }
    model.power_loss(out);
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_loss_during_recovery_keeps_acknowledged_records() {
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let mut rng = Rng::new(0x5EED_0003);
    let crashed = base.join("crashed");
    let acked = crashed_state(&base.join("first"), &crashed, &mut rng).await;
    let expected = Expected {
        before: BTreeMap::new(),
        acked,
    };
    let mut k = 0;
    loop {
        assert!(k < 1000, "recovery does not end");
        let root = base.join(format!("k{k}"));
        PowerLossModel::new(&crashed).power_loss(&root); // a copy: everything there is durable
        let model = PowerLossModel::new(&root);
        let cut = base.join(format!("k{k}-cut"));
        model.arm(k, &cut);
        let mut cfg = config(&root, FlushMode::Sync, Duration::from_secs(3600));
        cfg.fault = Some(model.hook());
        let opened = MessageStore::open(cfg);
        let tripped = model.is_cut();
        assert!(tripped || opened.is_ok(), "{:?}", opened.err());
        drop(opened);
        if !tripped {
            break; // the open did fewer than k + 1 fsyncs: every cut point was tried
        }
        let interval = Duration::from_millis(20);
        let (store, _, _, lost) = reopen(&cut, FlushMode::Sync, interval, &expected).await;
        assert!(
            lost.is_empty(),
            "power cut at fsync {k} of recovery: {} acknowledged records lost",
            lost.len()
        );
        drop(store);
        fs::remove_dir_all(&root).unwrap();
        fs::remove_dir_all(&cut).unwrap();
        k += 1;
    }
    eprintln!(
        "RECOVERY: power cut at each of the {k} fsyncs of an open recovering {} acknowledged \
         records: 0 lost",
        expected.acked.len()
    );
    assert!(k >= 5, "recovery fsyncs: {k}");
}
