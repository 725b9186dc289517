//! Test support shared by the model's test binaries.
#![allow(clippy::unwrap_used, dead_code)]

use rmq_model::RocketMQCluster;
use rmq_model::manifest::{Document, parse_str};

/// The `RocketMQCluster` of `tests/fixtures/<file>` (its first document).
pub fn cluster(file: &str) -> RocketMQCluster {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    match parse_str(file, &text).unwrap().remove(0).1 {
        Document::Cluster(c) => *c,
        other => panic!("not a cluster: {other:?}"),
    }
}
