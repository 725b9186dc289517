//! Node resources: the network interface with the fixed address, the broker's data volume
//! (snapshotted before deletion unless told otherwise) and the launch template (a new version
//! when the spec changes). The Auto Scaling group of each node is in `asg`.

use super::{Executor, ignore, wrong_spec};
use crate::error::{Error, Result, aws};
use crate::resource::{
    Actual, Kind, Resource, Spec, TAG_AMI, TAG_CLUSTER, TAG_COMPONENT, VERSION_HASH_PREFIX,
};
use crate::userdata::{MAX_USER_DATA, base64};
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, RequestLaunchTemplateData,
    ResourceType, Tag, TagSpecification, VolumeType,
};

/// Instance metadata through IMDSv2 only, one hop (no container can reach it).
fn imds_v2_only() -> LaunchTemplateInstanceMetadataOptionsRequest {
    LaunchTemplateInstanceMetadataOptionsRequest::builder()
        .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
        .http_tokens(LaunchTemplateHttpTokensState::Required)
        .http_put_response_hop_limit(1)
        .build()
}

/// The root volume: encrypted gp3 of `gib`, deleted with the instance.
fn root_volume(gib: i32) -> LaunchTemplateBlockDeviceMappingRequest {
    LaunchTemplateBlockDeviceMappingRequest::builder()
        .device_name("/dev/xvda")
        .ebs(
            LaunchTemplateEbsBlockDeviceRequest::builder()
                .volume_size(gib)
                .volume_type(VolumeType::Gp3)
                .encrypted(true)
                .delete_on_termination(true)
                .build(),
        )
        .build()
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
            return Err(wrong_spec(r));
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
            .client_token(self.client_token("CreateNetworkInterface", &r.key))
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
        Ok(Actual::new(Kind::NetworkInterface, &r.key, id)
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
        ignore(res, &["InvalidNetworkInterfaceID.NotFound"])
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
            return Err(wrong_spec(r));
        };
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => {
                self.modify_volume(&a.id, *size_gib, volume_type, *iops, *throughput)
                    .await?;
                a.id.clone()
            }
            None => {
                let out = ec2
                    .create_volume()
                    .client_token(self.client_token("CreateVolume", &r.key))
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
        Ok(Actual::new(Kind::Volume, &r.key, &id)
            .with("az", az.clone())
            .with("size", size_gib.to_string()))
    }

    /// Grows volume `id` or changes its type or performance when it differs from the spec.
    async fn modify_volume(
        &self,
        id: &str,
        size_gib: i32,
        volume_type: &str,
        iops: Option<i32>,
        throughput: Option<i32>,
    ) -> Result<()> {
        let ec2 = &self.aws.ec2;
        let out = ec2
            .describe_volumes()
            .volume_ids(id)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeVolumes {id}"), e))?;
        let v = out
            .volumes()
            .first()
            .ok_or_else(|| Error::Input(format!("volume {id} vanished")))?;
        let same = v.size() == Some(size_gib)
            && v.volume_type().map(|t| t.as_str()) == Some(volume_type)
            && (iops.is_none() || v.iops() == iops)
            && (throughput.is_none() || v.throughput() == throughput);
        if same {
            return Ok(());
        }
        ec2.modify_volume()
            .volume_id(id)
            .size(size_gib)
            .volume_type(VolumeType::from(volume_type))
            .set_iops(iops)
            .set_throughput(throughput)
            .send()
            .await
            .map_err(|e| aws(format!("ModifyVolume {id}"), e))?;
        Ok(())
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
            return Err(wrong_spec(r));
        };
        let groups = self.vs(groups)?;
        let mut d = RequestLaunchTemplateData::builder()
            .image_id(ami)
            .instance_type(InstanceType::from(instance_type.as_str()))
            .set_key_name(key_pair.clone())
            .metadata_options(imds_v2_only())
            .block_device_mappings(root_volume(*root_gib));
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
            return Err(wrong_spec(r));
        };
        let data = self.launch_template_data(r)?;
        let ec2 = &self.aws.ec2;
        let (id, version) = match existing {
            Some(a) => {
                let out = ec2
                    .create_launch_template_version()
                    .client_token(self.client_token("CreateLaunchTemplateVersion", &r.key))
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
                    .client_token(self.client_token("CreateLaunchTemplate", &r.key))
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
        Ok(Actual::new(Kind::LaunchTemplate, &r.key, &id)
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
        ignore(res, &["InvalidLaunchTemplateId.NotFound"])
    }
}
