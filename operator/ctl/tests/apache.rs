//! `rmqctl apply` against the Apache RocketMQ 5.3.3 nameserver + broker (tests/peers/apache.sh):
//! the same reconcile works on "ours or Apache's" — create, no changes the second time, drift
//! reverted, owned-only deletion, and a refused step stops the apply with what was and was not
//! done. Apache refuses unknown topic attributes ("unsupported key"), which is why ownership is
//! recorded in the nameserver KV store and not as a topic attribute.
//!
//! Needs java (17) and the cached Apache jars (`tests/build-harnesses.sh`); fails with those
//! instructions otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Run, assert_contains, fixture, repo, rmqctl};
use rmq_model::admin::Admin;
use rmq_model::plan::{Action, BrokerRef};
use rmq_protocol::body::topic_config::TopicConfig;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The Apache peer; stopped on drop.
struct Apache {
    dir: PathBuf,
    namesrv: String,
    _tmp: tempfile::TempDir,
}

impl Apache {
    fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("apache");
        let base = common::base_port(1, 1);
        let (ns, broker) = (base, base + 1035);
        let script = repo().join("tests/peers/apache.sh");
        let out = Command::new(&script)
            .args([
                "start",
                "--namesrv-port",
                &ns.to_string(),
                "--broker-port",
                &broker.to_string(),
            ])
            .arg("--dir")
            .arg(&dir)
            .args(["--timeout-s", "180"])
            // Apache 5.3.3's DELETE_TOPIC_IN_BROKER dereferences the timer store, which the
            // script disables by default (NullPointerException in getTimerMetrics).
            .args(["--conf", "timerWheelEnable=true"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("NAMESRV_ADDR="),
            "the Apache peer did not start (needs java 17 and the jars: run `tests/build-harnesses.sh`):\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let peer = Self {
            dir,
            namesrv: format!("127.0.0.1:{ns}"),
            _tmp: tmp,
        };
        peer.wait_registered();
        peer
    }

    /// Waits until the broker is registered with the nameserver: "boot success" comes before
    /// the first registration completes, which on a loaded machine can take many seconds.
    fn wait_registered(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let run = rmqctl(&["get", "cluster", "--namesrv", &self.namesrv, "-o", "json"]);
            if run.code == 0 && run.stdout.contains("broker-a") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Apache broker did not register with its nameserver within 120 s:\n{}",
                run.all()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/peers/apache.sh"))
            .arg("stop")
            .arg("--dir")
            .arg(&self.dir)
            .output();
    }
}

fn topics(ns: &str) -> Vec<(String, i64, String)> {
    let mut out: Vec<(String, i64, String)> = common::get(ns, "topics")
        .iter()
        .map(|t| {
            (
                t["topic"].as_str().unwrap().to_owned(),
                t["writeQueues"].as_i64().unwrap(),
                t["owner"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn direct(ns: &str, config: TopicConfig) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let admin = Admin::new(vec![ns.to_owned()]);
        let info = admin.cluster_info().await.unwrap();
        let addr = info.broker_addr_table["broker-a"]
            .master_addr()
            .unwrap()
            .to_owned();
        let action = Action::UpdateTopic {
            cluster: "DefaultCluster".into(),
            broker: BrokerRef {
                name: "broker-a".into(),
                addr,
            },
            config,
            changes: vec![],
        };
        admin.apply_one(&action).await.unwrap();
    });
}

#[test]
fn apply_against_apache_rocketmq() {
    let peer = Apache::start();
    let ns = peer.namesrv.clone();
    let apply = |file: &str| rmqctl(&["apply", "-f", &fixture(file), "--namesrv", &ns]);
    creates_then_has_no_changes(&ns, &apply);
    drift_is_reverted_foreign_topics_ignored(&ns, &apply);
    dropped_declarations_delete_only_owned(&ns, &apply);
    a_refused_step_stops_the_apply(&ns, &apply);
}

fn creates_then_has_no_changes(ns: &str, apply: &dyn Fn(&str) -> Run) {
    let first = apply("apache-v1.yaml").ok();
    assert_contains(&first.stdout, "applied 6 change(s)");
    let t = topics(ns);
    assert!(
        t.contains(&("ap-orders".into(), 4, "rmqctl".into())),
        "{t:?}"
    );
    assert!(t.contains(&("ap-fifo".into(), 2, "rmqctl".into())), "{t:?}");
    let groups = common::get(ns, "groups");
    let g = groups.iter().find(|g| g["group"] == "ap-group").unwrap();
    assert_eq!(
        (g["retryMaxTimes"].as_i64(), g["orderly"].as_bool()),
        (Some(4), Some(true)),
        "{g}"
    );
    let second = apply("apache-v1.yaml").ok();
    assert!(second.stdout.starts_with("no changes"), "{}", second.stdout);
}

/// Drift on the Apache broker is reverted; a topic rmqctl did not create is left alone.
fn drift_is_reverted_foreign_topics_ignored(ns: &str, apply: &dyn Fn(&str) -> Run) {
    direct(ns, TopicConfig::new("ap-orders", 1));
    direct(ns, TopicConfig::new("ap-foreign", 1));
    let fix = apply("apache-v1.yaml").ok();
    assert_contains(&fix.stdout, "~ update topic ap-orders on broker-a");
    assert_contains(&fix.stdout, "writeQueueNums 1 -> 4");
    assert_contains(&fix.stdout, "applied 1 change(s)");
}

fn dropped_declarations_delete_only_owned(ns: &str, apply: &dyn Fn(&str) -> Run) {
    let prune = apply("apache-v2.yaml").ok();
    assert_contains(
        &prune.stdout,
        "- delete topic ap-fifo (cluster DefaultCluster)",
    );
    let t = topics(ns);
    assert!(!t.iter().any(|t| t.0 == "ap-fifo"), "{t:?}");
    assert!(
        t.contains(&("ap-foreign".into(), 1, String::new())),
        "{t:?}"
    );
    assert!(
        t.contains(&("ap-orders".into(), 4, "rmqctl".into())),
        "{t:?}"
    );
    assert!(
        apply("apache-v2.yaml")
            .ok()
            .stdout
            .starts_with("no changes")
    );
}

/// Apache refuses an attribute outside its whitelist: the apply stops there and says what was
/// applied and what was not.
fn a_refused_step_stops_the_apply(ns: &str, apply: &dyn Fn(&str) -> Run) {
    let bad = apply("apache-bad-attr.yaml");
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert_contains(&bad.stdout, "FAILED  + create topic ap-attr on broker-a");
    assert_contains(&bad.stdout, "unsupported key: bogus.key");
    assert_contains(&bad.stdout, "not run + create topic ap-zzz");
    assert_contains(&bad.stderr, "apply stopped at a failed step");
    assert!(!topics(ns).iter().any(|t| t.0 == "ap-zzz"));
}
