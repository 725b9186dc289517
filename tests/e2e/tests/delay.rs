//! Delay levels with unmodified clients and the default `messageDelayLevel`: level 3 (10 s)
//! arrives no earlier than 10 s after it was sent, with a consumer already waiting; and delayed
//! messages that are not yet due survive a broker restart and are delivered once.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, Flow, HarnessResult, NamesrvProc};

const LEVEL_3_MS: i64 = 10_000;

fn produce_delayed(client: Client, ns: &str, topic: &str, prefix: &str) {
    let flow = Flow {
        client,
        ns,
        topic,
        prefix,
    };
    flow.produce(0, 5, "--delay-level 3 --send-timeout-ms 10000")
        .assert_ok();
}

fn consume(client: Client, ns: &str, topic: &str, group: &str, prefix: &str) -> HarnessResult {
    let flow = Flow {
        client,
        ns,
        topic,
        prefix,
    };
    flow.consume(
        "consume",
        group,
        5,
        "--start 0 --linger-ms 2000 --timeout-ms 90000",
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
    let waiting = std::thread::spawn(move || consume(client, &ns_addr, &t, &g, "a"));
    std::thread::sleep(std::time::Duration::from_secs(3));
    produce_delayed(client, &ns.addr, &topic, "a");
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
    produce_delayed(client, &ns.addr, &topic, "b");
    broker.restart();
    let c = consume(client, &ns.addr, &topic, &group, "b");
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
