//! External access, observed: the addresses that only exist once Kubernetes has placed pods or
//! provisioned load balancers. They go two ways:
//! - into the next build ([`BuildInput::external_hosts`](super::build::BuildInput)): a broker
//!   behind a LoadBalancer advertises the balancer's address once it has one (its broker.conf
//!   changes, which rolls it once);
//! - into `status`: `externalNameServerAddress` (what a client outside puts in `namesrvAddr`)
//!   and `externalBrokerAddresses` (each broker's advertised external `host:port`).
//!
//! NodePort: any node forwards a node port, and each broker advertises the IP of the node it
//! runs on (`status.hostIP`), so the addresses are the nodes' IPs with the node ports.

use super::build::names;
use super::build::service::external_name;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use rmq_model::types::ListenerType;
use rmq_model::{DesiredCluster, ValidatedCluster};
use std::collections::{BTreeMap, BTreeSet};

/// The first ingress address (hostname, else IP) of a provisioned load balancer.
pub fn ingress_host(svc: &Service) -> Option<String> {
    let ingress = svc
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?;
    ingress
        .iter()
        .find_map(|i| i.hostname.clone().or_else(|| i.ip.clone()))
        .filter(|h| !h.is_empty())
}

/// Load balancer hosts of the brokers' external Services, by broker pod name.
pub fn broker_lb_hosts(services: &[Service]) -> BTreeMap<String, String> {
    services
        .iter()
        .filter_map(|s| {
            let name = s.name_any();
            let pod = name.strip_suffix("-external")?.to_owned();
            ingress_host(s).map(|h| (pod, h))
        })
        .collect()
}

/// What `status` says about external access (both empty with the Internal listener).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalStatus {
    /// `host:port;host:port` of the nameservers from outside, if known yet.
    pub name_server_address: Option<String>,
    /// Each broker's external `host:port`, by pod name, once known.
    pub brokers: BTreeMap<String, String>,
}

/// The external addresses of `cluster`: from its pods (`hostIP`, NodePort) or its external
/// Services' load balancers (LoadBalancer).
pub fn status(
    cluster: &ValidatedCluster,
    desired: &DesiredCluster,
    pods: &[Pod],
    services: &[Service],
) -> ExternalStatus {
    let c = &cluster.name;
    let host_ip = |pod: &str| {
        pods.iter()
            .find(|p| p.name_any() == pod)
            .and_then(|p| p.status.as_ref()?.host_ip.clone())
    };
    let mut out = ExternalStatus::default();
    match cluster.listener.kind {
        ListenerType::Internal => {}
        ListenerType::NodePort => {
            let nodes: BTreeSet<String> = (0..cluster.name_servers)
                .filter_map(|i| host_ip(&format!("{}-{i}", names::namesrv(c))))
                .collect();
            let port = cluster.listener.node_port_base;
            let addrs: Vec<String> = nodes.iter().map(|n| format!("{n}:{port}")).collect();
            out.name_server_address = (!addrs.is_empty()).then(|| addrs.join(";"));
            for b in &desired.brokers {
                let pod = names::broker(c, &b.group, b.broker_id);
                if let Some(ip) = host_ip(&pod) {
                    out.brokers.insert(pod, format!("{ip}:{}", b.endpoint.port));
                }
            }
        }
        ListenerType::LoadBalancer => {
            let ns_svc = external_name(&names::namesrv(c));
            out.name_server_address = services
                .iter()
                .find(|s| s.name_any() == ns_svc)
                .and_then(ingress_host)
                .map(|h| format!("{h}:{}", rmq_model::defaults::NAME_SERVER_PORT));
            for (pod, host) in broker_lb_hosts(services) {
                out.brokers
                    .insert(pod, format!("{host}:{}", rmq_model::defaults::BROKER_PORT));
            }
        }
    }
    out
}
