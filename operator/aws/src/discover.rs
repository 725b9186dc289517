//! Discovery: what already exists for a cluster, found by the `rmq.dev/cluster` tag (one
//! filtered Describe call per resource type), plus the environment the layout depends on (zones,
//! an existing VPC and its subnets, the newest Amazon Linux 2023 AMI, the local artefacts and
//! what the artefact bucket holds). Read-only.

use crate::client::Aws;
use crate::error::{Error, Result, aws as sdk_err};
use crate::layout::ExistingVpc;
use crate::params::{Network, Params};
use crate::plan::Discovered;
use crate::resource::{
    Actual, ArtefactFile, Kind, TAG_AMI, TAG_CLUSTER, TAG_HASH, TAG_RESOURCE, TAG_RULES_HASH,
    VERSION_HASH_PREFIX,
};
use aws_sdk_ec2::types::{Filter, Tag};

mod artefacts;

use artefacts::artefacts;
pub use artefacts::{BINARIES, META_CLUSTER, META_SHA256, sha256_hex};

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
fn record(
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

/// What the latest version of a launch template says about itself.
struct LatestVersion {
    /// The spec hash written into the version description by `ensure_launch_template`.
    hash: Option<String>,
    /// The AMI of the version.
    ami: Option<String>,
}

/// Reads the latest version of launch template `id`.
async fn latest_launch_template_version(aws: &Aws, id: &str) -> Result<LatestVersion> {
    let out = aws
        .ec2
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

/// Discovers everything `plan` needs.
pub async fn discover(
    aws: &Aws,
    cluster: &str,
    version: &str,
    params: &Params,
) -> Result<Discovered> {
    let mut found = Discovered::default();
    found.env.region = aws.region.clone();
    tagged(aws, cluster, &mut found).await?;
    environment(aws, params, &mut found).await?;
    artefacts(aws, cluster, version, params, &mut found).await?;
    Ok(found)
}

/// Discovers only the resources tagged for `cluster` (what `destroy` deletes).
pub async fn discover_tagged(
    aws: &Aws,
    cluster: &str,
    version: &str,
    params: &Params,
) -> Result<Discovered> {
    let mut found = Discovered::default();
    found.env.region = aws.region.clone();
    tagged(aws, cluster, &mut found).await?;
    artefacts(aws, cluster, version, params, &mut found).await?;
    Ok(found)
}

async fn tagged(aws: &Aws, cluster: &str, found: &mut Discovered) -> Result<()> {
    let ec2 = &aws.ec2;
    let f = || cluster_filter(cluster);
    macro_rules! list {
        ($call:ident, $what:literal) => {
            ec2.$call()
                .filters(f())
                .into_paginator()
                .items()
                .send()
                .collect::<std::result::Result<Vec<_>, _>>()
                .await
                .map_err(|e| sdk_err($what, e))?
        };
    }
    for v in list!(describe_vpcs, "DescribeVpcs") {
        record(
            found,
            cluster,
            Kind::Vpc,
            v.vpc_id().unwrap_or_default(),
            v.tags(),
            &[("cidr", v.cidr_block())],
        );
    }
    for g in list!(describe_internet_gateways, "DescribeInternetGateways") {
        let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
        record(
            found,
            cluster,
            Kind::InternetGateway,
            g.internet_gateway_id().unwrap_or_default(),
            g.tags(),
            &[("vpc", vpc)],
        );
    }
    for s in list!(describe_subnets, "DescribeSubnets") {
        record(
            found,
            cluster,
            Kind::Subnet,
            s.subnet_id().unwrap_or_default(),
            s.tags(),
            &[("cidr", s.cidr_block()), ("az", s.availability_zone())],
        );
    }
    let addresses = ec2
        .describe_addresses()
        .filters(f())
        .send()
        .await
        .map_err(|e| sdk_err("DescribeAddresses", e))?;
    for a in addresses.addresses() {
        record(
            found,
            cluster,
            Kind::ElasticIp,
            a.allocation_id().unwrap_or_default(),
            a.tags(),
            &[("ip", a.public_ip())],
        );
    }
    let nats = ec2
        .describe_nat_gateways()
        .filter(f())
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_err("DescribeNatGateways", e))?;
    for n in nats {
        let state = n.state().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if matches!(state.as_str(), "pending" | "available") {
            record(
                found,
                cluster,
                Kind::NatGateway,
                n.nat_gateway_id().unwrap_or_default(),
                n.tags(),
                &[("state", Some(state.as_str()))],
            );
        }
    }
    for r in list!(describe_route_tables, "DescribeRouteTables") {
        record(
            found,
            cluster,
            Kind::RouteTable,
            r.route_table_id().unwrap_or_default(),
            r.tags(),
            &[],
        );
    }
    for e in list!(describe_vpc_endpoints, "DescribeVpcEndpoints") {
        let state = e
            .state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        if !matches!(state.as_str(), "deleted" | "deleting") {
            record(
                found,
                cluster,
                Kind::VpcEndpoint,
                e.vpc_endpoint_id().unwrap_or_default(),
                e.tags(),
                &[],
            );
        }
    }
    for g in list!(describe_security_groups, "DescribeSecurityGroups") {
        let id = g.group_id().unwrap_or_default();
        record(
            found,
            cluster,
            Kind::SecurityGroup,
            id,
            g.tags(),
            &[("vpc", g.vpc_id())],
        );
        if let Some(key) = tag(g.tags(), TAG_RESOURCE).and_then(|k| k.strip_prefix("sg/")) {
            let mut rules = Actual::new(Kind::SecurityGroupRules, format!("rules/{key}"), id);
            rules.hash = tag(g.tags(), TAG_RULES_HASH).map(str::to_owned);
            if found.state.get(&rules.key).is_none() {
                found.state.put(rules);
            }
        }
    }
    for n in list!(describe_network_interfaces, "DescribeNetworkInterfaces") {
        let status = n.status().map(|s| s.as_str().to_owned());
        record(
            found,
            cluster,
            Kind::NetworkInterface,
            n.network_interface_id().unwrap_or_default(),
            n.tag_set(),
            &[
                ("ip", n.private_ip_address()),
                ("subnet", n.subnet_id()),
                ("status", status.as_deref()),
            ],
        );
    }
    for v in list!(describe_volumes, "DescribeVolumes") {
        let state = v.state().map(|s| s.as_str().to_owned()).unwrap_or_default();
        if state == "deleted" || state == "deleting" {
            continue;
        }
        let size = v.size().map(|s| s.to_string());
        record(
            found,
            cluster,
            Kind::Volume,
            v.volume_id().unwrap_or_default(),
            v.tags(),
            &[
                ("az", v.availability_zone()),
                ("size", size.as_deref()),
                ("state", Some(state.as_str())),
            ],
        );
    }
    for t in list!(describe_launch_templates, "DescribeLaunchTemplates") {
        if tag(t.tags(), TAG_CLUSTER) != Some(cluster) {
            continue;
        }
        let id = t.launch_template_id().unwrap_or_default();
        let version = t.latest_version_number().map(|v| v.to_string());
        // A version is immutable and carries its own hash (its description) and AMI, so the
        // latest version is the authority; the tags are the fallback.
        let latest = latest_launch_template_version(aws, id).await?;
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
        record(
            found,
            cluster,
            Kind::LaunchTemplate,
            id,
            &tags,
            &[
                ("version", version.as_deref()),
                ("ami", ami.as_deref()),
                ("name", t.launch_template_name()),
            ],
        );
    }
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
        record(
            found,
            cluster,
            Kind::AutoScalingGroup,
            g.auto_scaling_group_name().unwrap_or_default(),
            &tags,
            &[
                ("min", min.as_deref()),
                ("max", max.as_deref()),
                ("desired", desired.as_deref()),
            ],
        );
    }
    Ok(())
}

async fn environment(aws: &Aws, params: &Params, found: &mut Discovered) -> Result<()> {
    let ec2 = &aws.ec2;
    match &params.network {
        Network::New { azs, az_count, .. } => {
            let zones = ec2
                .describe_availability_zones()
                .filters(Filter::builder().name("state").values("available").build())
                .send()
                .await
                .map_err(|e| sdk_err("DescribeAvailabilityZones", e))?;
            let available: Vec<String> = zones
                .availability_zones()
                .iter()
                .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
                .filter_map(|z| z.zone_name().map(str::to_owned))
                .collect();
            let chosen = if azs.is_empty() {
                // Keep the zones of existing subnets (in order), then add more if asked.
                let mut chosen: Vec<String> = (1..=3)
                    .map_while(|i| found.state.get(&format!("subnet/private-{i}")))
                    .filter_map(|s| s.attrs.get("az").cloned())
                    .take(*az_count)
                    .collect();
                for z in &available {
                    if chosen.len() >= *az_count {
                        break;
                    }
                    if !chosen.contains(z) {
                        chosen.push(z.clone());
                    }
                }
                chosen
            } else {
                if let Some(bad) = azs.iter().find(|z| !available.contains(z)) {
                    return Err(Error::Input(format!(
                        "--azs: {bad} is not an available zone of {} (fix: use some of {})",
                        aws.region,
                        available.join(", ")
                    )));
                }
                azs.clone()
            };
            found.env.azs = chosen;
        }
        Network::Existing {
            vpc_id, subnet_ids, ..
        } => {
            let vpcs = ec2
                .describe_vpcs()
                .vpc_ids(vpc_id)
                .send()
                .await
                .map_err(|e| {
                    Error::Input(format!("--vpc-id {vpc_id}: {}", sdk_err("DescribeVpcs", e)))
                })?;
            let vpc = vpcs
                .vpcs()
                .first()
                .ok_or_else(|| Error::Input(format!("--vpc-id {vpc_id}: not found")))?;
            let subnets = ec2
                .describe_subnets()
                .set_subnet_ids(Some(subnet_ids.clone()))
                .send()
                .await
                .map_err(|e| {
                    Error::Input(format!("--subnet-ids: {}", sdk_err("DescribeSubnets", e)))
                })?;
            let mut list = Vec::new();
            for id in subnet_ids {
                let s = subnets
                    .subnets()
                    .iter()
                    .find(|s| s.subnet_id() == Some(id))
                    .ok_or_else(|| Error::Input(format!("--subnet-ids: {id} not found")))?;
                if s.vpc_id() != Some(vpc_id) {
                    return Err(Error::Input(format!(
                        "--subnet-ids: {id} is in {}, not in {vpc_id} (fix: give subnets of --vpc-id)",
                        s.vpc_id().unwrap_or("another VPC")
                    )));
                }
                list.push((
                    id.clone(),
                    s.availability_zone().unwrap_or_default().to_owned(),
                ));
            }
            let mut zones: Vec<&String> = list.iter().map(|(_, z)| z).collect();
            zones.sort();
            zones.dedup();
            if zones.len() != list.len() {
                return Err(Error::Input("--subnet-ids: two subnets are in the same zone (fix: give one private subnet per zone)".into()));
            }
            found
                .state
                .put(Actual::new(Kind::Vpc, "vpc", vpc_id.clone()));
            found.external.insert("vpc".into());
            for (i, (id, _)) in list.iter().enumerate() {
                let key = format!("subnet/private-{}", i + 1);
                found
                    .state
                    .put(Actual::new(Kind::Subnet, key.clone(), id.clone()));
                found.external.insert(key);
            }
            found.env.azs = list.iter().map(|(_, z)| z.clone()).collect();
            found.env.existing_vpc = Some(ExistingVpc {
                id: vpc_id.clone(),
                cidr: vpc.cidr_block().unwrap_or_default().to_owned(),
                subnets: list,
            });
        }
    }
    for a in found.state.resources.values() {
        if a.kind == Kind::LaunchTemplate
            && let Some(ami) = a.attrs.get("ami")
        {
            found.env.pinned_amis.insert(a.key.clone(), ami.clone());
        }
    }
    if params.ami_id.is_none() {
        found.env.latest_ami = latest_al2023(aws).await?;
    }
    if let Some(dir) = &params.artefact_dir {
        for name in BINARIES {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                what: format!("--artefact-dir: reading {}", path.display()),
                source,
            })?;
            found.env.artefact_files.push(ArtefactFile {
                name: name.into(),
                path: path.display().to_string(),
                sha256: sha256_hex(&bytes),
            });
        }
    }
    Ok(())
}

/// The newest Amazon Linux 2023 x86_64 AMI published by Amazon.
async fn latest_al2023(aws: &Aws) -> Result<Option<String>> {
    let images = aws
        .ec2
        .describe_images()
        .owners("amazon")
        .filters(
            Filter::builder()
                .name("name")
                .values("al2023-ami-2023.*-x86_64")
                .build(),
        )
        .filters(Filter::builder().name("state").values("available").build())
        .send()
        .await
        .map_err(|e| sdk_err("DescribeImages", e))?;
    Ok(images
        .images()
        .iter()
        .filter(|i| !i.name().unwrap_or_default().contains("minimal"))
        .max_by_key(|i| {
            (
                i.creation_date().unwrap_or_default().to_owned(),
                i.name().unwrap_or_default().to_owned(),
            )
        })
        .and_then(|i| i.image_id().map(str::to_owned)))
}
