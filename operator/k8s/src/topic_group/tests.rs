//! The topic/group controller against a scripted API server (every request it makes, in
//! order, with the API server's answers), and its pure steps directly. Talking to brokers is
//! the e2e suites' part: these scenarios stop before the admin protocol (no cluster, a cluster
//! being deleted) or never reach it (finalizer, invalid spec, unmanaged).

#![allow(clippy::unwrap_used)]

use super::apply::{Converged, assess, declaring, describe, invalid};
use super::cleanup::pruning;
use super::controller::{error_policy, reconcile};
use super::managed::Managed;
use super::report::Failure;
use crate::Error;
use crate::fixtures::{ApiServer, NS, condition, not_found, ok, path, verify};
use kube::runtime::controller::Action;
use rmq_model::plan::{Action as PlanAction, BrokerRef, Change};
use rmq_model::protocol::body::topic_config::TopicConfig;
use rmq_model::{RocketMQConsumerGroup, RocketMQTopic};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const NOT_FOUND_MESSAGE: &str = "RocketMQCluster \"demo\" does not exist in namespace testns (fix: create it, or correct spec.cluster)";

/// A CR of `kind` named `name` in [`NS`] with `spec`, its metadata extended by `meta`.
fn cr(kind: &str, name: &str, spec: Value, meta: Value) -> Value {
    let mut metadata = json!({
        "name": name, "namespace": NS, "uid": "uid-1", "generation": 1, "resourceVersion": "7"
    });
    if let (Some(m), Some(extra)) = (metadata.as_object_mut(), meta.as_object()) {
        m.extend(extra.clone());
    }
    json!({"apiVersion": "rmq.dev/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec})
}

fn typed<K: DeserializeOwned>(v: &Value) -> Arc<K> {
    Arc::new(serde_json::from_value(v.clone()).unwrap())
}

/// `orders` on cluster `demo`, its metadata extended by `meta`.
fn topic(meta: Value) -> Value {
    cr("RocketMQTopic", "orders", json!({"cluster": "demo"}), meta)
}

/// `billing` on cluster `demo` with `spec` fields added, its metadata extended by `meta`.
fn group(spec: Value, meta: Value) -> Value {
    let mut s = json!({"cluster": "demo"});
    if let (Some(m), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
        m.extend(extra.clone());
    }
    cr("RocketMQConsumerGroup", "billing", s, meta)
}

fn cluster_path() -> String {
    path("rocketmqclusters", "demo")
}

/// A topic whose metadata has `finalizers` (or none): the reconcile patches ours in with
/// `expected_patch`, then applies at once — no wait for the watch to bring the object back.
async fn finalizer_then_apply(finalizers: Option<Value>, with_ours: Value, expected_patch: Value) {
    let (server, ctx) = ApiServer::context().await;
    let obj = topic(finalizers.map_or(json!({}), |f| json!({"finalizers": f})));
    let mut finalized = obj.clone();
    finalized["metadata"]["finalizers"] = with_ours;
    let url = path("rocketmqtopics", "orders");
    let script = async |s: &mut ApiServer| {
        let req = s.expect("PATCH", &url, |_| ok(finalized.clone())).await;
        assert_eq!(req.body, expected_patch);
        s.expect("GET", &cluster_path(), |_| not_found("demo"))
            .await;
        s.event("Warning", "ClusterNotFound").await;
        s.status_merge_patch(&url, &finalized).await;
    };
    let out = verify(server, script, reconcile(typed::<RocketMQTopic>(&obj), ctx)).await;
    assert_eq!(out.unwrap(), Action::requeue(Duration::from_secs(10)));
}

#[tokio::test]
async fn a_new_topic_gets_the_finalizer_first_and_is_applied_in_the_same_reconcile() {
    let patch = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["rmq.dev/topic"]}
    ]);
    finalizer_then_apply(None, json!(["rmq.dev/topic"]), patch).await;
}

#[tokio::test]
async fn a_finalizer_is_appended_to_the_others_guarded_by_a_test() {
    let patch = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": ["example.com/other"]},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "rmq.dev/topic"}
    ]);
    let both = json!(["example.com/other", "rmq.dev/topic"]);
    finalizer_then_apply(Some(json!(["example.com/other"])), both, patch).await;
}

#[tokio::test]
async fn an_unchanged_status_is_not_written_again() {
    let (server, ctx) = ApiServer::context().await;
    let mut obj = topic(json!({"finalizers": ["rmq.dev/topic"]}));
    obj["status"] = json!({"observedGeneration": 1, "brokers": [], "conditions": [
        {"type": "Ready", "status": "False", "reason": "ClusterNotFound",
         "message": NOT_FOUND_MESSAGE, "lastTransitionTime": "2026-01-01T00:00:00Z",
         "observedGeneration": 1},
        {"type": "Managed", "status": "True", "reason": "Managed",
         "message": "the operator keeps this object as declared",
         "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}
    ]});
    let script = async |s: &mut ApiServer| {
        s.expect("GET", &cluster_path(), |_| not_found("demo"))
            .await;
    };
    let out = verify(server, script, reconcile(typed::<RocketMQTopic>(&obj), ctx)).await;
    assert_eq!(out.unwrap(), Action::requeue(Duration::from_secs(10)));
}

#[tokio::test]
async fn an_invalid_group_is_reported_and_waits_for_a_change() {
    let (server, ctx) = ApiServer::context().await;
    let meta = json!({"finalizers": ["rmq.dev/consumergroup"]});
    let obj = group(json!({"retryMaxTimes": 99}), meta);
    let url = path("rocketmqconsumergroups", "billing");
    let script = async |s: &mut ApiServer| {
        let note = s.event("Warning", "InvalidSpec").await;
        assert!(note.contains("spec.retryMaxTimes"), "{note}");
        let status = s.status_merge_patch(&url, &obj).await;
        assert_eq!(
            condition(&status, "Ready"),
            ("False".into(), "InvalidSpec".into())
        );
        assert_eq!(
            condition(&status, "Managed"),
            ("True".into(), "Managed".into())
        );
        assert_eq!(status["brokers"], json!([]));
    };
    let g = typed::<RocketMQConsumerGroup>(&obj);
    let out = verify(server, script, reconcile(g.clone(), ctx.clone())).await;
    let err = out.unwrap_err();
    assert!(matches!(&err, Error::Invalid(m) if m.contains("spec.retryMaxTimes")));
    assert_eq!(error_policy(g, &err, ctx.clone()), Action::await_change());
    let metrics = ctx.metrics.render();
    assert!(
        metrics.lines().any(|l| l.contains("reconcile_errors")
            && l.contains("controller=\"consumergroup\"")
            && l.contains("error=\"invalid\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_topic_of_a_missing_cluster_is_reported_and_retried() {
    let (server, ctx) = ApiServer::context().await;
    let obj = topic(json!({"finalizers": ["rmq.dev/topic"]}));
    let url = path("rocketmqtopics", "orders");
    let script = async |s: &mut ApiServer| {
        s.expect("GET", &cluster_path(), |_| not_found("demo"))
            .await;
        let note = s.event("Warning", "ClusterNotFound").await;
        assert_eq!(note, NOT_FOUND_MESSAGE);
        let status = s.status_merge_patch(&url, &obj).await;
        assert_eq!(
            condition(&status, "Ready"),
            ("False".into(), "ClusterNotFound".into())
        );
    };
    let out = verify(server, script, reconcile(typed::<RocketMQTopic>(&obj), ctx)).await;
    assert_eq!(out.unwrap(), Action::requeue(Duration::from_secs(10)));
}

#[tokio::test]
async fn the_same_failure_again_publishes_no_second_event() {
    let (server, ctx) = ApiServer::context().await;
    let mut obj = topic(json!({"finalizers": ["rmq.dev/topic"]}));
    obj["status"] = json!({"conditions": [{
        "type": "Ready", "status": "False", "reason": "ClusterNotFound",
        "message": NOT_FOUND_MESSAGE, "lastTransitionTime": "2026-01-01T00:00:00Z"
    }]});
    let url = path("rocketmqtopics", "orders");
    let script = async |s: &mut ApiServer| {
        s.expect("GET", &cluster_path(), |_| not_found("demo"))
            .await;
        let status = s.status_merge_patch(&url, &obj).await;
        let ready = &status["conditions"][0];
        assert_eq!(ready["reason"], "ClusterNotFound");
        assert_eq!(ready["lastTransitionTime"], "2026-01-01T00:00:00Z");
    };
    let out = verify(server, script, reconcile(typed::<RocketMQTopic>(&obj), ctx)).await;
    assert_eq!(out.unwrap(), Action::requeue(Duration::from_secs(10)));
}

#[tokio::test]
async fn a_cluster_being_deleted_counts_as_missing() {
    let (server, ctx) = ApiServer::context().await;
    let obj = group(json!({}), json!({"finalizers": ["rmq.dev/consumergroup"]}));
    let deleting = cr(
        "RocketMQCluster",
        "demo",
        json!({}),
        json!({"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["x"]}),
    );
    let url = path("rocketmqconsumergroups", "billing");
    let script = async |s: &mut ApiServer| {
        s.expect("GET", &cluster_path(), |_| ok(deleting.clone()))
            .await;
        s.event("Warning", "ClusterNotFound").await;
        s.status_merge_patch(&url, &obj).await;
    };
    let g = typed::<RocketMQConsumerGroup>(&obj);
    let out = verify(server, script, reconcile(g, ctx)).await;
    assert_eq!(out.unwrap(), Action::requeue(Duration::from_secs(10)));
}

#[tokio::test]
async fn unmanaging_removes_only_our_finalizer_and_says_so() {
    let (server, ctx) = ApiServer::context().await;
    let obj = topic(json!({
        "finalizers": ["rmq.dev/topic", "example.com/other"],
        "annotations": {"rmq.dev/managed": "false"}
    }));
    let url = path("rocketmqtopics", "orders");
    let script = async |s: &mut ApiServer| {
        let req = s.expect("PATCH", &url, |_| ok(obj.clone())).await;
        assert_eq!(
            req.body,
            json!({"metadata": {"finalizers": ["example.com/other"], "resourceVersion": "7"}})
        );
        s.event("Normal", "Unmanaged").await;
        let status = s.status_merge_patch(&url, &obj).await;
        assert_eq!(
            condition(&status, "Managed"),
            ("False".into(), "ManagedAnnotation".into())
        );
    };
    let out = verify(server, script, reconcile(typed::<RocketMQTopic>(&obj), ctx)).await;
    assert_eq!(out.unwrap(), Action::await_change());
}

#[tokio::test]
async fn deleting_a_group_whose_cluster_is_gone_just_removes_the_finalizer() {
    let (server, ctx) = ApiServer::context().await;
    let obj = group(
        json!({}),
        json!({
            "finalizers": ["rmq.dev/consumergroup"],
            "deletionTimestamp": "2026-01-01T00:00:00Z"
        }),
    );
    let url = path("rocketmqconsumergroups", "billing");
    let script = async |s: &mut ApiServer| {
        s.expect("GET", &cluster_path(), |_| not_found("demo"))
            .await;
        let req = s.expect("PATCH", &url, |_| ok(obj.clone())).await;
        assert_eq!(
            req.body,
            json!([
                {"op": "test", "path": "/metadata/finalizers/0", "value": "rmq.dev/consumergroup"},
                {"op": "remove", "path": "/metadata/finalizers/0"}
            ])
        );
    };
    let g = typed::<RocketMQConsumerGroup>(&obj);
    let out = verify(server, script, reconcile(g, ctx)).await;
    assert_eq!(out.unwrap(), Action::await_change());
}

fn broker(name: &str) -> BrokerRef {
    BrokerRef {
        name: name.into(),
        addr: format!("{name}:10911"),
    }
}

fn converged(groups: &[&str], masters: &[&str], done: Vec<PlanAction>) -> Converged {
    Converged {
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        masters: masters.iter().map(|m| (*m).to_owned()).collect(),
        done,
    }
}

fn created(b: &str) -> PlanAction {
    PlanAction::CreateTopic {
        cluster: "demo".into(),
        broker: broker(b),
        config: topic_config("orders"),
    }
}

fn updated(b: &str) -> PlanAction {
    PlanAction::UpdateTopic {
        cluster: "demo".into(),
        broker: broker(b),
        config: topic_config("orders"),
        changes: vec![Change {
            field: "perm".into(),
            from: "4".into(),
            to: "6".into(),
        }],
    }
}

fn topic_config(name: &str) -> TopicConfig {
    TopicConfig::new(name, 8)
}

#[test]
fn creating_on_every_master_is_ready_with_a_created_event() {
    let c = converged(
        &["broker-a", "broker-b"],
        &["broker-a", "broker-b"],
        vec![created("broker-a"), created("broker-b")],
    );
    let a = assess("topic", "orders", &c, true);
    assert_eq!(
        a.events,
        [("Created", "created topic orders on 2 master(s)".to_owned())]
    );
    assert_eq!(
        a.ready,
        Ok("topic orders is as declared on 2/2 master(s): broker-a, broker-b".to_owned())
    );
}

#[test]
fn an_update_is_drift_unless_the_spec_changed() {
    let c = converged(&["broker-a"], &["broker-a"], vec![updated("broker-a")]);
    let drift = assess("topic", "orders", &c, false);
    assert_eq!(
        drift.events,
        [(
            "DriftReverted",
            "reverted a change made outside the operator: broker-a: perm 4→6".to_owned()
        )]
    );
    let change = assess("topic", "orders", &c, true);
    assert_eq!(change.events[0].0, "Updated");
    assert!(change.ready.is_ok());
}

#[test]
fn a_group_without_a_registered_master_is_waited_for() {
    let c = converged(&["broker-a", "broker-b"], &["broker-a"], vec![]);
    let a = assess("consumer group", "billing", &c, false);
    assert!(a.events.is_empty());
    assert_eq!(
        a.ready,
        Err(Failure::retry(
            "WaitingForBrokers",
            "consumer group billing is on 1/2 master(s); waiting for the master of broker-b to register".into(),
            Duration::from_secs(3),
        ))
    );
}

#[test]
fn the_plan_inputs_declare_one_object_or_prune_everything_owned() {
    let obj = typed::<RocketMQTopic>(&topic(json!({})));
    let owner = obj.manager();
    assert_eq!(owner, "rmq-operator/testns/topic/orders");
    let decl = obj.declare().unwrap();
    let apply = declaring(decl.clone(), owner.clone());
    assert_eq!(
        (apply.topics.as_slice(), apply.groups.len()),
        (&[decl][..], 0)
    );
    assert!(apply.scope.is_empty(), "applying one object never prunes");
    let cleanup = pruning("demo", owner.clone());
    assert!(cleanup.topics.is_empty() && cleanup.groups.is_empty());
    assert_eq!(cleanup.scope.iter().collect::<Vec<_>>(), ["demo"]);
    assert_eq!(cleanup.manager, owner);
}

#[test]
fn failures_read_as_what_was_being_done() {
    assert_eq!(
        describe(&created("broker-a")),
        "creating topic orders on broker-a"
    );
    let f = invalid(&["a: bad", "b: worse"]);
    assert_eq!(
        (f.reason, f.message.as_str(), f.retry),
        ("InvalidSpec", "a: bad; b: worse", None)
    );
}
