//! Operator self-metrics (prometheus-client): reconciles, failures by error category and
//! reconcile durations, per controller. Rendered by [`crate::http`] at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Instant;

/// Labels of per-controller metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `cluster`, `topic` or `consumergroup`.
    pub controller: String,
}

/// Labels of failures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The controller that failed (see [`ControllerLabels`]).
    pub controller: String,
    /// [`crate::Error::category`].
    pub error: String,
}

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    failures: Family<ErrorLabels, Counter>,
    duration: Family<ControllerLabels, Histogram>,
    /// 1 while this replica holds the leader Lease.
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rmq_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let failures = Family::<ErrorLabels, Counter>::default();
        let duration = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        });
        let leader = Gauge::default();
        registry.register("reconciliations", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by error category",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica is the leader",
            leader.clone(),
        );
        // Every controller's error counters exist from the start (at 0), so a dashboard's
        // rate() and an alert see them before the first failure.
        for controller in CONTROLLERS {
            for error in crate::Error::CATEGORIES {
                let labels = ErrorLabels {
                    controller: controller.to_owned(),
                    error: error.to_owned(),
                };
                drop(failures.get_or_create(&labels));
            }
        }
        Self {
            registry,
            reconciles,
            failures,
            duration,
            leader,
        }
    }
}

/// The controllers of the operator (their metric label).
pub const CONTROLLERS: [&str; 3] = ["cluster", "topic", "consumergroup"];

/// Records a reconcile's duration when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    labels: ControllerLabels,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .duration
            .get_or_create(&self.labels)
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Metrics {
    /// Counts a reconcile of `controller`; the returned guard records its duration.
    pub fn reconcile(&self, controller: &str) -> ReconcileTimer<'_> {
        let labels = ControllerLabels {
            controller: controller.to_owned(),
        };
        self.reconciles.get_or_create(&labels).inc();
        ReconcileTimer {
            metrics: self,
            labels,
            start: Instant::now(),
        }
    }

    /// Counts a failed reconcile.
    pub fn failure(&self, controller: &str, error: &crate::Error) {
        self.failures
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                error: error.category().to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_counters_exist_at_zero_before_the_first_failure() {
        let text = Metrics::default().render();
        let zero = "rmq_operator_reconcile_errors_total{controller=\"topic\",error=\"kube\"} 0";
        assert!(text.contains(zero), "{text}");
        let series = text
            .lines()
            .filter(|l| l.starts_with("rmq_operator_reconcile_errors_total{"))
            .count();
        assert_eq!(series, CONTROLLERS.len() * crate::Error::CATEGORIES.len());
    }
}
