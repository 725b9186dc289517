//! Client sessions and long polling, driven by rmq's own protocol client so each broker
//! behaviour is observed directly: NOTIFY_CONSUMER_IDS_CHANGED on membership change, consumer
//! lists, session expiry, pulls held until a message arrives or the suspend time is up.

#![allow(clippy::unwrap_used)]

use rmq_e2e::{BrokerOpts, BrokerProc, NamesrvProc};
use rmq_protocol::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use rmq_protocol::body::misc::ConsumerListBody;
use rmq_protocol::body::{from_json, to_json};
use rmq_protocol::header::client::ConsumerGroupRequestHeader;
use rmq_protocol::header::pull::{
    PULL_FLAG_SUSPEND, PullMessageRequestHeader, PullMessageResponseHeader,
};
use rmq_protocol::header::send::SendMessageRequestHeaderV2;
use rmq_protocol::net::{Channel, ClientConfig, RemotingClient, RequestHandler};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Notifications(AtomicUsize);

impl RequestHandler for Notifications {
    async fn handle(&self, _: &Channel, req: RemotingCommand) -> Option<RemotingCommand> {
        if req.code == rc::NOTIFY_CONSUMER_IDS_CHANGED {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        None
    }
}

fn heartbeat(client_id: &str, group: &str, topic: &str) -> RemotingCommand {
    let hb = HeartbeatData {
        client_id: client_id.into(),
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
    RemotingCommand::request(rc::HEART_BEAT).with_body(to_json(&hb))
}

async fn consumer_ids(
    c: &RemotingClient<impl RequestHandler>,
    addr: &str,
    group: &str,
) -> Vec<String> {
    let req = RemotingCommand::request_with(
        rc::GET_CONSUMER_LIST_BY_GROUP,
        &ConsumerGroupRequestHeader {
            consumer_group: group.into(),
        },
    );
    let r = c.invoke(addr, req, T).await.unwrap();
    if r.code != response_code::SUCCESS {
        return Vec::new();
    }
    let mut ids = from_json::<ConsumerListBody>("list", &r.body)
        .unwrap()
        .consumer_id_list;
    ids.sort();
    ids
}

async fn wait_until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn membership_changes_notify_the_group_and_silent_clients_expire() {
    let ns = NamesrvProc::start();
    let mut opts = BrokerOpts::default();
    opts.set
        .push(("channelExpiredTimeout".into(), "2000".into()));
    let broker = BrokerProc::start(&ns.addr, opts);
    let a_events = Arc::new(Notifications::default());
    let a = RemotingClient::with_handler(ClientConfig::default(), a_events.clone());
    let b =
        RemotingClient::with_handler(ClientConfig::default(), Arc::new(Notifications::default()));

    a.invoke(&broker.addr, heartbeat("client-a", "g", "T"), T)
        .await
        .unwrap();
    assert_eq!(consumer_ids(&a, &broker.addr, "g").await, vec!["client-a"]);
    let before = a_events.0.load(Ordering::SeqCst);
    b.invoke(&broker.addr, heartbeat("client-b", "g", "T"), T)
        .await
        .unwrap();
    assert_eq!(
        consumer_ids(&a, &broker.addr, "g").await,
        vec!["client-a", "client-b"]
    );
    wait_until("a notification for the join", 5, async || {
        a_events.0.load(Ordering::SeqCst) > before
    })
    .await;

    // Closing b's connection removes it at once and notifies a again.
    let before = a_events.0.load(Ordering::SeqCst);
    b.close_all();
    wait_until("b to leave", 5, async || {
        consumer_ids(&a, &broker.addr, "g").await == vec!["client-a"]
    })
    .await;
    wait_until("a notification for the leave", 5, async || {
        a_events.0.load(Ordering::SeqCst) > before
    })
    .await;

    // a stops heartbeating: its session expires (checked every 10 s) and its connection closes.
    wait_until("a's session to expire", 30, async || {
        consumer_ids(&b, &broker.addr, "g").await.is_empty()
    })
    .await;
}

/// A SEND_MESSAGE_V2 of `body` to queue 0 of topic `Held`.
fn send_held(body: &str) -> RemotingCommand {
    let h = SendMessageRequestHeaderV2 {
        producer_group: "p".into(),
        topic: "Held".into(),
        default_topic: Some("TBW102".into()),
        default_topic_queue_nums: Some(1),
        queue_id: 0,
        ..Default::default()
    };
    RemotingCommand::request_with(rc::SEND_MESSAGE_V2, &h).with_body(body.to_owned())
}

/// A PULL_MESSAGE of queue 0 of `Held` from `offset`, held up to `suspend_ms` when empty.
fn pull_held(offset: i64, suspend_ms: i64) -> RemotingCommand {
    RemotingCommand::request_with(
        rc::PULL_MESSAGE,
        &PullMessageRequestHeader {
            consumer_group: "held-group".into(),
            topic: "Held".into(),
            queue_id: 0,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: PULL_FLAG_SUSPEND,
            suspend_timeout_millis: suspend_ms,
            ..Default::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn pulls_are_held_until_a_message_arrives_or_time_is_up() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let c = RemotingClient::new(ClientConfig::default());
    assert_eq!(
        c.invoke(&broker.addr, send_held("first"), T)
            .await
            .unwrap()
            .code,
        response_code::SUCCESS
    );
    c.invoke(&broker.addr, heartbeat("puller", "held-group", "Held"), T)
        .await
        .unwrap();
    let r = c.invoke(&broker.addr, pull_held(0, 1000), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let h: PullMessageResponseHeader = r.header().unwrap();
    assert_eq!(h.next_begin_offset, 1);

    // Nothing new: held for the suspend time, then PULL_NOT_FOUND at the same offset.
    let started = Instant::now();
    let r = c.invoke(&broker.addr, pull_held(1, 1500), T).await.unwrap();
    assert_eq!(r.code, response_code::PULL_NOT_FOUND);
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        r.header::<PullMessageResponseHeader>()
            .unwrap()
            .next_begin_offset,
        1
    );

    // A message arriving wakes the held pull long before its 20 s suspend time.
    let c = Arc::new(c);
    let waiter = {
        let c = c.clone();
        let addr = broker.addr.clone();
        tokio::spawn(async move {
            c.invoke(&addr, pull_held(1, 20_000), Duration::from_secs(30))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    c.invoke(&broker.addr, send_held("second"), T)
        .await
        .unwrap();
    let r = waiter.await.unwrap().unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken after {:?}",
        started.elapsed()
    );
    let msgs = rmq_protocol::message::decode_messages(&r.body).unwrap();
    assert_eq!(&msgs[0].body[..], b"second");

    // Offsets beyond the end are "moved" back to the max.
    let r = c.invoke(&broker.addr, pull_held(99, 0), T).await.unwrap();
    assert_eq!(r.code, response_code::PULL_OFFSET_MOVED);
    assert_eq!(
        r.header::<PullMessageResponseHeader>()
            .unwrap()
            .next_begin_offset,
        2
    );
}
