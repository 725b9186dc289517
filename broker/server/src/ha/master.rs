//! Master side: accept slaves on `haListenPort`; per connection one reader (slave reports →
//! acknowledged offset, wakes SYNC_MASTER waiters) and one writer (raw commit log chunks of at
//! most `haTransferBatchSize`, a heartbeat frame after `haSendHeartbeatInterval` of silence).
//!
//! Start position: the slave's first report. A slave reporting 0 (an empty store) gets the
//! whole commit log from the master's first offset — not Java's "start of the last segment",
//! because a fresh slave should hold every message the master still has. A slave behind the
//! master's first offset (retention deleted the rest here) gets the data from that first
//! offset and restarts its own commit log there. A slave reporting an offset beyond the
//! master's end has diverged (e.g. the master lost a torn tail) and is disconnected, as in Java.
//!
//! Before that, `admit` runs TLS (`tls.server.mode`) and, with `aclEnable=true`, checks the
//! slave's signed hello; a refused slave never gets a commit log byte.

use super::admit::{Admitted, MasterGuard, admit};
use super::replication::Replication;
use super::state::SlaveLink;
use super::wire;
use bytes::BytesMut;
use rmq_protocol::net::tls::MaybeTlsStream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Longest wait for new data before re-checking (puts also wake the writers directly).
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Accepts slave connections until `stop`; `guard` says which it lets in.
pub fn spawn(
    r: Replication,
    listener: TcpListener,
    guard: Arc<MasterGuard>,
    stop: CancellationToken,
) {
    let r = Arc::new(r);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => a,
            };
            match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve(r.clone(), guard.clone(), stream, peer, stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "HA accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}

async fn serve(
    r: Arc<Replication>,
    guard: Arc<MasterGuard>,
    stream: TcpStream,
    peer: SocketAddr,
    stop: CancellationToken,
) {
    let admitted = tokio::select! {
        _ = stop.cancelled() => return,
        a = admit(&guard, stream, peer, r.config.housekeeping_interval) => a,
    };
    let Some(Admitted {
        rd,
        wr,
        buf,
        access_key,
        tls,
        hello,
        broker_id,
    }) = admitted
    else {
        return;
    };
    let link = r.state.register(peer.to_string(), broker_id);
    let account = access_key.as_deref().unwrap_or("-");
    tracing::info!(slave = %peer, tls, access_key = %account, broker_id, "HA: slave connected");
    let (first_tx, first_rx) = oneshot::channel();
    let result = tokio::select! {
        res = read_reports(&r, &link, rd, buf, first_tx) => res,
        // a slave that sent a hello counts itself connected from the first frame: greet it
        res = transfer(&r, &link, wr, first_rx, hello) => res,
        _ = stop.cancelled() => Ok(()),
    };
    r.state.unregister(link.id);
    match result {
        Ok(()) => tracing::info!(slave = %peer, "HA: slave connection closed"),
        Err(e) => tracing::warn!(slave = %peer, reason = %e, "HA: slave connection closed"),
    }
}

/// Reads reports until the connection ends, starting with those already in `buf`; sends the
/// first one to the writer.
async fn read_reports(
    r: &Replication,
    link: &SlaveLink,
    mut rd: ReadHalf<MaybeTlsStream>,
    mut buf: BytesMut,
    first_tx: oneshot::Sender<i64>,
) -> Result<(), String> {
    let idle = r.config.housekeeping_interval;
    let mut first = Some(first_tx);
    loop {
        let Some(offset) = wire::take_last_report(&mut buf) else {
            let n = tokio::time::timeout(idle, rd.read_buf(&mut buf))
                .await
                .map_err(|_| format!("no report for {} ms", idle.as_millis()))?
                .map_err(|e| format!("read failed: {e}"))?;
            if n == 0 {
                return Err("the slave closed the connection".into());
            }
            continue;
        };
        let end = r.store.max_physical_offset();
        if offset > end {
            return Err(format!(
                "the slave reports offset {offset}, beyond this master's end {end}: its commit \
                 log has diverged; rebuild the slave's store"
            ));
        }
        r.state.record_ack(link, offset);
        if let Some(tx) = first.take() {
            let _ = tx.send(offset);
        }
    }
}

async fn write_frame(
    wr: &mut WriteHalf<MaybeTlsStream>,
    offset: i64,
    body: &[u8],
) -> Result<(), String> {
    wr.write_all(&wire::encode_transfer(offset, body))
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    // TLS may hold the last record back until flushed (a no-op on plain TCP)
    wr.flush().await.map_err(|e| format!("write failed: {e}"))
}

/// Streams the commit log from the slave's requested offset, forever; `greet`: starts with a
/// heartbeat even when there is nothing to send (the slave waits for a first frame).
async fn transfer(
    r: &Replication,
    link: &SlaveLink,
    mut wr: WriteHalf<MaybeTlsStream>,
    first_rx: oneshot::Receiver<i64>,
    greet: bool,
) -> Result<(), String> {
    let requested = first_rx
        .await
        .map_err(|_| "closed before the first report".to_owned())?;
    let min = r.store.min_physical_offset();
    let mut next = if requested == 0 { min } else { requested };
    if next < min {
        tracing::warn!(slave = %link.addr, requested, oldest = min, "HA: the slave is behind this master's oldest data (deleted by retention); it continues from the oldest");
        next = min;
    }
    link.set_transfer_from(next);
    tracing::info!(slave = %link.addr, requested, from = next, "HA: transfer starts");
    if greet {
        write_frame(&mut wr, next, &[]).await?;
    }
    let cfg = &r.config;
    let mut last_write = Instant::now();
    let mut window = (Instant::now(), 0u64);
    loop {
        if window.0.elapsed() >= Duration::from_secs(1) {
            link.set_bytes_per_sec(window.1);
            window = (Instant::now(), 0);
        }
        let notified = r.state.data_notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let chunk = r
            .store
            .read_raw(next, cfg.transfer_batch_size)
            .map_err(|e| format!("cannot read the commit log at {next}: {e}"))?;
        match chunk {
            Some(data) if !data.is_empty() => {
                write_frame(&mut wr, next, &data).await?;
                next += data.len() as i64;
                window.1 += data.len() as u64;
                last_write = Instant::now();
                continue;
            }
            None if next < r.store.min_physical_offset() => {
                let oldest = r.store.min_physical_offset();
                tracing::warn!(slave = %link.addr, needed = next, oldest, "HA: retention deleted what the slave needs next; it continues from this master's oldest data");
                next = oldest;
                continue;
            }
            _ => {}
        }
        if last_write.elapsed() >= cfg.heartbeat_interval {
            write_frame(&mut wr, next, &[]).await?;
            last_write = Instant::now();
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}
