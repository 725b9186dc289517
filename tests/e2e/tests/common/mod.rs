//! Helpers shared by the feature suites (retry/DLQ, delay, transactions, orderly, query).
#![allow(dead_code, clippy::unwrap_used)]

use rmq_e2e::harness::parse_ranges;
use rmq_e2e::{BrokerOpts, Client, HarnessResult, run_harness};
use rmq_protocol::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use rmq_protocol::body::to_json;
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::collections::BTreeSet;
use std::time::Duration;

/// Eighteen 1-second levels: retries (levels 3, 4, ...) come back after a second.
pub const FAST_LEVELS: &str = "1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s";

/// Default broker options plus `extra` broker.conf keys.
pub fn opts(extra: &[(&str, &str)]) -> BrokerOpts {
    let mut o = BrokerOpts::default();
    o.set.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    o
}

/// Runs a harness scenario with `args` (`--name value` pairs and flags); sends get a 10 s
/// timeout (CI machines are busy).
pub fn harness(client: Client, args: &[&str]) -> HarnessResult {
    let mut all = args.to_vec();
    if args.first() == Some(&"produce") && !args.contains(&"--send-timeout-ms") {
        all.extend(["--send-timeout-ms", "10000"]);
    }
    let r = run_harness(client, &all);
    eprintln!(
        "{client:?} {}: {}",
        args.first().unwrap_or(&""),
        r.json.to_string().chars().take(600).collect::<String>()
    );
    r
}

/// [`harness`] with the scenario written as one line of the harness CLI's words (no word holds
/// a space): `run(client, &format!("produce --namesrv {ns} --topic {topic} --count 10"))`.
pub fn run(client: Client, line: &str) -> HarnessResult {
    let args: Vec<&str> = line.split_whitespace().collect();
    harness(client, &args)
}

/// Sends a consumer heartbeat for `group` so the broker creates `%RETRY%<group>` and registers
/// it before the real consumer starts (a Java consumer only re-reads routes every 30 s).
pub fn warm_group(broker: &str, group: &str, topic: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = RemotingClient::new(ClientConfig::default());
        let hb = HeartbeatData {
            client_id: format!("warm-{group}"),
            consumer_data_set: vec![ConsumerData {
                group_name: group.into(),
                consume_type: "CONSUME_PASSIVELY".into(),
                message_model: "CLUSTERING".into(),
                consume_from_where: "CONSUME_FROM_FIRST_OFFSET".into(),
                subscription_data_set: vec![SubscriptionData::from_expression(topic, "*", 1)],
                unit_mode: false,
            }],
            ..HeartbeatData::default()
        };
        let req = RemotingCommand::request(rc::HEART_BEAT).with_body(to_json(&hb));
        let r = c.invoke(broker, req, Duration::from_secs(5)).await.unwrap();
        assert_eq!(r.code, response_code::SUCCESS);
        c.close_all();
    });
    // the broker re-registers with the nameserver right away
    std::thread::sleep(Duration::from_millis(500));
}

/// Creates `topic` with `queues` read/write queues (UPDATE_AND_CREATE_TOPIC), so consumers can
/// start before anything was sent.
pub fn create_topic(broker: &str, topic: &str, queues: i32) {
    let code = rmq_e2e::Admin::new().create_topic(broker, topic, queues);
    assert_eq!(
        code,
        Some(response_code::SUCCESS),
        "creating {topic} on {broker}"
    );
    std::thread::sleep(Duration::from_millis(500));
}

/// The consumed indices of a consumer result.
pub fn consumed(r: &HarnessResult) -> BTreeSet<i64> {
    parse_ranges(&r.str("ranges")).into_iter().collect()
}

/// A count from a `{"key": n}` map field (0 if absent).
pub fn count_in(r: &HarnessResult, field: &str, key: &str) -> i64 {
    r.json[field][key].as_i64().unwrap_or(0)
}

/// The lines of a harness `--out` file, split at tabs.
pub fn out_lines(path: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
