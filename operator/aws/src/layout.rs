//! The desired resources of a cluster (pure): the layout of `cloudformation/README.md`
//! ("Layout: the contract for rmq-aws") computed from the validated `RocketMQCluster`, the
//! [`Params`] and the discovered [`Environment`] (zones, existing VPC, AMI).
//!
//! Keys are stable and say what a resource is: `vpc`, `subnet/private-1`, `nat/2`,
//! `rtb/public`, `sg/broker`, `rules/broker`, `eni/broker-a-0`, `volume/broker-a-0`,
//! `lt/broker-a-0`, `asg/broker-a-0`, `lt/bastion`, `asg/bastion`, `artefacts`,
//! `alarm/consumer-lag`, `dashboard`.
//!
//! - `network`: the VPC, subnets, NAT gateways, route tables and S3 endpoint of a new VPC.
//! - `security`: the security groups and their rules.
//! - `failover`: `failover: Automatic`: controllers on the first nameserver nodes, brokers in
//!   controller mode; the checks AWS adds.
//! - `nodes`: the bastion hosts and every node's interface, volume, template and group.
//! - `monitoring`: the CloudWatch alarms (`alarm/<what>`) and the dashboard (`dashboard`), with
//!   `--log-group` (the nodes publish their metrics only then).

mod failover;
pub mod monitoring;
mod network;
mod nodes;
mod security;

pub use failover::{CONTROLLER_PORT, ControllerPlacement, controllers};
pub use nodes::{BROKER_PORT, NAMESRV_PORT, broker_zone, name_server_zone};

use crate::discovered::Environment;
use crate::error::PlanError;
use crate::params::{Network, Params};
use crate::resource::{CONTROLLER_BINARY, Resource, Spec, Value};
use crate::secrets;
use crate::userdata::quotable;
use network::NewVpc;
use nodes::Nodes;
use rmq_model::ValidatedCluster;
use security::{Access, groups_and_rules};

/// Computes every desired resource, in creation order.
pub fn layout(
    cluster: &ValidatedCluster,
    params: &Params,
    env: &Environment,
) -> Result<Vec<Resource>, Vec<PlanError>> {
    check_zone_count(env.azs.len())?;
    let c = cluster.name.as_str();
    let prefix = params.prefix(c, &cluster.version);
    let artefact_region = params
        .artefact_region
        .clone()
        .unwrap_or_else(|| env.region.clone());
    let mut errs = unquotable(params, &prefix);
    errs.extend(failover::check(cluster, env));
    let mut out = vec![artefacts(cluster, params, env, &prefix, &artefact_region)];
    let access = network_and_access(cluster, params, env, &mut out)?;
    groups_and_rules(c, &access, &mut out);
    let nodes = Nodes {
        cluster,
        params,
        env,
        prefix: &prefix,
        artefact_region: &artefact_region,
    };
    if access.new_bastion {
        nodes.bastion(&mut out, &mut errs);
    }
    nodes.nodes(&mut out, &mut errs);
    nodes.check_binaries(&mut errs);
    if params.monitoring() {
        monitoring::monitoring(cluster, params, &env.region, &mut out);
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // Stable sort into creation order; within a kind the order above (nameservers first, then
    // brokers group by group, master first) is kept.
    out.sort_by_key(|r| r.kind().rank());
    Ok(out)
}

/// A cluster spans 2 or 3 zones.
fn check_zone_count(n: usize) -> Result<(), Vec<PlanError>> {
    if (2..=3).contains(&n) {
        return Ok(());
    }
    Err(vec![PlanError::new(
        format!("{n} Availability Zone(s) found for the cluster"),
        "use 2 or 3 zones (--azs/--az-count, or 2-3 --subnet-ids in different zones)",
    )])
}

/// The values the user data puts between single quotes must not hold one.
fn unquotable(params: &Params, prefix: &str) -> Vec<PlanError> {
    [
        ("--log-group", params.log_group.clone().unwrap_or_default()),
        ("--artefact-prefix", prefix.to_owned()),
    ]
    .into_iter()
    .filter(|(_, v)| !quotable(v))
    .map(|(what, v)| {
        PlanError::new(
            format!("{what} {v:?} contains a quote or newline"),
            "use plain names",
        )
    })
    .collect()
}

/// The artefact bucket: the binaries of `--artefact-dir` (rmq-controller only with
/// `failover: Automatic`) and, for a cluster with `spec.security`, the node script fetching its
/// secrets.
fn artefacts(
    cluster: &ValidatedCluster,
    params: &Params,
    env: &Environment,
    prefix: &str,
    region: &str,
) -> Resource {
    let c = cluster.name.as_str();
    let mut files = env.artefact_files.clone();
    if cluster.failover.is_none() {
        files.retain(|f| f.name != CONTROLLER_BINARY);
    }
    if !secrets::cluster_files(&cluster.security).is_empty() {
        files.push(secrets::node_script());
    }
    let spec = Spec::Artefacts {
        bucket: params.artefact_bucket.clone(),
        prefix: prefix.to_owned(),
        region: region.to_owned(),
        files,
    };
    Resource::new("artefacts", format!("{c}-artefacts"), "artefacts", spec)
}

/// The resources of a new VPC (none for an existing one), and what the security rules need to
/// know of the network.
fn network_and_access(
    cluster: &ValidatedCluster,
    params: &Params,
    env: &Environment,
    out: &mut Vec<Resource>,
) -> Result<Access, Vec<PlanError>> {
    let c = cluster.name.as_str();
    let (vpc_cidr, bastion) = match &params.network {
        Network::New {
            cidr, nat_per_az, ..
        } => {
            let vpc = NewVpc {
                c,
                cidr: cidr.as_str(),
                azs: &env.azs,
                nat_per_az: *nat_per_az,
                region: &env.region,
            };
            vpc.resources(out)
                .map_err(|m| vec![PlanError::new(m, "fix --vpc-cidr")])?;
            let bastion = (params.bastion_count > 0).then(|| Value::id("sg/bastion"));
            (cidr.clone(), bastion)
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
    Ok(Access {
        vpc_cidr,
        bastion,
        new_bastion: matches!(params.network, Network::New { .. }) && params.bastion_count > 0,
        from_vpc: params.allow_clients_from_vpc,
        remote: params.remote_access_cidr.clone().unwrap_or_default(),
        controllers: cluster.failover.is_some(),
    })
}
