//! Node resources: the network interface with the fixed address, the broker's data volume
//! (snapshotted before deletion unless told otherwise), the launch template (a new version when
//! the spec changes) and the Auto Scaling group (of one per node; after a launch template change
//! each node's instance is replaced in turn so it boots with the new user data).

use super::{Executor, record};
use crate::error::{Error, Result, aws};
use crate::resource::{
    Actual, Kind, Resource, Spec, TAG_AMI, TAG_CLUSTER, TAG_COMPONENT, TAG_HASH,
    VERSION_HASH_PREFIX,
};
use crate::userdata::{MAX_USER_DATA, base64};
use aws_sdk_autoscaling::client::Waiters as _;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, LifecycleState};
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, RequestLaunchTemplateData,
    ResourceType, Tag, TagSpecification, VolumeType,
};

fn wrong(r: &Resource) -> Error {
    Error::Input(format!(
        "internal: {} has the wrong spec for its kind",
        r.key
    ))
}

impl Executor<'_> {
    pub(crate) async fn ensure_eni(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::NetworkInterface {
            subnet,
            groups,
            description,
        } = &r.spec
        else {
            return Err(wrong(r));
        };
        let (subnet, groups) = (self.v(subnet)?, self.vs(groups)?);
        let ec2 = &self.aws.ec2;
        if let Some(a) = existing {
            ec2.modify_network_interface_attribute()
                .network_interface_id(&a.id)
                .set_groups(Some(groups))
                .send()
                .await
                .map_err(|e| {
                    aws(
                        format!("ModifyNetworkInterfaceAttribute {} groups", a.id),
                        e,
                    )
                })?;
            return Ok(a.clone());
        }
        let out = ec2
            .create_network_interface()
            .subnet_id(&subnet)
            .set_groups(Some(groups))
            .description(description)
            .tag_specifications(self.tag_spec(r, ResourceType::NetworkInterface, &[]))
            .send()
            .await
            .map_err(|e| aws(format!("CreateNetworkInterface {}", r.key), e))?;
        let eni = out.network_interface();
        let id = eni
            .and_then(|n| n.network_interface_id())
            .unwrap_or_default();
        let ip = eni.and_then(|n| n.private_ip_address()).unwrap_or_default();
        Ok(record(Kind::NetworkInterface, &r.key, id)
            .with("ip", ip)
            .with("subnet", subnet))
    }

    pub(crate) async fn delete_eni(&self, id: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        // The interface is detached when the instance holding it has terminated.
        self.poll(
            &format!("network interface {id} to be detached"),
            || async move {
                let out = ec2
                    .describe_network_interfaces()
                    .network_interface_ids(id)
                    .send()
                    .await;
                match out {
                    Ok(o) => Ok(o
                        .network_interfaces()
                        .iter()
                        .all(|n| n.status().is_none_or(|s| s.as_str() == "available"))),
                    Err(e) => {
                        let e = aws(format!("DescribeNetworkInterfaces {id}"), e);
                        if e.code() == Some("InvalidNetworkInterfaceID.NotFound") {
                            Ok(true)
                        } else {
                            Err(e)
                        }
                    }
                }
            },
        )
        .await?;
        let res = ec2
            .delete_network_interface()
            .network_interface_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws(format!("DeleteNetworkInterface {id}"), e));
        super::security::ignore(res, &["InvalidNetworkInterfaceID.NotFound"])
    }

    pub(crate) async fn ensure_volume(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::Volume {
            az,
            size_gib,
            volume_type,
            iops,
            throughput,
            kms_key,
        } = &r.spec
        else {
            return Err(wrong(r));
        };
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => {
                let out = ec2
                    .describe_volumes()
                    .volume_ids(&a.id)
                    .send()
                    .await
                    .map_err(|e| aws(format!("DescribeVolumes {}", a.id), e))?;
                let v = out
                    .volumes()
                    .first()
                    .ok_or_else(|| Error::Input(format!("volume {} vanished", a.id)))?;
                let same = v.size() == Some(*size_gib)
                    && v.volume_type().map(|t| t.as_str()) == Some(volume_type.as_str())
                    && (iops.is_none() || v.iops() == *iops)
                    && (throughput.is_none() || v.throughput() == *throughput);
                if !same {
                    ec2.modify_volume()
                        .volume_id(&a.id)
                        .size(*size_gib)
                        .volume_type(VolumeType::from(volume_type.as_str()))
                        .set_iops(*iops)
                        .set_throughput(*throughput)
                        .send()
                        .await
                        .map_err(|e| aws(format!("ModifyVolume {}", a.id), e))?;
                }
                a.id.clone()
            }
            None => {
                let out = ec2
                    .create_volume()
                    .availability_zone(az)
                    .size(*size_gib)
                    .volume_type(VolumeType::from(volume_type.as_str()))
                    .set_iops(*iops)
                    .set_throughput(*throughput)
                    .encrypted(true)
                    .set_kms_key_id(kms_key.clone())
                    .tag_specifications(self.tag_spec(r, ResourceType::Volume, &[]))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateVolume {}", r.key), e))?;
                let id = out.volume_id().unwrap_or_default().to_owned();
                let w = ec2
                    .wait_until_volume_available()
                    .volume_ids(&id)
                    .wait(self.opts.wait_timeout)
                    .await;
                self.waited(&format!("volume {id} to be available"), w)?;
                id
            }
        };
        Ok(record(Kind::Volume, &r.key, &id)
            .with("az", az.clone())
            .with("size", size_gib.to_string()))
    }

    pub(crate) async fn delete_volume(&mut self, key: &str, id: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        self.poll(&format!("volume {id} to be detached"), || async move {
            let out = ec2
                .describe_volumes()
                .volume_ids(id)
                .send()
                .await
                .map_err(|e| aws(format!("DescribeVolumes {id}"), e))?;
            Ok(out
                .volumes()
                .iter()
                .all(|v| v.state().is_none_or(|s| s.as_str() == "available")))
        })
        .await?;
        if self.opts.snapshot_volumes {
            let tags = vec![
                Tag::builder()
                    .key("Name")
                    .value(format!(
                        "{}-{}-final",
                        self.plan.cluster,
                        key.trim_start_matches("volume/")
                    ))
                    .build(),
                Tag::builder()
                    .key(TAG_CLUSTER)
                    .value(&self.plan.cluster)
                    .build(),
                Tag::builder().key(TAG_COMPONENT).value("snapshot").build(),
            ];
            let out = ec2
                .create_snapshot()
                .volume_id(id)
                .description(format!(
                    "rmq {} {key}: final snapshot before deletion",
                    self.plan.cluster
                ))
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Snapshot)
                        .set_tags(Some(tags))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws(format!("CreateSnapshot {id}"), e))?;
            let snap = out.snapshot_id().unwrap_or_default().to_owned();
            let w = ec2
                .wait_until_snapshot_completed()
                .snapshot_ids(&snap)
                .wait(self.opts.wait_timeout)
                .await;
            self.waited(&format!("snapshot {snap} of {id}"), w)?;
            self.snapshots.push(snap);
        }
        ec2.delete_volume()
            .volume_id(id)
            .send()
            .await
            .map_err(|e| aws(format!("DeleteVolume {id}"), e))?;
        Ok(())
    }

    fn launch_template_data(&self, r: &Resource) -> Result<RequestLaunchTemplateData> {
        let Spec::LaunchTemplate {
            ami,
            instance_type,
            key_pair,
            instance_profile,
            groups,
            public_ip,
            root_gib,
            user_data,
            ..
        } = &r.spec
        else {
            return Err(wrong(r));
        };
        let groups = self.vs(groups)?;
        let mut d = RequestLaunchTemplateData::builder()
            .image_id(ami)
            .instance_type(InstanceType::from(instance_type.as_str()))
            .set_key_name(key_pair.clone())
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                    .http_tokens(LaunchTemplateHttpTokensState::Required)
                    .http_put_response_hop_limit(1)
                    .build(),
            )
            .block_device_mappings(
                LaunchTemplateBlockDeviceMappingRequest::builder()
                    .device_name("/dev/xvda")
                    .ebs(
                        LaunchTemplateEbsBlockDeviceRequest::builder()
                            .volume_size(*root_gib)
                            .volume_type(VolumeType::Gp3)
                            .encrypted(true)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            );
        if let Some(p) = instance_profile {
            let spec = LaunchTemplateIamInstanceProfileSpecificationRequest::builder();
            let spec = if p.starts_with("arn:") {
                spec.arn(p)
            } else {
                spec.name(p)
            };
            d = d.iam_instance_profile(spec.build());
        }
        d = if *public_ip {
            d.network_interfaces(
                LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                    .device_index(0)
                    .associate_public_ip_address(true)
                    .delete_on_termination(true)
                    .set_groups(Some(groups))
                    .build(),
            )
        } else {
            d.set_security_group_ids(Some(groups))
        };
        if let Some(u) = user_data {
            let text = self.v(u)?;
            if text.len() > MAX_USER_DATA {
                return Err(Error::Input(format!(
                    "{}: user data is {} bytes, over EC2's 16 KiB",
                    r.key,
                    text.len()
                )));
            }
            d = d.user_data(base64(text.as_bytes()));
        }
        Ok(d.build())
    }

    pub(crate) async fn ensure_launch_template(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
        hash: &str,
    ) -> Result<Actual> {
        let Spec::LaunchTemplate { name, ami, .. } = &r.spec else {
            return Err(wrong(r));
        };
        let data = self.launch_template_data(r)?;
        let ec2 = &self.aws.ec2;
        let (id, version) = match existing {
            Some(a) => {
                let out = ec2
                    .create_launch_template_version()
                    .launch_template_id(&a.id)
                    .version_description(format!("{VERSION_HASH_PREFIX}{hash}"))
                    .launch_template_data(data)
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateLaunchTemplateVersion {}", a.id), e))?;
                let v = out
                    .launch_template_version()
                    .and_then(|v| v.version_number())
                    .unwrap_or(1);
                ec2.modify_launch_template()
                    .launch_template_id(&a.id)
                    .default_version(v.to_string())
                    .send()
                    .await
                    .map_err(|e| aws(format!("ModifyLaunchTemplate {} default {v}", a.id), e))?;
                self.tag_ec2(&a.id, &[(TAG_AMI, ami)], &r.key).await?;
                (a.id.clone(), v)
            }
            None => {
                let out = ec2
                    .create_launch_template()
                    .launch_template_name(name)
                    .version_description(format!("{VERSION_HASH_PREFIX}{hash}"))
                    .launch_template_data(data)
                    .tag_specifications(self.tag_spec(
                        r,
                        ResourceType::LaunchTemplate,
                        &[(TAG_AMI, ami)],
                    ))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateLaunchTemplate {}", r.key), e))?;
                let t = out.launch_template();
                let id = t
                    .and_then(|t| t.launch_template_id())
                    .unwrap_or_default()
                    .to_owned();
                (id, t.and_then(|t| t.latest_version_number()).unwrap_or(1))
            }
        };
        Ok(record(Kind::LaunchTemplate, &r.key, &id)
            .with("version", version.to_string())
            .with("ami", ami.clone()))
    }

    pub(crate) async fn delete_launch_template(&self, id: &str) -> Result<()> {
        let res = self
            .aws
            .ec2
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws(format!("DeleteLaunchTemplate {id}"), e));
        super::security::ignore(res, &["InvalidLaunchTemplateId.NotFound"])
    }

    pub(crate) async fn ensure_asg(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
        hash: &str,
    ) -> Result<Actual> {
        let Spec::AutoScalingGroup {
            name,
            size,
            subnets,
            launch_template,
            version,
            grace_seconds,
        } = &r.spec
        else {
            return Err(wrong(r));
        };
        let (lt, version, subnets) = (
            self.v(launch_template)?,
            self.v(version)?,
            self.vs(subnets)?.join(","),
        );
        let spec = LaunchTemplateSpecification::builder()
            .launch_template_id(&lt)
            .version(&version)
            .build();
        let client = &self.aws.asg;
        let tag = |k: &str, v: &str, propagate: bool| {
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(propagate)
                .build()
        };
        let base: Vec<aws_sdk_autoscaling::types::Tag> = r
            .tags(&self.plan.cluster, &self.plan.stack)
            .iter()
            .map(|(k, v)| tag(k, v, true))
            .collect();
        // Instances that must be replaced because the group moves to another template version.
        let mut prior = Vec::new();
        match existing {
            None => {
                client
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .launch_template(spec)
                    .min_size(*size)
                    .max_size(*size)
                    .desired_capacity(*size)
                    .vpc_zone_identifier(&subnets)
                    .health_check_type("EC2")
                    .health_check_grace_period(*grace_seconds)
                    .set_tags(Some(base.clone()))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateAutoScalingGroup {name}"), e))?;
            }
            Some(_) => {
                prior = self.launched_before(name, &version).await?;
                client
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .launch_template(spec)
                    .min_size(*size)
                    .max_size(*size)
                    .desired_capacity(*size)
                    .vpc_zone_identifier(&subnets)
                    .health_check_type("EC2")
                    .health_check_grace_period(*grace_seconds)
                    .send()
                    .await
                    .map_err(|e| aws(format!("UpdateAutoScalingGroup {name}"), e))?;
            }
        }
        if self.opts.wait_in_service || existing.is_some() {
            self.wait_in_service(name).await?;
        }
        if existing.is_some() && self.opts.roll_instances {
            self.roll(name, &version, &prior).await?;
        }
        // The last step: mark the group converged (not propagated to instances).
        let mut tags = if existing.is_some() { base } else { Vec::new() };
        tags.push(tag(TAG_HASH, hash, false));
        client
            .create_or_update_tags()
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws(format!("CreateOrUpdateTags {name}"), e))?;
        Ok(record(Kind::AutoScalingGroup, &r.key, name)
            .with("min", size.to_string())
            .with("max", size.to_string())
            .with("desired", size.to_string()))
    }

    async fn wait_in_service(&self, name: &str) -> Result<()> {
        let w = self
            .aws
            .asg
            .wait_until_group_in_service()
            .auto_scaling_group_names(name)
            .wait(self.opts.wait_timeout)
            .await;
        self.waited(
            &format!("Auto Scaling group {name} to have its instances in service"),
            w,
        )
    }

    /// The instances of group `name` when the group itself is on another template version than
    /// `version` (all of them are then launched from an older version, whatever each instance
    /// reports: moto relabels instances with the group's version).
    async fn launched_before(&self, name: &str, version: &str) -> Result<Vec<String>> {
        let out = self
            .aws
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeAutoScalingGroups {name}"), e))?;
        Ok(out
            .auto_scaling_groups()
            .iter()
            .filter(|g| g.launch_template().and_then(|t| t.version()) != Some(version))
            .flat_map(|g| g.instances())
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect())
    }

    /// Replaces, one at a time, every instance of `name` launched from another template version
    /// (as the instance reports it) or listed in `prior` (see `launched_before`).
    async fn roll(&self, name: &str, version: &str, prior: &[String]) -> Result<()> {
        let client = &self.aws.asg;
        let out = client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeAutoScalingGroups {name}"), e))?;
        let stale: Vec<String> = out
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .filter(|i| {
                i.launch_template().and_then(|t| t.version()) != Some(version)
                    || i.instance_id()
                        .is_some_and(|id| prior.iter().any(|p| p == id))
            })
            .filter(|i| {
                !matches!(
                    i.lifecycle_state(),
                    Some(LifecycleState::Terminating | LifecycleState::Terminated)
                )
            })
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        for id in &stale {
            let id = id.as_str();
            client
                .terminate_instance_in_auto_scaling_group()
                .instance_id(id)
                .should_decrement_desired_capacity(false)
                .send()
                .await
                .map_err(|e| {
                    aws(
                        format!("TerminateInstanceInAutoScalingGroup {name} {id}"),
                        e,
                    )
                })?;
            self.poll(&format!("{name} to replace instance {id}"), || async move {
                let out = client
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(name)
                    .send()
                    .await
                    .map_err(|e| aws(format!("DescribeAutoScalingGroups {name}"), e))?;
                Ok(out.auto_scaling_groups().iter().all(|g| {
                    let live: Vec<_> = g
                        .instances()
                        .iter()
                        .filter(|i| i.instance_id() != Some(id))
                        .collect();
                    live.len() as i32 >= g.min_size().unwrap_or(1)
                        && live
                            .iter()
                            .all(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
                }))
            })
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn delete_asg(&self, name: &str) -> Result<()> {
        let client = &self.aws.asg;
        let res = client
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws(format!("DeleteAutoScalingGroup {name}"), e));
        match res {
            Err(e)
                if e.to_string().contains("not found") || e.code() == Some("ValidationError") => {}
            other => other?,
        }
        let w = client
            .wait_until_group_not_exists()
            .auto_scaling_group_names(name)
            .wait(self.opts.wait_timeout)
            .await;
        self.waited(&format!("Auto Scaling group {name} to be deleted"), w)
    }
}
