//! The pieces of a power-loss run: a broker whose store is on the volume, a Java producer in the
//! background that records what was acknowledged, the cut itself, and the final Java consumer.

use rmq_e2e::harness::parse_ranges;
use rmq_e2e::powerfs::PowerFs;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, HarnessResult, run_line};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

/// A broker whose store is on `fs`, with small files (so a run crosses commit-log segments and
/// consume-queue files, and creates many directory entries) plus `extra` keys.
pub fn on_volume(fs: &PowerFs, flush: &str, extra: &[(&str, &str)]) -> BrokerOpts {
    let mut o = BrokerOpts {
        store_dir: Some(fs.root().join("store")),
        ..BrokerOpts::default()
    };
    o.set = [
        ("mappedFileSizeCommitLog", "1048576"),
        ("mappedFileSizeConsumeQueue", "6000"),
        ("maxIndexNum", "20000"),
        ("flushDiskType", flush),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    o
}

/// The power goes out under `broker`: kill -9 (its process dies with the machine), the volume
/// keeps only what was durable, the broker starts again on it. Returns the volume's counters.
pub fn power_cut(broker: &mut BrokerProc, fs: &mut PowerFs) -> serde_json::Value {
    broker.kill9();
    let stats = fs.cut();
    broker.start_again();
    stats
}

/// An unmodified Java producer sending sync messages `<prefix>-<i>` for a fixed time.
pub struct Producer {
    run: JoinHandle<HarnessResult>,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Producer {
    /// Starts sending to `topic` through the nameserver `ns` for `run` (then it stops itself).
    pub fn start(ns: &str, topic: &str, prefix: &str, run: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("acked.tsv");
        let line = format!(
            "produce --namesrv {ns} --topic {topic} --prefix {prefix} --count 50000000 \
             --timeout-ms {} --send-timeout-ms 3000 --out {}",
            run.as_millis(),
            out.display()
        );
        let run = std::thread::spawn(move || run_line(Client::Java5, &line));
        Self {
            run,
            out,
            _dir: dir,
        }
    }

    /// Waits for the producer to stop; the indices acknowledged with SEND_OK.
    pub fn finish(self) -> BTreeSet<i64> {
        self.finish_with_result().0
    }

    /// [`Producer::finish`] and the producer's result line.
    pub fn finish_with_result(self) -> (BTreeSet<i64>, HarnessResult) {
        let result = self.run.join().unwrap();
        eprintln!(
            "producer: {}",
            result
                .json
                .to_string()
                .chars()
                .take(600)
                .collect::<String>()
        );
        let records = std::fs::read_to_string(&self.out).unwrap_or_default();
        let acked = records
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|f| f.last() == Some(&"SEND_OK"))
            .map(|f| f[0].parse().unwrap())
            .collect();
        (acked, result)
    }
}

/// An unmodified Java consumer reads `topic` from the start for at most `timeout`; returns the
/// acknowledged indices it did not get. Asserts no body was corrupt.
pub fn consume_all(
    ns: &str,
    topic: &str,
    prefix: &str,
    acked: &BTreeSet<i64>,
    timeout: Duration,
) -> Vec<i64> {
    // Unacknowledged sends may be stored too (at most one in flight per cut), so the consumer
    // lingers after reaching the acknowledged count to pick up whatever else is there.
    let r = run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {ns} --topic {topic} --group {prefix}-check --prefix {prefix} \
             --expect {} --linger-ms 3000 --timeout-ms {}",
            acked.len(),
            timeout.as_millis()
        ),
    );
    eprintln!(
        "consumer: {}",
        r.json.to_string().chars().take(600).collect::<String>()
    );
    assert_eq!(r.num("corrupt"), 0, "corrupt bodies served: {}", r.json);
    let seen: BTreeSet<i64> = parse_ranges(&r.str("ranges")).into_iter().collect();
    acked.difference(&seen).copied().collect()
}
