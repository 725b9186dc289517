//! Services: the nameservers' headless Service (per-pod DNS names for `namesrvAddr`), each broker
//! group's headless Service (the StatefulSet's `serviceName`) and one ClusterIP Service per
//! broker, whose DNS name the broker advertises as `brokerIP1`/`brokerIP2`.
//!
//! All of them publish not-ready addresses: a broker registers with the nameservers while it
//! starts, and clients must be able to resolve it as soon as it is registered.

use super::{BROKER_PORT, BuildInput, NAMESRV_PORT, meta, names};
use crate::labels;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn port(name: &str, port: u16) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: i32::from(port),
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

/// Ports of a broker: main (`remoting`) and HA (`ha`).
pub fn broker_ports() -> Vec<ServicePort> {
    vec![
        port("remoting", BROKER_PORT),
        port("ha", BROKER_PORT + rmq_model::defaults::HA_PORT_OFFSET),
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
            ports: Some(vec![port("remoting", NAMESRV_PORT)]),
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

/// The Service of one broker (`<c>-broker-a-0`): selects exactly that pod.
pub fn broker(cluster: &str, group: &str, replica: u32, input: &BuildInput) -> Service {
    let name = names::broker(cluster, group, replica);
    let mut selector = labels::selector(cluster, labels::COMPONENT_BROKER, Some(group));
    selector.insert(labels::STS_POD_NAME.to_owned(), name.clone());
    Service {
        metadata: meta(
            &name,
            input,
            labels::component(cluster, labels::COMPONENT_BROKER, Some(group)),
        ),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector),
            ports: Some(broker_ports()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
