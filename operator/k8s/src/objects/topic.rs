//! [`Managed`] for `RocketMQTopic`.

use super::{Decl, Managed};
use rmq_model::{Condition, RocketMQTopic, RocketMQTopicStatus, ValidationError, validate_topic};

impl Managed for RocketMQTopic {
    const CONTROLLER: &'static str = "topic";
    const FINALIZER: &'static str = "rmq.dev/topic";

    fn cluster_name(&self) -> &str {
        &self.spec.cluster
    }

    fn declare(&self) -> Result<Decl, Vec<ValidationError>> {
        validate_topic(self).map(Decl::Topic)
    }

    fn conditions(&self) -> Vec<Condition> {
        self.status.clone().unwrap_or_default().conditions
    }

    fn status(&self, conditions: Vec<Condition>, brokers: Vec<String>) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "rmq.dev/v1alpha1",
            "kind": "RocketMQTopic",
            "status": RocketMQTopicStatus {
                observed_generation: self.metadata.generation,
                conditions,
                brokers,
            },
        })
    }
}
