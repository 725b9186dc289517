//! [`Managed`] for `RocketMQTopic`.

use super::managed::Managed;
use rmq_model::{
    Condition, RocketMQTopic, RocketMQTopicStatus, TopicDecl, ValidationError, validate_topic,
};

impl Managed for RocketMQTopic {
    type Decl = TopicDecl;
    const CONTROLLER: &'static str = "topic";
    const FINALIZER: &'static str = "rmq.dev/topic";
    const NOUN: &'static str = "topic";

    fn cluster_name(&self) -> &str {
        &self.spec.cluster
    }

    fn declare(&self) -> Result<TopicDecl, Vec<ValidationError>> {
        validate_topic(self)
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
