//! Server side of one accepted connection when TLS is on: tell TLS from plaintext by the first
//! byte (permissive), refuse plaintext (enforcing), run the handshake, then hand the stream to the
//! connection driver. Runs in its own task so a slow client never blocks the accept loop.

use super::ServerTls;
use super::settings::TlsMode;
use crate::net::RequestHandler;
use crate::net::connection::{self, Drive};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How long a client has to send its first byte and finish the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What to do with a connection, given the mode and the first byte the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Run the TLS handshake.
    Tls,
    /// Serve it in plaintext, as without TLS.
    Plain,
    /// Close it: a plaintext client on an enforcing port.
    Refuse,
}

/// Where a connection goes: TLS if it starts with a handshake record, else plaintext unless the
/// mode is enforcing.
pub(crate) fn route(mode: TlsMode, first_byte: u8) -> Route {
    match (first_byte == TLS_HANDSHAKE_RECORD, mode) {
        (true, _) => Route::Tls,
        (false, TlsMode::Enforcing) => Route::Refuse,
        (false, _) => Route::Plain,
    }
}

/// Negotiates and drives `stream` in a new task; gives up when `shutdown` is cancelled.
pub(crate) fn spawn<H: RequestHandler>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Arc<ServerTls>,
    handler: Arc<H>,
    drive: Drive,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = negotiate(stream, peer, &tls, handler, drive) => {}
        }
    });
}

async fn negotiate<H: RequestHandler>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: &ServerTls,
    handler: Arc<H>,
    drive: Drive,
) {
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let mut first = [0u8; 1];
    let first = match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1..)) => first[0],
        Ok(Ok(_)) => return, // closed before sending anything
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection failed before its first byte");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "closing connection: nothing sent within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };
    match route(tls.mode(), first) {
        Route::Plain => {
            if let Err(e) = connection::spawn(stream, handler, drive) {
                tracing::warn!(%peer, error = %e, "cannot set up connection");
            }
        }
        Route::Refuse => tracing::warn!(
            "TLS handshake with {peer} failed: not a TLS client (tls.server.mode=enforcing refuses plaintext)"
        ),
        Route::Tls => handshake(stream, peer, tls, handler, drive, deadline).await,
    }
}

async fn handshake<H: RequestHandler>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: &ServerTls,
    handler: Arc<H>,
    drive: Drive,
    deadline: tokio::time::Instant,
) {
    let local = match stream
        .local_addr()
        .and_then(|l| stream.set_nodelay(true).map(|()| l))
    {
        Ok(local) => local,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "cannot set up connection");
            return;
        }
    };
    let accept = TlsAcceptor::from(tls.config()).accept(stream);
    match tokio::time::timeout_at(deadline, accept).await {
        Ok(Ok(stream)) => {
            connection::spawn_tls(stream, peer, local, handler, drive);
        }
        Ok(Err(e)) => tracing::warn!("TLS handshake with {peer} failed: {e}"),
        Err(_) => tracing::warn!(
            "TLS handshake with {peer} failed: not finished within {HANDSHAKE_TIMEOUT:?}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_routes() {
        assert_eq!(route(TlsMode::Permissive, 0x16), Route::Tls);
        assert_eq!(route(TlsMode::Permissive, 0x00), Route::Plain);
        assert_eq!(route(TlsMode::Enforcing, 0x16), Route::Tls);
        assert_eq!(route(TlsMode::Enforcing, 0x00), Route::Refuse);
    }
}
