//! Executing a [`Plan`]: one action at a time, in plan order, with waiters where the SDK has
//! them (VPC, subnet, NAT gateway, volume, snapshot, Auto Scaling group in service / gone) and
//! bounded polling elsewhere, printing a progress line per action. CloudWatch alarms and the
//! dashboard come last (`monitoring`). Replacing instances after a launch template change is
//! `roll` (one node at a time, each waited for by the readiness gate).
//!
//! The EC2 create calls that take one get a client token (`ClientToken`, see
//! [`Executor::client_token`]): unique per apply run and resource, so the SDK's retry of a call
//! whose answer was lost cannot create the resource twice (and a later run never collides
//! with an earlier one's token).
//!
//! Every create passes the resource's tags in the create call itself (`TagSpecifications`), so a
//! resource that exists is always found again by the next discovery; the `rmq.dev/hash` tag is
//! written last, after every sub-step (attachments, routes, associations, rules) has converged.
//! A failure stops the apply; the report says what was done, what failed and what was not run,
//! and re-running the same command continues from the current state.

mod artefacts;
mod asg;
mod monitoring;
mod network;
mod nodes;
mod roll;
mod routes;
mod security;

use crate::client::Aws;
use crate::discovered::Discovered;
use crate::error::{Error, Result, aws};
use crate::lock::LeaseWatch;
use crate::plan::{Action, Op, Plan};
use crate::progress::Progress;
use crate::readiness::Gate;
use crate::resource::{Actual, Kind, Resource, State, TAG_HASH, Value, fnv_hex};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use std::time::{Duration, Instant};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Limit of every waiter / poll.
    pub wait_timeout: Duration,
    /// Interval of bounded polls.
    pub poll_interval: Duration,
    /// Snapshot a broker's data volume before deleting it (scale-in and destroy).
    pub snapshot_volumes: bool,
    /// After a launch template changes, replace each node's instance (one node at a time, in
    /// plan order: nameservers, then brokers, masters last as [`crate::roll`] orders them) so
    /// it boots with the new user data.
    pub roll_instances: bool,
    /// Wait until every Auto Scaling group has its instances in service.
    pub wait_in_service: bool,
    /// The readiness gate of a roll: after each node's instance is replaced, the roll waits
    /// until the gate sees the node back (registered, a slave caught up) before it lets the
    /// new instance go in service and replaces the next; `None` waits for the Auto Scaling
    /// group alone.
    pub readiness: Option<Gate>,
    /// How long the gate may take per node before the roll stops with [`Error::NotReady`].
    pub ready_timeout: Duration,
    /// The apply lock's state ([`crate::lock`]): the apply stops before its next action once
    /// the lock was lost.
    pub lease: Option<LeaseWatch>,
    /// Test hook: stop with [`Error::Injected`] before action number N (0-based).
    pub fail_after: Option<usize>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            wait_timeout: Duration::from_secs(900),
            poll_interval: Duration::from_secs(5),
            snapshot_volumes: true,
            roll_instances: true,
            wait_in_service: true,
            readiness: None,
            ready_timeout: Duration::from_secs(900),
            lease: None,
            fail_after: None,
        }
    }
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    /// Actions done, with the resource id.
    pub done: Vec<(Action, String)>,
    /// The action that failed and why.
    pub failed: Option<(Action, Error)>,
    /// Actions not run because of the failure.
    pub not_done: Vec<Action>,
    /// Snapshots taken of deleted data volumes.
    pub snapshots: Vec<String>,
    /// Things the user should know about what was (not) done, e.g. a bucket kept because it
    /// holds other clusters' objects.
    pub notes: Vec<String>,
    /// The state after the apply (what exists, by key).
    pub state: State,
}

impl Report {
    /// True if every action was done.
    pub fn ok(&self) -> bool {
        self.failed.is_none()
    }
}

/// Runs `plan`'s actions against AWS.
pub async fn apply(
    aws: &Aws,
    plan: &Plan,
    found: &Discovered,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Report {
    let mut ex = Executor {
        aws,
        plan,
        state: found.state.clone(),
        opts,
        progress,
        run: run_id(),
        snapshots: Vec::new(),
        notes: Vec::new(),
    };
    let mut report = Report::default();
    let total = plan.actions.len();
    progress.begin(total);
    for (i, action) in plan.actions.iter().enumerate() {
        let stop = if opts.fail_after == Some(i) {
            Some(Error::Injected(i))
        } else if opts.lease.as_ref().is_some_and(LeaseWatch::lost) {
            Some(Error::LockLost(plan.cluster.clone()))
        } else {
            None
        };
        if let Some(e) = stop {
            progress.failed(i, total, action, &e);
            report.failed = Some((action.clone(), e));
            report.not_done = plan.actions[i + 1..].to_vec();
            break;
        }
        progress.start(i, total, action);
        let started = Instant::now();
        let result = match action.op {
            Op::Create | Op::Update => match plan.resource(&action.key) {
                Some(r) => ex.ensure(r).await,
                None => Err(Error::Input(format!(
                    "internal: no spec for {}",
                    action.key
                ))),
            },
            Op::Delete => {
                let id = action.id.clone().unwrap_or_default();
                ex.delete(action.kind, &action.key, &id).await.map(|()| id)
            }
        };
        match result {
            Ok(id) => {
                progress.done(i, total, action, &id, started.elapsed());
                report.done.push((action.clone(), id));
            }
            Err(e) => {
                progress.failed(i, total, action, &e);
                report.failed = Some((action.clone(), e));
                report.not_done = plan.actions[i + 1..].to_vec();
                break;
            }
        }
    }
    progress.finish();
    report.snapshots = ex.snapshots;
    report.notes = ex.notes;
    report.state = ex.state;
    report
}

/// A value unique to this apply run (time and process), part of every client token.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    fnv_hex(format!("{nanos} {}", std::process::id()).as_bytes())
}

/// Applies actions, keeping the state current as resources appear and disappear.
pub(crate) struct Executor<'a> {
    pub(crate) aws: &'a Aws,
    pub(crate) plan: &'a Plan,
    pub(crate) state: State,
    pub(crate) opts: &'a ApplyOptions,
    /// Where roll events go.
    pub(crate) progress: &'a Progress,
    /// See [`run_id`].
    pub(crate) run: String,
    pub(crate) snapshots: Vec<String>,
    /// See [`Report::notes`].
    pub(crate) notes: Vec<String>,
}

impl Executor<'_> {
    /// Creates or converges `r`; returns its id.
    async fn ensure(&mut self, r: &Resource) -> Result<String> {
        if !r.is_resolvable(&self.state) {
            return Err(Error::Input(format!(
                "{} refers to resources that do not exist yet: {}",
                r.key,
                r.deps()
                    .iter()
                    .filter(|d| self.state.get(d).is_none())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let hash = r.hash(&self.state);
        let existing = self.state.get(&r.key).cloned();
        let actual = match r.kind() {
            Kind::Artefacts => self.ensure_artefacts(r, existing.as_ref()).await?,
            Kind::Vpc => self.ensure_vpc(r, existing.as_ref()).await?,
            Kind::InternetGateway => self.ensure_igw(r, existing.as_ref()).await?,
            Kind::Subnet => self.ensure_subnet(r, existing.as_ref()).await?,
            Kind::ElasticIp => self.ensure_eip(r, existing.as_ref()).await?,
            Kind::NatGateway => self.ensure_nat(r, existing.as_ref()).await?,
            Kind::RouteTable => self.ensure_route_table(r, existing.as_ref()).await?,
            Kind::VpcEndpoint => self.ensure_endpoint(r, existing.as_ref()).await?,
            Kind::SecurityGroup => self.ensure_security_group(r, existing.as_ref()).await?,
            Kind::SecurityGroupRules => {
                let id = self.ensure_rules(r, &hash).await?;
                Actual::new(Kind::SecurityGroupRules, &r.key, id)
            }
            Kind::NetworkInterface => self.ensure_eni(r, existing.as_ref()).await?,
            Kind::Volume => self.ensure_volume(r, existing.as_ref()).await?,
            Kind::LaunchTemplate => {
                self.ensure_launch_template(r, existing.as_ref(), &hash)
                    .await?
            }
            Kind::AutoScalingGroup => self.ensure_asg(r, existing.as_ref(), &hash).await?,
            Kind::Alarm => self.ensure_alarm(r, &hash).await?,
            Kind::Dashboard => self.ensure_dashboard(r, &hash).await?,
        };
        let mut actual = actual;
        if !matches!(
            r.kind(),
            Kind::Artefacts
                | Kind::SecurityGroupRules
                | Kind::AutoScalingGroup
                | Kind::Alarm
                | Kind::Dashboard
        ) {
            // The last step: mark the resource converged.
            self.tag_ec2(&actual.id, &[(TAG_HASH, &hash)], &r.key)
                .await?;
        }
        actual.hash = Some(hash);
        let id = actual.id.clone();
        self.state.put(actual);
        Ok(id)
    }

    /// Deletes resource `id` (logical `key`).
    async fn delete(&mut self, kind: Kind, key: &str, id: &str) -> Result<()> {
        match kind {
            Kind::Artefacts => self.delete_artefacts(key).await?,
            Kind::Vpc => self.delete_vpc(id).await?,
            Kind::InternetGateway => self.delete_igw(id).await?,
            Kind::Subnet => self.delete_subnet(id).await?,
            Kind::ElasticIp => self.delete_eip(id).await?,
            Kind::NatGateway => self.delete_nat(id).await?,
            Kind::RouteTable => self.delete_route_table(id).await?,
            Kind::VpcEndpoint => self.delete_endpoint(id).await?,
            Kind::SecurityGroup => self.delete_security_group(id).await?,
            Kind::SecurityGroupRules => self.delete_rules(id).await?,
            Kind::NetworkInterface => self.delete_eni(id).await?,
            Kind::Volume => self.delete_volume(key, id).await?,
            Kind::LaunchTemplate => self.delete_launch_template(id).await?,
            Kind::AutoScalingGroup => self.delete_asg(id).await?,
            Kind::Alarm => self.delete_alarm(id).await?,
            Kind::Dashboard => self.delete_dashboard(id).await?,
        }
        if self.state.get(key).is_some_and(|a| a.id == id) {
            self.state.resources.remove(key);
        }
        Ok(())
    }

    /// The client token of EC2 call `op` creating resource `key` in this run (at most 64 ASCII
    /// characters, as EC2 requires).
    pub(crate) fn client_token(&self, op: &str, key: &str) -> String {
        format!(
            "rmq-{}-{}-{}",
            self.run,
            fnv_hex(self.plan.cluster.as_bytes()),
            fnv_hex(format!("{op} {key}").as_bytes())
        )
    }

    /// Resolves `v` against the current state.
    pub(crate) fn v(&self, v: &Value) -> Result<String> {
        v.resolve(&self.state)
            .ok_or_else(|| Error::Input(format!("internal: unresolved reference {v:?}")))
    }

    /// Resolves every value of `vs` against the current state.
    pub(crate) fn vs(&self, vs: &[Value]) -> Result<Vec<String>> {
        vs.iter().map(|v| self.v(v)).collect()
    }

    /// Every tag of `r` as an EC2 tag specification for `rt`.
    pub(crate) fn tag_spec(
        &self,
        r: &Resource,
        rt: ResourceType,
        extra: &[(&str, &str)],
    ) -> TagSpecification {
        let mut tags: Vec<Tag> = r
            .tags(&self.plan.cluster, &self.plan.stack)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        tags.extend(
            extra
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build()),
        );
        TagSpecification::builder()
            .resource_type(rt)
            .set_tags(Some(tags))
            .build()
    }

    /// Adds or overwrites tags on an EC2 resource.
    pub(crate) async fn tag_ec2(&self, id: &str, tags: &[(&str, &str)], what: &str) -> Result<()> {
        self.aws
            .ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| aws(format!("CreateTags {what} {id}"), e))?;
        Ok(())
    }

    /// Polls `check` every `poll_interval` until it returns true, up to `wait_timeout`.
    pub(crate) async fn poll<F, Fut>(&self, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let deadline = Instant::now() + self.opts.wait_timeout;
        loop {
            if check().await? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    secs: self.opts.wait_timeout.as_secs(),
                });
            }
            tokio::time::sleep(self.opts.poll_interval).await;
        }
    }

    /// Retries `op` while it fails with one of `codes` (AWS eventual consistency and
    /// dependencies that are still going away), up to `wait_timeout`.
    pub(crate) async fn retry_on<F, Fut, T>(&self, codes: &[&str], mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + self.opts.wait_timeout;
        loop {
            match op().await {
                Err(e)
                    if e.code().is_some_and(|c| codes.contains(&c))
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(self.opts.poll_interval).await;
                }
                other => return other,
            }
        }
    }

    /// A waiter's failure as [`Error::Timeout`] (the SDK's `ExceededMaxWait`) or [`Error::Aws`].
    pub(crate) fn waited<T, O, E>(
        &self,
        what: &str,
        r: std::result::Result<T, WaiterError<O, E>>,
    ) -> Result<()>
    where
        O: std::fmt::Debug,
        E: std::fmt::Debug,
    {
        match r {
            Ok(_) => Ok(()),
            Err(WaiterError::ExceededMaxWait(_)) => Err(Error::Timeout {
                what: what.to_owned(),
                secs: self.opts.wait_timeout.as_secs(),
            }),
            Err(e) => Err(Error::Aws {
                what: format!("waiting for {what}"),
                code: "waiter".into(),
                message: format!("{e:?}").chars().take(600).collect(),
            }),
        }
    }
}

/// The error of a resource whose spec is not of its kind (a bug: `ensure` dispatches on the
/// spec's own kind).
pub(crate) fn wrong_spec(r: &Resource) -> Error {
    Error::Input(format!(
        "internal: {} has the wrong spec for its kind",
        r.key
    ))
}

/// `Ok(())` for the listed error codes (what is gone already, or there already).
pub(crate) fn ignore(r: Result<()>, codes: &[&str]) -> Result<()> {
    match r {
        Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => Ok(()),
        other => other,
    }
}
