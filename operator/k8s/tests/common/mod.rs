//! Helpers of the builder tests: fixtures in, built objects out.
#![allow(clippy::unwrap_used, dead_code)]

use k8s_openapi::api::apps::v1::StatefulSet;
use rmq_model::RocketMQCluster;
use rmq_operator::cluster::build::{self, BuildInput, KubernetesResources, Prepared};

/// Parses `tests/fixtures/<file>`.
pub fn cluster(file: &str) -> RocketMQCluster {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn input(c: &RocketMQCluster, domain: Option<&str>) -> BuildInput {
    use kube::Resource;
    BuildInput {
        owner: c.controller_owner_ref(&()).unwrap(),
        namespace: c.metadata.namespace.clone().unwrap(),
        image: build::image(
            c.spec.image.as_deref(),
            c.spec.version.as_deref(),
            "ghcr.io/rmq-dev/rmq:0.1.0",
        ),
        image_pull_policy: None,
        cluster_domain: domain.map(str::to_owned),
        external_hosts: std::collections::BTreeMap::new(),
    }
}

pub fn built(c: &RocketMQCluster, domain: Option<&str>) -> KubernetesResources<Prepared> {
    let v = rmq_model::validate(c).unwrap();
    build::build(&v, &input(c, domain))
}

pub fn sts<'a>(r: &'a KubernetesResources<Prepared>, name: &str) -> &'a StatefulSet {
    r.stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap()
}

pub fn names<K: kube::Resource>(objs: &[K]) -> Vec<String> {
    objs.iter()
        .map(|o| o.meta().name.clone().unwrap())
        .collect()
}

/// What [`built`] returns.
pub type Built = KubernetesResources<Prepared>;

/// The pod spec of StatefulSet `set`.
pub fn pod_spec<'a>(r: &'a Built, set: &str) -> &'a k8s_openapi::api::core::v1::PodSpec {
    sts(r, set)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
}
