//! The operations HTTP listener shared by `rmq-broker` and `rmq-namesrv` (each compiles this
//! file as its `http` module, like `process.rs`): a plain hyper HTTP/1 server for probes
//! (`/healthz`, `/readyz`) and `/metrics`. What each path answers is the crate's
//! [`Routes`]; this module only accepts, bounds and dispatches.
//!
//! Bounds: a client has [`HEADER_READ_TIMEOUT`] to send its request head, a connection lives at
//! most [`CONNECTION_LIFETIME`], and at most [`MAX_CONNECTIONS`] are served at once (further
//! connections wait in the kernel's accept queue).

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a client may take to send a request head before the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection is kept, requests included (keep-alive connections are then
/// closed; the client reconnects).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;

/// Content type of plain answers.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// Content type of `/metrics` (prometheus-client writes OpenMetrics text).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A text answer to a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body (UTF-8 text).
    pub body: String,
    /// Its content type ([`TEXT`] or [`OPENMETRICS`]).
    pub content_type: &'static str,
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            body: body.into(),
            content_type: TEXT,
        }
    }

    /// 200 with OpenMetrics text.
    pub fn metrics(body: String) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            content_type: OPENMETRICS,
        }
    }

    /// 503 with `body` (the reason the process is not ready).
    pub fn unavailable(body: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: body.into(),
            content_type: TEXT,
        }
    }
}

/// What a process answers on its operations listener.
pub trait Routes: Send + Sync + 'static {
    /// The answer to `GET path`, or `None` when the path is not served (404).
    fn get(&self, path: &str) -> Option<Reply>;
}

/// The OpenMetrics text of `reg` (an encoding failure is logged; what was written is kept).
pub fn encode_metrics(reg: &prometheus_client::registry::Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, reg) {
        tracing::warn!(error = %e, "encoding metrics");
    }
    out
}

/// Binds `addr` for the operations listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `listener` with `routes` on a background task until `stop` is cancelled; logs the
/// bound address as `http listening addr=IP:PORT`.
pub fn spawn(listener: TcpListener, routes: Arc<dyn Routes>, stop: CancellationToken) {
    match listener.local_addr() {
        Ok(addr) => tracing::info!(%addr, "http listening"),
        Err(e) => tracing::warn!(error = %e, "http listening (address unknown)"),
    }
    tokio::spawn(accept_loop(listener, routes, stop));
}

async fn accept_loop(listener: TcpListener, routes: Arc<dyn Routes>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => return,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let routes = routes.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(move |req| {
                let reply = answer(&req, routes.as_ref());
                async move { Ok::<_, Infallible>(reply) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = stop.cancelled() => {}
                r = tokio::time::timeout(CONNECTION_LIFETIME, conn) => {
                    if let Ok(Err(e)) = r {
                        tracing::debug!(error = %e, "http connection ended");
                    }
                }
            }
        });
    }
}

/// 404 for a path the routes do not serve, 405 for a method other than GET (or HEAD),
/// else the route's reply.
fn answer(req: &Request<Incoming>, routes: &dyn Routes) -> Response<Full<Bytes>> {
    let reply = match routes.get(req.uri().path()) {
        None => Reply {
            status: StatusCode::NOT_FOUND,
            body: "not found\n".into(),
            content_type: TEXT,
        },
        Some(_) if req.method() != Method::GET && req.method() != Method::HEAD => Reply {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: "method not allowed: use GET\n".into(),
            content_type: TEXT,
        },
        Some(r) => r,
    };
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = reply.status;
    let headers = resp.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(reply.content_type),
    );
    if reply.status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
    }
    resp
}
