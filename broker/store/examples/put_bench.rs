//! Micro-benchmark: puts/s of records with a 128-byte body, ASYNC flush, 1 and 4 threads.
//! `cargo run --release -p rmq-store --example put_bench [-- <records per thread>]`
#![allow(missing_docs, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use rmq_protocol::message::{MessageRecord, TagsCode, encode_record, tags_hash_code};
use rmq_store::{MessageStore, StoreConfig};
use std::time::Instant;

fn encoded(queue_id: i32) -> BytesMut {
    let rec = MessageRecord {
        topic: "BenchmarkTest".into(),
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.0.0.5:50000".parse().unwrap(),
        store_host: "10.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(vec![b'x'; 128]),
        properties: "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}0A0000050000000000000000000000\u{2}".into(),
    };
    let mut b = BytesMut::new();
    encode_record(&rec, &mut b).unwrap();
    b
}

/// Process CPU time (user + system) in seconds, from /proc/self/stat.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0 // utime, stime; USER_HZ = 100
}

fn run(threads: usize, per_thread: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(StoreConfig::new(dir.path())).unwrap();
    let tags = TagsCode::Hash(tags_hash_code("TagA"));
    let size = encoded(0).len();
    // records are encoded before timing: this measures the store, not the encoder
    let inputs: Vec<Vec<BytesMut>> = (0..threads)
        .map(|t| (0..per_thread).map(|_| encoded((t % 8) as i32)).collect())
        .collect();
    let start = Instant::now();
    let cpu0 = cpu_secs();
    let handles: Vec<_> = inputs
        .into_iter()
        .enumerate()
        .map(|(t, recs)| {
            let s = store.clone();
            std::thread::spawn(move || {
                for r in recs {
                    s.put("BenchmarkTest", (t % 8) as i32, r, tags).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let n = threads * per_thread;
    println!(
        "threads={threads} records={n} record_size={size}B: {:.0} puts/s, {:.1} MB/s, \
         {:.2} us CPU per put (load average {})",
        n as f64 / secs,
        (n * size) as f64 / secs / 1e6,
        cpu * 1e6 / n as f64,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .next()
            .unwrap_or("?")
    );
    // a pull-side number: read everything back in batches of 32
    let start = Instant::now();
    let mut got = 0;
    for q in 0..threads.min(8) as i32 {
        let mut offset = 0;
        loop {
            let r = store.get_messages("BenchmarkTest", q, offset, 32, 256 * 1024, &|_| true);
            if r.messages.is_empty() {
                break;
            }
            got += r.messages.len();
            offset = r.next_begin_offset;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "  read back {got} records in batches of 32: {:.0} msgs/s",
        got as f64 / secs
    );
    store.shutdown().unwrap();
}

/// SYNC flush: `tasks` concurrent senders, each awaiting its group-commit fsync.
fn run_sync(tasks: usize, per_task: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StoreConfig::new(dir.path());
    cfg.flush = rmq_store::FlushMode::Sync;
    let store = MessageStore::open(cfg).unwrap();
    let tags = TagsCode::Hash(tags_hash_code("TagA"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let s = store.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        let q = (t % 8) as i32;
                        let r = s.put("BenchmarkTest", q, encoded(q), tags).unwrap();
                        assert!(
                            s.wait_flushed(r.end_offset(), std::time::Duration::from_secs(5))
                                .await
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let n = tasks * per_task;
    println!(
        "SYNC flush, {tasks} concurrent senders: {:.0} acknowledged puts/s ({n} records)",
        n as f64 / secs
    );
    store.shutdown().unwrap();
}

fn main() {
    let per_thread: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    run(1, per_thread);
    run(4, per_thread / 4 * 2);
    run_sync(64, 500);
}
