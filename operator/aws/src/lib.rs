//! rmq-aws: provision an rmq cluster on AWS directly with the SDK (EC2, Auto Scaling, S3,
//! CloudWatch), in the same layout as the CloudFormation templates (`cloudformation/README.md`,
//! "Layout: the contract for rmq-aws"), with the same alarms and dashboard, from the same
//! `RocketMQCluster` spec every other back-end uses.
//!
//! The flow is `discover` (read-only, by tag) → [`plan()`] (pure diff) → [`apply()`] (in
//! dependency order, with waiters and progress) → [`outputs()`]:
//!
//! - [`arch`]: CPU architectures of instance types, AMIs and binaries.
//! - [`params`]: the AWS settings the cluster spec does not carry, validated up front.
//! - [`resource`]: the resource model: keys, specs with references, tags, spec hashes.
//! - [`layout`]: the desired resources of a cluster (pure).
//! - [`plan`]: desired vs discovered → ordered create/update/delete actions (pure).
//! - [`roll`]: the order instances are replaced in; with `failover: Automatic` the current
//!   masters last, from the nameservers' cluster info (pure).
//! - [`readiness`]: what a roll waits for after replacing a node (registered with the
//!   nameservers, a slave caught up with its master) before it replaces the next.
//! - [`lock`]: the apply lock, one apply or destroy per cluster at a time.
//! - [`discovered`]: what discovery found, as data the pure half reads.
//! - [`discover`]: what exists, found by the `rmq.dev/cluster` tag (alarms by name prefix and tag,
//!   the dashboard by name and marker); zones, AMI, artefacts.
//! - [`exec`]: runs a plan; every resource is tagged at creation and marked converged (hash
//!   tag) last, so a re-run after a failure adopts what exists and finishes the job.
//! - [`userdata`]: the node user data: header + `cloudformation/userdata/node-bootstrap.sh`.
//! - [`iam`]: the node role's least-privilege policy (printed, not created).
//! - [`secrets`]: `spec.security`'s secrets as SSM parameters `/rmq/<cluster>/<secret>/<key>`:
//!   which node reads which, the plan's check that they exist, `rmqctl aws secrets put|list`.
//! - [`client`]: SDK clients; no instance metadata service when an endpoint override is given.
//! - [`outputs`]: nameserver addresses, nodes, groups, dashboard and alarms.
//! - [`error`]: what stops a plan, discovery or an apply.
//!
//! Topics and consumer groups are not this crate's job: `rmqctl aws apply` reconciles them
//! through the nameserver addresses with the same code as `rmqctl apply`.

pub mod action;
pub mod arch;
pub mod client;
pub mod discover;
pub mod discovered;
pub mod error;
pub mod exec;
pub mod iam;
pub mod layout;
pub mod lock;
pub mod outputs;
pub mod params;
pub mod plan;
pub mod progress;
pub mod readiness;
pub mod resource;
pub mod roll;
pub mod secrets;
pub mod userdata;

pub use client::Aws;
pub use discover::{discover, discover_tagged};
pub use discovered::{Discovered, Environment, ExistingVpc};
pub use error::{Error, PlanError, Result};
pub use exec::{ApplyOptions, Report, apply};
pub use outputs::{Outputs, outputs};
pub use params::{Connection, Network, ParamError, Params};
pub use plan::{Action, Op, Plan, plan, plan_destroy};
pub use progress::{Progress, RollEvent};

use rmq_model::ValidatedCluster;

/// Discovers and plans an apply of `cluster`; refuses while a parameter of a secret
/// `spec.security` names is missing.
pub async fn plan_apply(
    aws: &Aws,
    cluster: &ValidatedCluster,
    params: &Params,
) -> Result<(Discovered, Plan)> {
    params
        .validate()
        .map_err(|errs| Error::Plan(errs.into_iter().map(PlanError::from).collect()))?;
    let found = discover(aws, &cluster.name, &cluster.version, params).await?;
    secrets::ssm::check(aws, &cluster.name, &cluster.security).await?;
    let plan = plan::plan(cluster, params, &found).map_err(Error::Plan)?;
    Ok((found, plan))
}

/// Discovers and plans the destruction of everything tagged for `cluster`.
pub async fn plan_destroy_cluster(
    aws: &Aws,
    cluster: &ValidatedCluster,
    params: &Params,
) -> Result<(Discovered, Plan)> {
    let found = discover_tagged(aws, &cluster.name, &cluster.version, params).await?;
    let plan = plan::plan_destroy(&cluster.name, params, &found);
    Ok((found, plan))
}
