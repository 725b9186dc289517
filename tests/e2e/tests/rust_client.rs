//! The crates.io Rust client (`rocketmq-client-rust`, driven by tests/rust-client's
//! `rmq-harness-rust`) against real rmq processes: 1000 sync sends, a lite pull consumer that must
//! get every body exactly once and intact, and interop with the Java 5.x client both ways (Java
//! consumes what Rust produced; Rust pulls and push-consumes what Java produced).
//!
//! Needs `RMQ_RUST_HARNESS` (tests/rust-client/build.sh) and, for the interop test,
//! `RMQ_JAVA_HARNESS_5` (tests/build-harnesses.sh).

#![allow(clippy::unwrap_used)]

use rmq_e2e::harness::parse_ranges;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, Flow, HarnessResult, NamesrvProc};

const COUNT: i64 = 1000;
/// Bodies carry a verified filler, so corruption anywhere in the body is detected.
const BODY_SIZE: &str = "256";

fn produce(client: Client, ns: &str, topic: &str, prefix: &str, count: i64) -> HarnessResult {
    let flags = format!("--tag TagR --keys --body-size {BODY_SIZE} --timeout-ms 120000");
    let r = Flow {
        client,
        ns,
        topic,
        prefix,
    }
    .produce(0, count, &flags);
    r.assert_ok();
    assert_eq!(r.num("sent"), count, "{client:?} produce: {}", r.json);
    assert_eq!(r.str("acked"), format!("0-{}", count - 1), "{}", r.json);
    r
}

/// Consumes `expect` bodies of `prefix` with `scenario` ("pull" | "consume") and checks that all
/// arrived exactly once, intact.
fn consume_all(
    client: Client,
    scenario: &str,
    ns: &str,
    topic: &str,
    group: &str,
    prefix: &str,
    expect: i64,
) -> HarnessResult {
    let flow = Flow {
        client,
        ns,
        topic,
        prefix,
    };
    let r = flow.consume(
        scenario,
        group,
        expect,
        "--linger-ms 1000 --timeout-ms 120000",
    );
    r.assert_ok();
    assert_eq!(
        r.str("missing"),
        "",
        "{client:?} {scenario}: every body must arrive: {}",
        r.json
    );
    assert_eq!(r.num("corrupt"), 0, "{}", r.json);
    assert_eq!(r.num("foreign"), 0, "{}", r.json);
    assert_eq!(r.num("distinct"), expect, "{}", r.json);
    assert_eq!(
        parse_ranges(&r.str("ranges")),
        (0..expect).collect::<Vec<_>>(),
        "{}",
        r.json
    );
    assert_eq!(
        r.num("duplicates"),
        0,
        "no duplicates on a clean run: {}",
        r.json
    );
    r
}

#[test]
fn rust_client_send_and_pull() {
    let ns = NamesrvProc::start();
    let _broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let topic = "RustClient";

    let p = produce(Client::Rust, &ns.addr, topic, "r", COUNT);
    assert_eq!(p.str("client"), "rust");
    assert_eq!(
        p.json["status"]["SEND_OK"].as_i64(),
        Some(COUNT),
        "{}",
        p.json
    );

    let r = consume_all(
        Client::Rust,
        "pull",
        &ns.addr,
        topic,
        "rust-pull",
        "r",
        COUNT,
    );
    assert_eq!(r.json["tags"]["TagR"].as_i64(), Some(COUNT), "{}", r.json);
    eprintln!("rust pull: {}", r.json);
}

#[test]
fn rust_and_java_interop() {
    let ns = NamesrvProc::start();
    let _broker = BrokerProc::start(&ns.addr, BrokerOpts::default());

    // Java 5 consumes what Rust produced.
    produce(Client::Rust, &ns.addr, "RustToJava", "rj", COUNT);
    consume_all(
        Client::Java5,
        "consume",
        &ns.addr,
        "RustToJava",
        "java-of-rust",
        "rj",
        COUNT,
    );

    // Rust pulls (lite pull) and push-consumes (another group) what Java 5 produced.
    produce(Client::Java5, &ns.addr, "JavaToRust", "jr", COUNT);
    consume_all(
        Client::Rust,
        "pull",
        &ns.addr,
        "JavaToRust",
        "rust-of-java",
        "jr",
        COUNT,
    );
    consume_all(
        Client::Rust,
        "consume",
        &ns.addr,
        "JavaToRust",
        "rust-push-of-java",
        "jr",
        COUNT,
    );
}
