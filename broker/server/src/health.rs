//! Liveness and readiness of the broker, answered on the operations HTTP listener
//! ([`crate::http`]): `GET /healthz` is 200 while the process serves; `GET /readyz` is 200 only
//! when the store has opened (recovery done) and has not failed, the broker is not shutting down,
//! and the latest registration round succeeded with every configured nameserver. Otherwise 503
//! with one reason per failing check. The decision itself is the pure [`decide`].

use crate::http::{Reply, Routes};
use parking_lot::Mutex;
use rmq_store::MessageStore;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The outcome of registering with one nameserver in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesrvOutcome {
    /// The nameserver's `host:port`.
    pub addr: String,
    /// `None` if it accepted the registration, else why not (error or refusal remark).
    pub error: Option<String>,
}

/// What readiness is decided from, read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The store and metadata finished opening (crash recovery included).
    pub store_open: bool,
    /// The store failed to persist data (fsync error) and refuses writes until a restart.
    pub store_failed: bool,
    /// Graceful shutdown has begun.
    pub shutting_down: bool,
    /// The configured nameservers (`namesrvAddr`).
    pub namesrvs: Vec<String>,
    /// The latest finished registration round, one outcome per nameserver; `None` before the
    /// first round finished.
    pub last_round: Option<Vec<NamesrvOutcome>>,
}

/// The readiness verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Every check passes: the broker should receive traffic.
    Ready,
    /// The failing checks, one short reason each.
    NotReady(Vec<String>),
}

/// How many configured nameservers a ready broker must be registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nameservers {
    /// Every one (`/readyz`: the broker is fully in place).
    Every,
    /// At least one (`/readyz/serving`: clients can find it). What a Kubernetes readiness probe
    /// should use: with `Every`, one nameserver restarting would take every broker out of its
    /// Service at once.
    Any,
}

/// Decides readiness from a snapshot with every nameserver required (`/readyz`).
pub fn decide(s: &Snapshot) -> Readiness {
    decide_for(s, Nameservers::Every)
}

/// Decides readiness from a snapshot. A broker with no nameserver configured is ready once
/// its store is (there is nothing to register with).
pub fn decide_for(s: &Snapshot, need: Nameservers) -> Readiness {
    let mut reasons = Vec::new();
    if s.shutting_down {
        reasons.push("shutting down".to_owned());
    }
    if !s.store_open {
        reasons.push("store recovering".to_owned());
    } else if s.store_failed {
        reasons.push("store failed to persist data (restart the broker)".to_owned());
    }
    if let Some(r) = registration_reason(s, need) {
        reasons.push(r);
    }
    if reasons.is_empty() {
        Readiness::Ready
    } else {
        Readiness::NotReady(reasons)
    }
}

fn registration_reason(s: &Snapshot, need: Nameservers) -> Option<String> {
    if s.namesrvs.is_empty() {
        return None;
    }
    let accepted_one = s
        .last_round
        .as_ref()
        .is_some_and(|r| r.iter().any(|o| o.error.is_none()));
    if need == Nameservers::Any && accepted_one {
        return None;
    }
    let Some(round) = &s.last_round else {
        return Some(format!(
            "registered with 0 of {} nameservers (no registration round finished yet)",
            s.namesrvs.len()
        ));
    };
    let failed: Vec<String> = s
        .namesrvs
        .iter()
        .filter_map(|addr| match round.iter().find(|o| &o.addr == addr) {
            Some(NamesrvOutcome { error: None, .. }) => None,
            Some(NamesrvOutcome { error: Some(e), .. }) => Some(format!("{addr}: {e}")),
            None => Some(format!("{addr}: not tried")),
        })
        .collect();
    if failed.is_empty() {
        return None;
    }
    Some(format!(
        "registered with {} of {} nameservers ({})",
        s.namesrvs.len() - failed.len(),
        s.namesrvs.len(),
        failed.join("; ")
    ))
}

/// The broker's live health state, shared by start-up, registration, shutdown and the HTTP
/// listener. Created before the store opens so probes answer during recovery.
pub struct Health {
    namesrvs: Vec<String>,
    store: OnceLock<Arc<MessageStore>>,
    shutting_down: AtomicBool,
    /// Readiness answers "not ready" given since shutdown began.
    unready_answers: AtomicU32,
    last_round: Mutex<Option<Vec<NamesrvOutcome>>>,
    /// Renders `/metrics` once the broker is open.
    metrics: OnceLock<MetricsSource>,
}

/// What renders the `/metrics` text (the opened broker, held weakly).
pub type MetricsSource = Box<dyn Fn() -> Option<String> + Send + Sync>;

impl Health {
    /// A broker that will register with `namesrvs`; not ready until [`Health::store_opened`].
    pub fn new(namesrvs: Vec<String>) -> Self {
        Self {
            namesrvs,
            store: OnceLock::new(),
            shutting_down: AtomicBool::new(false),
            unready_answers: AtomicU32::new(0),
            last_round: Mutex::new(None),
            metrics: OnceLock::new(),
        }
    }

    /// `/metrics` answers from `source` from now on.
    pub fn metrics_from(&self, source: MetricsSource) {
        let _ = self.metrics.set(source);
    }

    /// The store (and metadata) finished opening.
    pub fn store_opened(&self, store: Arc<MessageStore>) {
        let _ = self.store.set(store);
    }

    /// Graceful shutdown began: not ready from now on.
    pub fn shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Waits, at most `max`, until readiness has been answered "not ready" `answers` times
    /// since shutdown began, then `settle` more: a Kubernetes readiness probe with
    /// `failureThreshold` = `answers` has then taken the pod out of its Services, so clients
    /// reconnecting are refused at once rather than sent to an address that is about to vanish.
    /// Returns how many such answers were seen.
    pub async fn wait_seen_unready(&self, answers: u32, settle: Duration, max: Duration) -> u32 {
        let deadline = Instant::now() + max;
        while Instant::now() < deadline {
            if self.unready_answers.load(Ordering::SeqCst) >= answers {
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(settle.min(left)).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.unready_answers.load(Ordering::SeqCst)
    }

    /// Records the outcome of a finished registration round.
    pub fn record_round(&self, outcomes: Vec<NamesrvOutcome>) {
        *self.last_round.lock() = Some(outcomes);
    }

    /// The state now.
    pub fn snapshot(&self) -> Snapshot {
        let store = self.store.get();
        Snapshot {
            store_open: store.is_some(),
            store_failed: store.is_some_and(|s| s.is_failed()),
            shutting_down: self.shutting_down.load(Ordering::SeqCst),
            namesrvs: self.namesrvs.clone(),
            last_round: self.last_round.lock().clone(),
        }
    }
}

impl Health {
    /// The reply to a readiness probe, counting "not ready" answers during shutdown.
    fn answer(&self, r: Readiness) -> Reply {
        match r {
            Readiness::Ready => Reply::ok("ok\n"),
            Readiness::NotReady(r) => {
                if self.shutting_down.load(Ordering::SeqCst) {
                    self.unready_answers.fetch_add(1, Ordering::SeqCst);
                }
                Reply::unavailable(format!("not ready: {}\n", r.join(", ")))
            }
        }
    }
}

impl Routes for Health {
    fn get(&self, path: &str) -> Option<Reply> {
        match path {
            "/healthz" | "/livez" => Some(Reply::ok("ok\n")),
            "/metrics" => Some(match self.metrics.get().and_then(|m| m()) {
                Some(text) => Reply::metrics(text),
                None => Reply::unavailable("no metrics yet: store recovering\n"),
            }),
            "/readyz" => Some(self.answer(decide(&self.snapshot()))),
            "/readyz/serving" => Some(self.answer(decide_for(&self.snapshot(), Nameservers::Any))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(addr: &str) -> NamesrvOutcome {
        NamesrvOutcome {
            addr: addr.into(),
            error: None,
        }
    }

    fn ready_snapshot() -> Snapshot {
        Snapshot {
            store_open: true,
            store_failed: false,
            shutting_down: false,
            namesrvs: vec!["a:1".into(), "b:2".into()],
            last_round: Some(vec![ok("a:1"), ok("b:2")]),
        }
    }

    #[test]
    fn ready_when_every_check_passes() {
        assert_eq!(decide(&ready_snapshot()), Readiness::Ready);
        let none = Snapshot {
            namesrvs: vec![],
            last_round: None,
            ..ready_snapshot()
        };
        assert_eq!(decide(&none), Readiness::Ready);
    }

    #[test]
    fn recovering_and_failed_store() {
        let s = Snapshot {
            store_open: false,
            last_round: None,
            ..ready_snapshot()
        };
        let Readiness::NotReady(r) = decide(&s) else {
            panic!("ready while recovering")
        };
        assert_eq!(r[0], "store recovering");
        assert!(r[1].contains("0 of 2"), "{r:?}");
        let s = Snapshot {
            store_failed: true,
            ..ready_snapshot()
        };
        let Readiness::NotReady(r) = decide(&s) else {
            panic!("ready with a failed store")
        };
        assert_eq!(r.len(), 1);
        assert!(r[0].contains("store failed"), "{r:?}");
    }

    #[test]
    fn every_nameserver_must_accept() {
        let s = Snapshot {
            last_round: Some(vec![
                ok("a:1"),
                NamesrvOutcome {
                    addr: "b:2".into(),
                    error: Some("connection refused".into()),
                },
            ]),
            ..ready_snapshot()
        };
        assert_eq!(
            decide(&s),
            Readiness::NotReady(vec![
                "registered with 1 of 2 nameservers (b:2: connection refused)".into()
            ])
        );
        let s = Snapshot {
            last_round: Some(vec![ok("a:1")]),
            ..ready_snapshot()
        };
        let Readiness::NotReady(r) = decide(&s) else {
            panic!("ready without b")
        };
        assert!(r[0].contains("b:2: not tried"), "{r:?}");
    }

    #[test]
    fn serving_needs_one_nameserver_and_everything_else() {
        let one_of_two = Snapshot {
            last_round: Some(vec![
                ok("a:1"),
                NamesrvOutcome {
                    addr: "b:2".into(),
                    error: Some("connection refused".into()),
                },
            ]),
            ..ready_snapshot()
        };
        assert_eq!(decide_for(&one_of_two, Nameservers::Any), Readiness::Ready);
        let none = Snapshot {
            last_round: Some(vec![
                NamesrvOutcome {
                    addr: "a:1".into(),
                    error: Some("timeout".into()),
                },
                NamesrvOutcome {
                    addr: "b:2".into(),
                    error: Some("connection refused".into()),
                },
            ]),
            ..ready_snapshot()
        };
        assert!(matches!(
            decide_for(&none, Nameservers::Any),
            Readiness::NotReady(_)
        ));
        let no_round = Snapshot {
            last_round: None,
            ..ready_snapshot()
        };
        assert!(matches!(
            decide_for(&no_round, Nameservers::Any),
            Readiness::NotReady(_)
        ));
        let stopping = Snapshot {
            shutting_down: true,
            ..one_of_two
        };
        assert!(matches!(
            decide_for(&stopping, Nameservers::Any),
            Readiness::NotReady(_)
        ));
    }

    #[test]
    fn shutting_down_wins_and_routes_answer() {
        let s = Snapshot {
            shutting_down: true,
            ..ready_snapshot()
        };
        assert_eq!(
            decide(&s),
            Readiness::NotReady(vec!["shutting down".into()])
        );
        let h = Health::new(vec!["a:1".into()]);
        let r = h.get("/readyz").unwrap();
        assert_eq!(r.status, hyper::StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.body.starts_with("not ready: store recovering"), "{r:?}");
        assert_eq!(h.get("/healthz").unwrap(), Reply::ok("ok\n"));
        assert!(h.get("/metricz").is_none());
        h.shutting_down();
        assert!(h.get("/readyz").unwrap().body.contains("shutting down"));
    }

    #[tokio::test]
    async fn shutdown_waits_for_the_probe_to_see_it_unready() {
        let h = Arc::new(Health::new(vec!["a:1".into()]));
        let quick = Duration::from_millis(10);
        assert_eq!(
            h.wait_seen_unready(2, quick, quick).await,
            0,
            "bounded by max"
        );
        // Before shutdown "not ready" answers do not count.
        assert!(h.get("/readyz/serving").is_some());
        h.shutting_down();
        let prober = {
            let h = h.clone();
            tokio::spawn(async move {
                for _ in 0..2 {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let r = h.get("/readyz/serving").expect("route");
                    assert_eq!(r.status, hyper::StatusCode::SERVICE_UNAVAILABLE);
                }
            })
        };
        let started = Instant::now();
        let seen = h
            .wait_seen_unready(2, Duration::from_millis(20), Duration::from_secs(10))
            .await;
        prober.await.expect("prober");
        assert_eq!(seen, 2);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "left once seen twice"
        );
    }
}
