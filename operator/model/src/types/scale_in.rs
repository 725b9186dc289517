//! `spec.brokers.scaleIn`: what lowering `spec.brokers.groups` does to the groups that leave.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a broker group leaves when `spec.brokers.groups` is lowered: its master turns read-only
/// (no new writes; producers' routes drop it), the operator waits until every consumer group
/// has consumed what is left there (consumer lag 0) or the drain timeout passes, then removes
/// the group's pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleInSpec {
    /// Longest wait for consumers to drain a leaving group, in minutes (0..=10080); after it
    /// the group is removed with what is left on it (a Warning Event says how much).
    #[serde(default = "default_drain_timeout_minutes")]
    #[schemars(range(min = 0, max = 10080))]
    pub drain_timeout_minutes: i32,
    /// What happens to a removed broker's volume claims: `Retain` (the default: the data stays
    /// until someone deletes the claims) or `Delete`.
    #[serde(default)]
    pub volume_claims: VolumeClaimPolicy,
}

impl Default for ScaleInSpec {
    fn default() -> Self {
        Self {
            drain_timeout_minutes: default_drain_timeout_minutes(),
            volume_claims: VolumeClaimPolicy::default(),
        }
    }
}

fn default_drain_timeout_minutes() -> i32 {
    30
}

/// Kept or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub enum VolumeClaimPolicy {
    /// Keep the claims (and the data on them).
    #[default]
    Retain,
    /// Delete the claims with the pods.
    Delete,
}
