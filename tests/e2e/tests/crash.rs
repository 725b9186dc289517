//! kill -9 during SYNC_FLUSH sends: after a restart every acknowledged message is readable by an
//! unmodified client.

#![allow(clippy::unwrap_used)]

use rmq_e2e::harness::parse_ranges;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, NamesrvProc, run_line};
use rmq_protocol::header::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code, response_code};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOPIC: &str = "CrashTopic";
const SENDERS: i64 = 4;

/// Sends `crash-<i>` bodies from several tasks until a send fails; returns the acknowledged ids.
async fn send_until_failure(addr: String, acked: Arc<Mutex<BTreeSet<i64>>>, deadline: Instant) {
    let client = Arc::new(RemotingClient::new(ClientConfig::default()));
    let mut tasks = Vec::new();
    for lane in 0..SENDERS {
        let client = client.clone();
        let addr = addr.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = lane;
            while Instant::now() < deadline {
                let header = SendMessageRequestHeaderV2 {
                    producer_group: "crash-producer".into(),
                    topic: TOPIC.into(),
                    default_topic: Some("TBW102".into()),
                    default_topic_queue_nums: Some(4),
                    queue_id: (i % 4) as i32,
                    sys_flag: Some(0),
                    born_timestamp: Some(0),
                    flag: Some(0),
                    properties: Some("WAIT\u{1}true\u{2}".into()),
                    ..Default::default()
                };
                let req = RemotingCommand::request_with(request_code::SEND_MESSAGE_V2, &header)
                    .with_body(format!("crash-{i}"));
                match client.invoke(&addr, req, Duration::from_secs(3)).await {
                    Ok(resp) if resp.code == response_code::SUCCESS => {
                        resp.header::<SendMessageResponseHeader>().unwrap();
                        acked.lock().unwrap().insert(i);
                    }
                    _ => return,
                }
                i += SENDERS;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[test]
fn acknowledged_messages_survive_kill_9_with_sync_flush() {
    let ns = NamesrvProc::start();
    let mut opts = BrokerOpts::default();
    opts.set.push(("flushDiskType".into(), "SYNC_FLUSH".into()));
    // Small segments so the run crosses segment boundaries.
    opts.set[0].1 = "1048576".into();
    let mut broker = BrokerProc::start(&ns.addr, opts);

    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sender = {
        let acked = acked.clone();
        let addr = broker.addr.clone();
        rt.spawn(send_until_failure(
            addr,
            acked,
            Instant::now() + Duration::from_secs(60),
        ))
    };
    // Let some thousands of sends through, then kill -9 mid-flight.
    let started = Instant::now();
    while acked.lock().unwrap().len() < 3000 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    broker.kill9();
    rt.block_on(sender).unwrap();
    let acked: Vec<i64> = acked.lock().unwrap().iter().copied().collect();
    assert!(
        acked.len() >= 1000,
        "too few sends before the kill: {}",
        acked.len()
    );

    broker.start_again();
    let max = acked.last().copied().unwrap_or(0);
    let expect = acked.len().to_string();
    let r = run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {} --topic {} --group crash-check --prefix crash --expect {expect} --linger-ms 2000 --timeout-ms 120000",
            ns.addr, TOPIC
        ),
    );
    assert_eq!(r.num("corrupt"), 0, "{}", r.json);
    let seen: BTreeSet<i64> = parse_ranges(&r.str("ranges")).into_iter().collect();
    let lost: Vec<i64> = acked
        .iter()
        .filter(|i| !seen.contains(i))
        .copied()
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost after kill -9 (of {}, max index {max}): first {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)]
    );
}
