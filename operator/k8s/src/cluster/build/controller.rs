//! The controllers of `failover: Automatic`: a StatefulSet `<c>-controller` of
//! `spec.controller.replicas` pods running `rmq-controller`, each with its own `controller.conf`
//! (key `<pod>.conf` of the ConfigMap `<c>-controller`) and a small volume for its Raft log; a
//! headless Service gives every replica the stable DNS name its peers and the brokers use
//! (`<c>-controller-<i>.<c>-controller.<ns>.svc:9878`), publishing not-ready addresses so the
//! replicas find each other while they start; a PDB lets one replica at a time be disrupted (a
//! majority must stay for elections).
//!
//! The pod template carries the hash of the ConfigMap, so a changed `controller.conf` rolls the
//! replicas (one at a time, the StatefulSet's `RollingUpdate`).

use super::statefulset::{
    TemplateParts, container_port, data_claim, field_env, log_env, mount, pod_template, retain,
    set_spec,
};
use super::{BuildInput, CONFIG_DIR, DATA_DIR, meta, names};
use crate::labels;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, Probe, Service, ServicePort, ServiceSpec,
    TCPSocketAction, Volume,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rmq_model::defaults::CONTROLLER_PORT;
use rmq_model::desired::ControllerNode;
use rmq_model::validate::Failover;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Pod annotation holding the hash of the controllers' ConfigMap.
pub const CONFIG_HASH_ANNOTATION: &str = "rmq.dev/controller-config-hash";

/// The ConfigMap: `<pod>.conf` per replica.
pub fn config_map(cluster: &str, nodes: &[ControllerNode], input: &BuildInput) -> ConfigMap {
    let data: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| {
            let pod = names::controller_pod(cluster, n.index);
            (format!("{pod}.conf"), n.conf.clone())
        })
        .collect();
    ConfigMap {
        metadata: meta(
            &names::controller(cluster),
            input,
            labels::component(cluster, labels::COMPONENT_CONTROLLER, None),
        ),
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// The headless Service of the replicas.
pub fn headless(cluster: &str, input: &BuildInput) -> Service {
    Service {
        metadata: meta(
            &names::controller(cluster),
            input,
            labels::component(cluster, labels::COMPONENT_CONTROLLER, None),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(labels::selector(
                cluster,
                labels::COMPONENT_CONTROLLER,
                None,
            )),
            ports: Some(vec![ServicePort {
                name: Some("controller".to_owned()),
                port: i32::from(CONTROLLER_PORT),
                target_port: Some(IntOrString::String("controller".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// A TCP probe of the controller port.
fn tcp_probe(period: i32, failures: i32) -> Probe {
    let socket = TCPSocketAction {
        port: IntOrString::String("controller".to_owned()),
        ..TCPSocketAction::default()
    };
    let probe = Probe {
        tcp_socket: Some(socket),
        ..Probe::default()
    };
    super::statefulset::timed_probe(probe, period, failures)
}

/// The controllers' container.
fn container(input: &BuildInput) -> Container {
    Container {
        name: "controller".to_owned(),
        image: Some(input.image.clone()),
        image_pull_policy: input.image_pull_policy.clone(),
        command: Some(vec!["rmq-controller".to_owned()]),
        args: Some(vec![
            "-c".to_owned(),
            format!("{CONFIG_DIR}/$(POD_NAME).conf"),
        ]),
        env: Some(vec![field_env("POD_NAME", "metadata.name"), log_env()]),
        ports: Some(vec![container_port("controller", CONTROLLER_PORT)]),
        volume_mounts: Some(vec![
            mount("config", CONFIG_DIR, true),
            mount("data", DATA_DIR, false),
        ]),
        startup_probe: Some(tcp_probe(2, 150)),
        liveness_probe: Some(tcp_probe(10, 6)),
        readiness_probe: Some(tcp_probe(5, 2)),
        ..Container::default()
    }
}

/// The hash of the replicas' configurations (hex, 16 digits).
fn config_hash(nodes: &[ControllerNode]) -> String {
    let mut h = Sha256::new();
    for n in nodes {
        h.update(n.conf.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The controllers' StatefulSet.
pub fn stateful_set(
    cluster: &str,
    failover: &Failover,
    nodes: &[ControllerNode],
    input: &BuildInput,
) -> StatefulSet {
    let name = names::controller(cluster);
    let labels_ = labels::component(cluster, labels::COMPONENT_CONTROLLER, None);
    let selector = labels::selector(cluster, labels::COMPONENT_CONTROLLER, None);
    let config = Volume {
        name: "config".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: name.clone(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let parts = TemplateParts {
        labels: labels_.clone(),
        annotations: BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_owned(), config_hash(nodes))]),
        default_annotations: BTreeMap::new(),
        peers: selector.clone(),
        volumes: vec![config],
        grace_seconds: 30,
        pod: &failover.pod,
    };
    let template = pod_template(container(input), parts);
    let claim = data_claim(
        &failover.storage_size,
        failover.storage_class.clone(),
        labels_.clone(),
    );
    StatefulSet {
        metadata: meta(&name, input, labels_),
        spec: Some(StatefulSetSpec {
            volume_claim_templates: Some(vec![claim]),
            persistent_volume_claim_retention_policy: Some(retain()),
            ..set_spec(&name, failover.controllers, selector, template)
        }),
        ..StatefulSet::default()
    }
}
