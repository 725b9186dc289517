//! Busy polling (`ServerConfig::busy_poll`) over real sockets on 127.0.0.1: a one-at-a-time
//! client is answered correctly whether its requests are caught by a poll or by epoll, polls do
//! happen for it and write their answers themselves (also one larger than the socket takes at
//! once), and a server without a budget never polls. One test, so the process-wide
//! counts are not shared with another test running at the same time.
#![allow(clippy::unwrap_used)]

use rmq_protocol::RemotingCommand;
use rmq_protocol::net::{
    Channel, ClientConfig, RemotingClient, RequestHandler, ServerConfig, busy_polls, serve,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

struct Echo;

/// Code of the requests the handler says are not worth polling for.
const NOT_WORTH_POLLING: i32 = 2;
/// Code of a small request answered with [`LARGE`] bytes.
const LARGE_ANSWER: i32 = 3;
/// More than a loopback socket's send buffer takes at once (4 MiB at most by default).
const LARGE: usize = 6 * 1024 * 1024;

/// The `LARGE` answer's body: bytes that differ along its length.
fn large_body() -> Vec<u8> {
    (0..LARGE).map(|i| (i % 251) as u8).collect()
}

impl RequestHandler for Echo {
    async fn handle(&self, _: &Channel, req: RemotingCommand) -> Option<RemotingCommand> {
        let body = match req.code {
            LARGE_ANSWER => large_body().into(),
            _ => req.body.clone(),
        };
        Some(RemotingCommand::success(&req).with_body(body))
    }

    fn busy_poll_after(&self, request_code: i32) -> bool {
        request_code != NOT_WORTH_POLLING
    }
}

async fn start(busy_poll: Option<Duration>) -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = CancellationToken::new();
    let config = ServerConfig {
        busy_poll,
        ..ServerConfig::default()
    };
    tokio::spawn(serve(listener, Arc::new(Echo), config, stop.clone()));
    (addr, stop)
}

/// Sends `count` requests one after the other, each checked against its answer.
async fn one_at_a_time(client: &RemotingClient, addr: &str, count: u32) {
    one_at_a_time_of(client, addr, count, 1).await
}

/// Sends `count` requests of `code` one after the other, each checked against its answer.
async fn one_at_a_time_of(client: &RemotingClient, addr: &str, count: u32, code: i32) {
    for i in 0..count {
        let body = format!("request {i}").into_bytes();
        let req = RemotingCommand::request(code).with_body(body.clone());
        let resp = client
            .invoke(addr, req, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(&resp.body[..], &body[..], "answer {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_catch_one_at_a_time_requests_and_only_with_a_budget() {
    let (addr, stop) = start(None).await;
    let client = RemotingClient::new(ClientConfig::default());
    let before = busy_polls();
    one_at_a_time(&client, &addr, 200).await;
    assert_eq!(busy_polls(), before, "no budget: no poll");
    stop.cancel();

    // A generous budget, so a slow test machine still answers within it now and then.
    let (addr, stop) = start(Some(Duration::from_millis(5))).await;
    let client = RemotingClient::new(ClientConfig::default());
    one_at_a_time(&client, &addr, 500).await;
    let after = busy_polls();
    assert!(
        after.caught > before.caught,
        "500 requests one at a time and no poll caught one: {after:?}"
    );
    assert!(
        after.answered > before.answered,
        "no answer written by a polling read task itself: {after:?}"
    );
    // An answer larger than the socket takes at once, written by the polling read task: the
    // write task finishes it, whole and before anything else.
    for _ in 0..3 {
        let req = RemotingCommand::request(LARGE_ANSWER);
        let resp = client
            .invoke(&addr, req, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(resp.body[..] == large_body()[..], "large answer intact");
        one_at_a_time(&client, &addr, 40).await;
    }
    // Pipelined requests on the same connection after it polled: each still gets its answer.
    let client = Arc::new(client);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (c, a) = (client.clone(), addr.clone());
            tokio::spawn(async move { one_at_a_time(&c, &a, 50).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    one_at_a_time(&client, &addr, 100).await;
    stop.cancel();

    // Requests the handler says are not worth it: no poll after them, one at a time or not.
    let (addr, stop) = start(Some(Duration::from_millis(5))).await;
    let client = RemotingClient::new(ClientConfig::default());
    // The last poll of the connection before may still be running out its budget.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = busy_polls();
    one_at_a_time_of(&client, &addr, 300, NOT_WORTH_POLLING).await;
    assert_eq!(
        busy_polls(),
        before,
        "polled after requests not worth it (before: {before:?})"
    );
    stop.cancel();
}
