//! A pipelining peer gets responses while the server is still reading its window.
//!
//! The server runs on a one-thread runtime of its own, so its read task and write task can only
//! take turns: a response can reach the peer before the server handled the last request only if
//! the read task yields between reads. The peer's whole window is in the server's receive queue
//! before the server accepts the connection (a receive buffer larger than the window, and the
//! server starts serving only once the writer is done), so its reads never find the socket
//! empty before the last request and the outcome does not depend on which end is faster.
#![allow(clippy::unwrap_used)]

use rmq_protocol::net::{Channel, RequestHandler, ServerConfig, serve};
use rmq_protocol::{RemotingCommand, frame};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_util::sync::CancellationToken;

/// Requests in the window: ~150 KB, more than two of the server's 64 KiB reads.
const WINDOW: i32 = 300;

/// What the peer has done so far, and what the last request's handler saw.
#[derive(Default)]
struct Marks {
    /// The peer's writer put its whole window into the socket.
    written: AtomicBool,
    /// The peer read the first bytes of a response.
    response_seen: AtomicBool,
    /// The handler of the window's last request ran after the peer had seen a response.
    seen_before_last: AtomicBool,
    /// The handler of the window's last request is done.
    last_handled: AtomicBool,
}

/// Blocks the calling thread (the server's only one) until `flag` is set (5 s at most); whether
/// it was.
fn wait_for(flag: &AtomicBool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    flag.load(Ordering::SeqCst)
}

impl RequestHandler for Marks {
    async fn handle(&self, _: &Channel, req: RemotingCommand) -> Option<RemotingCommand> {
        if req.opaque == WINDOW - 1 {
            let seen = wait_for(&self.response_seen);
            self.seen_before_last.store(seen, Ordering::SeqCst);
            self.last_handled.store(true, Ordering::SeqCst);
        }
        Some(RemotingCommand::success(&req))
    }
}

/// Serves on a one-thread runtime of its own OS thread, once the peer wrote its window, until
/// `stop`; the address it listens on.
fn start_server(marks: Arc<Marks>, stop: CancellationToken) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let socket = TcpSocket::new_v4().unwrap();
            // Accepted sockets inherit it: the whole window fits in the receive queue.
            socket.set_recv_buffer_size(4 << 20).unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(16).unwrap();
            tx.send(listener.local_addr().unwrap().to_string()).unwrap();
            assert!(wait_for(&marks.written), "the peer never wrote its window");
            serve(listener, marks, ServerConfig::default(), stop).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_leave_before_the_server_read_the_whole_window() {
    let marks = Arc::new(Marks::default());
    let stop = CancellationToken::new();
    let addr = start_server(marks.clone(), stop.clone());
    let mut window = bytes::BytesMut::new();
    for i in 0..WINDOW {
        let mut req = RemotingCommand::request(2).with_body(vec![b'x'; 480]);
        req.opaque = i;
        frame::encode(&req, &mut window);
    }
    let socket = TcpSocket::new_v4().unwrap();
    // Room for the whole window in the kernel before the server reads.
    socket.set_send_buffer_size(4 << 20).unwrap();
    let (mut rd, mut wr) = socket
        .connect(addr.parse().unwrap())
        .await
        .unwrap()
        .into_split();
    let written = marks.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(&window).await.unwrap();
        written.written.store(true, Ordering::SeqCst);
        wr
    });
    let mut first = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(15), rd.read_exact(&mut first))
        .await
        .expect("a response within 15 s")
        .unwrap();
    marks.response_seen.store(true, Ordering::SeqCst);
    let _wr = writer.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !marks.last_handled.load(Ordering::SeqCst) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        marks.last_handled.load(Ordering::SeqCst),
        "the last request was never handled"
    );
    stop.cancel();
    assert!(
        marks.seen_before_last.load(Ordering::SeqCst),
        "the server handled all {WINDOW} pipelined requests before any response left"
    );
}
