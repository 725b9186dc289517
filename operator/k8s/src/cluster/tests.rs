//! The cluster controller's reconcile against a scripted API server: the paths that end before
//! or at the first server-side apply (pause, invalid spec, a refused apply). The full pipeline
//! runs on a real control plane in the k8s suite; `build` and `status` have pure tests in
//! `tests/build.rs`.

#![allow(clippy::unwrap_used)]

use super::reconcile;
use crate::Error;
use crate::fixtures::{ApiServer, NS, condition, failure, ok, path, verify};
use hyper::StatusCode;
use kube::runtime::controller::Action;
use rmq_model::RocketMQCluster;
use serde_json::{Value, json};
use std::sync::Arc;

/// Cluster `demo` in [`NS`] with `spec`, its metadata extended by `meta`.
fn cluster(spec: Value, meta: Value) -> Value {
    let mut metadata = json!({
        "name": "demo", "namespace": NS, "uid": "uid-1", "generation": 2, "resourceVersion": "7"
    });
    if let (Some(m), Some(extra)) = (metadata.as_object_mut(), meta.as_object()) {
        m.extend(extra.clone());
    }
    json!({"apiVersion": "rmq.dev/v1alpha1", "kind": "RocketMQCluster", "metadata": metadata, "spec": spec})
}

fn typed(v: &Value) -> Arc<RocketMQCluster> {
    Arc::new(serde_json::from_value(v.clone()).unwrap())
}

#[tokio::test]
async fn a_paused_cluster_changes_nothing_and_says_so() {
    let (server, ctx) = ApiServer::context().await;
    let obj = cluster(
        json!({}),
        json!({"annotations": {"rmq.dev/pause-reconciliation": "true"}}),
    );
    let url = path("rocketmqclusters", "demo");
    let script = async |s: &mut ApiServer| {
        s.event("Normal", "ReconciliationPaused").await;
        let status = s.status_patch(&url, &obj).await;
        assert_eq!(
            condition(&status, "ReconciliationPaused"),
            ("True".into(), "PauseAnnotation".into())
        );
    };
    let out = verify(server, script, reconcile(typed(&obj), ctx)).await;
    assert_eq!(out.unwrap(), Action::await_change());
}

#[tokio::test]
async fn an_invalid_cluster_is_reported_before_anything_is_built() {
    let (server, ctx) = ApiServer::context().await;
    let obj = cluster(json!({"brokers": {"groups": 0}}), json!({}));
    let url = path("rocketmqclusters", "demo");
    let script = async |s: &mut ApiServer| {
        let note = s.event("Warning", "InvalidSpec").await;
        assert!(note.contains("spec.brokers.groups"), "{note}");
        let status = s.status_patch(&url, &obj).await;
        for type_ in ["Ready", "Progressing"] {
            assert_eq!(
                condition(&status, type_),
                ("False".into(), "InvalidSpec".into())
            );
        }
        assert_eq!(
            condition(&status, "Degraded"),
            ("True".into(), "InvalidSpec".into())
        );
        assert_eq!(status["observedGeneration"], 2);
    };
    let out = verify(server, script, reconcile(typed(&obj), ctx)).await;
    assert!(matches!(out, Err(Error::Invalid(m)) if m.contains("spec.brokers.groups")));
}

#[tokio::test]
async fn a_refused_apply_is_reported_as_apply_failed() {
    let (server, ctx) = ApiServer::context().await;
    let obj = cluster(json!({}), json!({}));
    let url = path("rocketmqclusters", "demo");
    let script = async |s: &mut ApiServer| {
        // The cluster's Services are read first (load balancer addresses feed the build).
        let svcs = format!("/api/v1/namespaces/{NS}/services");
        let req = s
            .expect("GET", &svcs, |_| {
                ok(json!({"kind": "ServiceList", "apiVersion": "v1", "metadata": {}, "items": []}))
            })
            .await;
        assert!(
            req.query.contains("rmq.dev%2Fcluster%3Ddemo"),
            "{}",
            req.query
        );
        // The broker StatefulSets are listed (groups left over from a lowered spec drain).
        let sets = format!("/apis/apps/v1/namespaces/{NS}/statefulsets");
        let req = s
            .expect("GET", &sets, |_| {
                ok(json!({"kind": "StatefulSetList", "apiVersion": "apps/v1", "metadata": {}, "items": []}))
            })
            .await;
        assert!(req.query.contains("component%3Dbroker"), "{}", req.query);
        // ConfigMaps come first, so pods never start against missing config.
        let cm = format!("/api/v1/namespaces/{NS}/configmaps/demo-broker-a");
        let req = s
            .expect("PATCH", &cm, |_| {
                failure(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "configmaps is forbidden",
                )
            })
            .await;
        assert!(
            req.query.contains("fieldManager=rmq-operator"),
            "{}",
            req.query
        );
        assert_eq!(req.body["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        let note = s.event("Warning", "ApplyFailed").await;
        assert!(note.contains("apply ConfigMap demo-broker-a"), "{note}");
        let status = s.status_patch(&url, &obj).await;
        assert_eq!(
            condition(&status, "Ready"),
            ("False".into(), "ApplyFailed".into())
        );
    };
    let out = verify(server, script, reconcile(typed(&obj), ctx)).await;
    assert!(matches!(out, Err(Error::Kube { .. })), "{out:?}");
}
