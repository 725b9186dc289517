//! [`Managed`] for `RocketMQConsumerGroup`.

use super::managed::Managed;
use rmq_model::{
    Condition, GroupDecl, RocketMQConsumerGroup, RocketMQConsumerGroupStatus, ValidationError,
    validate_group,
};

impl Managed for RocketMQConsumerGroup {
    type Decl = GroupDecl;
    const CONTROLLER: &'static str = "consumergroup";
    const FINALIZER: &'static str = "rmq.dev/consumergroup";
    const NOUN: &'static str = "consumer group";

    fn cluster_name(&self) -> &str {
        &self.spec.cluster
    }

    fn declare(&self) -> Result<GroupDecl, Vec<ValidationError>> {
        validate_group(self)
    }

    fn conditions(&self) -> Vec<Condition> {
        self.status.clone().unwrap_or_default().conditions
    }

    fn status(&self, conditions: Vec<Condition>, brokers: Vec<String>) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "rmq.dev/v1alpha1",
            "kind": "RocketMQConsumerGroup",
            "status": RocketMQConsumerGroupStatus {
                observed_generation: self.metadata.generation,
                conditions,
                brokers,
            },
        })
    }
}
