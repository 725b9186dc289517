//! A data volume's size and class (`spec.brokers.storage`, `spec.controller.storage`).

use crate::defaults;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A data volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size as a Kubernetes quantity (`20Gi`, `500Mi`, `1Ti`). PVC size on Kubernetes, EBS size
    /// on AWS; local mode does not reserve space.
    #[serde(default = "defaults::storage_size")]
    pub size: String,
    /// StorageClass (Kubernetes) or EBS volume type (AWS); the platform default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: defaults::storage_size(),
            storage_class: None,
        }
    }
}
