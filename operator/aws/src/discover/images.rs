//! Instance types and AMIs: the architecture each instance type runs (`DescribeInstanceTypes`'
//! supported architectures, see [`crate::arch`]), the newest Amazon Linux 2023 AMI of each
//! architecture needed (the public SSM parameter, as the templates' `LatestAmiId`), and the
//! architecture of the AMIs already in use or given with `--ami-id` (`DescribeImages`).

use crate::arch::{al2023_parameter, instance_arch};
use crate::client::Aws;
use crate::discovered::Discovered;
use crate::error::{Error, Result, aws as sdk_err};
use crate::params::{Network, Params};
use aws_sdk_ec2::types::{Filter, InstanceType};
use std::collections::BTreeSet;

/// The instance types of `params` and the flags naming them (the bastion's only when there
/// is one).
fn instance_types(params: &Params) -> Vec<(&'static str, &str)> {
    let mut types = vec![
        (
            "--namesrv-instance-type",
            params.namesrv_instance_type.as_str(),
        ),
        (
            "--broker-instance-type",
            params.broker_instance_type.as_str(),
        ),
    ];
    if params.bastion_count > 0 && matches!(params.network, Network::New { .. }) {
        types.push((
            "--bastion-instance-type",
            params.bastion_instance_type.as_str(),
        ));
    }
    types
}

/// Fills `found.env`'s instance architectures, the latest AMIs they need (without `--ami-id`)
/// and the architectures of the pinned AMIs and `--ami-id`.
pub(super) async fn images(aws: &Aws, params: &Params, found: &mut Discovered) -> Result<()> {
    let types = instance_types(params);
    let wanted: BTreeSet<&str> = types.iter().map(|(_, t)| *t).collect();
    let not_a_type = |flag: &str, t: &str| {
        Error::Input(format!(
            "{flag} {t}: not an instance type of {} with an x86_64 or arm64 architecture (fix: give an EC2 instance type such as m6i.large or m7g.large)",
            aws.region
        ))
    };
    let out = aws
        .ec2
        .describe_instance_types()
        .set_instance_types(Some(
            wanted.iter().map(|t| InstanceType::from(*t)).collect(),
        ))
        .send()
        .await
        .map_err(|e| sdk_err("DescribeInstanceTypes", e));
    let out = match out {
        Err(Error::Aws { code, message, .. }) if code == "InvalidInstanceType" => {
            let (flag, t) = types
                .iter()
                .find(|(_, t)| message.contains(t))
                .unwrap_or(&types[0]);
            return Err(not_a_type(flag, t));
        }
        other => other?,
    };
    for t in out.instance_types() {
        let (Some(name), Some(cpu)) = (t.instance_type(), t.processor_info()) else {
            continue;
        };
        let supported: Vec<&str> = cpu
            .supported_architectures()
            .iter()
            .map(|a| a.as_str())
            .collect();
        if let Some(arch) = instance_arch(&supported) {
            found
                .env
                .instance_archs
                .insert(name.as_str().to_owned(), arch.to_owned());
        }
    }
    if let Some((flag, t)) = types
        .iter()
        .find(|(_, t)| !found.env.instance_archs.contains_key(*t))
    {
        return Err(not_a_type(flag, t));
    }
    if params.ami_id.is_none() {
        let archs: BTreeSet<String> = found.env.instance_archs.values().cloned().collect();
        for arch in archs {
            if let Some(ami) = latest_al2023(aws, &arch).await? {
                found.env.latest_amis.insert(arch, ami);
            }
        }
    }
    ami_archs(aws, params, found).await
}

/// The newest Amazon Linux 2023 AMI for `arch` (its public SSM parameter); `None` when the
/// region has no such parameter.
async fn latest_al2023(aws: &Aws, arch: &str) -> Result<Option<String>> {
    let name = al2023_parameter(arch);
    match aws.ssm.get_parameter().name(&name).send().await {
        Ok(out) => Ok(out
            .parameter()
            .and_then(|p| p.value())
            .filter(|v| v.starts_with("ami-"))
            .map(str::to_owned)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_parameter_not_found()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_err(format!("GetParameter {name}"), e)),
    }
}

/// The architecture of the pinned AMIs and of `--ami-id` (an AMI EC2 does not describe, e.g.
/// deregistered, stays unknown; a `--ami-id` that does not exist is an error).
async fn ami_archs(aws: &Aws, params: &Params, found: &mut Discovered) -> Result<()> {
    let ids: BTreeSet<String> = found
        .env
        .pinned_amis
        .values()
        .cloned()
        .chain(params.ami_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let out = aws
        .ec2
        .describe_images()
        .filters(
            Filter::builder()
                .name("image-id")
                .set_values(Some(ids.into_iter().collect()))
                .build(),
        )
        .send()
        .await
        .map_err(|e| sdk_err("DescribeImages", e))?;
    for i in out.images() {
        if let (Some(id), Some(arch)) = (i.image_id(), i.architecture()) {
            found
                .env
                .ami_archs
                .insert(id.to_owned(), arch.as_str().to_owned());
        }
    }
    if let Some(ami) = &params.ami_id
        && !found.env.ami_archs.contains_key(ami)
    {
        return Err(Error::Input(format!(
            "--ami-id {ami}: no such image in {} (fix: give an AMI id of the region, e.g. from {})",
            aws.region,
            al2023_parameter(crate::arch::X86_64)
        )));
    }
    Ok(())
}
