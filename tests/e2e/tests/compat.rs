//! Unmodified clients (Java 4.9.x, Java 5.x, Go) against real rmq processes: sync sends with keys
//! and tags, async, oneway and batch sends, a push consumer with a tag subscription that must get
//! every matching body exactly once, and offsets that survive a consumer restart.

#![allow(clippy::unwrap_used)]

use rmq_e2e::harness::parse_ranges;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, NamesrvProc, run_line};

const SYNC: i64 = 10_000;
const ASYNC: i64 = 1_000;
const ONEWAY: i64 = 500;
const BATCH: i64 = 1_000;
const OTHER_TAG: i64 = 300;
const AFTER_RESTART: i64 = 1_000;

fn produce(client: Client, ns: &str, topic: &str, mode: &str, tag: &str, start: i64, count: i64) {
    let (start_s, count_s) = (start.to_string(), count.to_string());
    let r = run_line(
        client,
        &format!(
            "produce --namesrv {ns} --topic {topic} --mode {mode} --tag {tag} --keys --prefix c --start {start_s} --count {count_s} --timeout-ms 240000 --send-timeout-ms 10000"
        ),
    );
    r.assert_ok();
    assert_eq!(r.num("sent"), count, "{mode}: {}", r.json);
}

fn compat_suite(client: Client) {
    let ns = NamesrvProc::start();
    let _broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let topic = format!("Compat{client:?}");
    let group = format!("compat-{client:?}");

    let mut next = 0;
    for (mode, count) in [
        ("sync", SYNC),
        ("async", ASYNC),
        ("oneway", ONEWAY),
        ("batch", BATCH),
    ] {
        produce(client, &ns.addr, &topic, mode, "TagA", next, count);
        next += count;
    }
    let tag_a_total = next;
    produce(client, &ns.addr, &topic, "sync", "TagB", next, OTHER_TAG);
    next += OTHER_TAG;

    let expect = tag_a_total.to_string();
    let r = run_line(
        client,
        &format!(
            "consume --namesrv {} --topic {topic} --group {group} --tag TagA --prefix c --expect {expect} --linger-ms 1500 --timeout-ms 180000",
            ns.addr
        ),
    );
    r.assert_ok();
    assert_eq!(
        r.str("missing"),
        "",
        "every TagA body must arrive: {}",
        r.json
    );
    assert_eq!(r.num("corrupt"), 0);
    assert!(
        r.json["tags"].get("TagB").is_none(),
        "TagB must be filtered out: {}",
        r.json
    );
    let distinct = r.num("distinct");
    assert_eq!(distinct, tag_a_total, "exactly the TagA bodies: {}", r.json);
    let duplicates = r.num("duplicates");
    eprintln!("{client:?}: {distinct} distinct, {duplicates} duplicates");
    assert_eq!(duplicates, 0, "no duplicates on a clean run: {}", r.json);

    // Offsets survive a consumer restart: the same group only sees what came after.
    let restart_start = next;
    produce(
        client,
        &ns.addr,
        &topic,
        "sync",
        "TagA",
        restart_start,
        AFTER_RESTART,
    );
    let (start_s, expect_s) = (restart_start.to_string(), AFTER_RESTART.to_string());
    let r = run_line(
        client,
        &format!(
            "consume --namesrv {} --topic {topic} --group {group} --tag TagA --prefix c --start {start_s} --expect {expect_s} --linger-ms 1000 --timeout-ms 120000",
            ns.addr
        ),
    );
    r.assert_ok();
    let seen = parse_ranges(&r.str("ranges"));
    let old = seen.iter().filter(|i| **i < restart_start).count();
    assert!(
        old <= 64,
        "a restarted consumer must resume from its committed offsets, but {old} old bodies came again: {}",
        r.json
    );
}

#[test]
fn java_4_9_client() {
    compat_suite(Client::Java4);
}

#[test]
fn java_5_client() {
    compat_suite(Client::Java5);
}

#[test]
fn go_client() {
    compat_suite(Client::Go);
}
