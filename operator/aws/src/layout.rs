//! The desired resources of a cluster (pure): the layout of `cloudformation/README.md`
//! ("Layout: the contract for rmq-aws") computed from the validated `RocketMQCluster`, the
//! [`Params`] and the discovered [`Environment`] (zones, existing VPC, AMI).
//!
//! Keys are stable and say what a resource is: `vpc`, `subnet/private-1`, `nat/2`,
//! `rtb/public`, `sg/broker`, `rules/broker`, `eni/broker-a-0`, `volume/broker-a-0`,
//! `lt/broker-a-0`, `asg/broker-a-0`, `lt/bastion`, `asg/bastion`, `artefacts`.

use crate::params::{Network, Params};
use crate::plan::PlanError;
use crate::resource::{ArtefactFile, Peer, Resource, Rule, Spec, TAG_CF_NODE, TAG_CF_ROLE, Value};
use crate::userdata::{BrokerIdentity, NodeHeader, NodeRole, quotable, user_data};
use network::network;
use rmq_model::desired::{Addressing, Endpoint};
use rmq_model::types::FlushMode;
use rmq_model::{ValidatedCluster, desired_cluster};
use std::collections::BTreeMap;

mod network;

/// Nameserver port.
pub const NAMESRV_PORT: u16 = 9876;
/// Broker port (HA = +1).
pub const BROKER_PORT: u16 = 10911;

/// What discovery learnt about the account that the layout depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// Region.
    pub region: String,
    /// Zones in use, in order (2 or 3).
    pub azs: Vec<String>,
    /// The existing VPC (when `Network::Existing`).
    pub existing_vpc: Option<ExistingVpc>,
    /// The newest Amazon Linux 2023 AMI, when `--ami-id` is not given.
    pub latest_ami: Option<String>,
    /// AMI recorded on existing launch templates, by key (kept so a new AMI release does not
    /// replace every instance; `--ami-id` overrides).
    pub pinned_amis: BTreeMap<String, String>,
    /// The local binaries to upload (with their SHA-256), from `--artefact-dir`.
    pub artefact_files: Vec<ArtefactFile>,
}

/// An existing VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingVpc {
    /// Id.
    pub id: String,
    /// CIDR.
    pub cidr: String,
    /// The private subnets (id, zone), in the order given.
    pub subnets: Vec<(String, String)>,
}

/// Zone index (0-based) of nameserver `i` among `n` zones.
pub fn name_server_zone(i: u32, n: usize) -> usize {
    i as usize % n
}

/// Zone index of broker `replica` of group `group`: members of a group land in different zones
/// and the masters of consecutive groups rotate.
pub fn broker_zone(group: u32, replica: u32, n: usize) -> usize {
    (group + replica) as usize % n
}

struct Placeholder;
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

fn res(key: &str, name: String, component: &str, spec: Spec) -> Resource {
    Resource {
        key: key.into(),
        name,
        component: component.into(),
        extra_tags: BTreeMap::new(),
        spec,
    }
}

fn tcp(from: i32, to: i32, peer: Peer, description: &str) -> Rule {
    Rule {
        protocol: "tcp".into(),
        from,
        to,
        peer,
        description: description.into(),
    }
}

fn group(key: &str) -> Peer {
    Peer::Group(Value::id(key))
}

/// Computes every desired resource, in creation order.
pub fn layout(
    cluster: &ValidatedCluster,
    params: &Params,
    env: &Environment,
) -> Result<Vec<Resource>, Vec<PlanError>> {
    let c = cluster.name.as_str();
    let mut errs = Vec::new();
    let mut out = Vec::new();
    let n = env.azs.len();
    if !(2..=3).contains(&n) {
        errs.push(PlanError::new(
            format!("{n} Availability Zone(s) found for the cluster"),
            "use 2 or 3 zones (--azs/--az-count, or 2-3 --subnet-ids in different zones)",
        ));
        return Err(errs);
    }
    let prefix = params.prefix(c, &cluster.version);
    let artefact_region = params
        .artefact_region
        .clone()
        .unwrap_or_else(|| env.region.clone());
    for (what, v) in [
        ("--log-group", params.log_group.clone().unwrap_or_default()),
        ("--artefact-prefix", prefix.clone()),
    ] {
        if !quotable(&v) {
            errs.push(PlanError::new(
                format!("{what} {v:?} contains a quote or newline"),
                "use plain names",
            ));
        }
    }
    out.push(res(
        "artefacts",
        format!("{c}-artefacts"),
        "artefacts",
        Spec::Artefacts {
            bucket: params.artefact_bucket.clone(),
            prefix: prefix.clone(),
            region: artefact_region.clone(),
            files: env.artefact_files.clone(),
        },
    ));

    // Network.
    let (vpc_cidr, bastion_sg) = match &params.network {
        Network::New {
            cidr, nat_per_az, ..
        } => {
            network(c, cidr, &env.azs, *nat_per_az, &env.region, &mut out)
                .map_err(|m| vec![PlanError::new(m, "fix --vpc-cidr")])?;
            (
                cidr.clone(),
                (params.bastion_count > 0).then(|| Value::id("sg/bastion")),
            )
        }
        Network::Existing {
            bastion_security_group,
            ..
        } => {
            let Some(vpc) = &env.existing_vpc else {
                return Err(vec![PlanError::new(
                    "the existing VPC was not discovered",
                    "check --vpc-id and --subnet-ids",
                )]);
            };
            (
                vpc.cidr.clone(),
                bastion_security_group.clone().map(Value::lit),
            )
        }
    };

    // Security groups and their rules.
    let vpc = Value::id("vpc");
    let anywhere = || Peer::Cidr("0.0.0.0/0".into());
    let mut sgs = vec![
        (
            "clients",
            "rmq clients (attach to producers, consumers and admin hosts)",
        ),
        ("namesrv", "rmq nameservers (9876 from clients and brokers)"),
        (
            "broker",
            "rmq brokers (10911 from clients and brokers, 10912 from brokers)",
        ),
    ];
    let new_bastion = matches!(params.network, Network::New { .. }) && params.bastion_count > 0;
    if new_bastion {
        sgs.insert(
            0,
            (
                "bastion",
                "rmq bastion hosts (SSH in from RemoteAccessCIDR only)",
            ),
        );
    }
    for (name, description) in &sgs {
        out.push(res(
            &format!("sg/{name}"),
            format!("{c}-{name}"),
            "security",
            Spec::SecurityGroup {
                vpc: vpc.clone(),
                name: format!("{c}-{name}"),
                description: (*description).into(),
            },
        ));
    }
    let https = || {
        tcp(
            443,
            443,
            anywhere(),
            "AWS APIs: S3 artefacts, EC2 attach, CloudWatch",
        )
    };
    let ssh = |v: &Value| tcp(22, 22, Peer::Group(v.clone()), "SSH from the bastion only");
    let from_vpc = |port: i32, what: &str| tcp(port, port, Peer::Cidr(vpc_cidr.clone()), what);
    let mut ns_in = vec![
        tcp(
            9876,
            9876,
            group("sg/clients"),
            "route lookups from clients",
        ),
        tcp(9876, 9876, group("sg/broker"), "broker registration"),
    ];
    let mut br_in = vec![
        tcp(
            10911,
            10911,
            group("sg/clients"),
            "send, pull and admin from clients",
        ),
        tcp(
            10911,
            10912,
            group("sg/broker"),
            "slave sync and HA replication between brokers",
        ),
    ];
    if params.allow_clients_from_vpc {
        ns_in.push(from_vpc(9876, "route lookups from the VPC"));
        br_in.push(from_vpc(10911, "send, pull and admin from the VPC"));
    }
    if let Some(b) = &bastion_sg {
        ns_in.push(ssh(b));
        br_in.push(ssh(b));
    }
    let mut rules = vec![
        (
            "clients",
            vec![],
            vec![Rule {
                protocol: "-1".into(),
                from: -1,
                to: -1,
                peer: anywhere(),
                description: "your clients' own traffic".into(),
            }],
        ),
        ("namesrv", ns_in, vec![https()]),
        (
            "broker",
            br_in,
            vec![
                https(),
                tcp(
                    9876,
                    9876,
                    group("sg/namesrv"),
                    "registration with the nameservers",
                ),
                tcp(
                    10911,
                    10912,
                    group("sg/broker"),
                    "slave to master sync and HA replication",
                ),
            ],
        ),
    ];
    if new_bastion {
        let remote = params.remote_access_cidr.clone().unwrap_or_default();
        rules.insert(
            0,
            (
                "bastion",
                vec![tcp(22, 22, Peer::Cidr(remote), "SSH from RemoteAccessCIDR")],
                vec![
                    tcp(
                        22,
                        22,
                        Peer::Cidr(vpc_cidr.clone()),
                        "SSH to hosts in the VPC",
                    ),
                    tcp(443, 443, anywhere(), "package updates over HTTPS"),
                ],
            ),
        );
    }
    for (name, ingress, egress) in rules {
        out.push(res(
            &format!("rules/{name}"),
            format!("{c}-{name}"),
            "security",
            Spec::SecurityGroupRules {
                group: Value::id(format!("sg/{name}")),
                ingress,
                egress,
            },
        ));
    }

    // Bastion.
    let ami_for = |key: &str| {
        params
            .ami_id
            .clone()
            .or_else(|| env.pinned_amis.get(key).cloned())
            .or_else(|| env.latest_ami.clone())
    };
    if new_bastion {
        match ami_for("lt/bastion") {
            Some(ami) => {
                out.push(res(
                    "lt/bastion",
                    format!("{c}-bastion"),
                    "bastion",
                    Spec::LaunchTemplate {
                        name: format!("{c}-bastion"),
                        ami,
                        instance_type: params.bastion_instance_type.clone(),
                        key_pair: params.key_pair.clone(),
                        instance_profile: None,
                        groups: vec![Value::id("sg/bastion")],
                        public_ip: true,
                        root_gib: 10,
                        user_data: None,
                    },
                ));
                out.push(res(
                    "asg/bastion",
                    format!("{c}-bastion"),
                    "bastion",
                    Spec::AutoScalingGroup {
                        name: format!("{c}-bastion"),
                        size: params.bastion_count,
                        subnets: (1..=n)
                            .map(|i| Value::id(format!("subnet/public-{i}")))
                            .collect(),
                        launch_template: Value::id("lt/bastion"),
                        version: Value::version("lt/bastion"),
                        grace_seconds: 300,
                    },
                ));
            }
            None => errs.push(no_ami()),
        }
    }

    // Nodes.
    let desired = desired_cluster(cluster, &Placeholder);
    let namesrv_addr = Value::Concat {
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
    };
    let flush = match cluster.flush {
        FlushMode::Async => "ASYNC_FLUSH",
        FlushMode::Sync => "SYNC_FLUSH",
    };
    let size_gib = i32::try_from(cluster.storage_bytes.div_ceil(1 << 30))
        .unwrap_or(i32::MAX)
        .max(1);
    let volume_type = cluster
        .storage_class
        .clone()
        .unwrap_or_else(|| params.volume_type.clone());
    if !["gp3", "gp2", "io1", "io2"].contains(&volume_type.as_str()) {
        errs.push(PlanError::new(
            format!("spec.brokers.storage.storageClass {volume_type:?} is not an EBS volume type"),
            "use gp3, gp2, io1 or io2 (or leave it out for --volume-type)",
        ));
    }
    let mut nodes: Vec<(String, NodeRole, usize, Option<BrokerIdentity>)> = desired
        .name_servers
        .iter()
        .map(|ns| {
            (
                ns.name.clone(),
                NodeRole::NameServer,
                name_server_zone(ns.index, n),
                None,
            )
        })
        .collect();
    nodes.extend(desired.brokers.iter().map(|b| {
        (
            b.name.clone(),
            NodeRole::Broker,
            broker_zone(b.group_index, b.broker_id, n),
            Some(BrokerIdentity {
                name: b.group.clone(),
                id: b.broker_id,
                role: b.role.as_conf().into(),
                flush: flush.into(),
            }),
        )
    }));
    for (node, role, zone, broker) in nodes {
        let subnet = Value::id(format!("subnet/private-{}", zone + 1));
        let sg = Value::id(format!("sg/{}", role.as_str()));
        let eni = format!("eni/{node}");
        let mut tags = BTreeMap::from([(TAG_CF_NODE.to_owned(), node.clone())]);
        let mut r = res(
            &eni,
            format!("{c}-{node}"),
            role.as_str(),
            Spec::NetworkInterface {
                subnet: subnet.clone(),
                groups: vec![sg.clone()],
                description: format!(
                    "rmq {c} {node}: stable address, re-attached to every replacement instance"
                ),
            },
        );
        r.extra_tags = tags.clone();
        out.push(r);
        tags.insert(TAG_CF_ROLE.to_owned(), role.as_str().to_owned());
        let volume = (role == NodeRole::Broker).then(|| format!("volume/{node}"));
        if let Some(vkey) = &volume {
            let mut r = res(
                vkey,
                format!("{c}-{node}-data"),
                "broker",
                Spec::Volume {
                    az: env.azs[zone].clone(),
                    size_gib,
                    volume_type: volume_type.clone(),
                    iops: matches!(volume_type.as_str(), "gp3" | "io1" | "io2").then_some(3000),
                    throughput: (volume_type == "gp3").then_some(125),
                    kms_key: params.volume_kms_key.clone(),
                },
            );
            r.extra_tags = tags.clone();
            out.push(r);
        }
        let header = NodeHeader {
            cluster: c.to_owned(),
            node: node.clone(),
            role,
            node_ip: Value::ip(&eni),
            eni_id: Value::id(&eni),
            volume_id: volume.as_ref().map(Value::id),
            namesrv_addr: broker.as_ref().map(|_| namesrv_addr.clone()),
            broker,
            bucket: params.artefact_bucket.clone(),
            prefix: prefix.clone(),
            artefact_region: artefact_region.clone(),
            region: env.region.clone(),
            log_group: params.log_group.clone().unwrap_or_default(),
        };
        let lt = format!("lt/{node}");
        let Some(ami) = ami_for(&lt) else {
            errs.push(no_ami());
            break;
        };
        let instance_type = match role {
            NodeRole::NameServer => params.namesrv_instance_type.clone(),
            NodeRole::Broker => params.broker_instance_type.clone(),
        };
        let mut r = res(
            &lt,
            format!("{c}-{node}"),
            role.as_str(),
            Spec::LaunchTemplate {
                name: format!("{c}-{node}"),
                ami,
                instance_type,
                key_pair: params.key_pair.clone(),
                instance_profile: params.instance_profile.clone(),
                groups: vec![sg],
                public_ip: false,
                root_gib: 20,
                user_data: Some(user_data(&header)),
            },
        );
        r.extra_tags = BTreeMap::from([(TAG_CF_NODE.to_owned(), node.clone())]);
        out.push(r);
        let mut r = res(
            &format!("asg/{node}"),
            format!("{c}-{node}"),
            role.as_str(),
            Spec::AutoScalingGroup {
                name: format!("{c}-{node}"),
                size: 1,
                subnets: vec![subnet],
                launch_template: Value::id(&lt),
                version: Value::version(&lt),
                grace_seconds: 900,
            },
        );
        r.extra_tags = tags;
        out.push(r);
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // Stable sort into creation order; within a kind the order above (nameservers first, then
    // brokers group by group, master first) is kept.
    out.sort_by_key(|r| r.kind().rank());
    Ok(out)
}

fn no_ami() -> PlanError {
    PlanError::new(
        "no Amazon Linux 2023 AMI was found in the region",
        "pass --ami-id ami-... (an Amazon Linux 2023 AMI of the instance types' architecture)",
    )
}
