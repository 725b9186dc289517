//! Drives one connection (plaintext TCP, or TLS over TCP): a read task that decodes frames and
//! dispatches them (responses to their waiting invoke, requests to the handler: run inline,
//! continued in their own task only if they have to wait) and a write task that batches queued
//! commands into few writes. A busy-polling read task writes its answer itself ([`super::direct`]).
//! A malformed frame closes the connection with a logged reason; other connections are
//! unaffected.

use super::RequestHandler;
use super::channel::Channel;
use super::direct::{TryWriteNow, WriteGate};
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
/// Answers a polling read task writes itself in a row before it yields to the runtime's other
/// tasks once (it would otherwise keep its thread as long as its client keeps sending).
const YIELD_EVERY_DIRECT: u32 = 32;

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
    R: AsyncRead + TryReadNow + TryWriteNow + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    H: RequestHandler,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let channel = Channel::new(io.remote, io.local, tx);
    let gate = Arc::new(WriteGate::default());
    let writer = Writer {
        rx,
        closed: channel.closed_token(),
        gate: gate.clone(),
    };
    tokio::spawn(write_loop(io.wr, writer));
    let reader = Reader {
        channel: channel.clone(),
        handler,
        drive,
        gate,
    };
    tokio::spawn(read_loop(io.rd, reader));
    channel
}

/// Runs `cmd`: a response completes its invoke; a request runs inline and its answer is
/// returned if it finished at once (one that has to wait continues in its own task, which sends
/// its answer itself).
fn dispatch<H: RequestHandler>(
    channel: &Channel,
    handler: &Arc<H>,
    cmd: RemotingCommand,
) -> Option<RemotingCommand> {
    if cmd.is_response() {
        channel.complete(cmd);
        return None;
    }
    let oneway = cmd.is_oneway();
    let handler = handler.clone();
    let ch = channel.clone();
    let mut task = Box::pin(async move { handler.handle(&ch, cmd).await });
    // Most requests finish without waiting (a send under async flush, a heartbeat, a pull that
    // finds messages or parks): run them right here, which saves a task spawn, a cross-thread
    // wakeup and lets the write loop batch the responses of one read into one write (profiled:
    // per-request tasks were a top cost of the send path). A request that has to wait continues
    // in its own task; that task polls it again, so a wakeup sent to the no-op waker is not lost.
    let mut cx = Context::from_waker(Waker::noop());
    match std::panic::catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(answer)) => answer.filter(|_| !oneway),
        Ok(Poll::Pending) => {
            let channel = channel.clone();
            tokio::spawn(async move {
                if let Some(answer) = task.await
                    && !oneway
                {
                    channel.send(answer);
                }
            });
            None
        }
        Err(_) => {
            tracing::error!("request handler panicked; request dropped");
            None
        }
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

/// What a connection's read task works with.
struct Reader<H> {
    channel: Channel,
    handler: Arc<H>,
    drive: Drive,
    gate: Arc<WriteGate>,
}

/// What one read's frames gave.
struct Dispatched {
    /// Frames dispatched.
    count: usize,
    /// Every request among them is one worth polling for after its answer.
    worth_polling: bool,
    /// The last answer that finished at once, not sent yet (the earlier ones are queued).
    held: Option<RemotingCommand>,
}

impl<H: RequestHandler> Reader<H> {
    /// Dispatches the whole frames in `buf`; `None` if one is malformed (logged).
    fn dispatch_all(&self, buf: &mut BytesMut) -> Option<Dispatched> {
        let mut out = Dispatched {
            count: 0,
            worth_polling: true,
            held: None,
        };
        loop {
            match frame::decode(buf, &self.drive.limits) {
                Ok(Some(cmd)) => {
                    out.worth_polling &=
                        cmd.is_response() || self.handler.busy_poll_after(cmd.code);
                    if let Some(answer) = dispatch(&self.channel, &self.handler, cmd)
                        && let Some(earlier) = out.held.replace(answer)
                    {
                        self.channel.send(earlier);
                    }
                    out.count += 1;
                }
                Ok(None) => return Some(out),
                Err(e) => {
                    tracing::warn!(peer = %self.channel.remote_addr(), error = %e, "closing connection: malformed frame");
                    // The frames before it were fine: their answers still go out.
                    if let Some(answer) = out.held {
                        self.channel.send(answer);
                    }
                    return None;
                }
            }
        }
    }

    /// Sends `answer`: straight to the socket if `direct` and the write task is idle (true),
    /// else through the write task.
    fn answer<W: TryWriteNow>(
        &self,
        answer: RemotingCommand,
        direct: Option<(&W, &mut BytesMut)>,
    ) -> bool {
        if let Some((socket, frames)) = direct
            && !self.channel.is_closed()
        {
            frame::encode(&answer, frames);
            if self.gate.write_now(socket, frames) {
                return true;
            }
            frames.clear();
        }
        self.channel.send(answer);
        false
    }
}

async fn read_loop<R, H>(mut rd: R, reader: Reader<H>)
where
    R: AsyncRead + TryReadNow + TryWriteNow + Unpin,
    H: RequestHandler,
{
    let closed = reader.channel.closed_token();
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let mut frames = BytesMut::new();
    let mut spinner = Spinner::new(reader.drive.busy_poll);
    // The last read filled the buffer's free space (at least half a READ_BUFFER): more data is
    // likely waiting.
    let mut filled = false;
    let mut direct_answers = 0u32;
    let idle = reader
        .drive
        .idle_timeout
        .unwrap_or(Duration::from_secs(365 * 24 * 3600));
    loop {
        let Some(read) = reader.dispatch_all(&mut buf) else {
            break;
        };
        let dispatched = read.count;
        spinner.dispatched(if read.worth_polling { dispatched } else { 0 });
        // A poll follows a read of exactly one request (see `Spinner::should_poll`).
        let poll = dispatched > 0 && !filled && spinner.should_poll();
        let direct = read
            .held
            .is_some_and(|answer| reader.answer(answer, poll.then_some((&rd, &mut frames))));
        direct_answers = direct_answers.wrapping_add(u32::from(direct));
        let pass_turn = match direct {
            true => direct_answers.is_multiple_of(YIELD_EVERY_DIRECT),
            false => poll || (dispatched > 0 && (filled || dispatched >= YIELD_AFTER)),
        };
        if pass_turn {
            // Let the write task send the responses of this batch before the next read: a read
            // task that finds data waiting never returns Pending, so under a pipelined load it
            // processed the peer's whole window before one response left, and the two ends took
            // turns instead of working at once (profiled: 60 % busy at both ends, 1.6x fewer
            // async sends per second). A short read left nothing behind: the next read pends
            // anyway, and the responses of one read still leave in one write. Before a busy
            // poll the answers must leave too: the peer waits for them (unless the read task
            // wrote its answer itself; then it yields only now and then, to be fair to the
            // runtime's other tasks).
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
        let peer = reader.channel.remote_addr();
        match next {
            Next::Closed => break,
            Next::Idle => {
                tracing::info!(%peer, "closing idle connection");
                break;
            }
            Next::Read(Ok(0)) => {
                if !buf.is_empty() {
                    tracing::warn!(%peer, pending = buf.len(), "connection closed in the middle of a frame");
                }
                break;
            }
            Next::Read(Ok(n)) => filled = n >= room,
            Next::Read(Err(e)) => {
                tracing::debug!(%peer, error = %e, "read failed");
                break;
            }
        }
    }
    reader.channel.close();
    reader.handler.on_close(&reader.channel);
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

/// What a connection's write task works with.
struct Writer {
    rx: mpsc::UnboundedReceiver<RemotingCommand>,
    closed: CancellationToken,
    gate: Arc<WriteGate>,
}

async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut writer: Writer) {
    let mut out = BytesMut::with_capacity(READ_BUFFER);
    loop {
        let first = tokio::select! {
            _ = writer.closed.cancelled() => break,
            // The read task left the rest of its answer to write.
            _ = writer.gate.kicked() => None,
            m = writer.rx.recv() => match m {
                Some(cmd) => Some(cmd),
                None => break,
            },
        };
        if let Some(first) = first {
            frame::encode(&first, &mut out);
        }
        while out.len() < WRITE_BATCH {
            match writer.rx.try_recv() {
                Ok(cmd) => frame::encode(&cmd, &mut out),
                Err(_) => break,
            }
        }
        let rest = writer.gate.acquire().await;
        let wrote = write_after(&mut wr, rest, &out).await;
        writer.gate.release();
        if wrote.is_err() {
            break;
        }
        out.clear();
        if out.capacity() > 4 * WRITE_BATCH {
            out = BytesMut::with_capacity(READ_BUFFER);
        }
    }
    writer.closed.cancel();
    let _ = wr.shutdown().await;
}

/// Writes `rest` (what the read task left of its answer), then `out`.
async fn write_after<W: AsyncWrite + Unpin>(
    wr: &mut W,
    rest: Option<bytes::Bytes>,
    out: &[u8],
) -> std::io::Result<()> {
    if let Some(rest) = rest {
        wr.write_all(&rest).await?;
    }
    if !out.is_empty() {
        wr.write_all(out).await?;
    }
    Ok(())
}
