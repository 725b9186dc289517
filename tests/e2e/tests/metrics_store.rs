//! `/metrics` of a running broker beyond traffic: disk bytes that follow the writes exactly,
//! fsync latency, flush and dispatch backlogs, the delay-level backlog, prepared transaction
//! messages, dead-lettered messages and connections by role, all after real clients' traffic.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::http::{metric_value as value, scrape_metrics as scrape};
use rmq_e2e::{BrokerProc, Client, NamesrvProc, wait_until};
use rmq_protocol::body::heartbeat::{ConsumerData, HeartbeatData, ProducerData, SubscriptionData};
use rmq_protocol::body::to_json;
use rmq_protocol::header::send::SendMessageRequestHeaderV2;
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::time::Duration;

/// The sum of every series of `name` in `text`.
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn gauge(text: &str, name: &str) -> f64 {
    value(text, name, &[]).unwrap_or_else(|| panic!("{name} is exported:\n{text}"))
}

#[test]
fn store_backlogs_and_connections_read_back_exactly() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, opts(&[]));
    create_topic(&broker.addr, "StoreT", 2);
    let before = scrape(&broker.http_addr);
    run(
        Client::Java5,
        &format!(
            "produce --namesrv {} --topic StoreT --count 40 --prefix s",
            ns.addr
        ),
    )
    .assert_ok();
    let after = scrape(&broker.http_addr);
    disk_bytes_follow_the_writes(&before, &after);
    wait_until(
        "flushed and dispatched, fsyncs timed",
        Duration::from_secs(10),
        || {
            let t = scrape(&broker.http_addr);
            gauge(&t, "rocketmq_storage_flush_behind_bytes") == 0.0
                && gauge(&t, "rocketmq_storage_dispatch_behind_bytes") == 0.0
                && gauge(&t, "rmq_store_flush_latency_count") > 0.0
        },
    );
    let t = scrape(&broker.http_addr);
    let fsyncs = gauge(&t, "rmq_store_flush_latency_count");
    let inf = value(&t, "rmq_store_flush_latency_bucket", &["le=\"+Inf\""]).unwrap();
    assert_eq!(inf, fsyncs, "the +Inf bucket counts every fsync:\n{t}");
    assert!(gauge(&t, "rocketmq_storage_message_reserve_time") > 0.0);
    let ratio = gauge(&t, "rmq_store_disk_used_ratio");
    assert!(ratio > 0.0 && ratio < 1.0, "{ratio}");
    delayed_messages_wait_in_their_level(&ns, &broker);
    unresolved_halves_are_counted(&ns, &broker);
    connections_by_role(&broker);
}

/// 40 sends: the commit log grew by exactly the bytes the topic counter says were stored,
/// the consume queues by 40 units of 20 bytes.
fn disk_bytes_follow_the_writes(before: &str, after: &str) {
    let delta = |name: &str| gauge(after, name) - gauge(before, name);
    let stored = value(after, "rocketmq_throughput_in_total", &["topic=\"StoreT\""]).unwrap();
    assert!(stored > 40.0 * 100.0, "{stored}");
    assert_eq!(delta("rmq_store_commitlog_bytes"), stored, "{after}");
    assert_eq!(
        delta("rmq_store_consume_queue_bytes"),
        40.0 * 20.0,
        "{after}"
    );
}

/// Three messages at delay level 3 (10 s) wait in level 3's backlog, then leave it.
fn delayed_messages_wait_in_their_level(ns: &NamesrvProc, broker: &BrokerProc) {
    create_topic(&broker.addr, "DelayedT", 1);
    run(
        Client::Java5,
        &format!(
            "produce --namesrv {} --topic DelayedT --count 3 --prefix d --delay-level 3",
            ns.addr
        ),
    )
    .assert_ok();
    let level3 = ["level=\"3\""];
    let t = scrape(&broker.http_addr);
    assert_eq!(
        value(&t, "rmq_delay_backlog_messages", &level3),
        Some(3.0),
        "{t}"
    );
    assert_eq!(total(&t, "rmq_delay_backlog_messages"), 3.0, "{t}");
    wait_until(
        "the delayed messages are due",
        Duration::from_secs(30),
        || {
            value(
                &scrape(&broker.http_addr),
                "rmq_delay_backlog_messages",
                &level3,
            ) == Some(0.0)
        },
    );
    let t = scrape(&broker.http_addr);
    assert_eq!(
        value(&t, "rocketmq_producer_offset", &["topic=\"DelayedT\""]),
        Some(3.0),
        "delivered to their topic:\n{t}"
    );
}

/// Three prepared messages whose producer never commits nor rolls back: three half messages
/// (the check runs every 60 s by default, so it has not passed them yet).
fn unresolved_halves_are_counted(ns: &NamesrvProc, broker: &BrokerProc) {
    create_topic(&broker.addr, "HalfT", 1);
    assert_eq!(
        gauge(&scrape(&broker.http_addr), "rocketmq_half_messages"),
        0.0
    );
    run(
        Client::Java5,
        &format!(
            "produce --namesrv {} --topic HalfT --group half-p --mode transaction --tx unknown --check unknown --count 3 --prefix h",
            ns.addr
        ),
    );
    let t = scrape(&broker.http_addr);
    assert_eq!(gauge(&t, "rocketmq_half_messages"), 3.0, "{t}");
}

/// A client holding a producer and a consumer registration: one connection of each, by group.
fn connections_by_role(broker: &BrokerProc) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr, http) = (broker.addr.clone(), broker.http_addr.clone());
    let text = rt.block_on(async move {
        let c = RemotingClient::new(ClientConfig::default());
        let hb = HeartbeatData {
            client_id: "metrics-connections".into(),
            producer_data_set: vec![ProducerData {
                group_name: "conn-producers".into(),
            }],
            consumer_data_set: vec![ConsumerData {
                group_name: "conn-consumers".into(),
                consume_type: "CONSUME_PASSIVELY".into(),
                message_model: "CLUSTERING".into(),
                consume_from_where: "CONSUME_FROM_FIRST_OFFSET".into(),
                subscription_data_set: vec![SubscriptionData::from_expression("StoreT", "*", 1)],
                unit_mode: false,
            }],
            ..HeartbeatData::default()
        };
        let req = RemotingCommand::request(rc::HEART_BEAT).with_body(to_json(&hb));
        let r = c.invoke(&addr, req, Duration::from_secs(5)).await.unwrap();
        assert_eq!(r.code, response_code::SUCCESS);
        let text = tokio::task::spawn_blocking(move || scrape(&http))
            .await
            .unwrap();
        c.close_all();
        text
    });
    drop(rt); // its tasks hold the socket: dropping them closes the connection
    let producers = ["producer_group=\"conn-producers\""];
    let consumers = ["consumer_group=\"conn-consumers\""];
    assert_eq!(
        value(&text, "rocketmq_producer_connections", &producers),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "rocketmq_consumer_connections", &consumers),
        Some(1.0),
        "{text}"
    );
    wait_until(
        "the closed connection is gone",
        Duration::from_secs(10),
        || {
            let t = scrape(&broker.http_addr);
            value(&t, "rocketmq_consumer_connections", &consumers).is_none_or(|n| n == 0.0)
        },
    );
}

/// A consumer that always asks for a retry, with no retries allowed (Java 4.9: the 5.x
/// client's post-rebalance stall is not what this test is about): every message goes to
/// `%DLQ%<group>` and is counted there, keyed by its first topic.
#[test]
fn dead_lettered_messages_are_counted_by_topic_and_group() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, opts(&[]));
    let (topic, group) = ("DlqMetricsT", "dlq-metrics");
    create_topic(&broker.addr, topic, 2);
    warm_group(&broker.addr, group, topic);
    run(
        Client::Java4,
        &format!(
            "produce --namesrv {} --topic {topic} --count 4 --prefix x",
            ns.addr
        ),
    )
    .assert_ok();
    run(
        Client::Java4,
        &format!(
            "consume --namesrv {} --topic {topic} --group {group} --prefix x --expect 0 --reconsume-later 1000 --max-reconsume-times 0 --timeout-ms 20000",
            ns.addr
        ),
    );
    let needles = [
        &format!("topic=\"{topic}\"") as &str,
        &format!("consumer_group=\"{group}\""),
    ];
    wait_until("4 messages dead-lettered", Duration::from_secs(20), || {
        value(
            &scrape(&broker.http_addr),
            "rocketmq_send_to_dlq_messages_total",
            &needles,
        ) == Some(4.0)
    });
    let t = scrape(&broker.http_addr);
    assert_eq!(
        value(
            &t,
            "rocketmq_producer_offset",
            &[&format!("topic=\"%DLQ%{group}\"")]
        ),
        Some(4.0),
        "{t}"
    );
}

/// A consumer's send-back made by the client itself (Java's fallback when CONSUMER_SEND_MSG_BACK
/// fails): a send to `%RETRY%<group>` is a retry of its first topic, and past the maximum also a
/// dead letter.
#[test]
fn a_send_back_by_the_client_itself_is_counted() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, opts(&[]));
    create_topic(&broker.addr, "OrigT", 1);
    warm_group(&broker.addr, "self-back", "OrigT");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = broker.addr.clone();
    rt.block_on(async move {
        let c = RemotingClient::new(ClientConfig::default());
        for (times, max) in [(1, 16), (17, 16)] {
            let header = SendMessageRequestHeaderV2 {
                producer_group: "CLIENT_INNER_PRODUCER".into(),
                topic: "%RETRY%self-back".into(),
                default_topic: Some("TBW102".into()),
                default_topic_queue_nums: Some(4),
                queue_id: 0,
                sys_flag: Some(0),
                born_timestamp: Some(0),
                flag: Some(0),
                properties: Some("RETRY_TOPIC\u{1}OrigT\u{2}DELAY\u{1}3\u{2}".into()),
                reconsume_times: Some(times),
                max_reconsume_times: Some(max),
                ..Default::default()
            };
            let req = RemotingCommand::request_with(rc::SEND_MESSAGE_V2, &header)
                .with_body(bytes::Bytes::from_static(b"again"));
            let r = c.invoke(&addr, req, Duration::from_secs(5)).await.unwrap();
            assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
        }
        c.close_all();
    });
    let t = scrape(&broker.http_addr);
    let series = ["topic=\"OrigT\"", "consumer_group=\"self-back\""];
    assert_eq!(
        value(&t, "rocketmq_send_back_messages_total", &series),
        Some(2.0),
        "{t}"
    );
    assert_eq!(
        value(&t, "rocketmq_send_to_dlq_messages_total", &series),
        Some(1.0),
        "{t}"
    );
}
