//! `rmqctl get metrics` and `rmqctl top` against a real local cluster (a master and its slave):
//! the Java client produces and consumes, then the tables read back exact stored counts, lag and
//! retries from the brokers' `/metrics`; a produce while `top` runs shows up as a rate; an
//! endpoint that cannot be read is named while the others are still shown.
//!
//! Needs rmq-broker/rmq-namesrv next to rmqctl (`cargo build -p rmq-broker -p rmq-namesrv`) and
//! the Java harness (`tests/build-harnesses.sh`); fails with those instructions otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalCluster, assert_contains, fixture, rmqctl};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOPIC: &str = "watched";
const GROUP: &str = "watchers";

/// `get metrics -o json` with `extra` arguments.
fn metrics(extra: &[&str]) -> Value {
    let mut args = vec!["get", "metrics", "-o", "json", "--interval", "300ms"];
    args.extend(extra);
    rmqctl(&args).ok().json()
}

/// The row of `rows` whose `field` is `name`.
fn row<'a>(report: &'a Value, rows: &str, field: &str, name: &str) -> Option<&'a Value> {
    report[rows]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == name)
}

/// Polls `get metrics` (at most 40 s) until the group's lag on the topic is `lag`.
fn until_lag(cluster: &LocalCluster, lag: u64) -> Value {
    let ns = cluster.namesrv();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let report = metrics(&["--namesrv", &ns]);
        let now = row(&report, "groups", "group", GROUP).and_then(|g| g["lag"].as_u64());
        if now == Some(lag) {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "the lag of {GROUP} never reached {lag}: {report:#}\n{}",
            cluster.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn stored_lag_retries_and_rates_from_every_broker() {
    let (cluster, up) = LocalCluster::up(&[&fixture("metrics-cluster.yaml")], 1, 2);
    up.ok();
    // 30 consumed (each sent back once for a retry first), then 20 nobody reads.
    cluster.produce(TOPIC, 30, "p1");
    cluster.consume(
        TOPIC,
        GROUP,
        30,
        "p1",
        &["--reconsume-later", "1", "--retry-delay-level", "1"],
    );
    cluster.produce(TOPIC, 20, "p2");

    let report = until_lag(&cluster, 20);
    let topic = row(&report, "topics", "topic", TOPIC).unwrap();
    assert_eq!(
        topic["stored"], 50,
        "master and slave count once: {report:#}"
    );
    let group = row(&report, "groups", "group", GROUP).unwrap();
    assert_eq!(group["topic"], TOPIC);
    assert!(group["timeLagMs"].as_u64().unwrap() > 0, "{report:#}");
    assert!(group["retries"].as_u64().unwrap() >= 30, "{report:#}");
    assert!(
        row(&report, "topics", "topic", "%RETRY%watchers").is_none(),
        "system topics only with --all"
    );
    let brokers = report["brokers"].as_array().unwrap();
    let roles: Vec<&str> = brokers
        .iter()
        .map(|b| b["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["master", "slave"], "{report:#}");
    for b in brokers {
        assert_eq!(b["ready"], true, "{report:#}");
        assert_eq!(b["broker"], "broker-a");
        assert!(b.get("error").is_none(), "{report:#}");
    }

    top_prints_the_topic_row(&cluster);
    a_produce_shows_as_a_rate_in_top(&cluster);
    let master = brokers[0]["metrics"].as_str().unwrap().to_owned();
    endpoints_by_url_and_errors(&cluster, &master);
    cluster.down().ok();
}

/// `top --iterations 2`: two frames, each with the topic's row.
fn top_prints_the_topic_row(cluster: &LocalCluster) {
    let ns = cluster.namesrv();
    let run = rmqctl(&[
        "top",
        "--namesrv",
        &ns,
        "--iterations",
        "2",
        "--interval",
        "300ms",
    ])
    .ok();
    assert_eq!(
        run.stdout.matches("rmqctl top: refresh").count(),
        2,
        "{}",
        run.stdout
    );
    assert_contains(&run.stdout, "refresh 2/2");
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{TOPIC} ")))
        .collect();
    assert_eq!(rows.len(), 2, "{}", run.stdout);
    assert_eq!(
        rows[0].split_whitespace().nth(1),
        Some("50"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with(&format!("{GROUP} "))
                && l.split_whitespace().nth(2) == Some("20")),
        "the group's row with its lag: {}",
        run.stdout
    );
}

/// A produce while `top` runs: some frame shows messages in per second on the topic.
fn a_produce_shows_as_a_rate_in_top(cluster: &LocalCluster) {
    let ns = cluster.namesrv();
    let mut top = Command::new(env!("CARGO_BIN_EXE_rmqctl"))
        .args([
            "top",
            "--namesrv",
            &ns,
            "--iterations",
            "80",
            "--interval",
            "500ms",
        ])
        .env_remove("NAMESRV_ADDR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(top.stdout.take().unwrap()).lines();
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("refresh 1/"));
    assert!(first.is_some(), "top printed no frame");
    let seen = std::thread::scope(|s| {
        let producer = s.spawn(|| cluster.produce(TOPIC, 100, "p3"));
        let mut seen = None;
        for line in lines.map_while(Result::ok) {
            let cells: Vec<&str> = line.split_whitespace().collect();
            if cells.first() == Some(&TOPIC) && cells[2].parse::<f64>().unwrap() > 0.0 {
                seen = Some(line);
                break;
            }
        }
        producer.join().unwrap();
        seen
    });
    let _ = top.kill();
    let _ = top.wait();
    let line = seen.expect("no frame of top showed the produce as a rate in");
    assert!(
        line.split_whitespace().nth(3).unwrap() != "0",
        "bytes in too: {line}"
    );
}

/// `--metrics` alone reads the master; an unreachable endpoint is named (with how to turn the
/// HTTP listener on) while the brokers are still shown; answers that are not broker metrics
/// are errors naming the URL.
fn endpoints_by_url_and_errors(cluster: &LocalCluster, master: &str) {
    let report = metrics(&["--metrics", master]);
    let topic = row(&report, "topics", "topic", TOPIC).unwrap();
    assert_eq!(topic["stored"], 150, "{report:#}");
    assert_eq!(report["brokers"][0]["role"], "unknown");
    assert_eq!(
        report["brokers"][0]["broker"], "broker-a",
        "named by its series"
    );

    let ns = cluster.namesrv();
    let closed = format!("127.0.0.1:{}", closed_port());
    let run = rmqctl(&[
        "get",
        "metrics",
        "--namesrv",
        &ns,
        "--metrics",
        &closed,
        "--interval",
        "200ms",
    ])
    .ok();
    assert_contains(
        &run.stdout,
        &format!("error: cannot connect to http://{closed}/metrics"),
    );
    assert_contains(&run.stdout, "httpEnable=true");
    assert_contains(&run.stderr, &format!("http://{closed}/metrics"));
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with(&format!("{TOPIC} "))),
        "the brokers are still shown: {}",
        run.stdout
    );

    let ns_port: u16 = ns.rsplit_once(':').unwrap().1.parse().unwrap();
    let ns_http = format!("http://127.0.0.1:{}", ns_port + 100);
    let health = rmqctl(&["get", "metrics", "--metrics", &format!("{ns_http}/healthz")]);
    assert_eq!(health.code, 1, "{}", health.all());
    assert_contains(&health.stderr, "did not answer OpenMetrics text");
    let other = rmqctl(&["get", "metrics", "--metrics", &format!("{ns_http}/metrics")]);
    assert_eq!(other.code, 1, "{}", other.all());
    assert_contains(&other.stderr, "but none of rmq's");
}

#[test]
fn without_a_nameserver_or_url_the_error_says_what_to_pass() {
    let run = rmqctl(&["get", "metrics"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert_contains(&run.stderr, "--metrics http://HOST:PORT/metrics");
    let run = rmqctl(&["top", "--metrics", "https://h:1/metrics"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert_contains(&run.stderr, "not supported");
    let run = rmqctl(&[
        "get",
        "topics",
        "--namesrv",
        "127.0.0.1:9",
        "--metrics",
        "h:1",
    ]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert_contains(&run.stderr, "only for `get metrics` and `top`");
}
