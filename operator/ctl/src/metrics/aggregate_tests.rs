//! Tests of [`super`]: sums over broker groups, one value per master/slave pair, rates with
//! counter resets, filters and order.

use super::*;
use crate::metrics::text::parse;

/// A broker's scrape with `stored` messages on t1 (and `hot` on t2), group g `committed` on t1
/// and `out` messages handed to g.
fn text(broker: &str, stored: u64, committed: u64, out: u64) -> String {
    let l = format!("cluster=\"c\",broker=\"{broker}\"");
    let n = format!("cluster=\"c\",node_type=\"broker\",node_id=\"{broker}\"");
    format!(
        "rocketmq_producer_offset{{{l},topic=\"t1\"}} {stored}\n\
         rocketmq_producer_offset{{{l},topic=\"%RETRY%g\"}} 3\n\
         rocketmq_producer_offset{{{l},topic=\"{broker}\"}} 0\n\
         rocketmq_consumer_offset{{{l},group=\"g\",topic=\"t1\"}} {committed}\n\
         rocketmq_group_diff{{{l},group=\"g\",topic=\"t1\"}} {}\n\
         rocketmq_consumer_lag_latency{{{l},group=\"g\",topic=\"t1\"}} {}\n\
         rocketmq_messages_in_total{{{n},topic=\"t1\"}} {stored}\n\
         rocketmq_throughput_in_total{{{n},topic=\"t1\"}} {}\n\
         rocketmq_messages_out_total{{{n},topic=\"t1\",consumer_group=\"g\"}} {out}\n\
         rocketmq_send_back_messages_total{{{n},topic=\"t1\",consumer_group=\"g\"}} 1\n\
         rmq_broker_ready{{{l}}} 1\n# EOF\n",
        stored - committed,
        if stored > committed { 4000 } else { 0 },
        stored * 100,
    )
}

fn reading(text: &str) -> Reading {
    Reading::from_samples(&parse(text).unwrap())
}

fn scrape(broker: &str, role: Role, now: &str, before: Option<(&str, f64)>) -> Scrape {
    Scrape {
        url: format!("http://{broker}/metrics"),
        cluster: "c".into(),
        broker: broker.into(),
        address: String::new(),
        role,
        result: Ok(reading(now)),
        previous: before.map(|(t, seconds)| Previous {
            seconds,
            counters: reading(t).counters,
        }),
    }
}

#[test]
fn two_broker_groups_sum_and_rates_divide_by_the_time_between_scrapes() {
    let scrapes = [
        scrape(
            "broker-a",
            Role::Master,
            &text("broker-a", 100, 80, 90),
            Some((&text("broker-a", 90, 80, 80), 2.0)),
        ),
        scrape(
            "broker-b",
            Role::Master,
            &text("broker-b", 50, 50, 50),
            Some((&text("broker-b", 40, 40, 40), 2.0)),
        ),
    ];
    let r = report(&scrapes, &Options::default());
    assert_eq!(
        r.topics,
        vec![TopicRow {
            cluster: "c".into(),
            topic: "t1".into(),
            stored: 150,
            in_msgs_per_sec: 10.0,
            in_bytes_per_sec: 1000.0,
            out_msgs_per_sec: 10.0,
        }],
        "retry topics and topics named after brokers are hidden"
    );
    assert_eq!(
        r.groups,
        vec![GroupRow {
            cluster: "c".into(),
            group: "g".into(),
            topic: "t1".into(),
            lag: 20,
            time_lag_ms: 4000,
            out_msgs_per_sec: 10.0,
            retries: 2,
        }]
    );
    assert_eq!(r.brokers.len(), 2);
    assert!(
        r.brokers
            .iter()
            .all(|b| b.ready == Some(true) && b.error.is_none())
    );
    let all = report(
        &scrapes,
        &Options {
            cluster: None,
            all: true,
        },
    );
    assert!(all.topics.iter().any(|t| t.topic == "%RETRY%g"));
    let other = report(
        &scrapes,
        &Options {
            cluster: Some("x".into()),
            all: false,
        },
    );
    assert!(other.topics.is_empty() && other.groups.is_empty() && other.brokers.is_empty());
}

#[test]
fn a_master_and_its_slave_count_once_for_offsets_and_both_for_traffic() {
    // The slave is behind on replication and on synced consumer offsets.
    let scrapes = [
        scrape(
            "broker-a",
            Role::Slave,
            &text("broker-a", 90, 60, 10),
            Some((&text("broker-a", 90, 60, 0), 1.0)),
        ),
        scrape(
            "broker-a",
            Role::Master,
            &text("broker-a", 100, 80, 80),
            Some((&text("broker-a", 100, 80, 75), 1.0)),
        ),
    ];
    let r = report(&scrapes, &Options::default());
    assert_eq!(r.topics[0].stored, 100);
    assert_eq!(
        r.groups[0].lag, 20,
        "the master's lag, not the slave's or their sum"
    );
    assert_eq!(r.groups[0].out_msgs_per_sec, 15.0, "reads from both");
    assert_eq!(r.brokers[0].role, Role::Master, "masters listed first");
    // Two endpoints of unknown role: the one furthest ahead.
    let unknown = [
        scrape(
            "broker-a",
            Role::Unknown,
            &text("broker-a", 90, 60, 0),
            None,
        ),
        scrape(
            "broker-a",
            Role::Unknown,
            &text("broker-a", 100, 80, 0),
            None,
        ),
    ];
    let r = report(&unknown, &Options::default());
    assert_eq!((r.topics[0].stored, r.groups[0].lag), (100, 20));
    assert_eq!(
        r.topics[0].in_msgs_per_sec, 0.0,
        "no previous scrape: no rate"
    );
}

#[test]
fn counter_resets_new_series_and_bad_intervals() {
    assert_eq!(rate(Some(10.0), 30.0, 2.0), 10.0);
    assert_eq!(
        rate(Some(500.0), 20.0, 2.0),
        10.0,
        "restarted: counts from 0"
    );
    assert_eq!(rate(None, 6.0, 3.0), 2.0, "a new series started at 0");
    assert_eq!(rate(Some(1.0), 5.0, 0.0), 0.0);
    assert_eq!(rate(Some(f64::NAN), 4.0, 1.0), 4.0);
    assert_eq!(rate(Some(1.0), f64::NAN, 1.0), 0.0);
}

#[test]
fn failed_endpoints_are_listed_and_the_others_still_shown() {
    let failed = Scrape {
        url: "http://127.0.0.1:1/metrics".into(),
        cluster: String::new(),
        broker: String::new(),
        address: String::new(),
        role: Role::Unknown,
        result: Err("connection refused".into()),
        previous: None,
    };
    let by_url = Scrape {
        cluster: String::new(),
        broker: String::new(),
        ..scrape("broker-b", Role::Unknown, &text("broker-b", 5, 5, 5), None)
    };
    let r = report(&[failed, by_url], &Options::default());
    assert_eq!(r.topics[0].stored, 5);
    assert_eq!(r.brokers.len(), 2);
    assert_eq!(r.brokers[0].error.as_deref(), Some("connection refused"));
    assert_eq!(r.brokers[0].ready, None);
    assert_eq!(
        (r.brokers[1].cluster.as_str(), r.brokers[1].broker.as_str()),
        ("c", "broker-b"),
        "an endpoint scraped by URL is named by its series"
    );
}

#[test]
fn busiest_topics_and_most_behind_groups_first() {
    let row = |topic: &str, rate: f64, stored: u64| TopicRow {
        cluster: "c".into(),
        topic: topic.into(),
        stored,
        in_msgs_per_sec: rate,
        in_bytes_per_sec: 0.0,
        out_msgs_per_sec: 0.0,
    };
    let t = sorted_topics(vec![row("a", 1.0, 9), row("b", 5.0, 1), row("c", 1.0, 10)]);
    let names: Vec<&str> = t.iter().map(|r| r.topic.as_str()).collect();
    assert_eq!(names, ["b", "c", "a"]);
    let group = |group: &str, lag: u64, time_lag_ms: u64| GroupRow {
        cluster: "c".into(),
        group: group.into(),
        topic: "t".into(),
        lag,
        time_lag_ms,
        out_msgs_per_sec: 0.0,
        retries: 0,
    };
    let g = sorted_groups(vec![group("a", 1, 5), group("b", 7, 0), group("c", 1, 9)]);
    let names: Vec<&str> = g.iter().map(|r| r.group.as_str()).collect();
    assert_eq!(names, ["b", "c", "a"]);
}
