//! The environment the layout depends on: the zones (of a new VPC, or of the subnets of an
//! existing one), the AMIs the launch templates already use, the instance types' architectures
//! and the newest Amazon Linux 2023 AMI of each (`images`), and the checksums and build
//! architectures of the local binaries to upload (read in chunks, never whole into memory).

use super::images::images;
use crate::arch::file_arch;
use crate::client::Aws;
use crate::discovered::{Discovered, ExistingVpc};
use crate::error::{Error, Result, aws as sdk_err};
use crate::params::{Network, Params};
use crate::resource::{Actual, ArtefactFile, BINARIES, CONTROLLER_BINARY, Kind, State};
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::Filter;
use sha2::Digest;
use std::io::Read;
use std::path::Path;

/// Fills `found.env` (the tagged resources are in `found.state` already).
pub(super) async fn environment(aws: &Aws, params: &Params, found: &mut Discovered) -> Result<()> {
    match &params.network {
        Network::New { azs, az_count, .. } => {
            let available = available_zones(&aws.ec2).await?;
            found.env.azs = choose_zones(azs, *az_count, &available, &found.state, &aws.region)?;
        }
        Network::Existing {
            vpc_id, subnet_ids, ..
        } => adopt_existing_vpc(&aws.ec2, vpc_id, subnet_ids, found).await?,
    }
    for a in found.state.resources.values() {
        if a.kind == Kind::LaunchTemplate
            && let Some(ami) = a.attrs.get("ami")
        {
            found.env.pinned_amis.insert(a.key.clone(), ami.clone());
        }
    }
    images(aws, params, found).await?;
    found.env.published_sha256 = published(&found.state, "sha256");
    found.env.binary_archs = published(&found.state, "arch");
    if let Some(dir) = &params.artefact_dir {
        for (file, arch) in local_artefacts(dir)? {
            found
                .env
                .binary_archs
                .insert(file.name.clone(), arch.unwrap_or_default());
            found.env.artefact_files.push(file);
        }
    }
    Ok(())
}

/// What the artefacts discovery read from the binaries under the prefix: attribute
/// `what/<name>` (`sha256`, `arch`) by binary name (non-empty only).
fn published(state: &State, what: &str) -> std::collections::BTreeMap<String, String> {
    let Some(a) = state.resources.get("artefacts") else {
        return Default::default();
    };
    BINARIES
        .iter()
        .chain(&[CONTROLLER_BINARY])
        .filter_map(|name| {
            let v = a.attrs.get(&format!("{what}/{name}"))?;
            (!v.is_empty()).then(|| ((*name).to_owned(), v.clone()))
        })
        .collect()
}

/// The region's available Availability Zones (not Local or Wavelength Zones).
async fn available_zones(ec2: &Ec2) -> Result<Vec<String>> {
    let zones = ec2
        .describe_availability_zones()
        .filters(Filter::builder().name("state").values("available").build())
        .send()
        .await
        .map_err(|e| sdk_err("DescribeAvailabilityZones", e))?;
    Ok(zones
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect())
}

/// The zones of a new VPC: `--azs` as given (each must be available), or the zones of the
/// existing private subnets (in order) topped up with available ones to `az_count`.
fn choose_zones(
    azs: &[String],
    az_count: usize,
    available: &[String],
    state: &State,
    region: &str,
) -> Result<Vec<String>> {
    if !azs.is_empty() {
        if let Some(bad) = azs.iter().find(|z| !available.contains(z)) {
            return Err(Error::Input(format!(
                "--azs: {bad} is not an available zone of {region} (fix: use some of {})",
                available.join(", ")
            )));
        }
        return Ok(azs.to_vec());
    }
    // Keep the zones of existing subnets (in order), then add more if asked.
    let mut chosen: Vec<String> = (1..=3)
        .map_while(|i| state.get(&format!("subnet/private-{i}")))
        .filter_map(|s| s.attrs.get("az").cloned())
        .take(az_count)
        .collect();
    for z in available {
        if chosen.len() >= az_count {
            break;
        }
        if !chosen.contains(z) {
            chosen.push(z.clone());
        }
    }
    Ok(chosen)
}

/// Records the existing VPC and its subnets as external resources (used, never deleted) and
/// takes the zones from the subnets.
async fn adopt_existing_vpc(
    ec2: &Ec2,
    vpc_id: &str,
    subnet_ids: &[String],
    found: &mut Discovered,
) -> Result<()> {
    let vpcs = ec2
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .map_err(|e| Error::Input(format!("--vpc-id {vpc_id}: {}", sdk_err("DescribeVpcs", e))))?;
    let vpc = vpcs
        .vpcs()
        .first()
        .ok_or_else(|| Error::Input(format!("--vpc-id {vpc_id}: not found")))?;
    let subnets = subnet_zones(ec2, vpc_id, subnet_ids).await?;
    found.state.put(Actual::new(Kind::Vpc, "vpc", vpc_id));
    found.external.insert("vpc".into());
    for (i, (id, _)) in subnets.iter().enumerate() {
        let key = format!("subnet/private-{}", i + 1);
        found
            .state
            .put(Actual::new(Kind::Subnet, key.clone(), id.clone()));
        found.external.insert(key);
    }
    found.env.azs = subnets.iter().map(|(_, z)| z.clone()).collect();
    found.env.existing_vpc = Some(ExistingVpc {
        id: vpc_id.to_owned(),
        cidr: vpc.cidr_block().unwrap_or_default().to_owned(),
        subnets,
    });
    Ok(())
}

/// (id, zone) of each of `subnet_ids`, which must exist, be in `vpc_id` and in different zones.
async fn subnet_zones(
    ec2: &Ec2,
    vpc_id: &str,
    subnet_ids: &[String],
) -> Result<Vec<(String, String)>> {
    let subnets = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids.to_vec()))
        .send()
        .await
        .map_err(|e| Error::Input(format!("--subnet-ids: {}", sdk_err("DescribeSubnets", e))))?;
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
    Ok(list)
}

/// The binaries under `--artefact-dir` with their checksums and build architectures (`None`:
/// not an ELF file): rmq-namesrv and rmq-broker, and rmq-controller when it is there (the
/// layout requires it for `failover: Automatic`).
fn local_artefacts(dir: &Path) -> Result<Vec<(ArtefactFile, Option<String>)>> {
    let controller = Some(CONTROLLER_BINARY).filter(|c| dir.join(c).is_file());
    BINARIES
        .iter()
        .copied()
        .chain(controller)
        .map(|name| {
            let path = dir.join(name);
            let io = |source| Error::Io {
                what: format!("--artefact-dir: reading {}", path.display()),
                source,
            };
            let sha256 = sha256_file(&path).map_err(io)?;
            let arch = file_arch(&path).map_err(io)?;
            let file = ArtefactFile {
                name: name.into(),
                path: path.display().to_string(),
                sha256,
                embedded: None,
            };
            Ok((file, arch))
        })
        .collect()
}

/// The SHA-256 of the file at `path` as 64 lowercase hex digits, read in 1 MiB chunks.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
