//! Test support for the controllers (compiled for tests only): a scripted API server in the
//! manner of controller-rs' `ApiServerVerifier`, and CR builders.
//!
//! The server is a real HTTP/1 listener on 127.0.0.1 (hyper, already compiled for kube) that
//! the controller's real `kube::Client` talks to; nothing in kube is stubbed. A test lists the
//! requests a reconcile must make, in order, and the answer to each ([`ApiServer::expect`]);
//! each expectation asserts the method and path and hands the request (query, JSON body) to the
//! test. [`verify`] then proves the reconcile made every expected request and no other.

#![allow(clippy::unwrap_used)]

use crate::context::{Context, Settings};
use crate::metrics::Metrics;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use kube::Client;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The namespace every fixture lives in.
pub const NS: &str = "testns";

/// One request the controller made.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, `PATCH`, ...
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query string (`fieldManager=...&force=true`), empty when there is none.
    pub query: String,
    /// The body as JSON (`null` when empty).
    pub body: Value,
}

type Pending = (Request, oneshot::Sender<(StatusCode, Value)>);

/// The scripted API server's test side.
pub struct ApiServer {
    requests: mpsc::UnboundedReceiver<Pending>,
}

impl ApiServer {
    /// Starts a server and returns it with a context whose client talks to it.
    pub async fn context() -> (Self, Arc<Context>) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, requests) = mpsc::unbounded_channel();
        tokio::spawn(accept(listener, tx));
        let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        let ctx = Context::new(client, Arc::new(Metrics::default()), Settings::default());
        (Self { requests }, Arc::new(ctx))
    }

    /// Waits for the next request, asserts its method and path, answers it with `reply`'s
    /// status and body, and returns it.
    pub async fn expect(
        &mut self,
        method: &str,
        path: &str,
        reply: impl FnOnce(&Request) -> (StatusCode, Value),
    ) -> Request {
        let (req, answer) = self
            .requests
            .recv()
            .await
            .unwrap_or_else(|| panic!("no {method} {path}: the server stopped"));
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            (method, path),
            "unexpected request: {req:?}"
        );
        let _ = answer.send(reply(&req));
        req
    }

    /// Expects an Event (events.k8s.io) with `type_` and `reason`; returns its note.
    pub async fn event(&mut self, type_: &str, reason: &str) -> String {
        let path = format!("/apis/events.k8s.io/v1/namespaces/{NS}/events");
        let req = self.expect("POST", &path, |r| ok(r.body.clone())).await;
        assert_eq!(
            (req.body["type"].as_str(), req.body["reason"].as_str()),
            (Some(type_), Some(reason)),
            "{:#}",
            req.body
        );
        req.body["note"].as_str().unwrap_or_default().to_owned()
    }

    /// Expects a server-side apply of `obj`'s status (at `path`, the object's URL) by the
    /// operator's field manager, answers with `obj` carrying that status, and returns the
    /// status.
    pub async fn status_patch(&mut self, path: &str, obj: &Value) -> Value {
        let req = self.status_write(path, obj).await;
        assert!(
            req.query.contains("fieldManager=rmq-operator") && req.query.contains("force=true"),
            "status is applied by rmq-operator with force: {}",
            req.query
        );
        req.body["status"].clone()
    }

    /// Expects a merge patch of `obj`'s status (topics and groups: only `status` in the body,
    /// no server-side apply), answers with `obj` carrying that status, and returns the status.
    pub async fn status_merge_patch(&mut self, path: &str, obj: &Value) -> Value {
        let req = self.status_write(path, obj).await;
        assert!(
            !req.query.contains("fieldManager") && !req.query.contains("force"),
            "a merge patch, not a server-side apply: {}",
            req.query
        );
        let keys: Vec<&String> = req
            .body
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            vec!["status"],
            "only the status is patched: {:#}",
            req.body
        );
        req.body["status"].clone()
    }

    async fn status_write(&mut self, path: &str, obj: &Value) -> Request {
        let status_path = format!("{path}/status");
        self.expect("PATCH", &status_path, |r| {
            let mut answer = obj.clone();
            answer["status"] = r.body["status"].clone();
            ok(answer)
        })
        .await
    }

    /// Fails if any request is still waiting for an answer (a request no test expected).
    pub fn assert_done(&mut self) {
        if let Ok((req, _)) = self.requests.try_recv() {
            panic!("unexpected request: {req:?}");
        }
    }
}

/// A 200 answer.
pub fn ok(body: Value) -> (StatusCode, Value) {
    (StatusCode::OK, body)
}

/// An error answer as the API server words it (a `Status` object).
pub fn failure(code: StatusCode, reason: &str, message: &str) -> (StatusCode, Value) {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()
    });
    (code, status)
}

/// A 404 answer.
pub fn not_found(what: &str) -> (StatusCode, Value) {
    failure(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{what} not found"),
    )
}

/// Runs `reconcile` against the `script` the test server plays; fails if either takes more
/// than 5 s (a missing or an unexpected request), then checks nothing else was asked.
pub async fn verify<R, S>(mut server: ApiServer, script: S, reconcile: R) -> R::Output
where
    R: Future,
    S: AsyncFnOnce(&mut ApiServer),
{
    let limit = Duration::from_secs(5);
    let (out, ()) = tokio::time::timeout(limit, async {
        tokio::join!(reconcile, async {
            script(&mut server).await;
        })
    })
    .await
    .expect("the reconcile or the script timed out: a request was missing or unexpected");
    server.assert_done();
    out
}

async fn accept(listener: tokio::net::TcpListener, tx: mpsc::UnboundedSender<Pending>) {
    while let Ok((stream, _)) = listener.accept().await {
        let tx = tx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| answer(req, tx.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    tx: mpsc::UnboundedSender<Pending>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let (send, answered) = oneshot::channel();
    let request = Request {
        method,
        path,
        query,
        body,
    };
    let (status, body) = match tx.send((request, send)) {
        Ok(()) => answered
            .await
            .unwrap_or((StatusCode::INTERNAL_SERVER_ERROR, Value::Null)),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Value::Null),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The URL path of a namespaced rmq.dev object (`plural` e.g. `rocketmqtopics`).
pub fn path(plural: &str, name: &str) -> String {
    format!("/apis/rmq.dev/v1alpha1/namespaces/{NS}/{plural}/{name}")
}

/// The conditions of a status by type: (status, reason).
pub fn condition(status: &Value, type_: &str) -> (String, String) {
    let c = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {status:#}"));
    (
        c["status"].as_str().unwrap_or_default().to_owned(),
        c["reason"].as_str().unwrap_or_default().to_owned(),
    )
}
