//! [`Managed`]: what the controller needs to know of a CR kind (`topic.rs`, `group.rs`).

use crate::labels;
use kube::{Resource, ResourceExt};
use rmq_model::plan::Declared;
use rmq_model::{Condition, ValidationError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// `Managed` condition type (False with the `rmq.dev/managed: "false"` annotation).
pub const MANAGED_CONDITION: &str = "Managed";

/// A CR kind this controller reconciles: `RocketMQTopic` or `RocketMQConsumerGroup`.
pub trait Managed:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The validated declaration the CR becomes, which rmq-model plans on the brokers.
    type Decl: Declared + Clone + Send + Sync;
    /// Metrics label and short kind (`topic`, `consumergroup`).
    const CONTROLLER: &'static str;
    /// The finalizer that keeps the CR until the broker objects are deleted.
    const FINALIZER: &'static str;
    /// How messages name the kind (`topic`, `consumer group`).
    const NOUN: &'static str;
    /// The referenced cluster name (`spec.cluster`).
    fn cluster_name(&self) -> &str;
    /// Validates into a declaration.
    fn declare(&self) -> Result<Self::Decl, Vec<ValidationError>>;
    /// Current status conditions.
    fn conditions(&self) -> Vec<Condition>;
    /// The status object to write.
    fn status(&self, conditions: Vec<Condition>, brokers: Vec<String>) -> serde_json::Value;

    /// The owner the CR records in the nameservers: `rmq-operator/<ns>/<kind>/<name>`.
    fn manager(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            labels::MANAGER,
            self.namespace().unwrap_or_default(),
            Self::CONTROLLER,
            self.name_any()
        )
    }
}
