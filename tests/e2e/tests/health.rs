//! The operations HTTP listener of the broker and the nameserver: `/healthz` and `/readyz`
//! answer what they mean (registered with every nameserver, store recovered, not shutting
//! down), other paths and methods are refused, and a bad `httpListenPort` stops the start.
//! Plain HTTP/1.0 (`rmq_e2e::http`): no HTTP client dependency.

#![allow(clippy::unwrap_used)]

use rmq_e2e::process::{free_port, unsafe_free_kill};
use rmq_e2e::{BrokerOpts, BrokerProc, NamesrvProc, bin_path};
use rmq_protocol::header::send::SendMessageRequestHeaderV2;
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code, response_code};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `METHOD path` over HTTP/1.0: `(status, body)`, or `None` when nothing listens. Every
/// health answer is plain text.
fn request(addr: &str, method: &str, path: &str) -> Option<(u16, String)> {
    let a = rmq_e2e::http::http_request(addr, method, path)?;
    assert!(a.content_type.starts_with("text/plain"), "{a:?}");
    Some((a.status, a.body))
}

fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    request(addr, "GET", path)
}

/// Polls `GET path` until `pred` holds; returns that answer, panics with the last one.
fn wait_for(addr: &str, path: &str, secs: u64, pred: impl Fn(u16, &str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = None;
    while Instant::now() < deadline {
        last = get(addr, path);
        if let Some((status, body)) = &last
            && pred(*status, body)
        {
            return body.clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{addr}{path}: condition not met within {secs} s; last answer {last:?}");
}

#[test]
fn healthz_and_readyz_on_a_running_broker_and_namesrv() {
    let ns = NamesrvProc::start();
    assert!(!ns.http_addr.is_empty(), "no 'http listening' line");
    assert_eq!(get(&ns.http_addr, "/healthz"), Some((200, "ok\n".into())));
    assert_eq!(get(&ns.http_addr, "/readyz"), Some((200, "ok\n".into())));
    let broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    assert!(!broker.http_addr.is_empty(), "no 'http listening' line");
    assert_eq!(
        get(&broker.http_addr, "/healthz"),
        Some((200, "ok\n".into()))
    );
    wait_for(&broker.http_addr, "/readyz", 15, |s, _| s == 200);
    assert_eq!(get(&broker.http_addr, "/nope").map(|r| r.0), Some(404));
    assert_eq!(
        request(&broker.http_addr, "POST", "/readyz").map(|r| r.0),
        Some(405)
    );
    assert_eq!(
        request(&ns.http_addr, "DELETE", "/healthz").map(|r| r.0),
        Some(405)
    );
}

#[test]
fn readyz_names_the_nameserver_that_is_down_until_it_comes_up() {
    let ns1 = NamesrvProc::start();
    let ns2_port = free_port();
    let ns2_addr = format!("127.0.0.1:{ns2_port}");
    let mut opts = BrokerOpts::default();
    opts.set
        .push(("registerNameServerPeriod".into(), "10000".into()));
    let broker = BrokerProc::start(&format!("{};{ns2_addr}", ns1.addr), opts);
    let body = wait_for(&broker.http_addr, "/readyz", 15, |s, b| {
        s == 503 && b.contains("registered with 1 of 2 nameservers")
    });
    assert!(
        body.starts_with("not ready: ") && body.contains(&ns2_addr),
        "{body}"
    );
    // What a readiness probe asks: the broker serves, one nameserver is enough to find it.
    assert_eq!(
        get(&broker.http_addr, "/readyz/serving"),
        Some((200, "ok\n".into()))
    );
    assert_eq!(
        get(&broker.http_addr, "/healthz"),
        Some((200, "ok\n".into()))
    );
    // The second nameserver comes up: the next round (every 10 s) registers with both.
    let _ns2 = NamesrvProc::start_on(ns2_port);
    wait_for(&broker.http_addr, "/readyz", 30, |s, _| s == 200);
}

#[test]
fn readyz_turns_503_as_soon_as_shutdown_begins() {
    let ns = NamesrvProc::start();
    // A nameserver that accepts connections and never answers: unregistering from it takes
    // the broker's 3 s timeout, so the shutdown lasts long enough to observe.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let mut broker =
        BrokerProc::start(&format!("{};{silent_addr}", ns.addr), BrokerOpts::default());
    let body = wait_for(&broker.http_addr, "/readyz", 10, |s, _| s == 503);
    assert!(!body.contains("shutting down"), "{body}");
    unsafe_free_kill(broker.pid(), libc::SIGTERM);
    let body = wait_for(&broker.http_addr, "/readyz", 3, |s, b| {
        s == 503 && b.contains("shutting down")
    });
    assert!(body.starts_with("not ready: shutting down"), "{body}");
    assert_eq!(
        get(&broker.http_addr, "/healthz"),
        Some((200, "ok\n".into()))
    );
    assert_eq!(broker.stop(), Some(0));
    drop(silent);
}

/// One small send on `client`'s connection to `addr`: the response code.
async fn send_one(client: &RemotingClient, addr: &str) -> i32 {
    let header = SendMessageRequestHeaderV2 {
        producer_group: "health-producer".into(),
        topic: "leaving".into(),
        default_topic: Some("TBW102".into()),
        default_topic_queue_nums: Some(4),
        queue_id: 0,
        sys_flag: Some(0),
        born_timestamp: Some(0),
        flag: Some(0),
        ..Default::default()
    };
    let req = RemotingCommand::request_with(request_code::SEND_MESSAGE_V2, &header)
        .with_body(bytes::Bytes::from_static(b"m"));
    let resp = client.invoke(addr, req, Duration::from_secs(5)).await;
    resp.unwrap().code
}

/// With `shutdownUnreadyWaitMillis`, a broker given SIGTERM stays up, answering sends
/// SERVICE_NOT_AVAILABLE on open connections, until its readiness endpoint has answered "not
/// ready" twice (what takes a pod out of its Kubernetes Service), then leaves within about a
/// second; without probes it leaves once the wait is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_broker_stays_until_its_readiness_probe_saw_it_leave() {
    let ns = NamesrvProc::start();
    let mut opts = BrokerOpts::default();
    opts.set
        .push(("shutdownUnreadyWaitMillis".into(), "30000".into()));
    let mut broker = BrokerProc::start(&ns.addr, opts);
    wait_for(&broker.http_addr, "/readyz/serving", 15, |s, _| s == 200);
    let client = RemotingClient::new(ClientConfig::default());
    assert_eq!(
        send_one(&client, &broker.addr).await,
        response_code::SUCCESS
    );
    unsafe_free_kill(broker.pid(), libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !broker.log().contains("broker stopped"),
        "left before any probe"
    );
    let code = send_one(&client, &broker.addr).await;
    assert_eq!(
        code,
        response_code::SERVICE_NOT_AVAILABLE,
        "a send while leaving"
    );
    for _ in 0..2 {
        let (status, body) = get(&broker.http_addr, "/readyz/serving").unwrap();
        assert_eq!(status, 503);
        assert!(body.contains("shutting down"), "{body}");
    }
    let probed = Instant::now();
    assert_eq!(broker.stop(), Some(0));
    let after_probes = probed.elapsed();
    assert!(after_probes < Duration::from_secs(10), "{after_probes:?}");
    let log = broker.log();
    assert!(
        log.contains("readiness probes saw the broker leaving"),
        "{log}"
    );
    assert!(log.contains("unready_answers=2"), "{log}");

    // Nobody probes: it leaves when the wait is over.
    let mut opts = BrokerOpts::default();
    opts.set
        .push(("shutdownUnreadyWaitMillis".into(), "1500".into()));
    let mut lonely = BrokerProc::start(&ns.addr, opts);
    wait_for(&lonely.http_addr, "/readyz/serving", 15, |s, _| s == 200);
    assert_eq!(lonely.stop(), Some(0));
    assert!(
        lonely.log().contains("unready_answers=0"),
        "{}",
        lonely.log()
    );
}

/// Sends `total` bytes to `topic` in 256 KiB messages from 8 tasks (ASYNC_FLUSH).
async fn fill(addr: String, topic: &'static str, total: usize) {
    const BODY: usize = 256 * 1024;
    let client = Arc::new(RemotingClient::new(ClientConfig::default()));
    let lanes = 8;
    let per_lane = total / BODY / lanes + 1;
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let client = client.clone();
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let body = bytes::Bytes::from(vec![b'x'; BODY]);
            for _ in 0..per_lane {
                let header = SendMessageRequestHeaderV2 {
                    producer_group: "health-producer".into(),
                    topic: topic.into(),
                    default_topic: Some("TBW102".into()),
                    default_topic_queue_nums: Some(4),
                    queue_id: (lane % 4) as i32,
                    sys_flag: Some(0),
                    born_timestamp: Some(0),
                    flag: Some(0),
                    ..Default::default()
                };
                let req = RemotingCommand::request_with(request_code::SEND_MESSAGE_V2, &header)
                    .with_body(body.clone());
                let resp = client
                    .invoke(&addr, req, Duration::from_secs(10))
                    .await
                    .unwrap();
                assert_eq!(resp.code, response_code::SUCCESS, "{}", resp.remark_str());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// The line index of the first log line containing `needle` at or after line `from`.
fn line_of(log: &str, from: usize, needle: &str) -> Option<usize> {
    log.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i)
}

#[test]
fn readyz_says_recovering_until_the_store_has_opened() {
    let ns = NamesrvProc::start();
    let mut broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(fill(broker.addr.clone(), "HealthTopic", 300 << 20));
    broker.kill9();
    // Without the checkpoint and the consume queues, recovery scans the whole commit log.
    std::fs::remove_file(broker.store.join("checkpoint")).unwrap();
    std::fs::remove_dir_all(broker.store.join("consumequeue")).unwrap();
    let lines_before = broker.log().lines().count();

    // Poll /readyz from before the process starts until it is ready.
    let http = broker.http_addr.clone();
    let poller = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen: Vec<(u16, String)> = Vec::new();
        while Instant::now() < deadline {
            if let Some((status, body)) = get(&http, "/readyz") {
                let done = status == 200;
                if seen.last() != Some(&(status, body.clone())) {
                    seen.push((status, body));
                }
                if done {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        seen
    });
    std::thread::sleep(Duration::from_millis(100));
    broker.start_again();
    let seen = poller.join().unwrap();
    assert_eq!(seen.last().map(|s| s.0), Some(200), "never ready: {seen:?}");
    let first_ok = seen.iter().position(|s| s.0 == 200).unwrap();
    assert!(
        seen[..first_ok]
            .iter()
            .all(|(s, b)| *s == 503 && b.starts_with("not ready: ")),
        "{seen:?}"
    );
    // The listener is up before recovery, which ends with "store opened" before boot success.
    let log = broker.log();
    let http_line = line_of(&log, lines_before, "http listening").unwrap();
    let opened = line_of(&log, lines_before, "store opened").unwrap();
    let boot = line_of(&log, lines_before, "boot success").unwrap();
    assert!(http_line < opened && opened < boot, "{log}");
    let recovering = seen.iter().any(|(_, b)| b.contains("store recovering"));
    let elapsed = log.lines().nth(opened).unwrap_or_default();
    eprintln!("recovery: {elapsed}; saw 'store recovering' on /readyz: {recovering}; {seen:?}");
    assert!(
        recovering,
        "recovery was too short to observe /readyz during it: {elapsed}"
    );
}

#[test]
fn a_bad_http_listen_port_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin_path("rmq-broker"))
        .args(["--listen-port", "0", "--set", "httpListenPort=abc"])
        .arg("--store-dir")
        .arg(dir.path().join("store"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("httpListenPort") && stderr.contains("abc"),
        "{stderr}"
    );
    let conf = dir.path().join("namesrv.conf");
    std::fs::write(&conf, "httpListenPort=abc\n").unwrap();
    let out = std::process::Command::new(bin_path("rmq-namesrv"))
        .args(["--listen-port", "0", "-c"])
        .arg(&conf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("httpListenPort"), "{stderr}");
}
