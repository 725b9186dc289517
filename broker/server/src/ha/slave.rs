//! Slave side: connect to the master's HA address (`haMasterAddress`, else the `haServerAddr`
//! the nameserver returned at registration), report the local commit log end at once, after
//! every applied batch and every `haSendHeartbeatInterval`; append transferred bytes at the
//! same offsets (the store re-dispatches consume queues, so pulls on the slave see them).
//! An offset mismatch, `haHousekeepingInterval` without a frame, or any I/O error drops the
//! connection; the slave reconnects every 5 s.
//!
//! With `tls.enable=true` the connection runs the TLS handshake first (`tls.client.*`, as the
//! remoting client). With inner credentials (`innerClientAuthenticationCredentials` or
//! `innerClientCredentialsDir`, read at each connection) the first report goes inside a signed
//! hello ([`super::hello`]); a master that refuses answers a refusal frame, logged with what
//! to set.

use super::hello::{self, REFUSAL_MAGIC};
use super::replication::Replication;
use super::wire::{self, HEADER_LEN, TransferHeader};
use crate::config::InnerCredentials;
use crate::state::now_ms;
use bytes::{Buf, Bytes, BytesMut};
use rmq_protocol::net::tls::{ClientTls, MaybeTlsStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Pause between connection attempts.
const RECONNECT: Duration = Duration::from_secs(5);
/// How often to look for the master's address while none is known.
const UNKNOWN_MASTER_POLL: Duration = Duration::from_secs(1);
/// Connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest frame body accepted (Java masters send at most `haTransferBatchSize`).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Initial read buffer (Java's slave uses 4 MiB).
const READ_BUF: usize = 256 * 1024;

/// How a slave dials its master.
#[derive(Clone, Default)]
pub struct SlaveAuth {
    /// TLS of the connection (`tls.enable`); `None`: plaintext.
    pub tls: Option<Arc<ClientTls>>,
    /// The account of the hello; `None`: a classic plain report.
    pub credentials: Option<InnerCredentials>,
}

/// Keeps the slave connected to its master until `stop`.
pub fn spawn(r: Replication, auth: SlaveAuth, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut last_error = String::new();
        loop {
            let addr = r
                .config
                .master_address
                .clone()
                .or_else(|| r.state.master_ha_addr());
            let mut pause = UNKNOWN_MASTER_POLL;
            if let Some(addr) = addr {
                pause = RECONNECT;
                let result = session(&r, &auth, &addr, &stop).await;
                r.state.client.set_connected(None);
                match result {
                    Ok(()) => return,
                    Err(e) if e != last_error => {
                        tracing::warn!(master = %addr, reason = %e, "HA: not replicating from the master");
                        last_error = e;
                    }
                    Err(e) => {
                        tracing::debug!(master = %addr, reason = %e, "HA: still not replicating")
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    });
}

/// Writes `bytes` (a report or the hello) and flushes them out of TLS.
async fn send(wr: &mut WriteHalf<MaybeTlsStream>, bytes: &[u8]) -> Result<(), String> {
    wr.write_all(bytes)
        .await
        .map_err(|e| format!("cannot report to the master: {e}"))?;
    wr.flush()
        .await
        .map_err(|e| format!("cannot report to the master: {e}"))
}

async fn report(wr: &mut WriteHalf<MaybeTlsStream>, offset: i64) -> Result<(), String> {
    send(wr, &wire::encode_report(offset)).await
}

/// Connects (TCP, then TLS when configured).
async fn connect(auth: &SlaveAuth, addr: &str) -> Result<MaybeTlsStream, String> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    match &auth.tls {
        None => Ok(MaybeTlsStream::Plain(stream)),
        Some(tls) => tls.connect_stream(addr, stream).await.map_err(|e| {
            format!(
                "{e} (tls.enable=true: the master's HA port must serve TLS, \
                 tls.server.mode permissive or enforcing, with a certificate \
                 tls.client.trustCertPath trusts)"
            )
        }),
    }
}

/// The first bytes: a signed hello ending with the report `offset`, or the bare report.
/// Preceded by an identity frame when `identity` is set (controller mode).
fn opening(auth: &SlaveAuth, offset: i64, identity: Option<i64>) -> Result<Vec<u8>, String> {
    let mut out = identity
        .map(|id| wire::encode_identity(id).to_vec())
        .unwrap_or_default();
    let Some(source) = &auth.credentials else {
        out.extend_from_slice(&wire::encode_report(offset));
        return Ok(out);
    };
    let credentials = source.load()?;
    let hello = hello::encode_hello(&credentials, offset, now_ms(), rand::random())
        .map_err(|e| format!("cannot sign the HA hello: {e}"))?;
    out.extend_from_slice(&hello);
    Ok(out)
}

/// The error of a refused slave: the master's reason and what to set here.
fn refused(auth: &SlaveAuth, reason: &str) -> String {
    let fix = match &auth.credentials {
        None => {
            "this slave sends no credentials: set innerClientAuthenticationCredentials \
                 ({\"accessKey\":..,\"secretKey\":..}) or innerClientCredentialsDir (files \
                 accessKey and secretKey) to an admin account of the master's plain_acl.yml"
        }
        Some(_) => {
            "check innerClientAuthenticationCredentials / innerClientCredentialsDir: \
                    they must name an admin account of the master's plain_acl.yml with its \
                    secretKey"
        }
    };
    format!("the master refused this slave: {reason}; {fix}")
}

/// Marks the link up and logs it.
fn linked(r: &Replication, addr: &str, offset: i64, auth: &SlaveAuth) {
    r.state.client.set_connected(Some(addr));
    let (tls, hello) = (auth.tls.is_some(), auth.credentials.is_some());
    tracing::info!(master = %addr, offset, tls, hello, "HA: connected to the master");
}

/// One connection; `Ok` only when stopped. A slave that sent a hello counts as connected
/// from the master's first frame on (a refused one never does); one without, at once.
async fn session(
    r: &Replication,
    auth: &SlaveAuth,
    addr: &str,
    stop: &CancellationToken,
) -> Result<(), String> {
    let (mut rd, mut wr) = tokio::io::split(connect(auth, addr).await?);
    let mut reported = r.store.max_physical_offset();
    send(&mut wr, &opening(auth, reported, r.config.identity)?).await?;
    let mut up = auth.credentials.is_none();
    if up {
        linked(r, addr, reported, auth);
    }
    let cfg = &r.config;
    let mut buf = BytesMut::with_capacity(READ_BUF);
    let (mut last_read, mut last_write) = (Instant::now(), Instant::now());
    let mut tick = tokio::time::interval(cfg.heartbeat_interval.min(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            read = rd.read_buf(&mut buf) => {
                let n = read.map_err(|e| format!("read failed: {e}"))?;
                if n == 0 {
                    return Err("the master closed the connection".into());
                }
                last_read = Instant::now();
                if let Some(reason) = hello::refusal(&buf) {
                    return Err(refused(auth, &reason));
                }
                let framed = TransferHeader::peek(&buf).is_some_and(|h| h.phy_offset != REFUSAL_MAGIC);
                apply_frames(r, &mut buf).await?;
                if framed && !up {
                    up = true;
                    linked(r, addr, reported, auth);
                }
                let end = r.store.max_physical_offset();
                if end > reported {
                    reported = end;
                    report(&mut wr, reported).await?;
                    last_write = Instant::now();
                }
            }
            _ = tick.tick() => {
                if last_read.elapsed() > cfg.housekeeping_interval {
                    return Err(format!(
                        "nothing from the master for {} ms",
                        cfg.housekeeping_interval.as_millis()
                    ));
                }
                if last_write.elapsed() >= cfg.heartbeat_interval {
                    reported = r.store.max_physical_offset();
                    report(&mut wr, reported).await?;
                    last_write = Instant::now();
                }
            }
        }
    }
}

/// The master sends from `from`, past this slave's end `end`: retention deleted what lies
/// between on the master, so the slave restarts its (now unusable) commit log at `from` and
/// continues from what the master still has. Returns the new end.
async fn catch_up(r: &Replication, end: i64, from: i64) -> Result<i64, String> {
    tracing::warn!(
        slave_end = end,
        master_from = from,
        lost_bytes = from - end,
        "HA: this slave is behind the master's oldest data (retention deleted it there); \
         restarting the slave's commit log at the master's first offset — messages before it \
         are no longer on this slave"
    );
    let store = r.store.clone();
    tokio::task::spawn_blocking(move || store.reset_to(from))
        .await
        .map_err(|e| format!("reset task failed: {e}"))?
        .map_err(|e| format!("cannot restart the slave's commit log at {from}: {e}"))?;
    Ok(from)
}

/// Splits every complete frame off `buf` (checking that each continues where the previous
/// one, or the local commit log, ends) and appends their bodies.
async fn apply_frames(r: &Replication, buf: &mut BytesMut) -> Result<(), String> {
    let mut expect = r.store.max_physical_offset();
    let mut bodies: Vec<(i64, Bytes)> = Vec::new();
    let mut seen = None;
    let mut total = 0;
    while let Some(h) = TransferHeader::peek(buf) {
        let size = usize::try_from(h.body_size)
            .ok()
            .filter(|s| *s <= MAX_BODY)
            .ok_or_else(|| format!("bad frame: body size {}", h.body_size))?;
        if h.phy_offset == REFUSAL_MAGIC {
            break; // the rest of the refusal is still to come (`session` reads it)
        }
        if h.phy_offset > expect && bodies.is_empty() {
            expect = catch_up(r, expect, h.phy_offset).await?;
        }
        if h.phy_offset != expect {
            return Err(format!(
                "offset mismatch: the slave's commit log ends at {expect}, the master sent \
                 offset {}",
                h.phy_offset
            ));
        }
        if buf.len() < HEADER_LEN + size {
            buf.reserve(HEADER_LEN + size - buf.len());
            break;
        }
        let mut frame = buf.split_to(HEADER_LEN + size);
        frame.advance(HEADER_LEN);
        expect += size as i64;
        seen = Some(expect);
        total += size;
        if size > 0 {
            bodies.push((h.phy_offset, frame.freeze()));
        }
    }
    if !bodies.is_empty() {
        let store = r.store.clone();
        tokio::task::spawn_blocking(move || {
            for (offset, body) in bodies {
                store.append_raw(offset, &body)?;
            }
            Ok::<(), rmq_store::StoreError>(())
        })
        .await
        .map_err(|e| format!("append task failed: {e}"))?
        .map_err(|e| format!("cannot append replicated data: {e}"))?;
    }
    if let Some(end) = seen {
        r.state.client.saw_master_offset(end, now_ms(), total);
    }
    Ok(())
}
