//! Liveness and readiness of the nameserver, answered on the operations HTTP listener
//! ([`crate::http`]): `GET /healthz` is 200 while the process serves; `GET /readyz` is 200 once
//! the remoting listener is bound and the KV config loaded (a nameserver holds no other durable
//! state), and 503 again from the moment graceful shutdown begins.

use crate::http::{Reply, Routes};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// What renders the `/metrics` text (the loaded nameserver).
pub type MetricsSource = Box<dyn Fn() -> String + Send + Sync>;

/// The nameserver's live health state, and where `/metrics` comes from.
#[derive(Default)]
pub struct Health {
    loaded: AtomicBool,
    shutting_down: AtomicBool,
    metrics: OnceLock<MetricsSource>,
}

impl Health {
    /// `/metrics` answers from `source` from now on.
    pub fn metrics_from(&self, source: MetricsSource) {
        let _ = self.metrics.set(source);
    }

    /// The remoting listener is bound and the KV config loaded.
    pub fn loaded(&self) {
        self.loaded.store(true, Ordering::SeqCst);
    }

    /// Graceful shutdown began: not ready from now on.
    pub fn shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// `None` when ready, else why not.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if self.shutting_down.load(Ordering::SeqCst) {
            Some("shutting down")
        } else if !self.loaded.load(Ordering::SeqCst) {
            Some("loading the KV config")
        } else {
            None
        }
    }
}

impl Routes for Health {
    fn get(&self, path: &str) -> Option<Reply> {
        match path {
            "/healthz" | "/livez" => Some(Reply::ok("ok\n")),
            "/readyz" => Some(match self.not_ready_reason() {
                None => Reply::ok("ok\n"),
                Some(r) => Reply::unavailable(format!("not ready: {r}\n")),
            }),
            "/metrics" => Some(match self.metrics.get() {
                Some(render) => Reply::metrics(render()),
                None => Reply::unavailable("no metrics yet: loading the KV config\n"),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_after_load_until_shutdown() {
        let h = Health::default();
        assert_eq!(h.get("/healthz"), Some(Reply::ok("ok\n")));
        assert_eq!(
            h.get("/readyz"),
            Some(Reply::unavailable("not ready: loading the KV config\n"))
        );
        h.loaded();
        assert_eq!(h.get("/readyz"), Some(Reply::ok("ok\n")));
        h.shutting_down();
        assert_eq!(
            h.get("/readyz"),
            Some(Reply::unavailable("not ready: shutting down\n"))
        );
        assert_eq!(h.get("/"), None);
    }
}
