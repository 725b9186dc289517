//! Status conditions shared by the three CRDs (Kubernetes' condition shape, so `kubectl wait
//! --for=condition=Ready` works; kept free of k8s-openapi so local and AWS back-ends use it too).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition types the back-ends set.
pub mod condition_types {
    /// Everything declared runs / exists and serves.
    pub const READY: &str = "Ready";
    /// A change is being rolled out.
    pub const PROGRESSING: &str = "Progressing";
    /// Running, but below what was declared (a node down, a broker group without master).
    pub const DEGRADED: &str = "Degraded";
    /// The spec was rejected by validation; the message names the field and the fix.
    pub const VALID: &str = "Valid";
}

/// `True`, `False` or `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    #[default]
    Unknown,
}

/// One status condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready` (see [`condition_types`]).
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// One CamelCase word saying why (`BrokersRegistered`, `InvalidSpec`, ...).
    #[serde(default)]
    pub reason: String,
    /// A sentence for people; for failures it says what to do.
    #[serde(default)]
    pub message: String,
    /// RFC 3339 time of the last status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// The `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// A condition without a transition time (the writer fills it when the status changes).
    pub fn new(
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_: type_.into(),
            status,
            reason: reason.into(),
            message: message.into(),
            last_transition_time: None,
            observed_generation: None,
        }
    }
}
