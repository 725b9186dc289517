//! Errors of the provisioner: [`PlanError`] for what stops a plan (pure: layout and diff), and
//! [`Error`] for anything that stops discovery or an apply. AWS errors keep the service's error
//! code (`InvalidSubnet.Range`, `DependencyViolation`) and name the call and the resource.

use crate::params::ParamError;
use serde::Serialize;

/// A problem that stops planning: what and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{what} (fix: {fix})")]
pub struct PlanError {
    /// What is wrong.
    pub what: String,
    /// What to do.
    pub fix: String,
}

impl PlanError {
    /// An error saying `what` is wrong and how to `fix` it.
    pub fn new(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl From<ParamError> for PlanError {
    /// A bad parameter, its flag leading the message.
    fn from(e: ParamError) -> Self {
        PlanError::new(format!("{}: {}", e.flag, e.message), e.fix)
    }
}

/// Anything that stops discovery or an apply.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS call failed.
    #[error("{what}: {code}: {message}")]
    Aws {
        /// The call and its subject, e.g. `CreateSubnet subnet/private-1`.
        what: String,
        /// AWS error code (or `unhandled` / `dispatch`).
        code: String,
        /// The service's explanation (or the SDK's, when the service gave none).
        message: String,
    },
    /// A waiter or bounded poll ran out of time.
    #[error(
        "timed out after {secs} s waiting for {what} (fix: re-run the same command; it continues from the current state)"
    )]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it was awaited (`ApplyOptions::wait_timeout`).
        secs: u64,
    },
    /// The plan could not be made.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Plan(Vec<PlanError>),
    /// Input that AWS itself rejects or that does not exist (named by flag).
    #[error("{0}")]
    Input(String),
    /// A local file could not be read.
    #[error("{what}: {source}")]
    Io {
        /// What was read.
        what: String,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A test hook stopped the apply on purpose.
    #[error("injected failure after {0} action(s) (test hook)")]
    Injected(usize),
    /// A replaced node did not become ready in time: the roll stopped there.
    #[error(
        "{node} was not ready {secs} s after its instance was replaced: {why}. The roll stopped: no further instance was replaced{left} (fix: find out why on the node, e.g. `journalctl -u rmq-broker` or `-u rmq-namesrv` on its instance, then run the same command again: it checks this node again and continues the roll)"
    )]
    NotReady {
        /// The node and its address.
        node: String,
        /// How long the gate waited (`ApplyOptions::ready_timeout`).
        secs: u64,
        /// What the gate saw last.
        why: String,
        /// What happens to the new instance meanwhile (its lifecycle action), or empty.
        left: String,
    },
    /// The readiness gate could not look at the cluster before replacing a node.
    #[error(
        "cannot check readiness before replacing {node}: {why} (nothing of {node} was replaced; fix: run from inside the VPC, e.g. on the bastion, or apply without the readiness gate, `--skip-readiness`)"
    )]
    Readiness {
        /// The node about to be replaced.
        node: String,
        /// Why the gate could not look.
        why: String,
    },
    /// The cluster's apply lock is held by someone else.
    #[error("{0}")]
    Locked(Box<crate::lock::holder::Held>),
    /// The lock this apply held was taken over or removed while it ran.
    #[error(
        "the apply lock of cluster {0} was removed or taken over while this apply ran (someone ran --break-lock?); stopped before the next action (fix: make sure no other apply runs, then run the same command again)"
    )]
    LockLost(String),
}

impl Error {
    /// The AWS error code, if this is an AWS error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Converts an SDK error into [`Error::Aws`], keeping the service code.
pub fn aws<E, R>(what: impl Into<String>, e: aws_sdk_ec2::error::SdkError<E, R>) -> Error
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    let (code, message) = match &e {
        SdkError::ServiceError(s) => (
            s.err().code().unwrap_or("unhandled").to_owned(),
            s.err()
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| DisplayErrorContext(&e).to_string()),
        ),
        SdkError::TimeoutError(_) => ("timeout".to_owned(), DisplayErrorContext(&e).to_string()),
        SdkError::DispatchFailure(_) => (
            "dispatch".to_owned(),
            format!("cannot reach the endpoint: {}", DisplayErrorContext(&e)),
        ),
        _ => (
            e.code().unwrap_or("unhandled").to_owned(),
            DisplayErrorContext(&e).to_string(),
        ),
    };
    Error::Aws {
        what: what.into(),
        code,
        message,
    }
}

/// The result of discovery and apply steps.
pub type Result<T, E = Error> = std::result::Result<T, E>;
