//! Consumer retries and dead letters with unmodified clients: a listener answering
//! RECONSUME_LATER gets each message again with `reconsumeTimes + 1` (through
//! CONSUMER_SEND_MSG_BACK, `%RETRY%<group>` and a delay level); once the consumer's
//! `maxReconsumeTimes` is used up the message is in `%DLQ%<group>`, where another group reads
//! it. The broker uses 1-second delay levels so the retries come back quickly.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::{BrokerProc, Client, NamesrvProc};
use std::collections::BTreeMap;

fn retry_and_dead_letters(client: Client) {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, opts(&[("messageDelayLevel", FAST_LEVELS)]));
    retries_come_back_counted(client, &ns, &broker, 8);
    dead_letters_after_the_maximum(client, &ns, &broker, 8);
    drop(broker);
}

/// RECONSUME_LATER twice, then accept: `n` messages delivered with reconsumeTimes 0, 1, 2.
fn retries_come_back_counted(client: Client, ns: &NamesrvProc, broker: &BrokerProc, n: i64) {
    let count = n.to_string();
    let (topic, group) = (format!("Retry{client:?}"), format!("retry-{client:?}"));
    create_topic(&broker.addr, &topic, 4);
    warm_group(&broker.addr, &group, &topic);
    let p = run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --count {count} --prefix r",
            ns.addr
        ),
    );
    p.assert_ok();
    let out = tempfile::NamedTempFile::new().unwrap();
    let out_path = out.path().to_str().unwrap();
    let c = run(
        client,
        &format!(
            "consume --namesrv {} --topic {topic} --group {group} --prefix r --expect {count} --reconsume-later 2 --linger-ms 2000 --timeout-ms 90000 --out {out_path}",
            ns.addr
        ),
    );
    c.assert_ok();
    assert_eq!(c.num("distinct"), n);
    for times in ["0", "1", "2"] {
        assert_eq!(
            count_in(&c, "reconsumeTimes", times),
            n,
            "{times}: {}",
            c.json
        );
    }
    assert_eq!(count_in(&c, "reconsumeTimes", "3"), 0, "{}", c.json);
    assert_eq!(c.num("rejected"), 2 * n, "{}", c.json);
    // every message: first try, then the retries in order, all under the original topic
    let mut per_index: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in out_lines(out.path()) {
        assert_eq!(
            l[10], topic,
            "the client maps retries back to the topic: {l:?}"
        );
        per_index
            .entry(l[0].clone())
            .or_default()
            .push(l[6].clone());
    }
    assert_eq!(per_index.len(), n as usize);
    for (idx, times) in &per_index {
        assert_eq!(times, &["0", "1", "2"], "message {idx}");
    }
}

/// Always RECONSUME_LATER with maxReconsumeTimes 2: three deliveries, then the DLQ, where
/// another group reads every message once.
fn dead_letters_after_the_maximum(client: Client, ns: &NamesrvProc, broker: &BrokerProc, n: i64) {
    let count = n.to_string();
    let (topic, group) = (format!("Dlq{client:?}"), format!("dlq-{client:?}"));
    create_topic(&broker.addr, &topic, 4);
    warm_group(&broker.addr, &group, &topic);
    run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --count {count} --prefix d",
            ns.addr
        ),
    )
    .assert_ok();
    // 45 s, not less: the Java 5.3.3 client's post-rebalance heartbeat can lose its lock to the
    // first periodic one (built before the rebalance bumped the subscription version), and then
    // every pull is SUBSCRIPTION_NOT_LATEST until the next heartbeat, 30 s later. Any broker
    // that checks the version (the Java one does) sees that stall.
    let c = run(
        client,
        &format!(
            "consume --namesrv {} --topic {topic} --group {group} --prefix d --expect 0 --reconsume-later 1000 --max-reconsume-times 2 --timeout-ms 45000",
            ns.addr
        ),
    );
    for times in ["0", "1", "2"] {
        assert_eq!(
            count_in(&c, "reconsumeTimes", times),
            n,
            "{times}: {}",
            c.json
        );
    }
    assert_eq!(
        c.num("received"),
        3 * n,
        "no delivery after the maximum: {}",
        c.json
    );
    let dlq = format!("%DLQ%{group}");
    let d = run(
        client,
        &format!(
            "consume --namesrv {} --topic {dlq} --group dlq-reader-{client:?} --prefix d --expect {count} --linger-ms 1000 --timeout-ms 60000",
            ns.addr
        ),
    );
    d.assert_ok();
    assert_eq!(
        d.num("distinct"),
        n,
        "every message is in the DLQ: {}",
        d.json
    );
    assert_eq!(d.num("duplicates"), 0, "{}", d.json);
    assert_eq!(count_in(&d, "reconsumeTimes", "3"), n, "{}", d.json);
}

#[test]
fn java_5_retry_and_dlq() {
    retry_and_dead_letters(Client::Java5);
}

#[test]
fn java_4_9_retry_and_dlq() {
    retry_and_dead_letters(Client::Java4);
}

#[test]
fn go_retry_and_dlq() {
    retry_and_dead_letters(Client::Go);
}
