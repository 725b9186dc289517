//! `rmqctl aws plan|apply|destroy -f cluster.yaml --region R [--endpoint-url URL]` (cargo
//! feature `aws`): the AWS back-end through `rmq-aws` (EC2, Auto Scaling, S3 with the SDK).
//!
//! `plan` discovers what exists (by tag) and prints the diff; `apply` executes it with progress,
//! prints the outputs, then reconciles the files' topics and consumer groups through the
//! nameserver addresses with the same code as `rmqctl apply` (run it from the bastion or inside
//! the VPC, or pass `--namesrv` through a tunnel, or `--skip-topics`); `destroy` deletes every
//! resource tagged for the cluster, in reverse order. `secrets put|list` manage the SSM
//! parameters of `spec.security`'s secrets; `apply` signs its topic reconcile with the admin
//! account of `--access-key`/`--secret-key`, else of the spec's `adminSecret` parameters, and
//! with TLS on verifies the nameservers against `--tls-ca`, else against the `ca.crt` parameter
//! of the spec's `certificateSecret`. With `failover: Automatic` the plan shows the controllers
//! (on the first nameserver nodes) and `apply` rolls the current masters last (`roll`).
//!
//! `apply` and `destroy --yes` hold the cluster's apply lock (`lock`); an apply whose plan
//! deletes anything needs `--yes` (or a "yes" typed on a terminal); an apply that replaces
//! instances waits for each replaced node to be ready (`ready`) before the next.
//!
//! - `apply`, `destroy`: the two commands that change things.
//! - `report`: progress, summary, JSON and outputs of an apply.
//! - `lock`, `ready`, `roll`: the apply lock, the readiness gate, the masters-last order.
//! - `secrets`: `secrets put|list` and what `apply` reads from SSM.

use crate::cli::aws::{AwsCommand, PlanArgs, SecretsCommand, Target};
use crate::error::CtlError;
use crate::output::{Output, emit};
use rmq_aws::params::{Connection, Network, Params};
use rmq_aws::{Aws, Plan};
use rmq_model::ValidatedCluster;
use rmq_model::manifest::Declarations;

mod apply;
mod destroy;
mod lock;
mod ready;
mod report;
mod roll;
mod secrets;
use secrets::{secrets_list, secrets_put};

/// Runs an `aws` subcommand.
pub async fn run(cmd: AwsCommand) -> Result<(), CtlError> {
    match cmd {
        AwsCommand::Plan(a) => plan(a).await,
        AwsCommand::Apply(a) => apply::apply(a).await,
        AwsCommand::Destroy(a) => destroy::destroy(a).await,
        AwsCommand::Secrets(SecretsCommand::Put(a)) => secrets_put(a).await,
        AwsCommand::Secrets(SecretsCommand::List(a)) => secrets_list(a).await,
    }
}

fn aws_err(e: rmq_aws::Error) -> CtlError {
    match e {
        rmq_aws::Error::Plan(errs) => {
            CtlError::Plan(errs.iter().map(ToString::to_string).collect())
        }
        rmq_aws::Error::Input(m) => CtlError::Input(m),
        other => CtlError::Aws(other.to_string()),
    }
}

/// The one cluster of the files, the parameters and the clients.
async fn setup(t: &Target) -> Result<(Declarations, ValidatedCluster, Params, Aws), CtlError> {
    let decls = crate::apply::load(&t.files)?;
    let cluster = the_cluster(&decls)?;
    let params = params(t);
    params.validate().map_err(|errs| {
        CtlError::Input(
            errs.iter()
                .map(|e| format!("  - {e}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let aws = Aws::connect(&Connection {
        region: t.region.clone(),
        endpoint_url: t.endpoint_url.clone(),
        no_retries: t.no_retries,
    })
    .await;
    Ok((decls, cluster, params, aws))
}

/// The only RocketMQCluster of the files.
fn the_cluster(decls: &Declarations) -> Result<ValidatedCluster, CtlError> {
    match decls.clusters.as_slice() {
        [(_, c)] => Ok(c.clone()),
        [] => Err(CtlError::Input(
            "no RocketMQCluster in the files (fix: add exactly one RocketMQCluster document)"
                .into(),
        )),
        many => Err(CtlError::Input(format!(
            "{} RocketMQCluster documents ({}) (fix: one cluster per `rmqctl aws` call)",
            many.len(),
            many.iter()
                .map(|(s, c)| format!("{} at {s}", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The provisioning parameters the flags give (the cluster spec gives the rest).
fn params(t: &Target) -> Params {
    let network = match &t.vpc_id {
        Some(vpc) => Network::Existing {
            vpc_id: vpc.clone(),
            subnet_ids: t.subnet_ids.clone(),
            bastion_security_group: t.bastion_security_group.clone(),
        },
        None => Network::New {
            cidr: t.vpc_cidr.clone(),
            azs: t.azs.clone(),
            az_count: t.az_count,
            nat_per_az: !t.single_nat,
        },
    };
    // Without --artefact-dir, the binaries next to rmqctl are uploaded if they are there.
    let artefact_dir = t.artefact_dir.clone().or_else(|| {
        let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
        ["rmq-namesrv", "rmq-broker"]
            .iter()
            .all(|b| dir.join(b).is_file())
            .then_some(dir)
    });
    Params {
        stack_id: t.stack_id.clone(),
        bastion_count: t
            .bastion_count
            .unwrap_or(if t.vpc_id.is_some() { 0 } else { 1 }),
        network,
        key_pair: t.key_pair.clone(),
        remote_access_cidr: t.remote_access_cidr.clone(),
        allow_clients_from_vpc: t.allow_clients_from_vpc,
        namesrv_instance_type: t.namesrv_instance_type.clone(),
        broker_instance_type: t.broker_instance_type.clone(),
        bastion_instance_type: t.bastion_instance_type.clone(),
        ami_id: t.ami_id.clone(),
        instance_profile: t.instance_profile.clone(),
        artefact_bucket: t.artefact_bucket.clone(),
        artefact_prefix: t.artefact_prefix.clone(),
        artefact_region: t.artefact_region.clone(),
        artefact_dir,
        volume_type: t.volume_type.clone(),
        volume_kms_key: t.volume_kms_key.clone(),
        log_group: t.log_group.clone(),
        alarm_topic_arn: t.alarm_topic_arn.clone(),
        consumer_lag_alarm_threshold: t.consumer_lag_alarm_threshold,
        replication_lag_alarm_bytes: t.replication_lag_alarm_bytes,
    }
}

fn print_plan(plan: &Plan, verb: &str) {
    for w in &plan.warnings {
        println!("warning: {w}");
    }
    let (c, u, d) = plan.counts();
    if plan.actions.is_empty() {
        println!(
            "no changes: cluster {} is as declared ({} resources)",
            plan.cluster,
            plan.resources.len()
        );
        print_controllers(plan);
        return;
    }
    println!(
        "plan for cluster {} ({verb}): {c} to create, {u} to update, {d} to delete",
        plan.cluster
    );
    for a in &plan.actions {
        println!("  {a}");
    }
    print_controllers(plan);
}

/// The deletes of an apply plan, which need `--yes`.
fn print_destructive(plan: &Plan) {
    let deletes = plan.destructive();
    if deletes.is_empty() {
        return;
    }
    println!(
        "destructive: {} delete(s); apply runs them only with --yes (or when confirmed on a terminal):",
        deletes.len()
    );
    for a in deletes {
        println!("  ! {} ({})", a.key, a.reason);
    }
}

/// The controllers of `failover: Automatic` and the nameserver nodes that run them.
fn print_controllers(plan: &Plan) {
    if plan.controllers.is_empty() {
        return;
    }
    println!("controllers (failover: Automatic), on the nameserver nodes:");
    for c in &plan.controllers {
        println!("  {} on {} (port {})", c.name, c.node, c.port);
    }
}

async fn plan(a: PlanArgs) -> Result<(), CtlError> {
    let (_, cluster, params, aws) = setup(&a.target).await?;
    if a.print_iam_policy {
        return print_iam_policy(&cluster, &params, &aws).await;
    }
    let (_, plan) = rmq_aws::plan_apply(&aws, &cluster, &params)
        .await
        .map_err(aws_err)?;
    let held = rmq_aws::lock::current(&aws, &cluster.name)
        .await
        .map_err(aws_err)?;
    match a.target.output {
        Output::Table => {
            print_plan(&plan, "plan only, nothing changes");
            print_destructive(&plan);
            if let Some(holder) = held {
                println!(
                    "note: {}",
                    rmq_aws::lock::Held {
                        holder,
                        now: rmq_aws::lock::now(),
                    }
                );
            }
            Ok(())
        }
        o => emit(
            o,
            &serde_json::json!({"cluster": plan.cluster, "actions": plan.actions, "destructive": plan.destructive(), "controllers": plan.controllers, "warnings": plan.warnings}),
        ),
    }
}

/// The node role's least-privilege policy and trust policy, as JSON; with `spec.security`, read
/// access to the cluster's own parameters (the account id from STS).
async fn print_iam_policy(
    cluster: &ValidatedCluster,
    params: &Params,
    aws: &Aws,
) -> Result<(), CtlError> {
    let stack = params.stack(&cluster.name);
    let prefix = params.prefix(&cluster.name, &cluster.version);
    let scope = if rmq_aws::secrets::cluster_files(&cluster.security).is_empty() {
        None
    } else {
        Some(rmq_aws::iam::SecretsScope {
            region: aws.region.clone(),
            account: aws.account_id().await.map_err(aws_err)?,
            cluster: cluster.name.clone(),
        })
    };
    let doc = serde_json::json!({
        "PolicyName": "rmq-node",
        "PolicyDocument": rmq_aws::iam::node_policy(aws.partition(), &stack, &params.artefact_bucket, &prefix, params.log_group.as_deref(), scope.as_ref()),
        "AssumeRolePolicyDocument": rmq_aws::iam::trust_policy(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).map_err(|e| CtlError::Render(e.to_string()))?
    );
    Ok(())
}
