//! The resources tagged for a cluster: one Describe call per resource type, filtered on the
//! `rmq.dev/cluster` tag, each result recorded under its `rmq.dev/resource` key with the
//! attributes the plan compares (CIDR, zone, address, size, template version, group sizes).

use crate::client::Aws;
use crate::discovered::Discovered;
use crate::error::{Result, aws as sdk_err};
use crate::resource::{
    Actual, Kind, TAG_AMI, TAG_CLUSTER, TAG_HASH, TAG_RESOURCE, TAG_RULES_HASH, VERSION_HASH_PREFIX,
};
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{Filter, Tag};

/// Every item of the paginated EC2 Describe call `$call`, filtered on cluster `$cluster`'s tag.
macro_rules! list {
    ($ec2:expr, $cluster:expr, $call:ident, $what:literal) => {
        $ec2.$call()
            .filters(cluster_filter($cluster))
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| sdk_err($what, e))?
    };
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn cluster_filter(cluster: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{TAG_CLUSTER}"))
        .values(cluster)
        .build()
}

/// Records a resource tagged for `cluster` under its key (a second copy goes to `duplicates`).
/// The Describe calls already filter on the cluster tag, but not every endpoint honours every
/// filter (moto ignores tag filters on NAT gateways), and destroy must never see another
/// cluster's resources: so the tag is checked here again.
pub(super) fn record(
    found: &mut Discovered,
    cluster: &str,
    kind: Kind,
    id: &str,
    tags: &[Tag],
    attrs: &[(&str, Option<&str>)],
) {
    if tag(tags, TAG_CLUSTER) != Some(cluster) {
        return;
    }
    let key = tag(tags, TAG_RESOURCE)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("untracked/{id}"));
    let mut a = Actual::new(kind, key, id);
    a.hash = tag(tags, TAG_HASH).map(str::to_owned);
    for (k, v) in attrs {
        if let Some(v) = v {
            a.attrs.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    if found.state.get(&a.key).is_some() {
        found.duplicates.push(a);
    } else {
        found.state.put(a);
    }
}

/// Records every resource tagged for `cluster`, kind by kind in creation order.
pub(super) async fn tagged(aws: &Aws, cluster: &str, found: &mut Discovered) -> Result<()> {
    let ec2 = &aws.ec2;
    vpcs(ec2, cluster, found).await?;
    internet_gateways(ec2, cluster, found).await?;
    subnets(ec2, cluster, found).await?;
    elastic_ips(ec2, cluster, found).await?;
    nat_gateways(ec2, cluster, found).await?;
    route_tables(ec2, cluster, found).await?;
    vpc_endpoints(ec2, cluster, found).await?;
    security_groups(ec2, cluster, found).await?;
    network_interfaces(ec2, cluster, found).await?;
    volumes(ec2, cluster, found).await?;
    launch_templates(ec2, cluster, found).await?;
    auto_scaling_groups(aws, cluster, found).await
}

async fn vpcs(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for v in list!(ec2, cluster, describe_vpcs, "DescribeVpcs") {
        let id = v.vpc_id().unwrap_or_default();
        record(
            found,
            cluster,
            Kind::Vpc,
            id,
            v.tags(),
            &[("cidr", v.cidr_block())],
        );
    }
    Ok(())
}

/// Internet gateways with the VPC they are attached to.
async fn internet_gateways(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for g in list!(
        ec2,
        cluster,
        describe_internet_gateways,
        "DescribeInternetGateways"
    ) {
        let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
        let id = g.internet_gateway_id().unwrap_or_default();
        record(
            found,
            cluster,
            Kind::InternetGateway,
            id,
            g.tags(),
            &[("vpc", vpc)],
        );
    }
    Ok(())
}

async fn subnets(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for s in list!(ec2, cluster, describe_subnets, "DescribeSubnets") {
        let attrs = [("cidr", s.cidr_block()), ("az", s.availability_zone())];
        let id = s.subnet_id().unwrap_or_default();
        record(found, cluster, Kind::Subnet, id, s.tags(), &attrs);
    }
    Ok(())
}

/// Elastic IPs (DescribeAddresses has no paginator).
async fn elastic_ips(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    let addresses = ec2
        .describe_addresses()
        .filters(cluster_filter(cluster))
        .send()
        .await
        .map_err(|e| sdk_err("DescribeAddresses", e))?;
    for a in addresses.addresses() {
        let id = a.allocation_id().unwrap_or_default();
        record(
            found,
            cluster,
            Kind::ElasticIp,
            id,
            a.tags(),
            &[("ip", a.public_ip())],
        );
    }
    Ok(())
}

/// NAT gateways that are pending or available (deleted ones stay listed for a while).
async fn nat_gateways(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    let nats = ec2
        .describe_nat_gateways()
        .filter(cluster_filter(cluster))
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_err("DescribeNatGateways", e))?;
    for n in nats {
        let state = n.state().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if matches!(state.as_str(), "pending" | "available") {
            let id = n.nat_gateway_id().unwrap_or_default();
            let attrs = [("state", Some(state.as_str()))];
            record(found, cluster, Kind::NatGateway, id, n.tags(), &attrs);
        }
    }
    Ok(())
}

async fn route_tables(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for r in list!(ec2, cluster, describe_route_tables, "DescribeRouteTables") {
        let id = r.route_table_id().unwrap_or_default();
        record(found, cluster, Kind::RouteTable, id, r.tags(), &[]);
    }
    Ok(())
}

/// VPC endpoints that are not (being) deleted.
async fn vpc_endpoints(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for e in list!(ec2, cluster, describe_vpc_endpoints, "DescribeVpcEndpoints") {
        let state = e
            .state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        if !matches!(state.as_str(), "deleted" | "deleting") {
            let id = e.vpc_endpoint_id().unwrap_or_default();
            record(found, cluster, Kind::VpcEndpoint, id, e.tags(), &[]);
        }
    }
    Ok(())
}

/// Security groups, and with each its rule set (the pseudo resource `rules/<name>`, whose
/// hash is the group's `rmq.dev/rules-hash` tag).
async fn security_groups(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for g in list!(
        ec2,
        cluster,
        describe_security_groups,
        "DescribeSecurityGroups"
    ) {
        let id = g.group_id().unwrap_or_default();
        let attrs = [("vpc", g.vpc_id())];
        record(found, cluster, Kind::SecurityGroup, id, g.tags(), &attrs);
        if let Some(key) = tag(g.tags(), TAG_RESOURCE).and_then(|k| k.strip_prefix("sg/")) {
            let mut rules = Actual::new(Kind::SecurityGroupRules, format!("rules/{key}"), id);
            rules.hash = tag(g.tags(), TAG_RULES_HASH).map(str::to_owned);
            if found.state.get(&rules.key).is_none() {
                found.state.put(rules);
            }
        }
    }
    Ok(())
}

/// Network interfaces with their address, subnet and attachment status.
async fn network_interfaces(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for n in list!(
        ec2,
        cluster,
        describe_network_interfaces,
        "DescribeNetworkInterfaces"
    ) {
        let status = n.status().map(|s| s.as_str().to_owned());
        let attrs = [
            ("ip", n.private_ip_address()),
            ("subnet", n.subnet_id()),
            ("status", status.as_deref()),
        ];
        let id = n.network_interface_id().unwrap_or_default();
        record(
            found,
            cluster,
            Kind::NetworkInterface,
            id,
            n.tag_set(),
            &attrs,
        );
    }
    Ok(())
}

/// Volumes that are not (being) deleted, with their zone, size and state.
async fn volumes(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for v in list!(ec2, cluster, describe_volumes, "DescribeVolumes") {
        let state = v.state().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if state == "deleted" || state == "deleting" {
            continue;
        }
        let size = v.size().map(|s| s.to_string());
        let attrs = [
            ("az", v.availability_zone()),
            ("size", size.as_deref()),
            ("state", Some(state.as_str())),
        ];
        let id = v.volume_id().unwrap_or_default();
        record(found, cluster, Kind::Volume, id, v.tags(), &attrs);
    }
    Ok(())
}

/// Launch templates with their latest version, its spec hash and its AMI.
async fn launch_templates(ec2: &Ec2, cluster: &str, found: &mut Discovered) -> Result<()> {
    for t in list!(
        ec2,
        cluster,
        describe_launch_templates,
        "DescribeLaunchTemplates"
    ) {
        if tag(t.tags(), TAG_CLUSTER) != Some(cluster) {
            continue;
        }
        let id = t.launch_template_id().unwrap_or_default();
        let version = t.latest_version_number().map(|v| v.to_string());
        // A version is immutable and carries its own hash (its description) and AMI, so the
        // latest version is the authority; the tags are the fallback.
        let latest = latest_launch_template_version(ec2, id).await?;
        let mut tags = t.tags().to_vec();
        if let Some(hash) = &latest.hash {
            tags.retain(|t| t.key() != Some(TAG_HASH));
            tags.push(Tag::builder().key(TAG_HASH).value(hash).build());
        }
        let ami = latest
            .ami
            .as_deref()
            .or_else(|| tag(t.tags(), TAG_AMI))
            .map(str::to_owned);
        let attrs = [
            ("version", version.as_deref()),
            ("ami", ami.as_deref()),
            ("name", t.launch_template_name()),
        ];
        record(found, cluster, Kind::LaunchTemplate, id, &tags, &attrs);
    }
    Ok(())
}

/// What the latest version of a launch template says about itself.
struct LatestVersion {
    /// The spec hash written into the version description by `ensure_launch_template`.
    hash: Option<String>,
    /// The AMI of the version.
    ami: Option<String>,
}

/// Reads the latest version of launch template `id`.
async fn latest_launch_template_version(ec2: &Ec2, id: &str) -> Result<LatestVersion> {
    let out = ec2
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Latest")
        .send()
        .await
        .map_err(|e| sdk_err("DescribeLaunchTemplateVersions", e))?;
    let v = out.launch_template_versions().first();
    Ok(LatestVersion {
        hash: v
            .and_then(|v| v.version_description())
            .and_then(|d| d.strip_prefix(VERSION_HASH_PREFIX))
            .map(str::to_owned),
        ami: v
            .and_then(|v| v.launch_template_data())
            .and_then(|d| d.image_id())
            .map(str::to_owned),
    })
}

/// Auto Scaling groups with their sizes (their tags read as EC2 tags).
async fn auto_scaling_groups(aws: &Aws, cluster: &str, found: &mut Discovered) -> Result<()> {
    let groups = aws
        .asg
        .describe_auto_scaling_groups()
        .filters(
            aws_sdk_autoscaling::types::Filter::builder()
                .name(format!("tag:{TAG_CLUSTER}"))
                .values(cluster)
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_err("DescribeAutoScalingGroups", e))?;
    for g in groups {
        let tags: Vec<Tag> = g
            .tags()
            .iter()
            .map(|t| {
                Tag::builder()
                    .set_key(t.key().map(str::to_owned))
                    .set_value(t.value().map(str::to_owned))
                    .build()
            })
            .collect();
        let (min, max, desired) = (
            g.min_size().map(|v| v.to_string()),
            g.max_size().map(|v| v.to_string()),
            g.desired_capacity().map(|v| v.to_string()),
        );
        let attrs = [
            ("min", min.as_deref()),
            ("max", max.as_deref()),
            ("desired", desired.as_deref()),
        ];
        let id = g.auto_scaling_group_name().unwrap_or_default();
        record(found, cluster, Kind::AutoScalingGroup, id, &tags, &attrs);
    }
    Ok(())
}
