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

use super::secrets::{self, Role};
use super::{
    BROKER_PORT, BuildInput, CONFIG_DIR, DATA_DIR, NAMESRV_PORT, meta, names, placement, security,
    template_merge,
};
use crate::labels;
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec,
    PodTemplateSpec, Probe, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use rmq_model::ValidatedCluster;
use rmq_model::defaults::HTTP_PORT_OFFSET;
use rmq_model::types::{ListenerType, PodOptions};
use std::collections::BTreeMap;

pub(super) fn field_env(name: &str, path: &str) -> EnvVar {
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

/// The `prometheus.io/*` annotations that Prometheus' Kubernetes pod discovery (and most
/// scrape configs) follow: scrape `/metrics` on `port`. The user's annotations override them.
fn scrape_hints(port: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        ("prometheus.io/port".to_owned(), port.to_string()),
        ("prometheus.io/path".to_owned(), "/metrics".to_owned()),
    ])
}

/// An HTTP GET probe of `path` on the container's `http` port.
fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    let get = HTTPGetAction {
        path: Some(path.to_owned()),
        port: IntOrString::String("http".to_owned()),
        ..HTTPGetAction::default()
    };
    timed_probe(
        Probe {
            http_get: Some(get),
            ..Probe::default()
        },
        period,
        failures,
    )
}

/// `probe` every `period` s with a 3 s timeout, failing after `failures` misses in a row.
pub(super) fn timed_probe(probe: Probe, period: i32, failures: i32) -> Probe {
    Probe {
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(failures),
        ..probe
    }
}

/// The probes of a node: `startupProbe` on `/healthz` (up to 10 minutes to come up),
/// `livenessProbe` on `/healthz` (the process serves; a long store recovery keeps answering it),
/// `readinessProbe` on `ready_path`: a nameserver's `/readyz`; a broker's `/readyz/serving`
/// (store recovered, not shutting down, registered with at least one nameserver — with every
/// one required, a nameserver restart would take all brokers out of their Services at once;
/// `/readyz` itself still says which nameserver is missing).
fn probes(container: Container, ready_path: &str, ready_period: i32) -> Container {
    Container {
        startup_probe: Some(http_probe("/healthz", 5, 120)),
        liveness_probe: Some(http_probe("/healthz", 10, 6)),
        readiness_probe: Some(http_probe(ready_path, ready_period, 2)),
        ..container
    }
}

pub(super) fn container_port(name: &str, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: i32::from(port),
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

pub(super) fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// What a pod template is made of besides the container.
pub(super) struct TemplateParts<'a> {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) annotations: BTreeMap<String, String>,
    /// Annotations the user's may override (e.g. Prometheus scrape hints).
    pub(super) default_annotations: BTreeMap<String, String>,
    /// Labels of the pods this one keeps apart from (its group, or the nameservers).
    pub(super) peers: BTreeMap<String, String>,
    pub(super) volumes: Vec<Volume>,
    pub(super) grace_seconds: i64,
    pub(super) pod: &'a PodOptions,
}

pub(super) fn pod_template(container: Container, parts: TemplateParts<'_>) -> PodTemplateSpec {
    let pod = parts.pod;
    let user = placement::merged(&parts.default_annotations, pod.annotations.clone());
    let annotations = placement::merged(&user, parts.annotations);
    let spec = PodSpec {
        containers: vec![Container {
            security_context: Some(security::container()),
            resources: placement::resources(pod),
            ..container
        }],
        volumes: (!parts.volumes.is_empty()).then_some(parts.volumes),
        termination_grace_period_seconds: Some(parts.grace_seconds),
        enable_service_links: Some(false),
        security_context: Some(security::pod()),
        ..PodSpec::default()
    };
    let generated = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(placement::merged(&pod.labels, parts.labels)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(placement::place(spec, pod, &parts.peers)),
    };
    template_merge::apply(pod.template.as_ref(), generated)
}

pub(super) fn retain() -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some("Retain".to_owned()),
        when_scaled: Some("Retain".to_owned()),
    }
}

/// `RMQ_LOG=info` for the node's log filter.
pub(super) fn log_env() -> EnvVar {
    EnvVar {
        name: "RMQ_LOG".to_owned(),
        value: Some("info".to_owned()),
        ..EnvVar::default()
    }
}

/// What both kinds of StatefulSet share: pods started in parallel and rolled one at a time
/// (highest ordinal first), selected by `selector`, governed by the headless Service `name`.
pub(super) fn set_spec(
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
        args: Some(namesrv_args(cluster)),
        env: Some(vec![log_env()]),
        ports: Some(vec![
            container_port("remoting", NAMESRV_PORT),
            container_port("http", NAMESRV_PORT + HTTP_PORT_OFFSET),
        ]),
        volume_mounts: Some(vec![mount("data", DATA_DIR, false)]),
        ..Container::default()
    };
    let data = Volume {
        name: "data".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    let (container, mut volumes) = with_security(container, cluster, &name, Role::NameServer);
    volumes.insert(0, data);
    let labels_ = labels::component(c, labels::COMPONENT_NAMESRV, None);
    let selector = labels::selector(c, labels::COMPONENT_NAMESRV, None);
    let parts = TemplateParts {
        labels: labels_.clone(),
        annotations: BTreeMap::new(),
        default_annotations: BTreeMap::new(),
        peers: selector.clone(),
        volumes,
        grace_seconds: 30,
        pod: &cluster.name_server_pod,
    };
    let template = pod_template(probes(container, "/readyz", 5), parts);
    StatefulSet {
        metadata: meta(&name, input, labels_),
        spec: Some(set_spec(&name, cluster.name_servers, selector, template)),
        ..StatefulSet::default()
    }
}

/// The nameserver's arguments: port, KV file, and `-c` with the namesrv.conf of
/// `spec.security` when there is one.
fn namesrv_args(cluster: &ValidatedCluster) -> Vec<String> {
    let mut args = vec![
        "--listen-port".to_owned(),
        NAMESRV_PORT.to_string(),
        "--kv-config-path".to_owned(),
        format!("{DATA_DIR}/namesrv/kvConfig.json"),
    ];
    if has_namesrv_conf(cluster) {
        args.extend(["-c".to_owned(), format!("{CONFIG_DIR}/{NAMESRV_CONF_KEY}")]);
    }
    args
}

/// Whether the nameservers get a namesrv.conf (ACL or TLS on).
pub fn has_namesrv_conf(cluster: &ValidatedCluster) -> bool {
    cluster.security.acl.is_some() || cluster.security.tls.is_some()
}

/// The ConfigMap key of the nameservers' namesrv.conf.
pub const NAMESRV_CONF_KEY: &str = "namesrv.conf";

/// `container` with the Secret mounts of `role` and, for nameservers with a namesrv.conf, the
/// ConfigMap `config_map` at [`CONFIG_DIR`]; returns the volumes to add.
fn with_security(
    mut container: Container,
    cluster: &ValidatedCluster,
    config_map: &str,
    role: Role,
) -> (Container, Vec<Volume>) {
    let (mut volumes, secret_mounts) = secrets::volumes(&cluster.security, role);
    let mounts = container.volume_mounts.get_or_insert_with(Vec::new);
    mounts.extend(secret_mounts);
    if role == Role::NameServer && has_namesrv_conf(cluster) {
        mounts.push(mount("config", CONFIG_DIR, true));
        volumes.push(Volume {
            name: "config".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.to_owned(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    (container, volumes)
}

/// The StatefulSet of broker group `group`, with the `OnDelete` update strategy: the
/// operator's roller ([`crate::cluster::roll`]), not the StatefulSet controller, decides when
/// each pod restarts. The template carries no config hash: each broker reports the hash of the
/// `broker.conf` it loaded, so a change for one pod restarts that pod only.
pub fn broker_group(cluster: &ValidatedCluster, group: &str, input: &BuildInput) -> StatefulSet {
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
    let selector = labels::selector(c, labels::COMPONENT_BROKER, Some(group));
    let (secret_volumes, secret_mounts) = secrets::volumes(&cluster.security, Role::Broker);
    let mut container = broker_container(cluster, input);
    container
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .extend(secret_mounts);
    let parts = TemplateParts {
        labels: labels_.clone(),
        annotations: BTreeMap::new(),
        default_annotations: scrape_hints(BROKER_PORT + HTTP_PORT_OFFSET),
        peers: selector.clone(),
        volumes: std::iter::once(config).chain(secret_volumes).collect(),
        grace_seconds: 60,
        pod: &cluster.broker_pod,
    };
    let template = pod_template(
        probes(container, "/readyz/serving", BROKER_READY_PERIOD),
        parts,
    );
    StatefulSet {
        metadata: meta(&name, input, labels_.clone()),
        spec: Some(StatefulSetSpec {
            volume_claim_templates: Some(vec![data_claim(
                &cluster.storage_size,
                cluster.storage_class.clone(),
                labels_,
            )]),
            persistent_volume_claim_retention_policy: Some(retain()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".to_owned()),
                ..StatefulSetUpdateStrategy::default()
            }),
            ..set_spec(&name, cluster.replicas_per_group, selector, template)
        }),
        ..StatefulSet::default()
    }
}

/// The broker container: its own `broker.conf` from the group's ConfigMap (by pod name), the
/// HTTP port fixed at 10918 (probes share one template while NodePort brokers listen on
/// different ports), data on the claim. With the NodePort listener it advertises its node's IP
/// (`--broker-ip1 $(HOST_IP)`, the downward API's `status.hostIP`).
fn broker_container(cluster: &ValidatedCluster, input: &BuildInput) -> Container {
    let mut args = vec![
        "--config".to_owned(),
        format!("{CONFIG_DIR}/$(POD_NAME).conf"),
        "--set".to_owned(),
        format!("httpListenPort={}", BROKER_PORT + HTTP_PORT_OFFSET),
        "--set".to_owned(),
        format!("shutdownUnreadyWaitMillis={SHUTDOWN_UNREADY_WAIT_MILLIS}"),
    ];
    let mut env = vec![field_env("POD_NAME", "metadata.name"), log_env()];
    let mut ports = vec![container_port("http", BROKER_PORT + HTTP_PORT_OFFSET)];
    if cluster.listener.kind == ListenerType::NodePort {
        args.extend(["--broker-ip1".to_owned(), "$(HOST_IP)".to_owned()]);
        env.push(field_env("HOST_IP", "status.hostIP"));
    } else {
        ports.push(container_port("remoting", BROKER_PORT));
        ports.push(container_port(
            "ha",
            BROKER_PORT + rmq_model::defaults::HA_PORT_OFFSET,
        ));
    }
    Container {
        name: "broker".to_owned(),
        image: Some(input.image.clone()),
        image_pull_policy: input.image_pull_policy.clone(),
        command: Some(vec!["rmq-broker".to_owned()]),
        args: Some(args),
        env: Some(env),
        ports: Some(ports),
        volume_mounts: Some(vec![
            mount("config", CONFIG_DIR, true),
            mount("data", DATA_DIR, false),
        ]),
        ..Container::default()
    }
}

/// How long at most a broker stays up after SIGTERM until its readiness probe has seen it not
/// ready twice (broker key `shutdownUnreadyWaitMillis`). A per-broker Service selects one pod,
/// and kube-proxy keeps routing to a terminating pod while its readiness passes (no other
/// endpoint is left); if the broker exited at once, the address would vanish before the
/// Service dropped it and a client's reconnect would hang until its send timed out. Waiting for
/// the probe (period [`BROKER_READY_PERIOD`], 2 failures) keeps the address answering — sends
/// get `SERVICE_NOT_AVAILABLE` and are retried on another broker — until the Service has let go.
pub const SHUTDOWN_UNREADY_WAIT_MILLIS: u64 = 15_000;
/// Readiness probe period of brokers (seconds): short, so a stopping broker leaves its Service
/// within a few seconds.
pub const BROKER_READY_PERIOD: i32 = 2;

/// The claim template of a pod's data volume (`data-<pod>`) of `size` in `class`.
pub(super) fn data_claim(
    size: &str,
    class: Option<String>,
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
            storage_class_name: class,
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(size.to_owned()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}
