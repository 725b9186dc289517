//! Drives one connection (plaintext TCP, or TLS over TCP): a read task that decodes frames and
//! dispatches them (responses to their waiting invoke, requests to the handler: run inline,
//! continued in their own task only if they have to wait) and a write task that batches queued
//! commands into few writes. A malformed frame closes the connection with a logged reason; other
//! connections are unaffected.

use super::RequestHandler;
use super::channel::Channel;
use super::spin::{Polled, Spinner, TryReadNow};
use crate::command::RemotingCommand;
use crate::frame::{self, FrameLimits};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const READ_BUFFER: usize = 64 * 1024;
const WRITE_BATCH: usize = 1024 * 1024;
/// Frames dispatched from one read after which the read task yields to the write task even if
/// the read did not fill the buffer (TLS reads stop at a record).
const YIELD_AFTER: usize = 64;

/// How a connection is driven.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Drive {
    /// Frame limits.
    pub(crate) limits: FrameLimits,
    /// Close the connection when nothing arrived for this long.
    pub(crate) idle_timeout: Option<Duration>,
    /// Poll the socket for up to this long after answering, before sleeping in epoll (see
    /// [`super::spin`]; plaintext only).
    pub(crate) busy_poll: Option<Duration>,
}

/// Starts driving a plaintext `stream`; returns its channel. Plaintext keeps tokio's lock-free
/// owned halves (the hot path).
pub(crate) fn spawn<H: RequestHandler>(
    stream: TcpStream,
    handler: Arc<H>,
    drive: Drive,
) -> std::io::Result<Channel> {
    let remote = stream.peer_addr()?;
    let local = stream.local_addr()?;
    stream.set_nodelay(true)?;
    let (rd, wr) = stream.into_split();
    let io = Halves {
        rd,
        wr,
        remote,
        local,
    };
    Ok(start(io, handler, drive))
}

/// Starts driving an established TLS `stream` between `remote` and `local`; returns its channel.
#[cfg(feature = "tls")]
pub(crate) fn spawn_tls<S, H>(
    stream: S,
    remote: SocketAddr,
    local: SocketAddr,
    handler: Arc<H>,
    drive: Drive,
) -> Channel
where
    S: AsyncRead + AsyncWrite + Send + 'static,
    H: RequestHandler,
{
    let (rd, wr) = tokio::io::split(stream);
    let io = Halves {
        rd,
        wr,
        remote,
        local,
    };
    start(io, handler, drive)
}

/// The two directions of a connection and its addresses.
struct Halves<R, W> {
    rd: R,
    wr: W,
    remote: SocketAddr,
    local: SocketAddr,
}

fn start<R, W, H>(io: Halves<R, W>, handler: Arc<H>, drive: Drive) -> Channel
where
    R: AsyncRead + TryReadNow + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    H: RequestHandler,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let channel = Channel::new(io.remote, io.local, tx);
    tokio::spawn(write_loop(io.wr, rx, channel.closed_token()));
    tokio::spawn(read_loop(io.rd, channel.clone(), handler, drive));
    channel
}

fn dispatch<H: RequestHandler>(channel: &Channel, handler: &Arc<H>, cmd: RemotingCommand) {
    if cmd.is_response() {
        channel.complete(cmd);
        return;
    }
    let handler = handler.clone();
    let channel = channel.clone();
    let mut task = Box::pin(async move {
        let oneway = cmd.is_oneway();
        if let Some(response) = handler.handle(&channel, cmd).await
            && !oneway
        {
            channel.send(response);
        }
    });
    // Most requests finish without waiting (a send under async flush, a heartbeat, a pull that
    // finds messages or parks): run them right here, which saves a task spawn, a cross-thread
    // wakeup and lets the write loop batch the responses of one read into one write (profiled:
    // per-request tasks were a top cost of the send path). A request that has to wait continues
    // in its own task; that task polls it again, so a wakeup sent to the no-op waker is not lost.
    let mut cx = Context::from_waker(Waker::noop());
    match std::panic::catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => {
            tokio::spawn(task);
        }
        Err(_) => tracing::error!("request handler panicked; request dropped"),
    }
}

/// What waiting for the next bytes gave.
enum Next {
    /// A read finished: bytes (`0` at the end of the stream) or an error.
    Read(std::io::Result<usize>),
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The connection was closed from this side.
    Closed,
}

async fn read_loop<R, H>(mut rd: R, channel: Channel, handler: Arc<H>, drive: Drive)
where
    R: AsyncRead + TryReadNow + Unpin,
    H: RequestHandler,
{
    let closed = channel.closed_token();
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let mut spinner = Spinner::new(drive.busy_poll);
    // The last read filled the buffer's free space (at least half a READ_BUFFER): more data is
    // likely waiting.
    let mut filled = false;
    let idle = drive
        .idle_timeout
        .unwrap_or(Duration::from_secs(365 * 24 * 3600));
    'conn: loop {
        let mut dispatched = 0usize;
        // Every request of this read is one worth polling for after its answer.
        let mut worth_polling = true;
        loop {
            match frame::decode(&mut buf, &drive.limits) {
                Ok(Some(cmd)) => {
                    worth_polling &= cmd.is_response() || handler.busy_poll_after(cmd.code);
                    dispatch(&channel, &handler, cmd);
                    dispatched += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer = %channel.remote_addr(), error = %e, "closing connection: malformed frame");
                    break 'conn;
                }
            }
        }
        spinner.dispatched(if worth_polling { dispatched } else { 0 });
        let poll = dispatched > 0 && !filled && spinner.should_poll();
        if poll || (dispatched > 0 && (filled || dispatched >= YIELD_AFTER)) {
            // Let the write task send the responses of this batch before the next read: a read
            // task that finds data waiting never returns Pending, so under a pipelined load it
            // processed the peer's whole window before one response left, and the two ends took
            // turns instead of working at once (profiled: 60 % busy at both ends, 1.6x fewer
            // async sends per second). A short read left nothing behind: the next read pends
            // anyway, and the responses of one read still leave in one write. Before a busy
            // poll the answers must leave too: the peer waits for them.
            tokio::task::yield_now().await;
        }
        if buf.capacity() - buf.len() < READ_BUFFER / 2 {
            buf.reserve(READ_BUFFER);
        }
        let room = buf.capacity() - buf.len();
        let polled = match poll {
            true => spinner.poll(&mut rd, &mut buf),
            false => Polled::Nothing,
        };
        let next = match polled {
            Polled::Read(r) => Next::Read(r),
            Polled::Nothing => wait_for_bytes(&mut rd, &mut buf, &mut spinner, &closed, idle).await,
        };
        match next {
            Next::Closed => break,
            Next::Idle => {
                tracing::info!(peer = %channel.remote_addr(), "closing idle connection");
                break;
            }
            Next::Read(Ok(0)) => {
                if !buf.is_empty() {
                    tracing::warn!(peer = %channel.remote_addr(), pending = buf.len(), "connection closed in the middle of a frame");
                }
                break;
            }
            Next::Read(Ok(n)) => filled = n >= room,
            Next::Read(Err(e)) => {
                tracing::debug!(peer = %channel.remote_addr(), error = %e, "read failed");
                break;
            }
        }
    }
    channel.close();
    handler.on_close(&channel);
}

/// Sleeps until bytes arrive in `buf`, the connection is closed from this side, or `idle` passes.
async fn wait_for_bytes<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    spinner: &mut Spinner,
    closed: &CancellationToken,
    idle: Duration,
) -> Next {
    spinner.sleeps();
    let next = tokio::select! {
        _ = closed.cancelled() => Next::Closed,
        r = tokio::time::timeout(idle, rd.read_buf(buf)) => r.map_or(Next::Idle, Next::Read),
    };
    spinner.woke();
    next
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<RemotingCommand>,
    closed: CancellationToken,
) {
    let mut out = BytesMut::with_capacity(READ_BUFFER);
    loop {
        let first = tokio::select! {
            _ = closed.cancelled() => break,
            m = rx.recv() => match m {
                Some(cmd) => cmd,
                None => break,
            },
        };
        frame::encode(&first, &mut out);
        while out.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(cmd) => frame::encode(&cmd, &mut out),
                Err(_) => break,
            }
        }
        if wr.write_all(&out).await.is_err() {
            break;
        }
        out.clear();
        if out.capacity() > 4 * WRITE_BATCH {
            out = BytesMut::with_capacity(READ_BUFFER);
        }
    }
    closed.cancel();
    let _ = wr.shutdown().await;
}
