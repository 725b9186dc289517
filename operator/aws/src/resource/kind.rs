//! The kinds of resource a cluster is made of, and their creation order.

use serde::{Deserialize, Serialize};

/// Resource kinds, in creation order ([`Kind::rank`]); deletion runs in reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The artefact bucket and the uploaded binaries.
    Artefacts,
    /// The cluster's own VPC (or an existing one the cluster only uses).
    Vpc,
    /// Internet gateway, attached to the VPC.
    InternetGateway,
    /// A public or private subnet of one zone.
    Subnet,
    /// Elastic IP of a NAT gateway.
    ElasticIp,
    /// NAT gateway giving a zone's private subnet its way out.
    NatGateway,
    /// Route table with its default route and subnet associations.
    RouteTable,
    /// S3 gateway endpoint.
    VpcEndpoint,
    /// Security group (without rules).
    SecurityGroup,
    /// The rules of a security group (a pseudo resource: its hash lives on the group).
    SecurityGroupRules,
    /// A node's network interface with its fixed address.
    NetworkInterface,
    /// A broker's data volume.
    Volume,
    /// The launch template of a node or of the bastion hosts.
    LaunchTemplate,
    /// The Auto Scaling group of one node (size 1) or of the bastion hosts.
    AutoScalingGroup,
    /// A CloudWatch metric alarm on the metrics the nodes publish (namespace `rmq`).
    Alarm,
    /// The cluster's CloudWatch dashboard (it shows the alarms, so it comes after them).
    Dashboard,
}

impl Kind {
    /// Every kind in creation order.
    pub const ALL: [Kind; 16] = [
        Kind::Artefacts,
        Kind::Vpc,
        Kind::InternetGateway,
        Kind::Subnet,
        Kind::ElasticIp,
        Kind::NatGateway,
        Kind::RouteTable,
        Kind::VpcEndpoint,
        Kind::SecurityGroup,
        Kind::SecurityGroupRules,
        Kind::NetworkInterface,
        Kind::Volume,
        Kind::LaunchTemplate,
        Kind::AutoScalingGroup,
        Kind::Alarm,
        Kind::Dashboard,
    ];

    /// Position in creation order; every reference points to a lower rank.
    pub fn rank(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// Short name used in plans and progress lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Artefacts => "artefacts",
            Kind::Vpc => "vpc",
            Kind::InternetGateway => "internet-gateway",
            Kind::Subnet => "subnet",
            Kind::ElasticIp => "elastic-ip",
            Kind::NatGateway => "nat-gateway",
            Kind::RouteTable => "route-table",
            Kind::VpcEndpoint => "vpc-endpoint",
            Kind::SecurityGroup => "security-group",
            Kind::SecurityGroupRules => "security-group-rules",
            Kind::NetworkInterface => "network-interface",
            Kind::Volume => "volume",
            Kind::LaunchTemplate => "launch-template",
            Kind::AutoScalingGroup => "auto-scaling-group",
            Kind::Alarm => "alarm",
            Kind::Dashboard => "dashboard",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
