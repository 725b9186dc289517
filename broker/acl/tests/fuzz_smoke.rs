//! The fuzz target's checks (`rmq_acl::fuzzing`), run in CI on seeded pseudo-random inputs:
//! mutations of valid account files and of valid requests (sends, pulls, heartbeats, queue
//! locks, admin and nameserver requests), plus random bytes. Fails on a panic or a broken
//! invariant; `cargo +nightly fuzz run acl` in `broker/acl/fuzz` explores further.

use rmq_acl::fuzzing::{FIXED_ACL, one_input};

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let heartbeat = br#"{"clientID":"c1","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[{"topic":"T"}]}],"producerDataSet":[{"groupName":"P"}]}"#;
    let lock = br#"{"consumerGroup":"G","clientId":"c1","mqSet":[{"topic":"T","brokerName":"b","queueId":0}]}"#;
    let mut out = vec![[&[0u8][..], FIXED_ACL.as_bytes()].concat()];
    for (pick, fields, body) in [
        (0u8, "topic=T\0producerGroup=P", &b"hello"[..]),
        (1, "b=T\0a=P", b"body"),
        (3, "topic=T\0consumerGroup=G\0queueId=0", b""),
        (4, "", heartbeat),
        (5, "", lock),
        (7, "group=G\0offset=1", b""),
        (8, "topic=NewT\0readQueueNums=8", b""),
        (
            9,
            "brokerName=b\0brokerAddr=127.0.0.1:10911",
            b"{\"topicConfigTable\":{}}",
        ),
        (10, "namespace=N\0key=k\0value=v", b""),
        (11, "topic=%RETRY%G", b""),
    ] {
        out.push([&[1u8, pick][..], fields.as_bytes(), &[0xFF], body].concat());
    }
    out
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(4) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next() as u8;
            }
            1 if data.len() > 2 => {
                let i = 2 + rng.below(data.len() - 2);
                data.remove(i);
            }
            2 => {
                let i = rng.below(data.len() + 1);
                data.insert(i, rng.next() as u8);
            }
            _ => {
                let i = rng.below(data.len() + 1);
                data.truncate(i.max(1));
            }
        }
    }
    data
}

#[test]
fn seeded_fuzz_inputs_never_panic_or_let_a_changed_request_in() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let seeds = seeds();
    for seed in &seeds {
        one_input(seed);
    }
    for _ in 0..20_000 {
        let seed = &seeds[rng.below(seeds.len())];
        one_input(&mutate(&mut rng, seed));
    }
    for _ in 0..2_000 {
        let len = rng.below(300);
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        one_input(&data);
    }
}
