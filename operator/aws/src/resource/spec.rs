//! What a resource should look like: one [`Spec`] variant per [`Kind`], with the parts some of
//! them share (route targets, security group rules, artefact files).

use super::kind::Kind;
use super::value::Value;
use serde::{Deserialize, Serialize};

/// Where a route table's default route goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteTarget {
    /// An internet gateway.
    Gateway(Value),
    /// A NAT gateway.
    Nat(Value),
}

/// Source (ingress) or destination (egress) of a security group rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// An IPv4 CIDR.
    Cidr(String),
    /// Another security group.
    Group(Value),
}

/// One TCP rule (protocol `-1` = everything).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// `tcp` or `-1`.
    pub protocol: String,
    /// First port (-1 for all).
    pub from: i32,
    /// Last port (-1 for all).
    pub to: i32,
    /// Where the traffic comes from (ingress) or goes to (egress).
    pub peer: Peer,
    /// Why the rule exists.
    pub description: String,
}

/// One binary to upload to the artefact bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactFile {
    /// Object name under the prefix (`rmq-broker`).
    pub name: String,
    /// Where the binary is read from on this machine.
    pub path: String,
    /// Hex SHA-256 (also published as `<name>.sha256`, checked by the bootstrap).
    pub sha256: String,
    /// The bytes, when rmqctl carries the file itself (the node scripts) instead of reading
    /// `path`.
    #[serde(skip)]
    pub embedded: Option<&'static str>,
}

impl ArtefactFile {
    /// The node script `name` with text `text`, carried by rmqctl.
    pub fn embedded(name: &str, text: &'static str) -> Self {
        Self {
            name: name.to_owned(),
            path: format!("(built into rmqctl: {name})"),
            sha256: crate::secrets::sha256_hex(text.as_bytes()),
            embedded: Some(text),
        }
    }

    /// The file's bytes.
    pub fn bytes(&self) -> std::io::Result<Vec<u8>> {
        match self.embedded {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => std::fs::read(&self.path),
        }
    }
}

/// The launch lifecycle hook of a node's Auto Scaling group (`autoscaling:EC2_INSTANCE_LAUNCHING`):
/// a new instance waits in `Pending:Wait` until a roll completes the action (`CONTINUE`) once
/// the node is ready; a launch nobody completes (the group replacing an unhealthy instance by
/// itself) goes in service when the heartbeat times out (default result `CONTINUE`).
pub const READY_HOOK: &str = "rmq-ready";

/// The heartbeat timeout of [`READY_HOOK`] (seconds): longer than a roll's default readiness
/// timeout (900 s), so the roll decides; the most an unattended launch waits.
pub const READY_HOOK_SECONDS: i32 = 1800;

/// One CloudWatch metric alarm on a metric of namespace `rmq` (what `PutMetricAlarm` takes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSpec {
    /// Alarm name (`rmq-<cluster>-<what>`), unique in the account and region.
    pub name: String,
    /// What the alarm means, shown with every notification.
    pub description: String,
    /// Metric namespace (`rmq`).
    pub namespace: String,
    /// Metric name, as the nodes' CloudWatch agent publishes it.
    pub metric: String,
    /// Dimensions of the metric (name, value): `ClusterName` = the cluster.
    pub dimensions: Vec<(String, String)>,
    /// `Minimum`, `Maximum`, ...
    pub statistic: String,
    /// Seconds per datapoint.
    pub period: i32,
    /// Datapoints that must breach before the alarm fires.
    pub evaluation_periods: i32,
    /// The value compared with the statistic.
    pub threshold: f64,
    /// `LessThanThreshold`, `GreaterThanThreshold`, ...
    pub comparison: String,
    /// `breaching`, `notBreaching`, `missing`, `ignore`.
    pub treat_missing_data: String,
    /// Notified when the alarm fires (an SNS topic ARN, or nothing).
    pub alarm_actions: Vec<String>,
    /// Notified when the alarm returns to OK.
    pub ok_actions: Vec<String>,
}

/// What a resource should look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Spec {
    /// The artefact bucket and the binaries under the prefix.
    Artefacts {
        /// Name of the S3 bucket (`--artefact-bucket`).
        bucket: String,
        /// Key prefix, empty or ending with `/`.
        prefix: String,
        /// Region of the bucket.
        region: String,
        /// Files to upload; empty = they must already be there.
        files: Vec<ArtefactFile>,
    },
    /// VPC with DNS support and hostnames.
    Vpc {
        /// The VPC's IPv4 block (`--vpc-cidr`).
        cidr: String,
    },
    /// Internet gateway attached to `vpc`.
    InternetGateway {
        /// The VPC it is attached to.
        vpc: Value,
    },
    /// A public or private subnet of one zone.
    Subnet {
        /// The VPC the subnet is carved from.
        vpc: Value,
        /// Its block, as the templates carve the VPC's (see `params::subnet_cidrs`).
        cidr: String,
        /// Availability Zone.
        az: String,
        /// Public (map public IPs on launch).
        public: bool,
    },
    /// Elastic IP (VPC).
    ElasticIp,
    /// NAT gateway in a public subnet.
    NatGateway {
        /// The public subnet it sits in.
        subnet: Value,
        /// Allocation id of the Elastic IP it uses.
        allocation: Value,
    },
    /// Route table, its 0.0.0.0/0 route and subnet associations.
    RouteTable {
        /// The VPC the table belongs to.
        vpc: Value,
        /// Where 0.0.0.0/0 goes.
        default_route: RouteTarget,
        /// Subnets explicitly associated with the table (moved here from another table).
        subnets: Vec<Value>,
    },
    /// S3 gateway endpoint on route tables.
    VpcEndpoint {
        /// The VPC the endpoint belongs to.
        vpc: Value,
        /// Service name (`com.amazonaws.<region>.s3`).
        service: String,
        /// The route tables that get a route to S3 through the endpoint.
        route_tables: Vec<Value>,
    },
    /// Security group (rules are a separate [`Spec::SecurityGroupRules`]).
    SecurityGroup {
        /// The VPC the group belongs to.
        vpc: Value,
        /// Group name (`<cluster>-<role>`).
        name: String,
        /// What the group is for, shown in the console (fixed at creation).
        description: String,
    },
    /// The complete rule set of a group: missing rules are added, others revoked.
    SecurityGroupRules {
        /// The group the rules belong to.
        group: Value,
        /// Every inbound rule.
        ingress: Vec<Rule>,
        /// Every outbound rule (EC2's default allow-all is revoked).
        egress: Vec<Rule>,
    },
    /// Network interface with an address fixed at creation.
    NetworkInterface {
        /// The private subnet of the node's zone.
        subnet: Value,
        /// Security groups of the interface.
        groups: Vec<Value>,
        /// What the interface is for, shown in the console.
        description: String,
    },
    /// Encrypted EBS data volume.
    Volume {
        /// Availability Zone.
        az: String,
        /// Size in GiB.
        size_gib: i32,
        /// gp3, gp2, io1, io2.
        volume_type: String,
        /// IOPS (gp3/io1/io2).
        iops: Option<i32>,
        /// Throughput MiB/s (gp3).
        throughput: Option<i32>,
        /// KMS key; the account default when absent.
        kms_key: Option<String>,
    },
    /// What a node's (or the bastion hosts') instances boot with; a change is a new version.
    LaunchTemplate {
        /// Template name (`<cluster>-<node>`).
        name: String,
        /// AMI the instances boot from.
        ami: String,
        /// EC2 instance type (`m6i.large`).
        instance_type: String,
        /// EC2 key pair allowed to SSH in, if any.
        key_pair: Option<String>,
        /// Instance profile (ARN or name).
        instance_profile: Option<String>,
        /// Security groups of the primary interface.
        groups: Vec<Value>,
        /// Public IP on the primary interface (bastion).
        public_ip: bool,
        /// Root volume GiB (encrypted gp3, deleted with the instance).
        root_gib: i32,
        /// User data (plain text; base64-encoded on the way out).
        user_data: Option<Value>,
    },
    /// The Auto Scaling group that keeps a node's instance (or the bastion hosts) running.
    AutoScalingGroup {
        /// Group name (`<cluster>-<node>`, `<cluster>-bastion`).
        name: String,
        /// Min = max = desired.
        size: i32,
        /// Subnets the instances are launched in.
        subnets: Vec<Value>,
        /// The launch template the instances boot with (its id).
        launch_template: Value,
        /// The template's version to launch (its latest).
        version: Value,
        /// Health check grace period in seconds.
        grace_seconds: i32,
        /// With a value: the group's launch lifecycle hook ([`READY_HOOK`]) with this heartbeat
        /// timeout in seconds, so that a new instance counts as in service only once a roll's
        /// readiness gate let it go (node groups); `None` for the bastion hosts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ready_hook_seconds: Option<i32>,
    },
    /// A CloudWatch metric alarm.
    Alarm(AlarmSpec),
    /// The cluster's CloudWatch dashboard: the metric widgets, then a widget of the alarms.
    Dashboard {
        /// Dashboard name (`rmq-<cluster>`): dashboards carry no tags, so the name (and a
        /// marker in the body) is how discovery finds it.
        name: String,
        /// The metric widgets (CloudWatch dashboard body widgets), in order.
        widgets: Vec<serde_json::Value>,
        /// The ARNs of the alarms the alarm widget shows.
        alarms: Vec<Value>,
    },
}

impl Spec {
    /// The kind this spec describes.
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Artefacts { .. } => Kind::Artefacts,
            Spec::Vpc { .. } => Kind::Vpc,
            Spec::InternetGateway { .. } => Kind::InternetGateway,
            Spec::Subnet { .. } => Kind::Subnet,
            Spec::ElasticIp => Kind::ElasticIp,
            Spec::NatGateway { .. } => Kind::NatGateway,
            Spec::RouteTable { .. } => Kind::RouteTable,
            Spec::VpcEndpoint { .. } => Kind::VpcEndpoint,
            Spec::SecurityGroup { .. } => Kind::SecurityGroup,
            Spec::SecurityGroupRules { .. } => Kind::SecurityGroupRules,
            Spec::NetworkInterface { .. } => Kind::NetworkInterface,
            Spec::Volume { .. } => Kind::Volume,
            Spec::LaunchTemplate { .. } => Kind::LaunchTemplate,
            Spec::AutoScalingGroup { .. } => Kind::AutoScalingGroup,
            Spec::Alarm(_) => Kind::Alarm,
            Spec::Dashboard { .. } => Kind::Dashboard,
        }
    }
}
