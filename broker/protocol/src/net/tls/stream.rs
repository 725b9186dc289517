//! TLS for protocols other than remoting that share its settings (the broker's HA port): a raw
//! accepted [`TcpStream`] goes through the same first-byte routing, mode and handshake as a
//! remoting connection ([`ServerTls::accept_stream`]), a raw connected one through the client
//! handshake ([`ClientTls::connect_stream`]); both give a [`MaybeTlsStream`] to read and write
//! as before. Certificates come from the same reloading [`ServerTls`], so a new certificate
//! applies to the next accepted connection of either protocol.

use super::accept::{HANDSHAKE_TIMEOUT, Route, route};
use super::{ClientTls, ServerTls};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// A connection after the TLS decision: plaintext, or TLS as the accepting or the dialling side.
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// Plaintext (mode `permissive` and a non-TLS first byte, or no TLS configured).
    Plain(TcpStream),
    /// TLS, accepted by this process.
    Server(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// TLS, dialled by this process.
    Client(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

/// Why an accepted connection was not handed on; each message says what the peer did.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The peer closed before sending a byte.
    #[error("closed before sending anything")]
    Closed,
    /// Nothing (or no complete handshake) arrived in time.
    #[error("nothing sent, or the TLS handshake not finished, within {HANDSHAKE_TIMEOUT:?}")]
    Timeout,
    /// A plaintext peer on an enforcing port.
    #[error("not a TLS client (tls.server.mode=enforcing refuses plaintext)")]
    NotTls,
    /// The handshake failed (untrusted or missing client certificate, protocol mismatch...).
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] io::Error),
    /// Reading the first byte failed.
    #[error("connection failed before its first byte: {0}")]
    Io(#[source] io::Error),
}

impl ServerTls {
    /// Decides an accepted connection as the remoting ports do: a TLS handshake record as the
    /// first byte runs the handshake with the current certificate; anything else is served in
    /// plaintext (`permissive`) or refused (`enforcing`). Nothing is consumed from a plaintext
    /// stream. The whole decision is bounded by the handshake timeout.
    pub async fn accept_stream(&self, stream: TcpStream) -> Result<MaybeTlsStream, AcceptError> {
        let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
        let mut first = [0u8; 1];
        let first = match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
            Ok(Ok(1..)) => first[0],
            Ok(Ok(_)) => return Err(AcceptError::Closed),
            Ok(Err(e)) => return Err(AcceptError::Io(e)),
            Err(_) => return Err(AcceptError::Timeout),
        };
        match route(self.mode(), first) {
            Route::Plain => Ok(MaybeTlsStream::Plain(stream)),
            Route::Refuse => Err(AcceptError::NotTls),
            Route::Tls => {
                let accept = TlsAcceptor::from(self.config()).accept(stream);
                match tokio::time::timeout_at(deadline, accept).await {
                    Ok(Ok(s)) => Ok(MaybeTlsStream::Server(Box::new(s))),
                    Ok(Err(e)) => Err(AcceptError::Handshake(e)),
                    Err(_) => Err(AcceptError::Timeout),
                }
            }
        }
    }
}

impl ClientTls {
    /// Runs the client handshake on a connected stream to `addr` (`host:port`, whose host the
    /// server certificate must match unless `tls.test.mode.enable`), bounded by the handshake
    /// timeout; errors say that TLS failed and why.
    pub async fn connect_stream(
        &self,
        addr: &str,
        stream: TcpStream,
    ) -> io::Result<MaybeTlsStream> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.handshake(addr, stream)).await {
            Ok(Ok(s)) => Ok(MaybeTlsStream::Client(Box::new(s))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("TLS handshake failed: not finished within {HANDSHAKE_TIMEOUT:?}"),
            )),
        }
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Server(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            MaybeTlsStream::Client(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Server(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            MaybeTlsStream::Client(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Server(s) => Pin::new(s.as_mut()).poll_flush(cx),
            MaybeTlsStream::Client(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Server(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            MaybeTlsStream::Client(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tls::{ClientAuth, ClientTlsSettings, ServerTlsSettings, TlsMode};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A CA and a server certificate for 127.0.0.1 on disk: `ca.pem`, `server.pem`, `server.key`.
    fn pki() -> tempfile::TempDir {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(params, ca_key);
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
        std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        dir
    }

    fn server(dir: &tempfile::TempDir, mode: TlsMode, client_auth: ClientAuth) -> Arc<ServerTls> {
        Arc::new(
            ServerTls::new(ServerTlsSettings {
                mode,
                cert_path: Some(dir.path().join("server.pem")),
                key_path: Some(dir.path().join("server.key")),
                client_auth,
                trust_cert_path: Some(dir.path().join("ca.pem")),
            })
            .unwrap(),
        )
    }

    fn client(dir: &tempfile::TempDir) -> ClientTls {
        ClientTls::new(&ClientTlsSettings {
            enable: true,
            trust_cert_path: Some(dir.path().join("ca.pem")),
            ..ClientTlsSettings::default()
        })
        .unwrap()
    }

    /// Accepts one connection with `tls` and echoes 8 bytes back; the accept outcome.
    async fn echo_once(
        tls: Arc<ServerTls>,
    ) -> (String, tokio::task::JoinHandle<Result<bool, String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = tls.accept_stream(tcp).await.map_err(|e| e.to_string())?;
            let mut buf = [0u8; 8];
            s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            s.write_all(&buf).await.map_err(|e| e.to_string())?;
            s.flush().await.map_err(|e| e.to_string())?;
            Ok(s.is_tls())
        });
        (addr, task)
    }

    async fn round_trip(mut s: MaybeTlsStream) -> [u8; 8] {
        s.write_all(b"ha-bytes").await.unwrap();
        s.flush().await.unwrap();
        let mut back = [0u8; 8];
        s.read_exact(&mut back).await.unwrap();
        back
    }

    #[tokio::test]
    async fn enforcing_takes_tls_and_refuses_plaintext() {
        let dir = pki();
        let tls = server(&dir, TlsMode::Enforcing, ClientAuth::None);
        let (addr, task) = echo_once(tls.clone()).await;
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let s = client(&dir).connect_stream(&addr, tcp).await.unwrap();
        assert!(s.is_tls());
        assert_eq!(&round_trip(s).await, b"ha-bytes");
        assert_eq!(task.await.unwrap(), Ok(true));

        let (addr, task) = echo_once(tls).await;
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(&[0u8; 8]).await.unwrap();
        let e = task.await.unwrap().unwrap_err();
        assert!(e.contains("not a TLS client"), "{e}");
    }

    #[tokio::test]
    async fn permissive_passes_plaintext_untouched() {
        let dir = pki();
        let (addr, task) = echo_once(server(&dir, TlsMode::Permissive, ClientAuth::None)).await;
        let tcp = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(&round_trip(MaybeTlsStream::Plain(tcp)).await, b"ha-bytes");
        assert_eq!(task.await.unwrap(), Ok(false));
    }

    #[tokio::test]
    async fn a_required_client_certificate_is_enforced() {
        let dir = pki();
        let (addr, task) = echo_once(server(&dir, TlsMode::Enforcing, ClientAuth::Require)).await;
        let tcp = TcpStream::connect(&addr).await.unwrap();
        // TLS 1.3: the client may finish before the server rejects its (missing) certificate
        if let Ok(mut s) = client(&dir).connect_stream(&addr, tcp).await {
            let _ = s.write_all(b"ha-bytes").await;
            let _ = s.flush().await;
        }
        let e = task.await.unwrap().unwrap_err();
        assert!(e.contains("TLS handshake failed"), "{e}");
    }
}
