//! Delay levels with unmodified clients and the default `messageDelayLevel`: level 3 (10 s)
//! arrives no earlier than 10 s after it was sent, with a consumer already waiting; and delayed
//! messages that are not yet due survive a broker restart and are delivered once.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, NamesrvProc};

const LEVEL_3_MS: i64 = 10_000;

fn produce_delayed(client: Client, ns: &str, topic: &str, prefix: &str, start: &str) {
    run(client, &format!("produce --namesrv {ns} --topic {topic} --count 5 --prefix {prefix} --start {start} --delay-level 3"))
    .assert_ok();
}

fn consume(
    client: Client,
    ns: &str,
    topic: &str,
    group: &str,
    prefix: &str,
    start: &str,
) -> rmq_e2e::HarnessResult {
    run(
        client,
        &format!(
            "consume --namesrv {ns} --topic {topic} --group {group} --prefix {prefix} --start {start} --expect 5 --linger-ms 2000 --timeout-ms 90000"
        ),
    )
}

fn delay_suite(client: Client) {
    let ns = NamesrvProc::start();
    let mut broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let topic = format!("Delay{client:?}");
    let group = format!("delay-{client:?}");
    // The topic exists and the consumer waits before the delayed messages are sent.
    create_topic(&broker.addr, &topic, 4);
    let (ns_addr, t, g) = (ns.addr.clone(), topic.clone(), group.clone());
    let waiting = std::thread::spawn(move || consume(client, &ns_addr, &t, &g, "a", "0"));
    std::thread::sleep(std::time::Duration::from_secs(3));
    produce_delayed(client, &ns.addr, &topic, "a", "0");
    let c = waiting.join().unwrap();
    c.assert_ok();
    assert_eq!(c.num("duplicates"), 0, "{}", c.json);
    let min_age = c.num("minAgeMs");
    assert!(
        min_age >= LEVEL_3_MS,
        "delay level 3 delivered after {min_age} ms (< 10 s): {}",
        c.json
    );
    assert!(c.num("maxAgeMs") < 60_000, "delivered when due: {}", c.json);

    // Not yet due when the broker restarts: delivered after it, exactly once.
    produce_delayed(client, &ns.addr, &topic, "b", "0");
    broker.restart();
    let c = consume(client, &ns.addr, &topic, &group, "b", "0");
    c.assert_ok();
    assert_eq!(c.num("distinct"), 5, "{}", c.json);
    assert_eq!(c.num("duplicates"), 0, "{}", c.json);
    assert!(c.num("minAgeMs") >= LEVEL_3_MS, "{}", c.json);
}

#[test]
fn java_5_delay_levels() {
    delay_suite(Client::Java5);
}

#[test]
fn go_delay_levels() {
    delay_suite(Client::Go);
}
