//! The Auto Scaling group of one per node: created or updated to the node's launch template
//! version and waited for in service, with the launch lifecycle hook of a node group
//! ([`crate::resource::READY_HOOK`]); after a version change `roll` replaces each instance
//! launched from an older version in turn so it boots with the new user data.

use super::{Executor, wrong_spec};
use crate::error::{Result, aws};
use crate::resource::{Actual, Kind, Resource, Spec, TAG_HASH};
use aws_sdk_autoscaling::client::Waiters as _;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag as AsgTag};

/// `$builder` (a CreateAutoScalingGroup or UpdateAutoScalingGroup call: the same settings on
/// two builder types) with every setting of `$group`.
macro_rules! with_settings {
    ($builder:expr, $group:expr) => {
        $builder
            .auto_scaling_group_name($group.name)
            .launch_template($group.template())
            .min_size($group.size)
            .max_size($group.size)
            .desired_capacity($group.size)
            .vpc_zone_identifier(&$group.subnets)
            .health_check_type("EC2")
            .health_check_grace_period($group.grace_seconds)
    };
}

/// An Auto Scaling group's settings with every reference resolved.
struct Group<'a> {
    /// Group name (its id for Auto Scaling).
    name: &'a str,
    /// Min = max = desired.
    size: i32,
    /// Subnet ids, comma-separated (`VPCZoneIdentifier`).
    subnets: String,
    /// Id of the launch template the instances boot with.
    launch_template: String,
    /// The template's version to launch.
    version: String,
    /// Health check grace period in seconds.
    grace_seconds: i32,
}

impl Group<'_> {
    fn template(&self) -> LaunchTemplateSpecification {
        LaunchTemplateSpecification::builder()
            .launch_template_id(&self.launch_template)
            .version(&self.version)
            .build()
    }

    /// A tag of the group, propagated to its instances or not.
    fn tag(&self, k: &str, v: &str, propagate: bool) -> AsgTag {
        AsgTag::builder()
            .resource_id(self.name)
            .resource_type("auto-scaling-group")
            .key(k)
            .value(v)
            .propagate_at_launch(propagate)
            .build()
    }
}

impl Executor<'_> {
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
            ready_hook_seconds,
        } = &r.spec
        else {
            return Err(wrong_spec(r));
        };
        let group = Group {
            name: name.as_str(),
            size: *size,
            launch_template: self.v(launch_template)?,
            version: self.v(version)?,
            subnets: self.vs(subnets)?.join(","),
            grace_seconds: *grace_seconds,
        };
        let base: Vec<AsgTag> = r
            .tags(&self.plan.cluster, &self.plan.stack)
            .iter()
            .map(|(k, v)| group.tag(k, v, true))
            .collect();
        // Instances that must be replaced because the group moves to another template version.
        let prior = match existing {
            None => {
                self.create_group(&group, base.clone()).await?;
                if self.opts.wait_in_service {
                    self.wait_in_service(name).await?;
                }
                Vec::new()
            }
            Some(_) => {
                let prior = self.launched_before(name, &group.version).await?;
                self.update_group(&group).await?;
                self.wait_settled(name).await?;
                prior
            }
        };
        // After the first instances are in service: only later launches wait for the hook.
        if let Some(secs) = ready_hook_seconds {
            self.put_ready_hook(name, *secs).await?;
        }
        if existing.is_some() && self.opts.roll_instances {
            let node = self.rolled_node(&r.key);
            self.roll(name, &group.version, &prior, node.as_ref())
                .await?;
        }
        self.mark_converged(&group, existing.is_some().then_some(base), hash)
            .await?;
        Ok(Actual::new(Kind::AutoScalingGroup, &r.key, name)
            .with("min", size.to_string())
            .with("max", size.to_string())
            .with("desired", size.to_string()))
    }

    /// The last step: the group's tags (`base`, when they may have changed) and its hash (not
    /// propagated to instances).
    async fn mark_converged(
        &self,
        group: &Group<'_>,
        base: Option<Vec<AsgTag>>,
        hash: &str,
    ) -> Result<()> {
        let mut tags = base.unwrap_or_default();
        tags.push(group.tag(TAG_HASH, hash, false));
        self.aws
            .asg
            .create_or_update_tags()
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws(format!("CreateOrUpdateTags {}", group.name), e))?;
        Ok(())
    }

    /// Creates `group` with `tags` (propagated to its instances).
    async fn create_group(&self, group: &Group<'_>, tags: Vec<AsgTag>) -> Result<()> {
        let name = group.name;
        with_settings!(self.aws.asg.create_auto_scaling_group(), group)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws(format!("CreateAutoScalingGroup {name}"), e))?;
        Ok(())
    }

    /// Moves the existing `group` to its template version, size and subnets.
    async fn update_group(&self, group: &Group<'_>) -> Result<()> {
        let name = group.name;
        with_settings!(self.aws.asg.update_auto_scaling_group(), group)
            .send()
            .await
            .map_err(|e| aws(format!("UpdateAutoScalingGroup {name}"), e))?;
        Ok(())
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
