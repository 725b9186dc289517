//! The instances of the layout: the bastion hosts' launch template and group, and for every node
//! (nameservers, then brokers group by group, replica 0 first) its network interface with the
//! fixed address, a broker's data volume, its launch template (with the user data) and its Auto
//! Scaling group of one. With `failover: Automatic` the first nameserver nodes also run the
//! controllers and the brokers are in controller mode (see `failover`).

use super::failover;
use crate::arch::{ARM64, al2023_parameter};
use crate::discovered::Environment;
use crate::error::PlanError;
use crate::params::{Params, VOLUME_TYPES};
use crate::resource::{
    CONTROLLER_BINARY, READY_HOOK_SECONDS, Resource, Spec, TAG_CF_NODE, TAG_CF_ROLE, Value,
};
use crate::secrets;
use crate::userdata::{
    BrokerIdentity, NodeFailover, NodeHeader, NodeRole, NodeSecurity, user_data,
};
use rmq_model::desired::{Addressing, Endpoint};
use rmq_model::types::FlushMode;
use rmq_model::validate::Security;
use rmq_model::{DesiredCluster, ValidatedCluster, desired_cluster};
use std::collections::BTreeMap;

/// Nameserver port.
pub const NAMESRV_PORT: u16 = 9876;
/// Broker port (HA = +1).
pub const BROKER_PORT: u16 = 10911;

/// Zone index (0-based) of nameserver `i` among `n` zones.
pub fn name_server_zone(i: u32, n: usize) -> usize {
    i as usize % n
}

/// Zone index of broker `replica` of group `group`: members of a group land in different zones
/// and the replicas 0 (the fixed masters with `failover: Manual`) of consecutive groups rotate.
pub fn broker_zone(group: u32, replica: u32, n: usize) -> usize {
    (group + replica) as usize % n
}

/// Addresses as the layout knows them before anything exists: a nameserver is named by its
/// interface's key (replaced by that interface's private IP in the user data).
pub(super) struct Placeholder;

impl Addressing for Placeholder {
    fn name_server(&self, _: &ValidatedCluster, index: u32) -> Endpoint {
        Endpoint {
            host: format!("eni/namesrv-{index}"),
            port: NAMESRV_PORT,
        }
    }
    fn broker(&self, _: &ValidatedCluster, _: u32, _: u32) -> Endpoint {
        Endpoint {
            host: String::new(),
            port: BROKER_PORT,
        }
    }
    fn broker_store_dir(&self, _: &ValidatedCluster, _: &str) -> String {
        "/data/rmq/store".into()
    }
}

/// One node as the layout places it.
struct Node {
    /// `namesrv-0`, `broker-a-1`.
    name: String,
    /// What the node runs.
    role: NodeRole,
    /// Index of its zone in [`Environment::azs`].
    zone: usize,
    /// brokerName, brokerId, brokerRole, flushDiskType and retention (brokers only).
    broker: Option<BrokerIdentity>,
    /// Its part in `failover: Automatic` (a broker's controller mode, a nameserver node's
    /// controller); empty otherwise.
    failover: NodeFailover,
}

/// The size and type every broker's data volume gets.
struct DataVolume {
    /// The cluster's storage size, rounded up to whole GiB (at least 1).
    size_gib: i32,
    /// `spec.brokers.storage.storageClass`, else `--volume-type`.
    volume_type: String,
}

/// The error of a launch template without an AMI of `arch`.
fn no_ami(arch: &str) -> PlanError {
    PlanError::new(
        format!(
            "no Amazon Linux 2023 AMI for {arch} was found in the region ({})",
            al2023_parameter(arch)
        ),
        "pass --ami-id ami-... (an Amazon Linux 2023 AMI of the instance types' architecture)",
    )
}

/// The Rust target triple that builds for `arch` (for the fix of a mismatch).
fn target_triple(arch: &str) -> &'static str {
    if arch == ARM64 {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    }
}

/// Tags `rmq:node` (and `rmq:role` when given) of a node's resources.
fn node_tags(node: &Node, with_role: bool) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([(TAG_CF_NODE.to_owned(), node.name.clone())]);
    if with_role {
        tags.insert(TAG_CF_ROLE.to_owned(), node.role.as_str().to_owned());
    }
    tags
}

/// The nodes of `cluster` in layout order: nameservers (controller i on nameserver i), then
/// brokers group by group, replica 0 first.
fn placed(desired: &DesiredCluster, cluster: &ValidatedCluster, env: &Environment) -> Vec<Node> {
    let zones = env.azs.len();
    let flush = match cluster.flush {
        FlushMode::Async => "ASYNC_FLUSH",
        FlushMode::Sync => "SYNC_FLUSH",
    };
    let name_servers = desired.name_servers.iter().map(|ns| Node {
        name: ns.name.clone(),
        role: NodeRole::NameServer,
        zone: name_server_zone(ns.index, zones),
        broker: None,
        failover: desired
            .controllers
            .iter()
            .find(|c| c.index == ns.index)
            .map(|c| failover::controller(c, env))
            .unwrap_or_default(),
    });
    let brokers = desired.brokers.iter().map(|b| Node {
        name: b.name.clone(),
        role: NodeRole::Broker,
        zone: broker_zone(b.group_index, b.broker_id, zones),
        broker: Some(BrokerIdentity {
            name: b.group.clone(),
            id: b.broker_id,
            role: b.role.as_conf().into(),
            flush: flush.into(),
            retention: cluster.retention.clone(),
        }),
        failover: failover::broker(b),
    });
    name_servers.chain(brokers).collect()
}

/// `namesrvAddr` of the brokers: every nameserver interface's private IP with the port.
fn namesrv_addr(desired: &DesiredCluster) -> Value {
    Value::Concat {
        concat: desired
            .name_servers
            .iter()
            .enumerate()
            .flat_map(|(i, ns)| {
                let sep = if i == 0 { "" } else { ";" };
                [
                    Value::lit(sep),
                    Value::ip(format!("eni/{}", ns.name)),
                    Value::lit(format!(":{NAMESRV_PORT}")),
                ]
            })
            .collect(),
    }
}

/// `spec.security` on a node of `role`: its conf keys, as rmq-model renders them for every
/// back-end (secrets under `/etc/rmq-secrets/<name>`), and the secrets' files it fetches.
fn node_security(security: &Security, role: NodeRole) -> NodeSecurity {
    let dir = |name: &str| Placeholder.secret_dir(name);
    let conf = match role {
        NodeRole::Broker => security.broker_lines(&dir),
        NodeRole::NameServer => security.namesrv_lines(&dir),
    };
    let files: Vec<String> = secrets::node_files(security, role)
        .iter()
        .map(secrets::SecretFile::item)
        .collect();
    let script_sha256 = if files.is_empty() {
        String::new()
    } else {
        secrets::node_script().sha256
    };
    NodeSecurity {
        conf,
        files,
        script_sha256,
    }
}

/// What every instance of the cluster is made from.
pub(super) struct Nodes<'a> {
    /// The cluster being laid out.
    pub(super) cluster: &'a ValidatedCluster,
    /// The AWS parameters.
    pub(super) params: &'a Params,
    /// Zones, region and AMIs found by discovery.
    pub(super) env: &'a Environment,
    /// The artefact key prefix the nodes download from.
    pub(super) prefix: &'a str,
    /// The region of the artefact bucket.
    pub(super) artefact_region: &'a str,
}

impl Nodes<'_> {
    /// The AMI of launch template `key` for `instance_type`: `--ami-id` (refused when EC2
    /// describes it as another architecture), else the AMI the template already has (unless it
    /// is of another architecture: the instance type changed), else the newest one of the
    /// instance type's architecture.
    fn ami_for(&self, key: &str, instance_type: &str) -> Result<String, PlanError> {
        let arch = self.env.arch_of(instance_type);
        let arch_of_ami = |ami: &str| self.env.ami_archs.get(ami);
        if let Some(ami) = &self.params.ami_id {
            return match arch_of_ami(ami) {
                Some(a) if a != arch => Err(PlanError::new(
                    format!(
                        "--ami-id {ami} is an {a} image, but {instance_type} ({key}) runs {arch}"
                    ),
                    "give an AMI of the instance types' architecture, or leave --ami-id out",
                )),
                _ => Ok(ami.clone()),
            };
        }
        if let Some(pinned) = self.env.pinned_amis.get(key)
            && arch_of_ami(pinned).is_none_or(|a| a == arch)
        {
            return Ok(pinned.clone());
        }
        self.env
            .latest_amis
            .get(arch)
            .cloned()
            .ok_or_else(|| no_ami(arch))
    }

    /// The instance type of a node of `role`.
    fn instance_type(&self, role: NodeRole) -> &str {
        match role {
            NodeRole::NameServer => &self.params.namesrv_instance_type,
            NodeRole::Broker => &self.params.broker_instance_type,
        }
    }

    /// Every binary whose build architecture is known must be that of the instances that run
    /// it (rmq-namesrv and rmq-controller on the nameserver type, rmq-broker on the broker
    /// type).
    pub(super) fn check_binaries(&self, errs: &mut Vec<PlanError>) {
        let mut runs = vec![
            (
                "rmq-namesrv",
                "--namesrv-instance-type",
                NodeRole::NameServer,
            ),
            ("rmq-broker", "--broker-instance-type", NodeRole::Broker),
        ];
        if self.cluster.failover.is_some() {
            runs.push((
                CONTROLLER_BINARY,
                "--namesrv-instance-type",
                NodeRole::NameServer,
            ));
        }
        for (binary, flag, role) in runs {
            let Some(built) = self.env.binary_archs.get(binary).filter(|a| !a.is_empty()) else {
                continue;
            };
            let itype = self.instance_type(role);
            let want = self.env.arch_of(itype);
            if built != want {
                errs.push(PlanError::new(
                    format!("{binary} is built for {built}, but {flag} {itype} runs {want}: the nodes could not start it"),
                    format!(
                        "build it for {want} (cargo build --release --target {}) or choose {flag} of the binary's architecture",
                        target_triple(want)
                    ),
                ));
            }
        }
    }

    /// The bastion hosts' launch template and group (public subnets, public IPs).
    pub(super) fn bastion(&self, out: &mut Vec<Resource>, errs: &mut Vec<PlanError>) {
        let ami = match self.ami_for("lt/bastion", &self.params.bastion_instance_type) {
            Ok(ami) => ami,
            Err(e) => {
                errs.push(e);
                return;
            }
        };
        let c = &self.cluster.name;
        let spec = Spec::LaunchTemplate {
            name: format!("{c}-bastion"),
            ami,
            instance_type: self.params.bastion_instance_type.clone(),
            key_pair: self.params.key_pair.clone(),
            instance_profile: None,
            groups: vec![Value::id("sg/bastion")],
            public_ip: true,
            root_gib: 10,
            user_data: None,
        };
        out.push(Resource::new(
            "lt/bastion",
            format!("{c}-bastion"),
            "bastion",
            spec,
        ));
        let spec = Spec::AutoScalingGroup {
            name: format!("{c}-bastion"),
            size: self.params.bastion_count,
            subnets: (1..=self.env.azs.len())
                .map(|i| Value::id(format!("subnet/public-{i}")))
                .collect(),
            launch_template: Value::id("lt/bastion"),
            version: Value::version("lt/bastion"),
            grace_seconds: 300,
            ready_hook_seconds: None,
        };
        out.push(Resource::new(
            "asg/bastion",
            format!("{c}-bastion"),
            "bastion",
            spec,
        ));
    }

    /// The resources of every node; stops at the first node without an AMI.
    pub(super) fn nodes(&self, out: &mut Vec<Resource>, errs: &mut Vec<PlanError>) {
        let desired = desired_cluster(self.cluster, &Placeholder);
        let namesrv_addr = namesrv_addr(&desired);
        let volume = self.data_volume(errs);
        for node in placed(&desired, self.cluster, self.env) {
            if let Err(e) = self.node(&node, &namesrv_addr, &volume, out) {
                errs.push(e);
                break;
            }
        }
    }

    /// The data volume of the brokers; an error when the storage class is no EBS type.
    fn data_volume(&self, errs: &mut Vec<PlanError>) -> DataVolume {
        let size_gib = i32::try_from(self.cluster.storage_bytes.div_ceil(1 << 30))
            .unwrap_or(i32::MAX)
            .max(1);
        let volume_type = self
            .cluster
            .storage_class
            .clone()
            .unwrap_or_else(|| self.params.volume_type.clone());
        if !VOLUME_TYPES.contains(&volume_type.as_str()) {
            errs.push(PlanError::new(
                format!(
                    "spec.brokers.storage.storageClass {volume_type:?} is not an EBS volume type"
                ),
                "use gp3, gp2, io1 or io2 (or leave it out for --volume-type)",
            ));
        }
        DataVolume {
            size_gib,
            volume_type,
        }
    }

    /// Interface, data volume (brokers), launch template and group of `node`; an error when
    /// there is no AMI for its launch template.
    fn node(
        &self,
        node: &Node,
        namesrv_addr: &Value,
        volume: &DataVolume,
        out: &mut Vec<Resource>,
    ) -> Result<(), PlanError> {
        let eni = format!("eni/{}", node.name);
        out.push(self.interface(node, &eni));
        let volume_key = (node.role == NodeRole::Broker).then(|| format!("volume/{}", node.name));
        if let Some(key) = &volume_key {
            out.push(self.volume(node, key, volume));
        }
        let header = self.header(node, &eni, volume_key.as_deref(), namesrv_addr);
        let lt = format!("lt/{}", node.name);
        let ami = self.ami_for(&lt, self.instance_type(node.role))?;
        out.push(self.launch_template(node, &lt, ami, &header));
        out.push(self.group(node, &lt));
        Ok(())
    }

    /// The node's network interface in its zone's private subnet: its fixed address.
    fn interface(&self, node: &Node, key: &str) -> Resource {
        let (c, name) = (&self.cluster.name, &node.name);
        let spec = Spec::NetworkInterface {
            subnet: Value::id(format!("subnet/private-{}", node.zone + 1)),
            groups: vec![Value::id(format!("sg/{}", node.role.as_str()))],
            description: format!(
                "rmq {c} {name}: stable address, re-attached to every replacement instance"
            ),
        };
        Resource::new(key, format!("{c}-{name}"), node.role.as_str(), spec)
            .with_tags(node_tags(node, false))
    }

    /// A broker's encrypted data volume in its zone.
    fn volume(&self, node: &Node, key: &str, volume: &DataVolume) -> Resource {
        let volume_type = volume.volume_type.as_str();
        let spec = Spec::Volume {
            az: self.env.azs[node.zone].clone(),
            size_gib: volume.size_gib,
            volume_type: volume_type.to_owned(),
            iops: matches!(volume_type, "gp3" | "io1" | "io2").then_some(3000),
            throughput: (volume_type == "gp3").then_some(125),
            kms_key: self.params.volume_kms_key.clone(),
        };
        let name = format!("{}-{}-data", self.cluster.name, node.name);
        Resource::new(key, name, "broker", spec).with_tags(node_tags(node, true))
    }

    /// The header of the node's user data.
    fn header(
        &self,
        node: &Node,
        eni: &str,
        volume: Option<&str>,
        namesrv_addr: &Value,
    ) -> NodeHeader {
        NodeHeader {
            cluster: self.cluster.name.clone(),
            node: node.name.clone(),
            role: node.role,
            node_ip: Value::ip(eni),
            eni_id: Value::id(eni),
            volume_id: volume.map(Value::id),
            namesrv_addr: node.broker.as_ref().map(|_| namesrv_addr.clone()),
            broker: node.broker.clone(),
            bucket: self.params.artefact_bucket.clone(),
            prefix: self.prefix.to_owned(),
            artefact_region: self.artefact_region.to_owned(),
            binary_sha256: self.env.binary_sha256(node.role.binary()),
            region: self.env.region.clone(),
            log_group: self.params.log_group.clone().unwrap_or_default(),
            security: node_security(&self.cluster.security, node.role),
            failover: node.failover.clone(),
        }
    }

    /// The node's launch template: its instance type, AMI, role's group and user data.
    fn launch_template(
        &self,
        node: &Node,
        key: &str,
        ami: String,
        header: &NodeHeader,
    ) -> Resource {
        let name = format!("{}-{}", self.cluster.name, node.name);
        let instance_type = self.instance_type(node.role).to_owned();
        let spec = Spec::LaunchTemplate {
            name: name.clone(),
            ami,
            instance_type,
            key_pair: self.params.key_pair.clone(),
            instance_profile: self.params.instance_profile.clone(),
            groups: vec![Value::id(format!("sg/{}", node.role.as_str()))],
            public_ip: false,
            root_gib: 20,
            user_data: Some(user_data(header)),
        };
        Resource::new(key, name, node.role.as_str(), spec).with_tags(node_tags(node, false))
    }

    /// The node's Auto Scaling group of one, in its zone's private subnet.
    fn group(&self, node: &Node, lt: &str) -> Resource {
        let name = format!("{}-{}", self.cluster.name, node.name);
        let spec = Spec::AutoScalingGroup {
            name: name.clone(),
            size: 1,
            subnets: vec![Value::id(format!("subnet/private-{}", node.zone + 1))],
            launch_template: Value::id(lt),
            version: Value::version(lt),
            grace_seconds: 900,
            ready_hook_seconds: Some(READY_HOOK_SECONDS),
        };
        Resource::new(format!("asg/{}", node.name), name, node.role.as_str(), spec)
            .with_tags(node_tags(node, true))
    }
}
