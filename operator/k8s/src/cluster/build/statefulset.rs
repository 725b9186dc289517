//! StatefulSets: one for the nameservers and **one per broker group**.
//!
//! # Why one StatefulSet per broker group (ordinal = brokerId)
//! A group `<c>-broker-a` has `replicasPerGroup` pods; pod ordinal 0 is the master
//! (brokerId 0), ordinals 1.. are slaves. Each pod reads its own `broker.conf` from the group's
//! ConfigMap (key `$(POD_NAME).conf`, the downward API gives the pod name).
//! - **Roll order for free.** A StatefulSet `RollingUpdate` replaces pods from the highest
//!   ordinal down, waiting for each to be Ready: slaves first, the master last — the RocketMQ-aware
//!   order (a group keeps its master while its slaves restart; the master restarts once, last).
//! - **Stable identity and storage.** Ordinals map 1:1 to brokerIds; the PVC `data-<pod>`
//!   follows the broker across restarts and reschedules, so a slave never comes back as a master
//!   with the master's data swapped.
//! - **Scaling units match RocketMQ's.** Adding a group adds a StatefulSet (and its Services,
//!   ConfigMap and PDB); changing `replicasPerGroup` changes `replicas` of every group.
//!
//! The alternative, one StatefulSet per broker (Apache operator style), gives per-pod specs but
//! no ordering between a group's pods, doubles the objects, and turns a group's roll into
//! operator-driven orchestration — worth it only once rolls need broker state (e.g. waiting for
//! a slave to catch up), which a later roller can add on top of `partition`.
//!
//! `podManagementPolicy: Parallel` starts a group's pods together (a slave need not wait for its
//! master to be Ready); rolling updates still go one pod at a time. PVCs are retained when the
//! StatefulSet is deleted or scaled down: rmq never deletes data without an explicit policy.

use super::{BROKER_PORT, BuildInput, CONFIG_DIR, DATA_DIR, NAMESRV_PORT, meta, names, security};
use crate::labels;
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec,
    PodTemplateSpec, Probe, TCPSocketAction, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use rmq_model::ValidatedCluster;
use std::collections::BTreeMap;

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn tcp_probe(port: &str, initial: i32, period: i32, failures: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port.to_owned()),
            ..TCPSocketAction::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

fn container_port(name: &str, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: i32::from(port),
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn pod_template(
    labels: BTreeMap<String, String>,
    annotations: Option<BTreeMap<String, String>>,
    container: Container,
    volumes: Vec<Volume>,
    grace_seconds: i64,
) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations,
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                security_context: Some(security::container()),
                ..container
            }],
            volumes: (!volumes.is_empty()).then_some(volumes),
            termination_grace_period_seconds: Some(grace_seconds),
            enable_service_links: Some(false),
            security_context: Some(security::pod()),
            ..PodSpec::default()
        }),
    }
}

fn retain() -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some("Retain".to_owned()),
        when_scaled: Some("Retain".to_owned()),
    }
}

/// `RMQ_LOG=info` for the node's log filter.
fn log_env() -> EnvVar {
    EnvVar {
        name: "RMQ_LOG".to_owned(),
        value: Some("info".to_owned()),
        ..EnvVar::default()
    }
}

/// What both kinds of StatefulSet share: pods started in parallel and rolled one at a time
/// (highest ordinal first), selected by `selector`, governed by the headless Service `name`.
fn set_spec(
    name: &str,
    replicas: u32,
    selector: BTreeMap<String, String>,
    template: PodTemplateSpec,
) -> StatefulSetSpec {
    StatefulSetSpec {
        replicas: Some(i32::try_from(replicas).unwrap_or(1)),
        service_name: Some(name.to_owned()),
        pod_management_policy: Some("Parallel".to_owned()),
        selector: LabelSelector {
            match_labels: Some(selector),
            ..LabelSelector::default()
        },
        update_strategy: Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".to_owned()),
            ..StatefulSetUpdateStrategy::default()
        }),
        template,
        ..StatefulSetSpec::default()
    }
}

/// The nameservers' StatefulSet.
pub fn namesrv(cluster: &ValidatedCluster, input: &BuildInput) -> StatefulSet {
    let c = &cluster.name;
    let name = names::namesrv(c);
    let container = Container {
        name: "namesrv".to_owned(),
        image: Some(input.image.clone()),
        image_pull_policy: input.image_pull_policy.clone(),
        command: Some(vec!["rmq-namesrv".to_owned()]),
        args: Some(vec![
            "--listen-port".to_owned(),
            NAMESRV_PORT.to_string(),
            "--kv-config-path".to_owned(),
            format!("{DATA_DIR}/namesrv/kvConfig.json"),
        ]),
        env: Some(vec![log_env()]),
        ports: Some(vec![container_port("remoting", NAMESRV_PORT)]),
        readiness_probe: Some(tcp_probe("remoting", 1, 2, 3)),
        liveness_probe: Some(tcp_probe("remoting", 20, 10, 6)),
        volume_mounts: Some(vec![mount("data", DATA_DIR, false)]),
        ..Container::default()
    };
    let data = Volume {
        name: "data".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    let labels_ = labels::component(c, labels::COMPONENT_NAMESRV, None);
    let template = pod_template(labels_.clone(), None, container, vec![data], 30);
    let selector = labels::selector(c, labels::COMPONENT_NAMESRV, None);
    StatefulSet {
        metadata: meta(&name, input, labels_),
        spec: Some(set_spec(&name, cluster.name_servers, selector, template)),
        ..StatefulSet::default()
    }
}

/// The StatefulSet of broker group `group`; `config_hash` goes into the pod template so a
/// changed `broker.conf` rolls the group.
pub fn broker_group(
    cluster: &ValidatedCluster,
    group: &str,
    config_hash: &str,
    input: &BuildInput,
) -> StatefulSet {
    let c = &cluster.name;
    let name = names::group(c, group);
    let labels_ = labels::component(c, labels::COMPONENT_BROKER, Some(group));
    let config = Volume {
        name: "config".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: name.clone(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let annotations = BTreeMap::from([(labels::CONFIG_HASH.to_owned(), config_hash.to_owned())]);
    let template = pod_template(
        labels_.clone(),
        Some(annotations),
        broker_container(input),
        vec![config],
        60,
    );
    let selector = labels::selector(c, labels::COMPONENT_BROKER, Some(group));
    StatefulSet {
        metadata: meta(&name, input, labels_.clone()),
        spec: Some(StatefulSetSpec {
            volume_claim_templates: Some(vec![data_claim(cluster, labels_)]),
            persistent_volume_claim_retention_policy: Some(retain()),
            ..set_spec(&name, cluster.replicas_per_group, selector, template)
        }),
        ..StatefulSet::default()
    }
}

/// The broker container: its own `broker.conf` from the group's ConfigMap (by pod name), the
/// remoting and HA ports, data on the claim.
fn broker_container(input: &BuildInput) -> Container {
    Container {
        name: "broker".to_owned(),
        image: Some(input.image.clone()),
        image_pull_policy: input.image_pull_policy.clone(),
        command: Some(vec!["rmq-broker".to_owned()]),
        args: Some(vec![
            "--config".to_owned(),
            format!("{CONFIG_DIR}/$(POD_NAME).conf"),
        ]),
        env: Some(vec![field_env("POD_NAME", "metadata.name"), log_env()]),
        ports: Some(vec![
            container_port("remoting", BROKER_PORT),
            container_port("ha", BROKER_PORT + rmq_model::defaults::HA_PORT_OFFSET),
        ]),
        readiness_probe: Some(tcp_probe("remoting", 1, 2, 3)),
        liveness_probe: Some(tcp_probe("remoting", 30, 10, 6)),
        volume_mounts: Some(vec![
            mount("config", CONFIG_DIR, true),
            mount("data", DATA_DIR, false),
        ]),
        ..Container::default()
    }
}

/// The claim template of a broker's data volume (`data-<pod>`).
fn data_claim(
    cluster: &ValidatedCluster,
    labels: BTreeMap<String, String>,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".to_owned()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: cluster.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(cluster.storage_size.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}
