//! The resource model: what one AWS resource of a cluster looks like before it exists.
//!
//! A [`Resource`] has a stable logical key (`subnet/private-1`, `eni/broker-a-0`), a
//! [`Spec`] whose fields may refer to other resources ([`Value::Ref`]: "the id of
//! `vpc`", "the private IP of `eni/namesrv-0`", "the latest version of `lt/broker-a-0`") and the
//! tags it carries. References are resolved against the [`State`] (what exists, by key), and the
//! resolved spec is hashed: the hash is stored in the `rmq.dev/hash` tag when the resource has
//! converged, so a later plan compares hashes instead of re-reading every property.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tag naming the cluster every resource belongs to (discovery filters on it).
pub const TAG_CLUSTER: &str = "rmq.dev/cluster";
/// Tag naming the component (`network`, `bastion`, `security`, `namesrv`, `broker`, ...).
pub const TAG_COMPONENT: &str = "rmq.dev/component";
/// Tag holding the logical key of the resource (`subnet/private-1`).
pub const TAG_RESOURCE: &str = "rmq.dev/resource";
/// Tag holding the hash of the resolved spec, written once the resource has converged.
pub const TAG_HASH: &str = "rmq.dev/hash";
/// A launch template version's description: this prefix and the hash of its spec (a version is
/// created whole, so it is converged the moment it exists).
pub const VERSION_HASH_PREFIX: &str = "rmq.dev/hash=";
/// Tag on a security group holding the hash of its converged rules.
pub const TAG_RULES_HASH: &str = "rmq.dev/rules-hash";
/// Tag on a launch template holding the AMI it was made with (kept unless `--ami-id` is given).
pub const TAG_AMI: &str = "rmq.dev/ami";
/// Tags of the CloudFormation layout contract (`cloudformation/README.md`); the node role's IAM
/// policy is scoped to `rmq:stack` (and `rmq:role` for volumes).
pub const TAG_CF_CLUSTER: &str = "rmq:cluster";
/// See [`TAG_CF_CLUSTER`].
pub const TAG_CF_STACK: &str = "rmq:stack";
/// See [`TAG_CF_CLUSTER`].
pub const TAG_CF_NODE: &str = "rmq:node";
/// See [`TAG_CF_CLUSTER`].
pub const TAG_CF_ROLE: &str = "rmq:role";

/// Resource kinds, in creation order ([`Kind::rank`]); deletion runs in reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The artefact bucket and the uploaded binaries.
    Artefacts,
    /// VPC.
    Vpc,
    /// Internet gateway, attached to the VPC.
    InternetGateway,
    /// Subnet.
    Subnet,
    /// Elastic IP of a NAT gateway.
    ElasticIp,
    /// NAT gateway.
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
    /// Launch template.
    LaunchTemplate,
    /// Auto Scaling group.
    AutoScalingGroup,
}

impl Kind {
    /// Every kind in creation order.
    pub const ALL: [Kind; 14] = [
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
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which attribute of another resource a reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attr {
    /// Its id (`vpc-…`, `subnet-…`, allocation id of an EIP, group name of an ASG).
    Id,
    /// The primary private IP of a network interface.
    PrivateIp,
    /// The latest version number of a launch template.
    Version,
}

/// A string known now, or a reference to an attribute of another resource, or a concatenation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A literal.
    Lit(String),
    /// `{"ref": key, "attr": ...}`.
    Ref {
        /// Logical key of the referenced resource.
        #[serde(rename = "ref")]
        key: String,
        /// Attribute.
        attr: Attr,
    },
    /// `{"concat": [...]}`: the parts joined.
    Concat {
        /// Parts.
        concat: Vec<Value>,
    },
}

impl Value {
    /// A literal.
    pub fn lit(s: impl Into<String>) -> Self {
        Value::Lit(s.into())
    }
    /// The id of `key`.
    pub fn id(key: impl Into<String>) -> Self {
        Value::Ref {
            key: key.into(),
            attr: Attr::Id,
        }
    }
    /// The private IP of `key`.
    pub fn ip(key: impl Into<String>) -> Self {
        Value::Ref {
            key: key.into(),
            attr: Attr::PrivateIp,
        }
    }
    /// The latest version of launch template `key`.
    pub fn version(key: impl Into<String>) -> Self {
        Value::Ref {
            key: key.into(),
            attr: Attr::Version,
        }
    }

    /// Resolves against `state`; `None` if a referenced resource or attribute is not known yet.
    pub fn resolve(&self, state: &State) -> Option<String> {
        match self {
            Value::Lit(s) => Some(s.clone()),
            Value::Ref { key, attr } => state.attr(key, *attr),
            Value::Concat { concat } => {
                let mut out = String::new();
                for p in concat {
                    out.push_str(&p.resolve(state)?);
                }
                Some(out)
            }
        }
    }

    /// Keys this value refers to.
    pub fn refs(&self, out: &mut Vec<String>) {
        match self {
            Value::Lit(_) => {}
            Value::Ref { key, .. } => out.push(key.clone()),
            Value::Concat { concat } => concat.iter().for_each(|p| p.refs(out)),
        }
    }
}

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
    /// Peer.
    pub peer: Peer,
    /// Why the rule exists.
    pub description: String,
}

/// One binary to upload to the artefact bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactFile {
    /// Object name under the prefix (`rmq-broker`).
    pub name: String,
    /// Local path.
    pub path: String,
    /// Hex SHA-256 (also published as `<name>.sha256`, checked by the bootstrap).
    pub sha256: String,
}

/// What a resource should look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Spec {
    /// The artefact bucket and the binaries under the prefix.
    Artefacts {
        /// Bucket.
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
        /// CIDR.
        cidr: String,
    },
    /// Internet gateway attached to `vpc`.
    InternetGateway {
        /// VPC.
        vpc: Value,
    },
    /// Subnet.
    Subnet {
        /// VPC.
        vpc: Value,
        /// CIDR.
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
        /// Subnet.
        subnet: Value,
        /// EIP allocation.
        allocation: Value,
    },
    /// Route table, its 0.0.0.0/0 route and subnet associations.
    RouteTable {
        /// VPC.
        vpc: Value,
        /// Default route.
        default_route: RouteTarget,
        /// Associated subnets.
        subnets: Vec<Value>,
    },
    /// S3 gateway endpoint on route tables.
    VpcEndpoint {
        /// VPC.
        vpc: Value,
        /// Service name (`com.amazonaws.<region>.s3`).
        service: String,
        /// Route tables.
        route_tables: Vec<Value>,
    },
    /// Security group (rules are a separate [`Spec::SecurityGroupRules`]).
    SecurityGroup {
        /// VPC.
        vpc: Value,
        /// Group name.
        name: String,
        /// Description.
        description: String,
    },
    /// The complete rule set of a group: missing rules are added, others revoked.
    SecurityGroupRules {
        /// The group.
        group: Value,
        /// Ingress.
        ingress: Vec<Rule>,
        /// Egress.
        egress: Vec<Rule>,
    },
    /// Network interface with an address fixed at creation.
    NetworkInterface {
        /// Subnet.
        subnet: Value,
        /// Security groups.
        groups: Vec<Value>,
        /// Description.
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
    /// Launch template.
    LaunchTemplate {
        /// Template name.
        name: String,
        /// AMI.
        ami: String,
        /// Instance type.
        instance_type: String,
        /// Key pair.
        key_pair: Option<String>,
        /// Instance profile (ARN or name).
        instance_profile: Option<String>,
        /// Security groups.
        groups: Vec<Value>,
        /// Public IP on the primary interface (bastion).
        public_ip: bool,
        /// Root volume GiB (encrypted gp3, deleted with the instance).
        root_gib: i32,
        /// User data (plain text; base64-encoded on the way out).
        user_data: Option<Value>,
    },
    /// Auto Scaling group.
    AutoScalingGroup {
        /// Group name.
        name: String,
        /// Min = max = desired.
        size: i32,
        /// Subnets.
        subnets: Vec<Value>,
        /// Launch template id.
        launch_template: Value,
        /// Launch template version.
        version: Value,
        /// Health check grace period in seconds.
        grace_seconds: i32,
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
        }
    }
}

/// One desired resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    /// Logical key, unique in the cluster.
    pub key: String,
    /// `Name` tag.
    pub name: String,
    /// `rmq.dev/component`.
    pub component: String,
    /// Extra tags (`rmq:node`, `rmq:role`).
    pub extra_tags: BTreeMap<String, String>,
    /// Properties.
    pub spec: Spec,
}

impl Resource {
    /// Kind.
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// Keys of the resources this one refers to.
    pub fn deps(&self) -> Vec<String> {
        let json = serde_json::to_value(&self.spec).unwrap_or_default();
        let mut out = Vec::new();
        collect_refs(&json, &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// The spec with every reference resolved (unknown ones as `<pending KEY ATTR>`), as JSON.
    pub fn resolved(&self, state: &State) -> serde_json::Value {
        let json = serde_json::to_value(&self.spec).unwrap_or_default();
        resolve_json(json, state)
    }

    /// True if every reference resolves.
    pub fn is_resolvable(&self, state: &State) -> bool {
        !self.resolved(state).to_string().contains("<pending ")
    }

    /// The hash of the resolved spec (stored in [`TAG_HASH`]).
    pub fn hash(&self, state: &State) -> String {
        fnv_hex(self.resolved(state).to_string().as_bytes())
    }

    /// Every tag of the resource.
    pub fn tags(&self, cluster: &str, stack: &str) -> Vec<(String, String)> {
        let mut t = vec![
            ("Name".to_owned(), self.name.clone()),
            (TAG_CLUSTER.to_owned(), cluster.to_owned()),
            (TAG_COMPONENT.to_owned(), self.component.clone()),
            (TAG_RESOURCE.to_owned(), self.key.clone()),
            (TAG_CF_CLUSTER.to_owned(), cluster.to_owned()),
            (TAG_CF_STACK.to_owned(), stack.to_owned()),
        ];
        t.extend(self.extra_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        t
    }
}

fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let (Some(serde_json::Value::String(k)), Some(_)) = (m.get("ref"), m.get("attr")) {
                out.push(k.clone());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn resolve_json(v: serde_json::Value, state: &State) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            if (m.contains_key("ref") && m.contains_key("attr")) || m.contains_key("concat") {
                let parsed: Result<Value, _> = serde_json::from_value(serde_json::Value::Object(m));
                return match parsed {
                    Ok(val) => serde_json::Value::String(
                        val.resolve(state).unwrap_or_else(|| pending(&val)),
                    ),
                    Err(e) => serde_json::Value::String(format!("<bad reference {e}>")),
                };
            }
            serde_json::Value::Object(
                m.into_iter()
                    .map(|(k, x)| (k, resolve_json(x, state)))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(|x| resolve_json(x, state)).collect())
        }
        other => other,
    }
}

fn pending(v: &Value) -> String {
    let mut keys = Vec::new();
    v.refs(&mut keys);
    format!("<pending {}>", keys.join(","))
}

/// 64-bit FNV-1a as 16 hex digits: stable across runs and platforms (not for security).
pub fn fnv_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A resource that exists, found by its tags (or just created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actual {
    /// Kind.
    pub kind: Kind,
    /// Logical key (`rmq.dev/resource` tag).
    pub key: String,
    /// AWS id (allocation id for EIPs, group name for ASGs, bucket for artefacts).
    pub id: String,
    /// `rmq.dev/hash` (or the rules hash / artefact hash), if converged.
    pub hash: Option<String>,
    /// Attributes read by discovery (`ip`, `subnet`, `az`, `version`, `ami`, `size`, ...).
    pub attrs: BTreeMap<String, String>,
}

impl Actual {
    /// A fresh record.
    pub fn new(kind: Kind, key: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind,
            key: key.into(),
            id: id.into(),
            hash: None,
            attrs: BTreeMap::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, k: &str, v: impl Into<String>) -> Self {
        self.attrs.insert(k.to_owned(), v.into());
        self
    }
}

/// What exists, by logical key (plus resources referred to from outside, e.g. an existing VPC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct State {
    /// By key.
    pub resources: BTreeMap<String, Actual>,
}

impl State {
    /// Attribute `attr` of `key`.
    pub fn attr(&self, key: &str, attr: Attr) -> Option<String> {
        let r = self.resources.get(key)?;
        match attr {
            Attr::Id => Some(r.id.clone()),
            Attr::PrivateIp => r.attrs.get("ip").cloned(),
            Attr::Version => r.attrs.get("version").cloned(),
        }
    }

    /// Records `a` (replacing what was known under its key).
    pub fn put(&mut self, a: Actual) {
        self.resources.insert(a.key.clone(), a);
    }

    /// Looks up `key`.
    pub fn get(&self, key: &str) -> Option<&Actual> {
        self.resources.get(key)
    }
}

#[cfg(test)]
mod tests;
