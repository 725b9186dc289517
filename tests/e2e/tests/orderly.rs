//! Ordered consumption with unmodified clients: 4 queues, messages sharded by index
//! (`i % 4` → queue), two orderly consumers of one group (queue locks via LOCK_BATCH_MQ /
//! UNLOCK_BATCH_MQ). The second joins while messages keep arriving and the first leaves before
//! the end, so queues change hands twice. Each consumer sees every queue in order, nothing is
//! lost, and every queue is handed over cleanly: all of one owner's messages come before the
//! next owner's. (Java 4.9 orderly consumers behave like Java 5's.)

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, NamesrvProc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const FIRST: i64 = 400;
const SECOND: i64 = 800;

fn consumer(
    client: Client,
    ns: &str,
    topic: &str,
    group: &str,
    out: &str,
    instance: &str,
    timeout: &str,
) -> rmq_e2e::HarnessResult {
    run(
        client,
        &format!(
            "consume --namesrv {ns} --topic {topic} --group {group} --orderly --shards 4 --prefix o --expect 0 --timeout-ms {timeout} --out {out} --instance {instance}"
        ),
    )
}

/// queue id → indices consumed OK from it, from a `--out` file.
fn by_queue(path: &std::path::Path) -> BTreeMap<String, BTreeSet<i64>> {
    let mut m: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for l in out_lines(path) {
        if l.len() > 9 && l[9] == "ok" {
            m.entry(l[4].clone())
                .or_default()
                .insert(l[0].parse().unwrap());
        }
    }
    m
}

fn orderly_suite(client: Client, broker_opts: BrokerOpts, b_timeout: &str) {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, broker_opts);
    let topic = format!("Orderly{client:?}");
    let group = format!("orderly-{client:?}");
    create_topic(&broker.addr, &topic, 4);
    warm_group(&broker.addr, &group, &topic);
    let first = FIRST.to_string();
    let p = run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --count {first} --shards 4 --prefix o",
            ns.addr
        ),
    );
    p.assert_ok();
    assert_eq!(
        p.json["queues"].as_object().map(|q| q.len()),
        Some(4),
        "{}",
        p.json
    );

    let dir = tempfile::tempdir().unwrap();
    let (a_out, b_out) = (dir.path().join("a.tsv"), dir.path().join("b.tsv"));
    let (ns1, t1, g1, o1) = (ns.addr.clone(), topic.clone(), group.clone(), a_out.clone());
    let a = std::thread::spawn(move || {
        consumer(client, &ns1, &t1, &g1, o1.to_str().unwrap(), "A", "25000")
    });
    std::thread::sleep(Duration::from_secs(8));
    let (ns2, t2) = (ns.addr.clone(), topic.clone());
    let more = std::thread::spawn(move || {
        run(
            client,
            &format!(
                "produce --namesrv {ns2} --topic {t2} --count {} --start {} --shards 4 --prefix o",
                SECOND,
                first_str()
            ),
        )
    });
    let b = consumer(
        client,
        &ns.addr,
        &topic,
        &group,
        b_out.to_str().unwrap(),
        "B",
        b_timeout,
    );
    let a = a.join().unwrap();
    more.join().unwrap().assert_ok();

    for (name, r) in [("A", &a), ("B", &b)] {
        r.assert_ok();
        assert_eq!(
            r.num("orderViolations"),
            0,
            "{name} saw a queue out of order: {}",
            r.json
        );
        assert!(r.num("distinct") > 0, "{name} consumed nothing: {}", r.json);
    }
    let all: BTreeSet<i64> = consumed(&a).union(&consumed(&b)).copied().collect();
    let want: BTreeSet<i64> = (0..FIRST + SECOND).collect();
    assert_eq!(all, want, "every message consumed by one of them");

    // Clean hand-over: on each queue A's messages (minus redeliveries) precede B's.
    let (qa, qb) = (by_queue(&a_out), by_queue(&b_out));
    let mut handed_over = 0;
    for (q, b_idx) in &qb {
        let Some(a_idx) = qa.get(q) else { continue };
        let a_only: Vec<i64> = a_idx.difference(b_idx).copied().collect();
        let b_only: Vec<i64> = b_idx.difference(a_idx).copied().collect();
        if let (Some(a_last), Some(b_first)) = (a_only.last(), b_only.first()) {
            assert!(
                a_last < b_first,
                "queue {q}: A consumed {a_last} after B started at {b_first}"
            );
            handed_over += 1;
        }
    }
    assert!(handed_over > 0, "a queue changed hands: A {qa:?} B {qb:?}");
    drop(broker);
}

fn first_str() -> String {
    FIRST.to_string()
}

#[test]
fn java_5_orderly_rebalance() {
    orderly_suite(Client::Java5, BrokerOpts::default(), "35000");
}

#[test]
fn go_orderly_rebalance() {
    // The Go client neither unlocks queues it gives up nor unlocks at shutdown: its locks
    // must expire (60 s by default) before the other consumer gets the queues. A 25 s expiry
    // (> the 20 s renewal period) keeps the test short.
    orderly_suite(
        Client::Go,
        opts(&[("rocketmq.broker.rebalance.lockMaxLiveTime", "25000")]),
        "60000",
    );
}
