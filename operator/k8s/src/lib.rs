//! rmq-operator: the Kubernetes back-end of the rmq cluster model.
//!
//! # Pipeline (per `RocketMQCluster`)
//! `validate` (rmq-model, pure) → [`cluster::build`] (pure: the desired Kubernetes objects) →
//! [`cluster::apply`] (server-side apply with one field manager, then prune what is no longer
//! desired) → [`cluster::status`] (conditions computed from the *applied* objects, Events).
//!
//! # Layout
//! - [`context`]: the [`context::Context`] every reconcile gets (client, metrics, settings). No
//!   process-global state: many clusters, any namespace.
//! - [`cluster`]: the `RocketMQCluster` controller and its pipeline stages.
//! - [`topic_group`]: the `RocketMQTopic` and `RocketMQConsumerGroup` controllers, one generic
//!   controller over the two kinds (one-way reconcile through the admin protocol to every master
//!   of the referenced cluster).
//! - [`conditions`]: status conditions with stable transition times.
//! - [`labels`]: label and annotation keys the operator writes and reads.
//! - [`metrics`], [`http`]: `/metrics` and `/healthz`.
//! - [`shutdown`]: the signal that stops the controllers and the HTTP server.
//! - [`leader`]: leader election on a `coordination.k8s.io` Lease.
//! - `fixtures` (tests only): a scripted API server the controllers' unit tests run against.

pub mod admin_security;
pub mod cluster;
pub mod conditions;
pub mod context;
pub mod http;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod observation;
pub mod shutdown;
pub mod topic_group;

#[cfg(test)]
mod fixtures;

use kube::runtime::controller::Action;
use std::fmt::Display;
use std::time::Duration;

/// Every way a reconcile can fail. [`Error::category`] is the low-cardinality metric label.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was being done (`apply StatefulSet demo-broker-a`).
        action: String,
        /// The API server's refusal or the transport failure.
        #[source]
        source: kube::Error,
    },
    /// The spec was rejected by validation (reported as a condition; retried on change only).
    #[error("invalid spec: {0}")]
    Invalid(String),
    /// The referenced cluster is not there or not serving yet.
    #[error("{0}")]
    ClusterNotReady(String),
    /// An admin call to a nameserver or broker failed.
    #[error("{0}")]
    Admin(String),
    /// An object lacks a field the API server always sets (name, namespace, uid).
    #[error("object has no {0}")]
    MissingField(&'static str),
    /// A finalizer add/remove or cleanup failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

impl Error {
    /// Every value [`Error::category`] returns.
    pub const CATEGORIES: [&'static str; 6] = [
        "kube",
        "invalid",
        "cluster_not_ready",
        "admin",
        "missing_field",
        "finalizer",
    ];

    /// Metric label for the error kind.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "kube",
            Error::Invalid(_) => "invalid",
            Error::ClusterNotReady(_) => "cluster_not_ready",
            Error::Admin(_) => "admin",
            Error::MissingField(_) => "missing_field",
            Error::Finalizer(_) => "finalizer",
        }
    }

    /// When a controller retries after this error: an invalid spec waits for the next change,
    /// anything else is retried in 5 s.
    pub fn retry(&self) -> Action {
        match self {
            Error::Invalid(_) => Action::await_change(),
            _ => Action::requeue(Duration::from_secs(5)),
        }
    }

    /// Wraps a kube error with what was being done.
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `problems` on one line, `; `-separated (validation and plan errors in conditions and
/// messages).
pub fn one_line<T: Display>(problems: &[T]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
