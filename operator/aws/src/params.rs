//! AWS parameters of a cluster that the `RocketMQCluster` spec does not carry (region, network,
//! bastion, instance types, artefacts), their defaults, and their validation. Every error names
//! the flag and the fix.

use crate::resource::BINARIES;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// EBS volume types a broker's data volume may have.
pub const VOLUME_TYPES: [&str; 4] = ["gp3", "gp2", "io1", "io2"];

/// `ConsumerLagAlarmThreshold`'s default in the cluster template.
pub const DEFAULT_CONSUMER_LAG_ALARM: i64 = 10_000;
/// `ReplicationLagAlarmBytes`'s default in the cluster template (64 MiB).
pub const DEFAULT_REPLICATION_LAG_ALARM_BYTES: i64 = 64 * 1024 * 1024;

/// Where to connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// The region every client talks to (`--region`).
    pub region: String,
    /// Endpoint override (`--endpoint-url`, e.g. a moto_server); the instance metadata service is
    /// never used when it is set.
    pub endpoint_url: Option<String>,
    /// Turn SDK retries off (tests: a moto crash shows at once instead of after 3 attempts).
    pub no_retries: bool,
}

/// The network the cluster goes into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Network {
    /// A new VPC.
    New {
        /// VPC CIDR (/16 to /24); subnets are carved as in the templates.
        cidr: String,
        /// Zones by name; empty = the first `az_count` available zones of the region.
        azs: Vec<String>,
        /// Zones to use when `azs` is empty (2 or 3).
        az_count: usize,
        /// One NAT gateway per zone (else one in zone 1).
        nat_per_az: bool,
    },
    /// An existing VPC and one private subnet per zone (2 or 3, subnet i in zone i).
    Existing {
        /// The VPC's id (`--vpc-id`).
        vpc_id: String,
        /// One private subnet per zone, in zone order (`--subnet-ids`).
        subnet_ids: Vec<String>,
        /// Security group of existing bastion hosts allowed to SSH to the nodes.
        bastion_security_group: Option<String>,
    },
}

/// Everything `rmqctl aws` needs besides the cluster spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Params {
    /// Value of the `rmq:stack` tag (the IAM policy's scope); defaults to the cluster name.
    pub stack_id: Option<String>,
    /// A new VPC or an existing one.
    pub network: Network,
    /// Bastion hosts (new VPC only); 0 for none.
    pub bastion_count: i32,
    /// Key pair for SSH (bastion and nodes).
    pub key_pair: Option<String>,
    /// The only CIDR allowed to SSH to the bastion.
    pub remote_access_cidr: Option<String>,
    /// Open 9876/10911 to the whole VPC CIDR (else only to the clients security group).
    pub allow_clients_from_vpc: bool,
    /// Instance type of the nameservers.
    pub namesrv_instance_type: String,
    /// Instance type of the brokers.
    pub broker_instance_type: String,
    /// Instance type of the bastion hosts.
    pub bastion_instance_type: String,
    /// AMI of every instance; the newest Amazon Linux 2023 (x86_64) when absent.
    pub ami_id: Option<String>,
    /// Instance profile (name or ARN) of the node role; see [`crate::iam::node_policy`].
    pub instance_profile: Option<String>,
    /// Artefact bucket (created and tagged when it does not exist).
    pub artefact_bucket: String,
    /// Key prefix of the binaries; defaults to `rmq/<cluster>/<version>/`.
    pub artefact_prefix: Option<String>,
    /// Region of the artefact bucket; the cluster's region when absent.
    pub artefact_region: Option<String>,
    /// Directory holding `rmq-namesrv` and `rmq-broker` to upload; none = already uploaded.
    pub artefact_dir: Option<PathBuf>,
    /// EBS type of the data volumes when `spec.brokers.storage.storageClass` is absent.
    pub volume_type: String,
    /// KMS key of the data volumes; the account's default EBS key when absent.
    pub volume_kms_key: Option<String>,
    /// CloudWatch Logs group the nodes ship logs to (must exist); none = no shipping. The
    /// nodes' metrics reach CloudWatch through it too (embedded metric format), so the alarms
    /// and the dashboard are created only with it (see [`Params::monitoring`]).
    pub log_group: Option<String>,
    /// SNS topic the alarms notify (`AlarmTopicARN` of the template); none = no actions.
    pub alarm_topic_arn: Option<String>,
    /// Messages a consumer group may be behind on a topic before the lag alarm fires
    /// (`ConsumerLagAlarmThreshold`).
    pub consumer_lag_alarm_threshold: i64,
    /// Bytes the slaves of a group may be behind their master before the replication alarm
    /// fires (`ReplicationLagAlarmBytes`).
    pub replication_lag_alarm_bytes: i64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            stack_id: None,
            network: Network::New {
                cidr: "10.0.0.0/16".into(),
                azs: Vec::new(),
                az_count: 2,
                nat_per_az: true,
            },
            bastion_count: 1,
            key_pair: None,
            remote_access_cidr: None,
            allow_clients_from_vpc: false,
            namesrv_instance_type: "t3.medium".into(),
            broker_instance_type: "m6i.large".into(),
            bastion_instance_type: "t3.micro".into(),
            ami_id: None,
            instance_profile: None,
            artefact_bucket: String::new(),
            artefact_prefix: None,
            artefact_region: None,
            artefact_dir: None,
            volume_type: "gp3".into(),
            volume_kms_key: None,
            log_group: None,
            alarm_topic_arn: None,
            consumer_lag_alarm_threshold: DEFAULT_CONSUMER_LAG_ALARM,
            replication_lag_alarm_bytes: DEFAULT_REPLICATION_LAG_ALARM_BYTES,
        }
    }
}

/// A bad parameter: which flag, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{flag}: {message} (fix: {fix})")]
pub struct ParamError {
    /// Flag, e.g. `--subnet-ids`.
    pub flag: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

fn err(flag: &str, message: impl Into<String>, fix: impl Into<String>) -> ParamError {
    ParamError {
        flag: flag.into(),
        message: message.into(),
        fix: fix.into(),
    }
}

impl Params {
    /// The `rmq:stack` value for `cluster`.
    pub fn stack(&self, cluster: &str) -> String {
        self.stack_id.clone().unwrap_or_else(|| cluster.to_owned())
    }

    /// The artefact key prefix for `cluster` at `version` (empty or ending with `/`).
    pub fn prefix(&self, cluster: &str, version: &str) -> String {
        let p = self
            .artefact_prefix
            .clone()
            .unwrap_or_else(|| format!("rmq/{cluster}/{version}/"));
        let p = p.trim_start_matches('/');
        if p.is_empty() || p.ends_with('/') {
            p.to_owned()
        } else {
            format!("{p}/")
        }
    }

    /// The key prefix under which everything `cluster` uploads lives, whatever its version:
    /// `rmq/<cluster>/` by default, else `--artefact-prefix` (what destroy empties, and only of
    /// the cluster's own objects).
    pub fn artefact_root(&self, cluster: &str) -> String {
        match &self.artefact_prefix {
            None => format!("rmq/{cluster}/"),
            Some(_) => self.prefix(cluster, ""),
        }
    }

    /// True when the cluster gets its CloudWatch alarms and dashboard: with `--log-group`, the
    /// only case in which the nodes' CloudWatch agent runs and publishes the metrics they read.
    pub fn monitoring(&self) -> bool {
        self.log_group.as_deref().is_some_and(|g| !g.is_empty())
    }

    /// Checks every parameter; returns all problems.
    pub fn validate(&self) -> Result<(), Vec<ParamError>> {
        let mut e = Vec::new();
        match &self.network {
            Network::New {
                cidr,
                azs,
                az_count,
                ..
            } => self.check_new_vpc(cidr, azs, *az_count, &mut e),
            Network::Existing {
                vpc_id, subnet_ids, ..
            } => self.check_existing_vpc(vpc_id, subnet_ids, &mut e),
        }
        if !(0..=4).contains(&self.bastion_count) {
            e.push(err(
                "--bastion-count",
                format!("{}", self.bastion_count),
                "use 0 to 4 bastion hosts",
            ));
        }
        self.check_artefacts(&mut e);
        self.check_instances(&mut e);
        self.check_alarms(&mut e);
        if e.is_empty() { Ok(()) } else { Err(e) }
    }

    /// A new VPC: its block, its zones and, with a bastion, how SSH reaches it.
    fn check_new_vpc(&self, cidr: &str, azs: &[String], az_count: usize, e: &mut Vec<ParamError>) {
        if let Err(m) = parse_cidr(cidr).and_then(|(_, len)| vpc_prefix(len)) {
            e.push(err(
                "--vpc-cidr",
                format!("{cidr:?}: {m}"),
                "give an IPv4 CIDR between /16 and /24, e.g. 10.0.0.0/16",
            ));
        }
        let n = if azs.is_empty() { az_count } else { azs.len() };
        if !(2..=3).contains(&n) {
            let flag = if azs.is_empty() {
                "--az-count"
            } else {
                "--azs"
            };
            e.push(err(
                flag,
                format!("{n} zone(s)"),
                "use 2 or 3 Availability Zones",
            ));
        }
        if self.bastion_count > 0 {
            self.check_bastion_access(e);
        }
    }

    /// A bastion needs a key pair and the one CIDR allowed to SSH to it (not the internet).
    fn check_bastion_access(&self, e: &mut Vec<ParamError>) {
        if self.key_pair.as_deref().unwrap_or("").is_empty() {
            e.push(err(
                "--key-pair",
                "a bastion needs an EC2 key pair",
                "pass --key-pair NAME, or --bastion-count 0 for no bastion",
            ));
        }
        let (message, fix) = match self.remote_access_cidr.as_deref() {
            None | Some("") => (
                "a bastion needs the CIDR allowed to SSH to it".to_owned(),
                "pass e.g. --remote-access-cidr 203.0.113.4/32, or --bastion-count 0",
            ),
            Some(c) => match parse_cidr(c) {
                Err(m) => (
                    format!("{c:?}: {m}"),
                    "give an IPv4 CIDR such as 203.0.113.4/32",
                ),
                Ok(_) if c.ends_with("/0") => (
                    "0.0.0.0/0 would open SSH to the internet".to_owned(),
                    "give your own address, e.g. 203.0.113.4/32",
                ),
                Ok(_) => return,
            },
        };
        e.push(err("--remote-access-cidr", message, fix));
    }

    /// An existing VPC: ids that look like ids, 2 or 3 subnets, no bastion of ours.
    fn check_existing_vpc(&self, vpc_id: &str, subnet_ids: &[String], e: &mut Vec<ParamError>) {
        if !vpc_id.starts_with("vpc-") {
            e.push(err(
                "--vpc-id",
                format!("{vpc_id:?} is not a VPC id"),
                "give the id of an existing VPC, e.g. vpc-0abc...",
            ));
        }
        if !(2..=3).contains(&subnet_ids.len()) {
            e.push(err(
                "--subnet-ids",
                format!("{} subnet(s) given", subnet_ids.len()),
                "give 2 or 3 private subnets of the VPC, one per zone, comma-separated",
            ));
        }
        if let Some(bad) = subnet_ids.iter().find(|s| !s.starts_with("subnet-")) {
            e.push(err(
                "--subnet-ids",
                format!("{bad:?} is not a subnet id"),
                "give subnet ids such as subnet-0abc...",
            ));
        }
        if self.bastion_count > 0 {
            e.push(err(
                "--bastion-count",
                "bastion hosts are created only in a new VPC",
                "pass --bastion-count 0 and --bastion-security-group SG of your bastion",
            ));
        }
    }

    /// The artefact bucket's name, the key prefix and the directory to upload from.
    fn check_artefacts(&self, e: &mut Vec<ParamError>) {
        if !valid_bucket(&self.artefact_bucket) {
            e.push(err(
                "--artefact-bucket",
                format!("{:?} is not a valid S3 bucket name", self.artefact_bucket),
                "use 3-63 lowercase letters, digits, dots and hyphens",
            ));
        }
        if let Some(p) = &self.artefact_prefix
            && (p.contains('\'') || p.contains(' '))
        {
            e.push(err(
                "--artefact-prefix",
                format!("{p:?} contains a quote or a space"),
                "use a plain key prefix such as rmq/0.1.0/",
            ));
        }
        let Some(dir) = &self.artefact_dir else {
            return;
        };
        for bin in BINARIES {
            if !dir.join(bin).is_file() {
                e.push(err(
                    "--artefact-dir",
                    format!("{} does not exist", dir.join(bin).display()),
                    "point it at a directory holding rmq-namesrv and rmq-broker (cargo build --release)",
                ));
            }
        }
    }

    /// Instance types, the data volumes' type and the AMI.
    fn check_instances(&self, e: &mut Vec<ParamError>) {
        for (flag, v) in [
            ("--namesrv-instance-type", &self.namesrv_instance_type),
            ("--broker-instance-type", &self.broker_instance_type),
            ("--bastion-instance-type", &self.bastion_instance_type),
        ] {
            if !v.contains('.') || v.contains(char::is_whitespace) {
                e.push(err(
                    flag,
                    format!("{v:?} is not an instance type"),
                    "give an EC2 instance type such as m6i.large",
                ));
            }
        }
        if !VOLUME_TYPES.contains(&self.volume_type.as_str()) {
            e.push(err(
                "--volume-type",
                format!("{:?}", self.volume_type),
                "use gp3, gp2, io1 or io2",
            ));
        }
        if let Some(a) = &self.ami_id
            && !a.starts_with("ami-")
        {
            e.push(err(
                "--ami-id",
                format!("{a:?} is not an AMI id"),
                "give an AMI id such as ami-0abc... (Amazon Linux 2023)",
            ));
        }
    }

    /// The alarms' thresholds and topic, as the template's parameters constrain them.
    fn check_alarms(&self, e: &mut Vec<ParamError>) {
        for (flag, v) in [
            (
                "--consumer-lag-alarm-threshold",
                self.consumer_lag_alarm_threshold,
            ),
            (
                "--replication-lag-alarm-bytes",
                self.replication_lag_alarm_bytes,
            ),
        ] {
            if v < 1 {
                e.push(err(flag, format!("{v}"), "give a number of at least 1"));
            }
        }
        let Some(arn) = &self.alarm_topic_arn else {
            return;
        };
        if !(arn.starts_with("arn:") && arn.split(':').nth(2) == Some("sns")) {
            e.push(err(
                "--alarm-topic-arn",
                format!("{arn:?} is not an SNS topic ARN"),
                "give a topic ARN such as arn:aws:sns:eu-west-1:123456789012:rmq-alarms",
            ));
        } else if !self.monitoring() {
            e.push(err(
                "--alarm-topic-arn",
                "alarms are created only with --log-group (the nodes' metrics reach CloudWatch through it)",
                "pass --log-group NAME too, or leave --alarm-topic-arn out",
            ));
        }
    }
}

/// A VPC block is /16 to /24 (the templates carve /n+3 and /n+4 subnets out of it).
fn vpc_prefix(len: u8) -> Result<(), String> {
    if (16..=24).contains(&len) {
        Ok(())
    } else {
        Err(format!("prefix /{len} is outside /16../24"))
    }
}

/// Parses `a.b.c.d/n`.
pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| "missing /prefix".to_owned())?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| format!("{ip:?} is not IPv4"))?;
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("bad prefix length {len:?}"))?;
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    if u32::from(ip) & !mask != 0 {
        return Err(format!(
            "host bits set (network is {})",
            Ipv4Addr::from(u32::from(ip) & mask)
        ));
    }
    Ok((ip, len))
}

/// The subnets of a new VPC as the templates lay them out: private `/n+3` blocks 0, 1, 2 and
/// public `/n+4` blocks 8, 9, 10 (10.0.0.0/16 gives 10.0.0.0/19, 10.0.32.0/19, 10.0.64.0/19 and
/// 10.0.128.0/20, 10.0.144.0/20, 10.0.160.0/20).
pub fn subnet_cidrs(vpc_cidr: &str, zones: usize) -> Result<(Vec<String>, Vec<String>), String> {
    let (ip, len) = parse_cidr(vpc_cidr)?;
    vpc_prefix(len)?;
    let base = u32::from(ip);
    let block = |plen: u8, i: u32| {
        let size = 1u32 << (32 - u32::from(plen));
        format!("{}/{plen}", Ipv4Addr::from(base + i * size))
    };
    let private = (0..zones as u32).map(|i| block(len + 3, i)).collect();
    let public = (0..zones as u32).map(|i| block(len + 4, 8 + i)).collect();
    Ok((private, public))
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn subnets_match_the_templates() {
        let (private, public) = subnet_cidrs("10.0.0.0/16", 3).unwrap();
        assert_eq!(private, ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]);
        assert_eq!(public, ["10.0.128.0/20", "10.0.144.0/20", "10.0.160.0/20"]);
        let (private, public) = subnet_cidrs("172.16.0.0/20", 2).unwrap();
        assert_eq!(private, ["172.16.0.0/23", "172.16.2.0/23"]);
        assert_eq!(public, ["172.16.8.0/24", "172.16.9.0/24"]);
    }

    #[test]
    fn bad_parameters_name_the_flag_and_the_fix() {
        let p = Params {
            network: Network::New {
                cidr: "10.0.0.1/16".into(),
                azs: vec![],
                az_count: 4,
                nat_per_az: true,
            },
            artefact_bucket: "Bad_Bucket".into(),
            remote_access_cidr: Some("0.0.0.0/0".into()),
            ..Params::default()
        };
        let errs = p.validate().unwrap_err();
        let flags: Vec<&str> = errs.iter().map(|e| e.flag.as_str()).collect();
        assert_eq!(
            flags,
            [
                "--vpc-cidr",
                "--az-count",
                "--key-pair",
                "--remote-access-cidr",
                "--artefact-bucket"
            ]
        );
        assert!(errs[0].to_string().contains("host bits set"), "{}", errs[0]);
        assert!(errs[2].to_string().contains("fix: pass --key-pair"));
    }

    #[test]
    fn existing_vpc_needs_two_or_three_subnets() {
        let p = Params {
            network: Network::Existing {
                vpc_id: "vpc-1".into(),
                subnet_ids: vec!["subnet-1".into()],
                bastion_security_group: None,
            },
            bastion_count: 0,
            artefact_bucket: "bucket".into(),
            ..Params::default()
        };
        let errs = p.validate().unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].flag, "--subnet-ids");
    }

    #[test]
    fn prefix_defaults_and_normalises() {
        let mut p = Params::default();
        assert_eq!(p.prefix("demo", "0.1.0"), "rmq/demo/0.1.0/");
        p.artefact_prefix = Some("/x/y".into());
        assert_eq!(p.prefix("demo", "0.1.0"), "x/y/");
        p.artefact_prefix = Some(String::new());
        assert_eq!(p.prefix("demo", "0.1.0"), "");
    }
}
