//! [`Managed`] for `RocketMQConsumerGroup`.

use super::{Decl, Managed};
use rmq_model::{
    Condition, RocketMQConsumerGroup, RocketMQConsumerGroupStatus, ValidationError, validate_group,
};

impl Managed for RocketMQConsumerGroup {
    const CONTROLLER: &'static str = "consumergroup";
    const FINALIZER: &'static str = "rmq.dev/consumergroup";

    fn cluster_name(&self) -> &str {
        &self.spec.cluster
    }

    fn declare(&self) -> Result<Decl, Vec<ValidationError>> {
        validate_group(self).map(Decl::Group)
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
