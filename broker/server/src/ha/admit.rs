//! Master side, before any commit log byte flows: TLS on the HA port as `tls.server.mode` says
//! for the remoting ports (same reloading certificate, same first-byte routing, same client
//! certificate rule), then the slave's opening — a classic report, or a signed hello that
//! `aclEnable=true` requires from an admin account ([`super::hello`]). A refused slave gets a
//! refusal frame (when it got as far as speaking the protocol) and is closed; the master logs
//! one line with the peer, the accessKey and the reason.

use super::hello::{self, Opening, Refusal, SeenNonces};
use super::wire;
use crate::state::now_ms;
use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use rmq_acl::gate::AclGate;
use rmq_protocol::net::tls::{MaybeTlsStream, ServerTls};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

/// How long the refusal frame may take to go out.
const REFUSAL_WRITE: Duration = Duration::from_secs(2);

/// What guards a master's HA port.
#[derive(Default)]
pub struct MasterGuard {
    /// TLS of the remoting ports (`tls.server.mode` not disabled); `None`: plaintext only.
    pub tls: Option<Arc<ServerTls>>,
    /// The ACL gate (`aclEnable=true`): slaves must prove an admin account; `None`: no check.
    pub acl: Option<Arc<AclGate>>,
    /// Nonces of accepted hellos (replay protection).
    seen: Mutex<SeenNonces>,
}

impl MasterGuard {
    /// A guard with this TLS side and ACL gate.
    pub fn new(tls: Option<Arc<ServerTls>>, acl: Option<Arc<AclGate>>) -> Self {
        Self {
            tls,
            acl,
            seen: Mutex::new(SeenNonces::default()),
        }
    }
}

/// A slave connection let in.
pub struct Admitted {
    /// Reads reports.
    pub rd: ReadHalf<MaybeTlsStream>,
    /// Writes transfer frames.
    pub wr: WriteHalf<MaybeTlsStream>,
    /// What arrived beyond the hello: the first report (at least 8 bytes, maybe more).
    pub buf: BytesMut,
    /// The authenticated account, when the slave sent a verified hello.
    pub access_key: Option<String>,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// Whether the slave opened with a hello (checked or, without ACL, skipped).
    pub hello: bool,
    /// The broker id the slave announced (controller mode, [`super::wire::ID_MAGIC`]).
    pub broker_id: Option<i64>,
}

/// TLS and the opening of an accepted connection; `None` (logged once) when refused or lost.
/// `wait` bounds the wait for the opening (`haHousekeepingInterval`).
pub async fn admit(
    guard: &MasterGuard,
    tcp: TcpStream,
    peer: SocketAddr,
    wait: Duration,
) -> Option<Admitted> {
    let _ = tcp.set_nodelay(true);
    let stream = match &guard.tls {
        None => MaybeTlsStream::Plain(tcp),
        Some(tls) => match tls.accept_stream(tcp).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("HA: TLS handshake with {peer} failed: {e}");
                return None;
            }
        },
    };
    let tls = stream.is_tls();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(1024);
    let (opening, broker_id) = match read_opening(&mut rd, &mut buf, wait).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(slave = %peer, reason = %e, "HA: slave connection closed");
            return None;
        }
    };
    match decide(guard, opening) {
        Ok((consumed, access_key)) => {
            let hello = consumed > 0;
            buf.advance(consumed);
            Some(Admitted {
                rd,
                wr,
                buf,
                access_key,
                tls,
                hello,
                broker_id,
            })
        }
        Err(refusal) => {
            tracing::warn!(slave = %peer, reason = %refusal.log_reason(), "HA: slave refused, connection closed");
            let frame = hello::encode_refusal(&refusal.to_slave());
            let _ = tokio::time::timeout(REFUSAL_WRITE, async {
                let _ = wr.write_all(&frame).await;
                let _ = wr.shutdown().await;
            })
            .await;
            None
        }
    }
}

/// Reads until the opening can be told (a report needs 8 bytes, a hello its whole length),
/// after the slave's identity frame when it sends one (consumed; its id is returned).
async fn read_opening(
    rd: &mut ReadHalf<MaybeTlsStream>,
    buf: &mut BytesMut,
    wait: Duration,
) -> Result<(Opening, Option<i64>), String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut id = None;
    let mut identity_told = false;
    loop {
        if !identity_told {
            match wire::peek_identity(buf) {
                wire::Identity::NeedMore => {}
                wire::Identity::Absent => identity_told = true,
                wire::Identity::Id(n) => {
                    buf.advance(wire::ID_LEN);
                    (id, identity_told) = (Some(n), true);
                }
            }
        }
        match hello::parse_opening(buf) {
            _ if !identity_told => {}
            Opening::NeedMore => {}
            other => return Ok((other, id)),
        }
        let n = tokio::time::timeout_at(deadline, rd.read_buf(buf))
            .await
            .map_err(|_| format!("no first report within {} ms", wait.as_millis()))?
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Err("the slave closed the connection before its first report".into());
        }
    }
}

/// Whether the opening lets the slave in: `Ok((bytes to consume, authenticated account))`.
fn decide(guard: &MasterGuard, opening: Opening) -> Result<(usize, Option<String>), Refusal> {
    match (opening, &guard.acl) {
        (Opening::Report, None) => Ok((0, None)),
        (Opening::Report, Some(_)) => Err(Refusal::NoHello),
        // without ACL a hello is skipped unchecked: its trailing report starts the transfer
        (Opening::Hello(_, consumed), None) => Ok((consumed, None)),
        (Opening::Hello(h, consumed), Some(gate)) => {
            let acl = gate.current();
            let ak = hello::verify_hello(&acl, &h, now_ms(), &mut guard.seen.lock())?;
            Ok((consumed, Some(ak)))
        }
        (Opening::Malformed(why), _) => Err(Refusal::Malformed(why)),
        (Opening::NeedMore, _) => Err(Refusal::Malformed("incomplete".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ha::wire;
    use rmq_acl::gate::Policy;
    use rmq_acl::{AclConfig, Credentials};
    use std::path::Path;
    use tokio::net::TcpListener;

    const WAIT: Duration = Duration::from_secs(5);

    fn gate() -> Arc<AclGate> {
        let text = "accounts:\n- accessKey: rmqadmin\n  secretKey: admin-secret-1\n  admin: true\n";
        let acl = AclConfig::parse(text, "plain_acl.yml").unwrap();
        Arc::new(AclGate::with_config(
            Path::new("plain_acl.yml"),
            acl,
            Policy::Broker,
        ))
    }

    /// Sends `opening` from a client and runs `admit` on the master side; the outcome and what
    /// the client received until the master closed or 1 s passed.
    async fn run(guard: MasterGuard, opening: Vec<u8>) -> (Option<Admitted>, Vec<u8>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(&opening).await.unwrap();
            let mut got = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut got)).await;
            got
        });
        let (tcp, peer) = listener.accept().await.unwrap();
        let admitted = admit(&guard, tcp, peer, WAIT).await;
        (admitted, client.await.unwrap())
    }

    fn hello(secret: &str, offset: i64) -> Vec<u8> {
        let creds = Credentials::new("rmqadmin", secret);
        hello::encode_hello(&creds, offset, now_ms(), rand::random()).unwrap()
    }

    #[tokio::test]
    async fn without_acl_reports_and_hellos_both_start_replication() {
        let (a, _) = run(MasterGuard::default(), wire::encode_report(42).to_vec()).await;
        let mut a = a.unwrap();
        assert_eq!(wire::take_last_report(&mut a.buf), Some(42));
        assert!(!a.hello && !a.tls && a.access_key.is_none());
        let (a, _) = run(MasterGuard::default(), hello("any-secret-9", 77)).await;
        let mut a = a.unwrap();
        assert_eq!(wire::take_last_report(&mut a.buf), Some(77));
        assert!(a.hello && a.access_key.is_none());
    }

    #[tokio::test]
    async fn with_acl_only_a_signed_admin_hello_gets_in() {
        let guard = || MasterGuard::new(None, Some(gate()));
        let (a, _) = run(guard(), hello("admin-secret-1", 5)).await;
        let mut a = a.unwrap();
        assert_eq!(a.access_key.as_deref(), Some("rmqadmin"));
        assert_eq!(wire::take_last_report(&mut a.buf), Some(5));
        for (opening, says) in [
            (wire::encode_report(0).to_vec(), "aclEnable=true"),
            (hello("wrong-secret-1", 0), "wrong secretKey"),
        ] {
            let (a, got) = run(guard(), opening).await;
            assert!(a.is_none());
            assert_eq!(
                hello::refusal(&got).map(|r| r.contains(says)),
                Some(true),
                "{got:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_identity_frame_names_the_slave() {
        let mut opening = wire::encode_identity(2).to_vec();
        opening.extend_from_slice(&wire::encode_report(42));
        let (a, _) = run(MasterGuard::default(), opening).await;
        let mut a = a.unwrap();
        assert_eq!(a.broker_id, Some(2));
        assert_eq!(wire::take_last_report(&mut a.buf), Some(42));
        let (a, _) = run(MasterGuard::default(), wire::encode_report(7).to_vec()).await;
        assert_eq!(a.unwrap().broker_id, None);
    }
}
