//! Apache RocketMQ's own `mqadmin` (rocketmq-tools 5.3.3) reading rmq's statistics after an
//! unmodified Java 5.x client produced and consumed a known number of messages: `statsAll`
//! (VIEW_BROKER_STATS_DATA per topic and group), `consumerProgress` (GET_CONSUME_STATS: last
//! consume time, in-flight, consume TPS) and `clusterList -m` (the runtime info's day totals).

#![allow(clippy::unwrap_used)]

use rmq_e2e::mqadmin::mqadmin;
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, NamesrvProc, run_line};
use std::time::Duration;

/// The whitespace-separated cells of the first line of `text` starting with `first`.
fn row<'a>(text: &'a str, first: &str) -> Option<Vec<&'a str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
}

#[test]
fn mqadmin_reads_traffic_progress_and_day_totals() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let admin = Admin::new();
    assert_eq!(admin.create_topic(&broker.addr, "StatsT", 4), Some(0));
    let java = |line: String| {
        run_line(Client::Java5, &line).assert_ok();
    };
    java(format!(
        "produce --namesrv {} --topic StatsT --prefix st --count 50 --send-timeout-ms 10000",
        ns.addr
    ));
    java(format!(
        "consume --namesrv {} --topic StatsT --group stats-readers --prefix st --expect 50 --timeout-ms 60000",
        ns.addr
    ));
    // The minute window takes a sample every 10 s; commits reach the broker within 5 s.
    std::thread::sleep(Duration::from_secs(12));
    let n = ns.addr.as_str();

    let (ok, text) = mqadmin(&["statsAll", "-n", n, "-t", "StatsT"]);
    assert!(ok, "{text}");
    // #Topic #Consumer Group #Accumulation #InTPS #OutTPS #InMsg24Hour #OutMsg24Hour
    let cells = row(&text, "StatsT").unwrap_or_else(|| panic!("no StatsT row: {text}"));
    assert_eq!(cells[1], "stats-readers", "{text}");
    assert_eq!(cells[2], "0", "nothing left to consume: {text}");
    assert!(cells[3].parse::<f64>().unwrap() > 0.0, "InTPS: {text}");
    assert_eq!(
        (cells[5], cells[6]),
        ("50", "50"),
        "in and out over the last day: {text}"
    );

    let (ok, text) = mqadmin(&["consumerProgress", "-n", n, "-g", "stats-readers"]);
    assert!(ok, "{text}");
    let queues: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.first() == Some(&"StatsT"))
        .collect();
    assert_eq!(queues.len(), 4, "one row per queue: {text}");
    // #Topic #Broker Name #QID #Broker Offset #Consumer Offset #Diff #Inflight #LastTime
    let consumed: i64 = queues.iter().map(|c| c[4].parse::<i64>().unwrap()).sum();
    assert_eq!(consumed, 50, "{text}");
    for q in &queues {
        assert_eq!(
            (q[5], q[6]),
            ("0", "0"),
            "no diff, nothing in flight: {text}"
        );
        if q[4] != "0" {
            assert_ne!(
                q[7], "N/A",
                "a queue consumed from has a last consume time: {text}"
            );
        }
    }
    let tps = text
        .lines()
        .find_map(|l| l.strip_prefix("Consume TPS:"))
        .unwrap_or_else(|| panic!("no Consume TPS: {text}"));
    assert!(tps.trim().parse::<f64>().unwrap() > 0.0, "{text}");

    let (ok, text) = mqadmin(&["clusterList", "-n", n, "-m"]);
    assert!(ok, "{text}");
    // #Cluster Name #Broker Name #InTotalYest #OutTotalYest #InTotalToday #OutTotalToday
    let cells = row(&text, "DefaultCluster").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(cells[4], "50", "InTotalToday: {text}");
    assert!(
        cells[5].parse::<i64>().unwrap() >= 50,
        "OutTotalToday: {text}"
    );
}
