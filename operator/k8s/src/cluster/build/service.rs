//! Services: the nameservers' headless Service (per-pod DNS names for `namesrvAddr`), each broker
//! group's headless Service (the StatefulSet's `serviceName`) and one ClusterIP Service per
//! broker, whose DNS name the broker advertises as `brokerIP1`/`brokerIP2`.
//!
//! With an external listener (`spec.listener`), a `<name>-external` Service of type NodePort
//! or LoadBalancer per broker and one for the nameservers (external Services publish only ready
//! endpoints: clients outside have no reason to reach a starting node).
//!
//! All the in-cluster ones publish not-ready addresses: a broker registers with the nameservers while it
//! starts, and clients must be able to resolve it as soon as it is registered.

use super::{BROKER_PORT, BuildInput, NAMESRV_PORT, meta, names};
use crate::labels;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use rmq_model::defaults::HTTP_PORT_OFFSET;
use rmq_model::types::ListenerType;
use rmq_model::{BrokerNode, ValidatedCluster};
use std::collections::BTreeMap;

fn port(name: &str, port: u16) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: i32::from(port),
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

/// Ports of a broker: main (`remoting`), HA (`ha`) and operations (`http`: `/metrics`,
/// `/readyz`).
pub fn broker_ports() -> Vec<ServicePort> {
    vec![
        port("remoting", BROKER_PORT),
        port("ha", BROKER_PORT + rmq_model::defaults::HA_PORT_OFFSET),
        port("http", BROKER_PORT + HTTP_PORT_OFFSET),
    ]
}

/// The nameservers' headless Service.
pub fn namesrv_headless(cluster: &str, input: &BuildInput) -> Service {
    Service {
        metadata: meta(
            &names::namesrv(cluster),
            input,
            labels::component(cluster, labels::COMPONENT_NAMESRV, None),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(labels::selector(cluster, labels::COMPONENT_NAMESRV, None)),
            ports: Some(vec![
                port("remoting", NAMESRV_PORT),
                port("http", NAMESRV_PORT + HTTP_PORT_OFFSET),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// A broker group's headless Service.
pub fn group_headless(cluster: &str, group: &str, input: &BuildInput) -> Service {
    Service {
        metadata: meta(
            &names::group(cluster, group),
            input,
            labels::component(cluster, labels::COMPONENT_BROKER, Some(group)),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(labels::selector(
                cluster,
                labels::COMPONENT_BROKER,
                Some(group),
            )),
            ports: Some(broker_ports()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn numbered(name: &str, port: u16) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: i32::from(port),
        target_port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

fn broker_selector(cluster: &str, node: &BrokerNode) -> BTreeMap<String, String> {
    let name = names::broker(cluster, &node.group, node.broker_id);
    let mut selector = labels::selector(cluster, labels::COMPONENT_BROKER, Some(&node.group));
    selector.insert(labels::STS_POD_NAME.to_owned(), name);
    selector
}

/// The in-cluster Service of one broker (`<c>-broker-a-0`): selects exactly that pod; its DNS
/// name is the broker's `brokerIP2` (and `brokerIP1` with the Internal listener). Ports are the
/// broker's own (with the NodePort listener each broker listens on its node port).
///
/// Ready pods only (no `publishNotReadyAddresses`): a broker that is shutting down leaves the
/// Service as soon as its deletion starts, so a client's new connection is refused at once
/// (and the client retries another broker) instead of reaching a pod whose network is torn
/// down, where the connect hangs until the send times out.
pub fn broker(cluster: &str, node: &BrokerNode, input: &BuildInput) -> Service {
    let name = names::broker(cluster, &node.group, node.broker_id);
    Service {
        metadata: meta(
            &name,
            input,
            labels::component(cluster, labels::COMPONENT_BROKER, Some(&node.group)),
        ),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            publish_not_ready_addresses: Some(false),
            selector: Some(broker_selector(cluster, node)),
            ports: Some(vec![
                numbered("remoting", node.endpoint.port),
                numbered("ha", node.ha_port),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Name of a node's external Service.
pub fn external_name(internal: &str) -> String {
    format!("{internal}-external")
}

fn external_meta(
    name: &str,
    cluster: &ValidatedCluster,
    input: &BuildInput,
    labels: BTreeMap<String, String>,
) -> ObjectMeta {
    let annotations = &cluster.listener.annotations;
    ObjectMeta {
        annotations: (!annotations.is_empty()).then(|| annotations.clone()),
        ..meta(name, input, labels)
    }
}

/// The external Service of one broker (`<c>-broker-a-0-external`): NodePort on the broker's
/// node port, or a LoadBalancer on 10911. `None` with the Internal listener.
pub fn broker_external(
    cluster: &ValidatedCluster,
    node: &BrokerNode,
    input: &BuildInput,
) -> Option<Service> {
    let c = &cluster.name;
    let kind = cluster.listener.kind;
    if kind == ListenerType::Internal {
        return None;
    }
    let mut port = numbered("remoting", node.endpoint.port);
    if kind == ListenerType::NodePort {
        port.node_port = Some(i32::from(node.endpoint.port));
    }
    let name = external_name(&names::broker(c, &node.group, node.broker_id));
    let labels = labels::component(c, labels::COMPONENT_BROKER, Some(&node.group));
    Some(Service {
        metadata: external_meta(&name, cluster, input, labels),
        spec: Some(external_spec(kind, broker_selector(c, node), port)),
        ..Service::default()
    })
}

/// The nameservers' external Service (`<c>-namesrv-external`): NodePort `nodePortBase`, or a
/// LoadBalancer on 9876. `None` with the Internal listener.
pub fn namesrv_external(cluster: &ValidatedCluster, input: &BuildInput) -> Option<Service> {
    let c = &cluster.name;
    let kind = cluster.listener.kind;
    if kind == ListenerType::Internal {
        return None;
    }
    let mut port = port("remoting", NAMESRV_PORT);
    if kind == ListenerType::NodePort {
        port.node_port = Some(cluster.listener.node_port_base);
    }
    let name = external_name(&names::namesrv(c));
    let labels = labels::component(c, labels::COMPONENT_NAMESRV, None);
    let selector = labels::selector(c, labels::COMPONENT_NAMESRV, None);
    Some(Service {
        metadata: external_meta(&name, cluster, input, labels),
        spec: Some(external_spec(kind, selector, port)),
        ..Service::default()
    })
}

fn external_spec(
    kind: ListenerType,
    selector: BTreeMap<String, String>,
    port: ServicePort,
) -> ServiceSpec {
    ServiceSpec {
        type_: Some(
            match kind {
                ListenerType::LoadBalancer => "LoadBalancer",
                _ => "NodePort",
            }
            .to_owned(),
        ),
        selector: Some(selector),
        ports: Some(vec![port]),
        ..ServiceSpec::default()
    }
}
