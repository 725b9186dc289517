//! Build: the pure half of the cluster pipeline. A [`ValidatedCluster`] (and the owner reference
//! of its CR) in, every Kubernetes object the cluster needs out, as
//! [`KubernetesResources<Prepared>`]. No client, no I/O: unit tests feed YAML fixtures through
//! `validate` and this module and assert on the objects.
//!
//! # Objects of a cluster `<c>` in its namespace
//! | object | name | why |
//! |---|---|---|
//! | headless Service | `<c>-namesrv` | stable DNS per nameserver pod: `<c>-namesrv-<i>.<c>-namesrv.<ns>.svc` is what brokers get in `namesrvAddr` (never pod IPs) |
//! | StatefulSet | `<c>-namesrv` | the nameservers (emptyDir for the KV store) |
//! | PDB | `<c>-namesrv` | at most one nameserver disrupted at a time |
//! | ConfigMap | `<c>-namesrv` | the nameservers' `namesrv.conf` (ACL and TLS keys), only with `spec.security` |
//! | ConfigMap | `<c>-broker-a` ... | the rendered `broker.conf` of every broker of the group, key `<pod>.conf` |
//! | headless Service | `<c>-broker-a` ... | the group StatefulSet's `serviceName` |
//! | Service per broker | `<c>-broker-a-0` ... | the broker's advertised address (`brokerIP1`): stable across restarts and rescheduling, and the place to hang external access later |
//! | StatefulSet per group | `<c>-broker-a` ... | master and slaves of one group, see [`statefulset`] for the design |
//! | PDB per group | `<c>-broker-a` ... | at most one broker of a group disrupted at a time |
//! | StatefulSet, headless Service, ConfigMap, PDB | `<c>-controller` | with `failover: Automatic`: the controller replicas, see [`controller`] |
//! | PodMonitor, PrometheusRule | `<c>` | when `spec.monitoring` asks: see [`monitoring`] (applied by `cluster::monitoring`) |
//!
//! Every object carries the labels of [`crate::labels`] and a controller owner reference to the
//! cluster, so deleting the cluster lets the garbage collector remove them.

pub mod configmap;
pub mod controller;
pub mod monitoring;
pub mod pdb;
pub mod placement;
pub mod secrets;
pub mod security;
pub mod service;
pub mod statefulset;
pub mod template_merge;

use crate::labels;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;
use rmq_model::desired::{Addressing, Endpoint, group_name};
use rmq_model::types::ListenerType;
use rmq_model::validate::broker_node_port;
use rmq_model::{DesiredCluster, ValidatedCluster, desired_cluster};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// The port every nameserver pod listens on.
pub const NAMESRV_PORT: u16 = rmq_model::defaults::NAME_SERVER_PORT;
/// Broker main port (HA is +1).
pub const BROKER_PORT: u16 = rmq_model::defaults::BROKER_PORT;
/// Where the broker data volume is mounted.
pub const DATA_DIR: &str = "/var/lib/rmq";
/// Where the broker's ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/rmq";

/// Typestate: objects built, not yet applied.
#[derive(Debug)]
pub struct Prepared;
/// Typestate: objects as the API server returned them after apply.
#[derive(Debug)]
pub struct Applied;

/// Every object of a cluster. `apply` takes `<Prepared>` and returns `<Applied>`, and `status`
/// takes `<Applied>`, so the type system proves that status derives from applied objects.
#[derive(Debug)]
pub struct KubernetesResources<S> {
    /// ConfigMaps (broker.conf per group).
    pub config_maps: Vec<ConfigMap>,
    /// Services (headless and per broker).
    pub services: Vec<Service>,
    /// PodDisruptionBudgets (one disruption at a time per StatefulSet).
    pub pdbs: Vec<PodDisruptionBudget>,
    /// StatefulSets (nameservers first, then broker groups in order).
    pub stateful_sets: Vec<StatefulSet>,
    /// [`Prepared`] or [`Applied`]; no data.
    pub state: PhantomData<S>,
}

impl<S> KubernetesResources<S> {
    /// Reassembles resources in another state (apply uses it).
    pub fn new(
        config_maps: Vec<ConfigMap>,
        services: Vec<Service>,
        pdbs: Vec<PodDisruptionBudget>,
        stateful_sets: Vec<StatefulSet>,
    ) -> Self {
        Self {
            config_maps,
            services,
            pdbs,
            stateful_sets,
            state: PhantomData,
        }
    }
}

/// What build needs besides the validated spec.
#[derive(Debug, Clone)]
pub struct BuildInput {
    /// Controller owner reference to the `RocketMQCluster`.
    pub owner: OwnerReference,
    /// Namespace of the cluster.
    pub namespace: String,
    /// Container image of every pod.
    pub image: String,
    /// Image pull policy, if set.
    pub image_pull_policy: Option<String>,
    /// DNS suffix after `svc` (`cluster.local`), if any.
    pub cluster_domain: Option<String>,
    /// Load balancer addresses observed on the brokers' external Services, by broker pod name
    /// (LoadBalancer listener; empty otherwise or before provisioning).
    pub external_hosts: BTreeMap<String, String>,
}

/// Object names of a cluster.
pub mod names {
    /// Nameserver StatefulSet, headless Service and PDB.
    pub fn namesrv(cluster: &str) -> String {
        format!("{cluster}-namesrv")
    }
    /// A broker group's StatefulSet, headless Service, ConfigMap and PDB.
    pub fn group(cluster: &str, group: &str) -> String {
        format!("{cluster}-{group}")
    }
    /// A broker pod and its Service (`<c>-broker-a-0`).
    pub fn broker(cluster: &str, group: &str, replica: u32) -> String {
        format!("{cluster}-{group}-{replica}")
    }
    /// The controllers' StatefulSet, headless Service, ConfigMap and PDB.
    pub fn controller(cluster: &str) -> String {
        format!("{cluster}-controller")
    }
    /// Controller pod `index` (`<c>-controller-0`).
    pub fn controller_pod(cluster: &str, index: u32) -> String {
        format!("{cluster}-controller-{index}")
    }
}

/// How the Kubernetes back-end addresses nodes: stable Service DNS names, never pod IPs; with an
/// external listener, brokers advertise their external address to clients and keep the Service
/// DNS name for replication.
#[derive(Debug, Clone)]
pub struct K8sAddressing {
    /// The cluster's namespace (part of every Service DNS name).
    pub namespace: String,
    /// DNS suffix after `svc`, if any.
    pub cluster_domain: Option<String>,
    /// Load balancer addresses already provisioned, by broker pod name (LoadBalancer listener).
    pub external_hosts: BTreeMap<String, String>,
}

impl K8sAddressing {
    fn suffix(&self) -> String {
        match &self.cluster_domain {
            Some(d) if !d.is_empty() => format!("{}.svc.{d}", self.namespace),
            _ => format!("{}.svc", self.namespace),
        }
    }

    fn internal_host(&self, cluster: &ValidatedCluster, group: u32, replica: u32) -> String {
        let name = names::broker(&cluster.name, &group_name(group), replica);
        format!("{name}.{}", self.suffix())
    }
}

impl Addressing for K8sAddressing {
    fn name_server(&self, cluster: &ValidatedCluster, index: u32) -> Endpoint {
        let svc = names::namesrv(&cluster.name);
        Endpoint {
            host: format!("{svc}-{index}.{svc}.{}", self.suffix()),
            port: NAMESRV_PORT,
        }
    }

    /// Internal: the Service DNS name and 10911. NodePort: the broker listens on its node port
    /// (its container gets `--broker-ip1 $(HOST_IP)`, so it advertises its node). LoadBalancer:
    /// the load balancer's address once provisioned, the Service DNS name until then.
    fn broker(&self, cluster: &ValidatedCluster, group: u32, replica: u32) -> Endpoint {
        let internal = self.internal_host(cluster, group, replica);
        let pod = names::broker(&cluster.name, &group_name(group), replica);
        match cluster.listener.kind {
            ListenerType::Internal => Endpoint {
                host: internal,
                port: BROKER_PORT,
            },
            ListenerType::NodePort => Endpoint {
                host: internal,
                port: broker_node_port(
                    &cluster.listener,
                    group * cluster.replicas_per_group + replica,
                ),
            },
            ListenerType::LoadBalancer => Endpoint {
                host: self.external_hosts.get(&pod).cloned().unwrap_or(internal),
                port: BROKER_PORT,
            },
        }
    }

    fn broker_ha_host(&self, cluster: &ValidatedCluster, group: u32, replica: u32) -> String {
        self.internal_host(cluster, group, replica)
    }

    fn broker_store_dir(&self, _cluster: &ValidatedCluster, _node: &str) -> String {
        format!("{DATA_DIR}/store")
    }

    /// The controller pod's stable name under the headless Service `<c>-controller`.
    fn controller(&self, cluster: &ValidatedCluster, index: u32) -> Endpoint {
        let svc = names::controller(&cluster.name);
        Endpoint {
            host: format!("{svc}-{index}.{svc}.{}", self.suffix()),
            port: rmq_model::defaults::CONTROLLER_PORT,
        }
    }

    fn controller_store_dir(&self, _cluster: &ValidatedCluster, _node: &str) -> String {
        format!("{DATA_DIR}/store")
    }
}

/// The desired nodes of `cluster` as this back-end places them.
pub fn desired(cluster: &ValidatedCluster, input: &BuildInput) -> DesiredCluster {
    let addressing = K8sAddressing {
        namespace: input.namespace.clone(),
        cluster_domain: input.cluster_domain.clone(),
        external_hosts: input.external_hosts.clone(),
    };
    desired_cluster(cluster, &addressing)
}

/// Object metadata: name, namespace, labels, the owner reference.
pub fn meta(name: &str, input: &BuildInput, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(input.namespace.clone()),
        labels: Some(labels),
        owner_references: Some(vec![input.owner.clone()]),
        ..ObjectMeta::default()
    }
}

/// Builds every object of `cluster`. Pure.
pub fn build(cluster: &ValidatedCluster, input: &BuildInput) -> KubernetesResources<Prepared> {
    let desired = desired(cluster, input);
    let c = &cluster.name;
    let mut config_maps = Vec::new();
    if statefulset::has_namesrv_conf(cluster) {
        config_maps.push(configmap::namesrv(c, &desired.namesrv_conf, input));
    }
    let mut services = vec![service::namesrv_headless(c, input)];
    services.extend(service::namesrv_external(cluster, input));
    let mut pdbs = vec![pdb::pdb(
        &names::namesrv(c),
        input,
        labels::COMPONENT_NAMESRV,
        None,
    )];
    let mut stateful_sets = vec![statefulset::namesrv(cluster, input)];
    if let Some(failover) = &cluster.failover {
        config_maps.push(controller::config_map(c, &desired.controllers, input));
        services.push(controller::headless(c, input));
        pdbs.push(pdb::pdb(
            &names::controller(c),
            input,
            labels::COMPONENT_CONTROLLER,
            None,
        ));
        stateful_sets.push(controller::stateful_set(
            c,
            failover,
            &desired.controllers,
            input,
        ));
    }
    for group in desired.group_names() {
        let nodes: Vec<_> = desired
            .brokers
            .iter()
            .filter(|b| b.group == group)
            .collect();
        let cm = configmap::broker_group(c, &group, &nodes, input);
        services.push(service::group_headless(c, &group, input));
        for node in &nodes {
            services.push(service::broker(c, node, input));
            if let Some(external) = service::broker_external(cluster, node, input) {
                services.push(external);
            }
        }
        pdbs.push(pdb::pdb(
            &names::group(c, &group),
            input,
            labels::COMPONENT_BROKER,
            Some(&group),
        ));
        stateful_sets.push(statefulset::broker_group(cluster, &group, input));
        config_maps.push(cm);
    }
    KubernetesResources::new(config_maps, services, pdbs, stateful_sets)
}

/// The image of a cluster: `spec.image`, else the default image with its tag replaced by
/// `spec.version` when that is set, else the default image.
pub fn image(spec_image: Option<&str>, spec_version: Option<&str>, default_image: &str) -> String {
    if let Some(i) = spec_image {
        return i.to_owned();
    }
    match spec_version {
        Some(v) => {
            let repo = match default_image.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => repo,
                _ => default_image,
            };
            format!("{repo}:{v}")
        }
        None => default_image.to_owned(),
    }
}
