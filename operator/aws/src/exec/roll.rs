//! Replacing a node's instance after its launch template changed, one instance at a time, each
//! waited for before the next (the order of nodes is the plan's: see [`crate::roll`]).
//!
//! For each stale instance: the readiness gate looks at the cluster first
//! ([`crate::readiness::Readiness::before`]), the instance is terminated, the group launches a
//! replacement, which waits in `Pending:Wait` (the node group's launch lifecycle hook,
//! [`crate::resource::READY_HOOK`]) while it boots and starts its server; the gate is asked until
//! the node is back ([`crate::readiness::Readiness::check`]); only then is the lifecycle action
//! completed (`CONTINUE`), the instance goes in service and the next node's turn comes. A node
//! that is not back within `ApplyOptions::ready_timeout` stops the roll with
//! [`Error::NotReady`]. Every step is a [`RollEvent`].

use super::Executor;
use crate::error::{Error, Result, aws};
use crate::progress::RollEvent;
use crate::readiness::{RolledNode, Status};
use crate::resource::{READY_HOOK, READY_HOOK_SECONDS};
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::{Instance, LifecycleState};
use std::time::Instant;

/// True for an instance that is on its way out.
fn leaving(i: &Instance) -> bool {
    matches!(
        i.lifecycle_state(),
        Some(
            LifecycleState::Terminating
                | LifecycleState::TerminatingWait
                | LifecycleState::TerminatingProceed
                | LifecycleState::Terminated
                | LifecycleState::Detaching
                | LifecycleState::Detached
        )
    )
}

/// True for an instance that is in service.
fn in_service(i: &Instance) -> bool {
    i.lifecycle_state() == Some(&LifecycleState::InService)
}

/// True for an instance that is in service or waits for its launch lifecycle action.
fn settled(i: &Instance) -> bool {
    matches!(
        i.lifecycle_state(),
        Some(LifecycleState::InService | LifecycleState::PendingWait)
    )
}

impl Executor<'_> {
    /// The node whose group has key `key` (`asg/<node>`), at its interface's address; `None`
    /// for the bastion hosts (and when the interface is unknown).
    pub(crate) fn rolled_node(&self, key: &str) -> Option<RolledNode> {
        let node = key.strip_prefix("asg/")?;
        let ip = self.state.get(&format!("eni/{node}"))?.attrs.get("ip")?;
        RolledNode::new(node, ip)
    }

    /// Group `name` with its instances.
    pub(crate) async fn describe_group(
        &self,
        name: &str,
    ) -> Result<DescribeAutoScalingGroupsOutput> {
        self.aws
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeAutoScalingGroups {name}"), e))
    }

    /// The instances of group `name` when the group itself is on another template version than
    /// `version` (all of them are then launched from an older version, whatever each instance
    /// reports: moto relabels instances with the group's version).
    pub(crate) async fn launched_before(&self, name: &str, version: &str) -> Result<Vec<String>> {
        let out = self.describe_group(name).await?;
        Ok(out
            .auto_scaling_groups()
            .iter()
            .filter(|g| g.launch_template().and_then(|t| t.version()) != Some(version))
            .flat_map(|g| g.instances())
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect())
    }

    /// Puts the node group's launch lifecycle hook (create or update).
    pub(crate) async fn put_ready_hook(&self, name: &str, heartbeat: i32) -> Result<()> {
        self.aws
            .asg
            .put_lifecycle_hook()
            .auto_scaling_group_name(name)
            .lifecycle_hook_name(READY_HOOK)
            .lifecycle_transition("autoscaling:EC2_INSTANCE_LAUNCHING")
            .heartbeat_timeout(heartbeat)
            .default_result("CONTINUE")
            .send()
            .await
            .map_err(|e| aws(format!("PutLifecycleHook {name} {READY_HOOK}"), e))?;
        Ok(())
    }

    /// Waits until group `name` has its capacity of instances, each in service or waiting for
    /// its launch lifecycle action (what an earlier roll may have left).
    pub(crate) async fn wait_settled(&self, name: &str) -> Result<()> {
        let what = format!("Auto Scaling group {name} to have its instances");
        self.wait_group(name, &what, settled).await
    }

    /// Waits until group `name` has its capacity of instances that are not leaving, each of
    /// which `ok` accepts; `what` names the wait in a timeout's error.
    async fn wait_group(&self, name: &str, what: &str, ok: fn(&Instance) -> bool) -> Result<()> {
        self.poll(what, || async move {
            let out = self.describe_group(name).await?;
            Ok(out.auto_scaling_groups().iter().all(|g| {
                let live: Vec<&Instance> = g.instances().iter().filter(|i| !leaving(i)).collect();
                live.len() as i32 >= g.min_size().unwrap_or(1) && live.iter().all(|i| ok(i))
            }))
        })
        .await
    }

    /// Replaces, one at a time, every instance of `name` launched from another template version
    /// (as the instance reports it) or listed in `prior` (see `launched_before`). `node` is the
    /// node the group runs (none for the bastion hosts): with a gate, each replacement waits
    /// until it is ready. With nothing to replace, a node is still looked at (an earlier roll
    /// may have stopped at it) and a waiting instance let go in service.
    pub(crate) async fn roll(
        &self,
        name: &str,
        version: &str,
        prior: &[String],
        node: Option<&RolledNode>,
    ) -> Result<()> {
        let out = self.describe_group(name).await?;
        let stale: Vec<String> = out
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .filter(|i| {
                i.launch_template().and_then(|t| t.version()) != Some(version)
                    || i.instance_id()
                        .is_some_and(|id| prior.iter().any(|p| p == id))
            })
            .filter(|i| !leaving(i))
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        let label = node.map_or(name, |n| n.node.as_str());
        for id in &stale {
            self.replace(name, label, id, node).await?;
        }
        if stale.is_empty() {
            if let Some(n) = node {
                self.wait_ready(n).await?;
            }
            self.let_in_service(name, label).await?;
        }
        Ok(())
    }

    /// Replaces instance `id` of group `name` (node `label`) and waits for the replacement.
    async fn replace(
        &self,
        name: &str,
        label: &str,
        id: &str,
        node: Option<&RolledNode>,
    ) -> Result<()> {
        if let (Some(gate), Some(n)) = (&self.opts.readiness, node) {
            gate.0.before(n).await.map_err(|why| Error::Readiness {
                node: n.to_string(),
                why,
            })?;
        }
        self.progress.roll(RollEvent::Replacing {
            node: label.to_owned(),
            instance: id.to_owned(),
        });
        self.aws
            .asg
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
            let out = self.describe_group(name).await?;
            Ok(out.auto_scaling_groups().iter().all(|g| {
                let live: Vec<&Instance> = g
                    .instances()
                    .iter()
                    .filter(|i| i.instance_id() != Some(id) && !leaving(i))
                    .collect();
                live.len() as i32 >= g.min_size().unwrap_or(1) && live.iter().all(|i| settled(i))
            }))
        })
        .await?;
        if let Some(n) = node {
            self.wait_ready(n).await?;
        }
        self.let_in_service(name, label).await
    }

    /// Asks the gate (if any) about `node` until it is ready, up to `ready_timeout`; prints
    /// each new reason to wait.
    async fn wait_ready(&self, node: &RolledNode) -> Result<()> {
        let Some(gate) = &self.opts.readiness else {
            return Ok(());
        };
        let deadline = Instant::now() + self.opts.ready_timeout;
        let mut last = String::new();
        loop {
            match gate.0.check(node).await {
                Status::Ready(detail) => {
                    self.progress.roll(RollEvent::Ready {
                        node: node.node.clone(),
                        detail,
                    });
                    return Ok(());
                }
                Status::Waiting(why) if why != last => {
                    self.progress.roll(RollEvent::Waiting {
                        node: node.node.clone(),
                        why: why.clone(),
                    });
                    last = why;
                }
                Status::Waiting(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    node: node.to_string(),
                    secs: self.opts.ready_timeout.as_secs(),
                    why: last,
                    left: format!(
                        "; its new instance waits in Pending:Wait (lifecycle hook {READY_HOOK}) and goes in service by itself {} min after its launch",
                        READY_HOOK_SECONDS / 60
                    ),
                });
            }
            tokio::time::sleep(self.opts.poll_interval).await;
        }
    }

    /// Completes the launch lifecycle action of every instance of `name` waiting for it
    /// (`CONTINUE`), then waits until every instance is in service.
    async fn let_in_service(&self, name: &str, label: &str) -> Result<()> {
        let out = self.describe_group(name).await?;
        let waiting: Vec<String> = out
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .filter(|i| i.lifecycle_state() == Some(&LifecycleState::PendingWait))
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        for id in waiting {
            self.aws
                .asg
                .complete_lifecycle_action()
                .auto_scaling_group_name(name)
                .lifecycle_hook_name(READY_HOOK)
                .instance_id(&id)
                .lifecycle_action_result("CONTINUE")
                .send()
                .await
                .map_err(|e| aws(format!("CompleteLifecycleAction {name} {id}"), e))?;
            self.progress.roll(RollEvent::InService {
                node: label.to_owned(),
                instance: id,
            });
        }
        let what = format!("{name} to have its instances in service");
        self.wait_group(name, &what, in_service).await
    }
}
