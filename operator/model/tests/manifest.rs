//! Reading files: topics and groups validate into declarations; bad input names the file, the
//! line and the field.
#![allow(clippy::unwrap_used)]

use rmq_model::manifest::{ManifestError, load_files, parse_str};
use rmq_model::{MessageType, TopicPerm};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn topics_and_groups_become_declarations() {
    let d = load_files(&[fixture("topics.yaml"), fixture("cluster-minimal.yaml")]).unwrap();
    assert_eq!(d.clusters.len(), 1);
    assert_eq!(d.topics.len(), 2);
    let (src, orders) = &d.topics[0];
    assert_eq!(src.line, 2, "the document starts after the comment line");
    assert_eq!(src.object.as_deref(), Some("RocketMQTopic/orders"));
    assert_eq!((orders.name.as_str(), orders.queues), ("orders", 8));
    assert_eq!(orders.perm, TopicPerm::ReadWrite);
    assert_eq!(orders.message_type, MessageType::Normal);
    let (src, fifo) = &d.topics[1];
    assert_eq!(src.line, 10);
    assert_eq!(
        fifo.name, "payments_fifo",
        "spec.topicName wins over metadata.name"
    );
    assert_eq!(fifo.perm, TopicPerm::ReadOnly);
    let cfg = fifo.to_topic_config();
    assert!(cfg.order);
    assert_eq!(cfg.perm, 4);
    assert_eq!(cfg.attributes["message.type"], "FIFO");
    assert_eq!(cfg.attributes["queue.type"], "BatchCQ");
    let (_, g) = &d.groups[0];
    assert_eq!(
        (g.name.as_str(), g.retry_max_times, g.orderly, g.broadcast),
        ("billing", 3, true, true)
    );
    let gc = g.to_group_config();
    assert!(gc.consume_message_orderly && gc.consume_enable);
    assert_eq!(d.cluster_names().into_iter().collect::<Vec<_>>(), ["demo"]);
}

#[test]
fn bad_inputs_name_file_line_and_field() {
    let errs = load_files(&[fixture("bad-inputs.yaml")]).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 4, "{text:#?}");
    let file = fixture("bad-inputs.yaml");
    assert_eq!(
        text[0],
        format!(
            "{file}:1 (RocketMQTopic/negative): spec.queues: must be >= 1, got -4 (fix: set the read/write queue count per broker group, e.g. 8)"
        )
    );
    assert!(
        text[1].starts_with(&format!(
            "{file}:9 (RocketMQTopic/typo): spec.queus: unknown field"
        )),
        "{}",
        text[1]
    );
    assert!(matches!(&errs[2], ManifestError::UnknownKind { kind, .. } if kind == "KafkaTopic"));
    assert!(text[2].contains(&format!("{file}:17")), "{}", text[2]);
    // A type error points at the line of the field itself.
    assert!(
        text[3].starts_with(&format!(
            "{file}:29 (RocketMQTopic/wrong.type): spec.queues: invalid type"
        )),
        "{}",
        text[3]
    );
}

#[test]
fn invalid_yaml_and_missing_files() {
    let errs = parse_str(
        "broken.yaml",
        "apiVersion: rmq.dev/v1alpha1\nkind: [unclosed\n",
    )
    .unwrap_err();
    let t = errs[0].to_string();
    assert!(t.starts_with("broken.yaml:"), "{t}");
    let errs = parse_str(
        "nospec.yaml",
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: demo}\n",
    )
    .unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "nospec.yaml:1 (RocketMQCluster/demo): spec: is missing (fix: add `spec: {}` to take every default, or the fields you need)"
    );
    let errs = load_files(&["/nonexistent/x.yaml"]).unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with("/nonexistent/x.yaml: cannot read"),
        "{}",
        errs[0]
    );
}

#[test]
fn names_rules_and_duplicates() {
    let text = "\
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: orders.v1}
spec: {cluster: demo}
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: a}
spec: {cluster: demo, topicName: dup}
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: b}
spec: {cluster: demo, topicName: dup}
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata: {name: sys}
spec: {cluster: demo, topicName: SCHEDULE_TOPIC_XXXX, attributes: {message.type: FIFO}}
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQConsumerGroup
metadata: {name: g}
spec: {cluster: '', retryMaxTimes: 99}
";
    let docs = parse_str("t.yaml", text).unwrap();
    let errs = rmq_model::manifest::declarations(docs).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text[0].contains("metadata.name: the topic name \"orders.v1\" contains illegal characters"),
        "{}",
        text[0]
    );
    assert!(text[0].contains("fix: set spec.topicName"), "{}", text[0]);
    for needle in [
        "t.yaml:11 (RocketMQTopic/b): topic \"dup\" of cluster \"demo\" is already declared at t.yaml:6",
        "spec.topicName: \"SCHEDULE_TOPIC_XXXX\" is a system topic",
        "spec.attributes.message.type",
        "spec.cluster: \"\" is not a cluster name",
        "spec.retryMaxTimes: must be <= 64, got 99",
    ] {
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "{needle:?} missing: {text:#?}"
        );
    }
}
