//! What a finished apply hands to people and clients: the nameserver address list (the fixed
//! private addresses), every node's address, interface, volume and Auto Scaling group, the
//! client security group, the VPC and subnets, the bastion group, the dashboard and the alarms;
//! with `failover: Automatic` the controllers (`controllerAddr`) and the node each runs on.
//! The same names as the CloudFormation outputs where there is one (`NameServerAddresses`,
//! `ClientSecurityGroupID`, `DashboardName`...).

use crate::layout::monitoring::DASHBOARD_KEY;
use crate::layout::{BROKER_PORT, NAMESRV_PORT};
use crate::plan::Plan;
use crate::resource::{Kind, State};
use serde::Serialize;

/// One node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeOutput {
    /// `namesrv-0`, `broker-a-1`.
    pub node: String,
    /// `namesrv` or `broker`.
    pub role: String,
    /// Fixed private address.
    pub address: Option<String>,
    /// `address:port`.
    pub endpoint: Option<String>,
    /// Id of the interface holding the fixed address.
    pub network_interface: Option<String>,
    /// Data volume id (brokers).
    pub data_volume: Option<String>,
    /// Name of the node's Auto Scaling group of one.
    pub auto_scaling_group: Option<String>,
    /// The controller this nameserver node also runs (`controller-0`), if any.
    pub controller: Option<String>,
}

/// Outputs of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    /// The cluster's name (`brokerClusterName` of every broker).
    pub cluster: String,
    /// `namesrvAddr` for clients (`ip:9876;ip:9876`).
    pub name_server_addresses: String,
    /// `controllerAddr` (`ip:9878;...`) of `failover: Automatic`, for admin tools; empty without
    /// controllers.
    pub controller_addresses: String,
    /// Every node, nameservers first, then brokers group by group.
    pub nodes: Vec<NodeOutput>,
    /// Id of the VPC the cluster is in.
    pub vpc_id: Option<String>,
    /// Private subnets, zone by zone.
    pub private_subnets: Vec<String>,
    /// Attach to producers, consumers and admin hosts.
    pub client_security_group: Option<String>,
    /// The bastion hosts' group.
    pub bastion_auto_scaling_group: Option<String>,
    /// The bastion hosts' security group.
    pub bastion_security_group: Option<String>,
    /// `s3://bucket/prefix`.
    pub artefacts: Option<String>,
    /// The cluster's CloudWatch dashboard (`DashboardName`; with `--log-group`).
    pub dashboard: Option<String>,
    /// The names of the cluster's CloudWatch alarms (with `--log-group`).
    pub alarms: Vec<String>,
}

/// The outputs of `plan` given what exists.
pub fn outputs(plan: &Plan, state: &State) -> Outputs {
    let id = |k: &str| state.get(k).map(|a| a.id.clone());
    let mut nodes = Vec::new();
    for r in plan
        .resources
        .iter()
        .filter(|r| r.kind() == Kind::AutoScalingGroup)
    {
        let Some(node) = r.key.strip_prefix("asg/").filter(|n| *n != "bastion") else {
            continue;
        };
        let eni = state.get(&format!("eni/{node}"));
        let address = eni.and_then(|e| e.attrs.get("ip").cloned());
        let port = if r.component == "namesrv" {
            NAMESRV_PORT
        } else {
            BROKER_PORT
        };
        nodes.push(NodeOutput {
            node: node.to_owned(),
            role: r.component.clone(),
            endpoint: address.as_ref().map(|a| format!("{a}:{port}")),
            address,
            network_interface: eni.map(|e| e.id.clone()),
            data_volume: id(&format!("volume/{node}")),
            auto_scaling_group: id(&r.key),
            controller: plan
                .controllers
                .iter()
                .find(|c| c.node == node)
                .map(|c| c.name.clone()),
        });
    }
    let controller_addresses = plan
        .controllers
        .iter()
        .filter_map(|c| {
            let ip = state.get(&format!("eni/{}", c.node))?.attrs.get("ip")?;
            Some(format!("{ip}:{}", c.port))
        })
        .collect::<Vec<_>>()
        .join(";");
    let name_server_addresses = nodes
        .iter()
        .filter(|n| n.role == "namesrv")
        .filter_map(|n| n.endpoint.clone())
        .collect::<Vec<_>>()
        .join(";");
    let artefacts = state.get("artefacts").map(|a| {
        format!(
            "s3://{}/{}",
            a.id,
            a.attrs.get("prefix").cloned().unwrap_or_default()
        )
    });
    Outputs {
        cluster: plan.cluster.clone(),
        name_server_addresses,
        controller_addresses,
        nodes,
        vpc_id: id("vpc"),
        private_subnets: (1..=3)
            .filter_map(|i| id(&format!("subnet/private-{i}")))
            .collect(),
        client_security_group: id("sg/clients"),
        bastion_auto_scaling_group: id("asg/bastion"),
        bastion_security_group: id("sg/bastion"),
        artefacts,
        dashboard: plan.resource(DASHBOARD_KEY).and_then(|_| id(DASHBOARD_KEY)),
        alarms: plan
            .resources
            .iter()
            .filter(|r| r.kind() == Kind::Alarm)
            .filter_map(|r| id(&r.key))
            .collect(),
    }
}
