//! The one warning line of a failed TLS handshake. Its own test binary: a `tracing` callsite
//! first hit by a test thread without a subscriber may keep that verdict for the other threads'
//! thread-local subscribers.
#![allow(clippy::unwrap_used)]

mod tls_common;

use std::sync::Arc;
use std::time::Duration;
use tls_common::*;

/// Collects the messages of WARN-or-worse events logged on this thread.
#[derive(Clone, Default)]
struct Warnings(Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.0 = format!("{v:?}");
                }
            }
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0.lock().unwrap().push(m.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Warnings {
    /// Waits up to 10 s (CI shares two cores with other suites) for a line containing every
    /// one of `parts`; all lines if none matches.
    async fn wait_for(&self, parts: &[&str]) -> Result<String, Vec<String>> {
        for _ in 0..1000 {
            let lines = self.0.lock().unwrap().clone();
            if let Some(l) = lines.iter().find(|l| parts.iter().all(|p| l.contains(p))) {
                return Ok(l.clone());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(self.0.lock().unwrap().clone())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn handshake_failures_log_one_clear_line() {
    let warnings = Warnings::default();
    let _guard = tracing::subscriber::set_default(warnings.clone());
    let pki = Pki::new();
    let (addr, stop) = start(Some(pki.server(
        TlsMode::Enforcing,
        "server",
        ClientAuth::Require,
    )))
    .await;
    assert!(ping(&plain_client(), &addr).await.is_err());
    let line = warnings
        .wait_for(&[
            "TLS handshake with 127.0.0.1:",
            "not a TLS client",
            "enforcing",
        ])
        .await
        .unwrap();
    assert!(
        line.contains("tls.server.mode=enforcing refuses plaintext"),
        "{line}"
    );
    assert!(ping(&pki.client("ca.pem", None), &addr).await.is_err());
    let line = warnings
        .wait_for(&["TLS handshake with 127.0.0.1:", "failed:", "certificate"])
        .await
        .unwrap();
    assert_eq!(warnings.0.lock().unwrap().len(), 2, "{line}");
    stop.cancel();
}
