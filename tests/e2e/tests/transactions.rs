//! Transactional messages with unmodified clients: commit delivers, rollback never delivers,
//! unknown → check-back (CHECK_TRANSACTION_STATE to a live producer of the group) → commit
//! delivers exactly once; a graceful restart and a kill -9 in between change nothing.
//! The broker checks every 2 s (`transactionCheckInterval`); halves are due after 6 s.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::harness::parse_ranges;
use rmq_e2e::{BrokerProc, Client, NamesrvProc};
use std::collections::BTreeSet;

const CHECK_EVERY_2S: (&str, &str) = ("transactionCheckInterval", "2000");

/// Indices `0..n` whose `--tx mix` decision is `kind` (0 commit, 1 rollback, 2 unknown).
fn mix(n: i64, kind: i64) -> BTreeSet<i64> {
    (0..n).filter(|i| i % 3 == kind).collect()
}

fn ranges(r: &rmq_e2e::HarnessResult, field: &str) -> BTreeSet<i64> {
    parse_ranges(&r.str(field)).into_iter().collect()
}

#[test]
fn java_5_commit_rollback_check_back_across_restarts() {
    let client = Client::Java5;
    let ns = NamesrvProc::start();
    let mut broker = BrokerProc::start(&ns.addr, opts(&[CHECK_EVERY_2S]));
    let (topic, pgroup, cgroup) = ("TxJava5", "tx-producer-java5", "tx-consumer-java5");
    let n = 30;
    create_topic(&broker.addr, topic, 4);

    // A: 10 commits, 10 rollbacks, 10 unknown; A leaves before any check.
    let a = run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --group {pgroup} --mode transaction --tx mix --check unknown --count 30 --prefix t",
            ns.addr
        ),
    );
    a.assert_ok();
    assert_eq!(ranges(&a, "txUnknown"), mix(n, 2));

    // The halves survive a restart; B (same group) answers the checks with commit.
    broker.restart();
    let b = run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --group {pgroup} --mode transaction --tx commit --check commit --count 1 --start 30 --prefix t --wait-checks 10 --timeout-ms 90000",
            ns.addr
        ),
    );
    b.assert_ok();
    assert_eq!(
        ranges(&b, "checked"),
        mix(n, 2),
        "exactly the unknown ones are checked: {}",
        b.json
    );

    let mut expected: BTreeSet<i64> = mix(n, 0).union(&mix(n, 2)).copied().collect();
    expected.insert(30);
    let c = run(
        client,
        &format!(
            "consume --namesrv {} --topic {topic} --group {cgroup} --prefix t --expect 21 --linger-ms 3000 --timeout-ms 90000",
            ns.addr
        ),
    );
    c.assert_ok();
    assert_eq!(
        consumed(&c),
        expected,
        "commits and checked commits, never rollbacks: {}",
        c.json
    );
    assert_eq!(c.num("duplicates"), 0, "each exactly once: {}", c.json);

    // A crash: nothing is checked again and nothing is delivered again.
    broker.kill9();
    broker.start_again();
    let d = run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --group {pgroup} --mode transaction --tx rollback --check commit --count 1 --start 31 --prefix t --wait-checks 1 --timeout-ms 12000",
            ns.addr
        ),
    );
    assert_eq!(d.num("sent"), 1, "{}", d.json);
    assert_eq!(
        d.num("checks"),
        0,
        "resolved transactions are not checked again: {}",
        d.json
    );
    // A fresh group reads the topic from the start: the same 21 messages, each once (a second
    // commit would be a second record).
    let again = run(
        client,
        &format!(
            "consume --namesrv {} --topic {topic} --group tx-consumer-after-crash --prefix t --expect 21 --linger-ms 3000 --timeout-ms 90000",
            ns.addr
        ),
    );
    again.assert_ok();
    assert_eq!(consumed(&again), expected, "{}", again.json);
    assert_eq!(
        again.num("duplicates"),
        0,
        "no second commit after the crash: {}",
        again.json
    );
}

fn check_back(client: Client) {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, opts(&[CHECK_EVERY_2S]));
    let topic = format!("Tx{client:?}");
    create_topic(&broker.addr, &topic, 4);
    let n = 9;
    let p = run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --group tx-p-{client:?} --mode transaction --tx mix --check commit --count 9 --prefix t --wait-checks 3 --timeout-ms 90000",
            ns.addr
        ),
    );
    p.assert_ok();
    assert_eq!(ranges(&p, "checked"), mix(n, 2), "{}", p.json);
    let c = run(
        client,
        &format!(
            "consume --namesrv {} --topic {topic} --group tx-c-{client:?} --prefix t --expect 6 --linger-ms 3000 --timeout-ms 90000",
            ns.addr
        ),
    );
    c.assert_ok();
    let expected: BTreeSet<i64> = mix(n, 0).union(&mix(n, 2)).copied().collect();
    assert_eq!(consumed(&c), expected, "{}", c.json);
    assert_eq!(c.num("duplicates"), 0, "{}", c.json);
}

#[test]
fn java_4_9_check_back() {
    check_back(Client::Java4);
}

#[test]
fn go_check_back() {
    check_back(Client::Go);
}
