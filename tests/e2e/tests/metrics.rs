//! `GET /metrics` of a running broker after unmodified Java clients produced and consumed:
//! OpenMetrics text with the rocketmq-exporter names, producer offsets per topic, consumer
//! offsets and lag per group, and the runtime-info gauges; the nameserver's routes and requests.

#![allow(clippy::unwrap_used)]

use rmq_e2e::http::{metric_value as value, scrape_metrics as scrape};
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, NamesrvProc, run_line, wait_until};
use rmq_protocol::header::namesrv::GetRouteInfoRequestHeader;
use rmq_protocol::{RemotingCommand, request_code as rc};
use std::time::Duration;

#[test]
fn metrics_show_traffic_offsets_and_lag_in_exporter_names() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let admin = Admin::new();
    assert_eq!(admin.create_topic(&broker.addr, "MetricsT", 4), Some(0));
    let produce = |start: i64, count: i64| {
        run_line(
            Client::Java5,
            &format!(
                "produce --namesrv {} --topic MetricsT --prefix mt --start {start} --count {count} --send-timeout-ms 10000",
                ns.addr
            ),
        )
        .assert_ok();
    };
    produce(0, 120);
    run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {} --topic MetricsT --group metrics-readers --prefix mt --expect 120 --timeout-ms 60000",
            ns.addr
        ),
    )
    .assert_ok();
    // 30 more that nobody reads: the group's lag.
    produce(120, 30);
    let broker_label = "broker=\"broker-a\"";
    let topic = "topic=\"MetricsT\"";
    let group = "group=\"metrics-readers\"";
    // the consumer's last commits reach the broker within its 5 s persist interval
    wait_until(
        "the group's offsets reach 120",
        Duration::from_secs(20),
        || {
            value(
                &scrape(&broker.http_addr),
                "rocketmq_consumer_offset",
                &[group, topic],
            ) == Some(120.0)
        },
    );
    let text = scrape(&broker.http_addr);
    assert_eq!(
        value(&text, "rocketmq_producer_offset", &[broker_label, topic]),
        Some(150.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "rocketmq_group_diff", &[group, topic]),
        Some(30.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            "rocketmq_brokeruntime_msg_put_total_today_now",
            &[broker_label]
        )
        .is_some_and(|v| v >= 150.0),
        "{text}"
    );
    rmq_counters_count(&text);
    let ratio = value(&text, "rocketmq_brokeruntime_commit_log_disk_ratio", &[]).unwrap();
    assert!((0.0..=1.0).contains(&ratio), "{ratio}");
    assert_eq!(
        value(&text, "rocketmq_brokeruntime_store_failed", &[]),
        Some(0.0)
    );
    assert_eq!(value(&text, "rmq_metrics_series_dropped", &[]), Some(0.0));
    assert_eq!(value(&text, "rmq_broker_ready", &[]), Some(1.0), "{text}");
    assert_eq!(
        value(&text, "rmq_broker_namesrvs_registered", &[]),
        Some(1.0)
    );
    rocketmq5_names_read_back_exactly(&text);
    caught_up_ends_the_lag(&text, &ns.addr, &broker.http_addr);
}

/// 30 unread messages: their age is the group's time lag; a consumer catching up ends it (lag
/// and time lag 0), and every message handed out is counted.
fn caught_up_ends_the_lag(text: &str, namesrv: &str, http: &str) {
    let (group, topic) = ("group=\"metrics-readers\"", "topic=\"MetricsT\"");
    let lag_ms = value(text, "rocketmq_consumer_lag_latency", &[group, topic]).unwrap();
    assert!(lag_ms > 0.0, "{text}");
    run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {namesrv} --topic MetricsT --group metrics-readers --prefix mt --start 120 --expect 30 --timeout-ms 60000"
        ),
    )
    .assert_ok();
    wait_until("the group caught up", Duration::from_secs(20), || {
        let text = scrape(http);
        value(&text, "rocketmq_group_diff", &[group, topic]) == Some(0.0)
            && value(&text, "rocketmq_consumer_lag_latency", &[group, topic]) == Some(0.0)
    });
    let text = scrape(http);
    let out = "consumer_group=\"metrics-readers\"";
    assert_eq!(
        value(&text, "rocketmq_messages_out_total", &[out, topic]),
        Some(150.0),
        "{text}"
    );
}

/// The RocketMQ 5 names after 150 sends of which 120 were consumed: exact counts in and out,
/// bytes, and the send latency histogram.
/// rmq's own counters: the messages in and out, typed as counters (`<name>_total` samples).
fn rmq_counters_count(text: &str) {
    assert!(value(text, "rmq_broker_messages_in_total", &[]).is_some_and(|v| v >= 150.0));
    assert!(value(text, "rmq_broker_messages_out_total", &[]).is_some_and(|v| v >= 120.0));
    for counter in ["rmq_broker_messages_in", "rmq_broker_busy_poll_answers"] {
        assert!(
            text.contains(&format!("# TYPE {counter} counter")),
            "{counter} is a counter: {text}"
        );
        assert!(
            value(text, &format!("{counter}_total"), &[]).is_some(),
            "{text}"
        );
    }
}

fn rocketmq5_names_read_back_exactly(text: &str) {
    let topic = "topic=\"MetricsT\"";
    let node = "node_id=\"broker-a\"";
    assert_eq!(
        value(text, "rocketmq_messages_in_total", &[node, topic]),
        Some(150.0),
        "{text}"
    );
    let bytes = value(text, "rocketmq_throughput_in_total", &[topic]).unwrap();
    assert!(
        bytes > 150.0 * 100.0,
        "every record is over 100 bytes: {bytes}"
    );
    let out = "consumer_group=\"metrics-readers\"";
    assert_eq!(
        value(text, "rocketmq_messages_out_total", &[out, topic]),
        Some(120.0),
        "{text}"
    );
    let sends: f64 = text
        .lines()
        .filter(|l| l.starts_with("rocketmq_rpc_latency_count{"))
        .filter(|l| {
            l.contains("request_code=\"send_message") && l.contains("response_code=\"success\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        sends >= 150.0,
        "every send answered is in the histogram: {sends}\n{text}"
    );
}

#[test]
fn the_nameserver_exports_its_routes_and_requests() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let admin = Admin::new();
    assert_eq!(admin.create_topic(&broker.addr, "NsMetricsT", 2), Some(0));
    let route = |topic: &str| {
        let req = RemotingCommand::request_with(
            rc::GET_ROUTEINFO_BY_TOPIC,
            &GetRouteInfoRequestHeader {
                topic: topic.to_owned(),
                accept_standard_json_only: None,
            },
        );
        admin.invoke(&ns.addr, req).map(|r| r.code)
    };
    wait_until("NsMetricsT is routed", Duration::from_secs(10), || {
        route("NsMetricsT") == Some(0)
    });
    // the wait may have seen TOPIC_NOT_EXIST before the registration: count from here
    let not_exist = |text: &str| {
        let needles = [
            "request_code=\"GET_ROUTEINFO_BY_TOPIC\"",
            "response_code=\"TOPIC_NOT_EXIST\"",
        ];
        value(text, "rocketmq_namesrv_requests_total", &needles).unwrap_or(0.0)
    };
    let before = not_exist(&scrape(&ns.http_addr));
    assert_eq!(route("NoSuchTopic"), Some(17), "TOPIC_NOT_EXIST");
    let text = scrape(&ns.http_addr);
    assert_eq!(not_exist(&text), before + 1.0, "{text}");
    assert_eq!(
        value(&text, "rocketmq_namesrv_brokers", &["role=\"master\""]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "rocketmq_namesrv_broker_groups", &[]),
        Some(1.0),
        "{text}"
    );
    assert!(
        value(&text, "rocketmq_namesrv_topics", &[]).is_some_and(|t| t >= 2.0),
        "{text}"
    );
    let routed = |code: &str| {
        let needles = ["request_code=\"GET_ROUTEINFO_BY_TOPIC\"", code];
        value(&text, "rocketmq_namesrv_requests_total", &needles)
    };
    assert!(
        routed("response_code=\"SUCCESS\"").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let registered = [
        "request_code=\"REGISTER_BROKER\"",
        "response_code=\"SUCCESS\"",
    ];
    assert!(value(&text, "rocketmq_namesrv_requests_total", &registered).is_some_and(|n| n >= 1.0));
}
