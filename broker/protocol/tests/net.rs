//! The remoting server loop and client over real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use rmq_protocol::net::{
    Channel, ClientConfig, RemotingClient, RequestHandler, ServerConfig, serve,
};
use rmq_protocol::{RemotingCommand, response_code};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Echo {
    oneways: AtomicUsize,
    closed: AtomicUsize,
}

impl RequestHandler for Echo {
    async fn handle(&self, _: &Channel, req: RemotingCommand) -> Option<RemotingCommand> {
        match req.code {
            1 => Some(RemotingCommand::success(&req).with_body(req.body.clone())),
            2 => {
                self.oneways.fetch_add(1, Ordering::SeqCst);
                Some(RemotingCommand::success(&req))
            }
            3 => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Some(RemotingCommand::success(&req))
            }
            _ => Some(RemotingCommand::error(
                &req,
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {} not supported", req.code),
            )),
        }
    }
    fn on_close(&self, _: &Channel) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start() -> (String, Arc<Echo>, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handler = Arc::new(Echo::default());
    let stop = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        handler.clone(),
        ServerConfig::default(),
        stop.clone(),
    ));
    (addr, handler, stop)
}

#[tokio::test]
async fn invoke_oneway_timeout_and_unknown_code() {
    let (addr, handler, stop) = start().await;
    let client = RemotingClient::new(ClientConfig::default());
    let resp = client
        .invoke(
            &addr,
            RemotingCommand::request(1).with_body(&b"ping"[..]),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert!(resp.is_response());
    assert_eq!(&resp.body[..], b"ping");

    // Many concurrent requests on one connection are matched by opaque.
    let client = Arc::new(client);
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let c = client.clone();
        let a = addr.clone();
        tasks.push(tokio::spawn(async move {
            let body = i.to_be_bytes().to_vec();
            let r = c
                .invoke(
                    &a,
                    RemotingCommand::request(1).with_body(body.clone()),
                    Duration::from_secs(5),
                )
                .await
                .unwrap();
            assert_eq!(&r.body[..], &body[..]);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    client
        .invoke_oneway(&addr, RemotingCommand::request(2))
        .await
        .unwrap();
    let unknown = client
        .invoke(&addr, RemotingCommand::request(999), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(unknown.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    let slow = client
        .invoke(
            &addr,
            RemotingCommand::request(3),
            Duration::from_millis(100),
        )
        .await;
    assert!(matches!(
        slow,
        Err(rmq_protocol::net::NetError::Timeout { .. })
    ));
    for _ in 0..50 {
        if handler.oneways.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(handler.oneways.load(Ordering::SeqCst), 1);
    stop.cancel();
}

#[tokio::test]
async fn garbage_closes_only_that_connection_and_client_reconnects() {
    let (addr, handler, stop) = start().await;
    let client = RemotingClient::new(ClientConfig::default());
    client
        .invoke(&addr, RemotingCommand::request(1), Duration::from_secs(3))
        .await
        .unwrap();

    let mut raw = TcpStream::connect(&addr).await.unwrap();
    raw.write_all(&[0xff; 64]).await.unwrap();
    let mut sink = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(3), raw.read_to_end(&mut sink))
        .await
        .expect("server must close the connection")
        .unwrap_or(0);
    assert_eq!(n, 0);

    // The healthy client keeps working.
    client
        .invoke(&addr, RemotingCommand::request(1), Duration::from_secs(3))
        .await
        .unwrap();
    assert!(handler.closed.load(Ordering::SeqCst) >= 1);

    // A closed channel is replaced on the next call.
    client.channel(&addr).await.unwrap().close();
    client
        .invoke(&addr, RemotingCommand::request(1), Duration::from_secs(3))
        .await
        .unwrap();
    stop.cancel();
}

#[tokio::test]
async fn connect_errors_name_the_address() {
    let client = RemotingClient::new(ClientConfig::default());
    let err = client
        .invoke(
            "127.0.0.1:1",
            RemotingCommand::request(1),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    assert!(client.channel("nocolon").await.is_err());
}
