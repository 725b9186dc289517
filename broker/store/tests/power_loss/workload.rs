//! Workload and checks for the power-loss tests: a seeded random generator, the ledger of
//! records the store must still hold, producers and the post-recovery verification.

use super::common::{all, decode, record};
use rmq_store::{FlushMode, GetStatus, MessageStore, StoreConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Topics written, each with [`QUEUES`] queues.
pub const TOPICS: [&str; 3] = ["PL_A", "PL_B", "PL_C"];
/// Queues per topic.
pub const QUEUES: i32 = 3;

/// splitmix64: a small deterministic generator (the crate has no `rand` dev-dependency).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// A queue: topic and queue id.
pub type QueueKey = (String, i32);

/// One record the store acknowledged: where it is and its body.
#[derive(Debug, Clone)]
pub struct Acked {
    /// Queue it went to.
    pub queue: QueueKey,
    /// Its queue offset.
    pub offset: i64,
    /// Its body.
    pub body: Vec<u8>,
    /// End of the record in the commit log (what `wait_durable` was asked for).
    pub end: i64,
}

/// A config for the power-loss runs: 64 KiB segments and 16-unit queue files (several of
/// each per run), the given flush mode and interval, a small key index.
pub fn config(root: &Path, mode: FlushMode, interval: Duration) -> StoreConfig {
    let mut c = StoreConfig::new(root);
    c.commit_log_segment_size = 64 * 1024;
    c.consume_queue_units_per_file = 16;
    c.flush = mode;
    c.flush_interval = interval;
    c.index_entries_per_file = 64;
    c
}

/// A body naming its cycle, queue and sequence number, padded to a random length (40..3000
/// bytes) with bytes derived from the sequence number.
pub fn body(rng: &mut Rng, cycle: usize, q: &QueueKey, seq: usize) -> Vec<u8> {
    let mut b = format!("c{cycle}-{}-{}-n{seq}-", q.0, q.1).into_bytes();
    let len = rng.range(40, 3000) as usize;
    b.extend((b.len()..len).map(|i| (i * 31 + seq) as u8));
    b
}

/// A random queue.
pub fn pick_queue(rng: &mut Rng) -> QueueKey {
    let t = TOPICS[rng.range(0, TOPICS.len() as u64) as usize];
    (t.to_string(), rng.range(0, QUEUES as u64) as i32)
}

/// Puts one record (or, one time in four, a batch of 2..5) on a random queue; the results in
/// put order, or `None` once the store refuses writes (after the power cut).
pub fn put_some(
    store: &MessageStore,
    rng: &mut Rng,
    cycle: usize,
    seq: &mut usize,
) -> Option<Vec<Acked>> {
    let q = pick_queue(rng);
    let n = match rng.range(0, 4) {
        0 => rng.range(2, 5) as usize,
        _ => 1,
    };
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| body(rng, cycle, &q, *seq + i)).collect();
    *seq += n;
    let recs = bodies
        .iter()
        .map(|b| record(&q.0, q.1, b, Some("t")))
        .collect();
    let res = store.put_batch(&q.0, q.1, recs).ok()?;
    let acked = res.iter().zip(bodies).map(|(r, body)| Acked {
        queue: q.clone(),
        offset: r.queue_offset,
        body,
        end: r.end_offset(),
    });
    Some(acked.collect())
}

/// Every record of every queue, by queue then queue offset: decoded (CRC checked), with its
/// topic, queue and queue offset checked against where it was read.
pub fn read_all(store: &MessageStore) -> BTreeMap<QueueKey, Vec<Vec<u8>>> {
    let mut out = BTreeMap::new();
    for t in store.topics() {
        for q in store.queue_ids(&t) {
            assert_eq!(store.min_offset(&t, q), 0, "{t}/{q}: nothing expires here");
            let max = store.max_offset(&t, q);
            let mut bodies = Vec::new();
            while (bodies.len() as i64) < max {
                let off = bodies.len() as i64;
                let got = store.get_messages(&t, q, off, 64, usize::MAX, &all);
                assert_eq!(got.status, GetStatus::Found, "{t}/{q}@{off}: {got:?}");
                for m in &got.messages {
                    let m = decode(m);
                    let at = bodies.len() as i64;
                    assert_eq!((m.topic.as_str(), m.queue_id), (t.as_str(), q));
                    assert_eq!(m.queue_offset, at, "{t}/{q}: queue offset");
                    bodies.push(m.body.to_vec());
                }
            }
            out.insert((t.clone(), q), bodies);
        }
    }
    out
}

/// Checks that the recovered `now` holds every record of `before` (the store's content when
/// it was opened) and of `acked` at the same queue offset with the same body; the records
/// missing, which are lost records, are returned (none allowed under SYNC flush).
pub fn missing(
    now: &BTreeMap<QueueKey, Vec<Vec<u8>>>,
    before: &BTreeMap<QueueKey, Vec<Vec<u8>>>,
    acked: &[Acked],
) -> Vec<Acked> {
    for (q, bodies) in before {
        let got = now.get(q).map_or(&[][..], Vec::as_slice);
        assert!(got.len() >= bodies.len(), "{q:?}: recovered content lost");
        assert_eq!(&got[..bodies.len()], bodies.as_slice(), "{q:?}: changed");
    }
    let mut lost = Vec::new();
    for a in acked {
        let got = now.get(&a.queue).and_then(|b| b.get(a.offset as usize));
        match got {
            Some(b) => assert_eq!(b, &a.body, "{:?}@{}: other body", a.queue, a.offset),
            None => lost.push(a.clone()),
        }
    }
    lost
}

/// New writes work on every queue and are readable at the queue's old end.
pub async fn check_writable(store: &Arc<MessageStore>) {
    for t in TOPICS {
        for q in 0..QUEUES {
            let at = store.max_offset(t, q);
            let (rec, tags) = record(t, q, b"after-recovery", None);
            let r = store.put(t, q, rec, tags).unwrap();
            assert_eq!(r.queue_offset, at);
            let durable = store.wait_durable(r.end_offset(), Duration::from_secs(5));
            assert!(durable.await.unwrap());
            let got = store.get_messages(t, q, at, 1, usize::MAX, &all);
            assert_eq!(decode(&got.messages[0]).body.as_ref(), b"after-recovery");
        }
    }
}
