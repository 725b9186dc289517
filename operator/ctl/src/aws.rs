//! `rmqctl aws plan|apply|destroy -f cluster.yaml --region R [--endpoint-url URL]` (cargo
//! feature `aws`): the AWS back-end through `rmq-aws` (EC2, Auto Scaling, S3 with the SDK).
//!
//! `plan` discovers what exists (by tag) and prints the diff; `apply` executes it with progress,
//! prints the outputs, then reconciles the files' topics and consumer groups through the
//! nameserver addresses with the same code as `rmqctl apply` (run it from the bastion or inside
//! the VPC, or pass `--namesrv` through a tunnel, or `--skip-topics`); `destroy` deletes every
//! resource tagged for the cluster, in reverse order.

use crate::cli::{NamesrvArg, Output};
use crate::error::CtlError;
use clap::{Args, Subcommand};
use rmq_aws::params::{Connection, Network, Params};
use rmq_aws::{ApplyOptions, Aws, Outputs, Plan, Progress, Report};
use rmq_model::ValidatedCluster;
use rmq_model::admin::Admin;
use rmq_model::manifest::Declarations;
use rmq_model::plan::Desired;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// `rmqctl aws ...`.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Show what `apply` would create, update and delete (read-only).
    Plan(PlanArgs),
    /// Create or converge the cluster's resources, then reconcile topics and consumer groups.
    Apply(ApplyArgs),
    /// Delete every resource tagged for the cluster (data volumes are snapshotted first).
    Destroy(DestroyArgs),
}

/// Which cluster, where, and the AWS settings the cluster spec does not carry.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// YAML files: exactly one RocketMQCluster, plus any RocketMQTopic / RocketMQConsumerGroup.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// AWS region.
    #[arg(long, env = "AWS_REGION")]
    pub region: String,
    /// Endpoint override (e.g. a moto_server); credentials then come from the environment or
    /// profile files, never from the instance metadata service.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Turn SDK retries off (tests).
    #[arg(long, hide = true)]
    pub no_retries: bool,
    /// Value of the rmq:stack tag the node role's IAM policy is scoped to [default: cluster name].
    #[arg(long)]
    pub stack_id: Option<String>,
    /// Use this existing VPC (with --subnet-ids) instead of creating one.
    #[arg(long, requires = "subnet_ids")]
    pub vpc_id: Option<String>,
    /// Private subnets of --vpc-id, one per zone (2 or 3), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub subnet_ids: Vec<String>,
    /// Security group of existing bastion hosts allowed to SSH to the nodes (with --vpc-id).
    #[arg(long)]
    pub bastion_security_group: Option<String>,
    /// CIDR of a new VPC.
    #[arg(long, default_value = "10.0.0.0/16")]
    pub vpc_cidr: String,
    /// Zones of a new VPC, comma-separated [default: the first --az-count of the region].
    #[arg(long, value_delimiter = ',')]
    pub azs: Vec<String>,
    /// Number of zones of a new VPC (2 or 3).
    #[arg(long, default_value_t = 2)]
    pub az_count: usize,
    /// One NAT gateway in zone 1 instead of one per zone.
    #[arg(long)]
    pub single_nat: bool,
    /// Bastion hosts in a new VPC (0-4) [default: 1 with a new VPC, 0 with --vpc-id].
    #[arg(long)]
    pub bastion_count: Option<i32>,
    /// EC2 key pair for SSH (bastion and nodes).
    #[arg(long)]
    pub key_pair: Option<String>,
    /// The only CIDR allowed to SSH to the bastion, e.g. 203.0.113.4/32.
    #[arg(long)]
    pub remote_access_cidr: Option<String>,
    /// Also open 9876/10911 to the whole VPC CIDR (else only to the clients security group).
    #[arg(long)]
    pub allow_clients_from_vpc: bool,
    /// Instance type of the nameservers.
    #[arg(long, default_value = "t3.medium")]
    pub namesrv_instance_type: String,
    /// Instance type of the brokers.
    #[arg(long, default_value = "m6i.large")]
    pub broker_instance_type: String,
    /// Instance type of the bastion hosts.
    #[arg(long, default_value = "t3.micro")]
    pub bastion_instance_type: String,
    /// AMI of every instance [default: the newest Amazon Linux 2023 x86_64; kept once used].
    #[arg(long)]
    pub ami_id: Option<String>,
    /// Instance profile (name or ARN) of the node role (see `plan --print-iam-policy`).
    #[arg(long)]
    pub instance_profile: Option<String>,
    /// S3 bucket for the binaries (created and tagged for the cluster if it does not exist).
    #[arg(long, env = "RMQ_ARTEFACT_BUCKET")]
    pub artefact_bucket: String,
    /// Key prefix of the binaries [default: rmq/<cluster>/<version>/].
    #[arg(long)]
    pub artefact_prefix: Option<String>,
    /// Region of the artefact bucket [default: --region].
    #[arg(long)]
    pub artefact_region: Option<String>,
    /// Directory holding rmq-namesrv and rmq-broker to upload [default: next to rmqctl, if
    /// they are there; else they must already be in the bucket].
    #[arg(long)]
    pub artefact_dir: Option<PathBuf>,
    /// EBS type of the data volumes when the spec has no storageClass.
    #[arg(long, default_value = "gp3")]
    pub volume_type: String,
    /// KMS key of the data volumes [default: the account's default EBS key].
    #[arg(long)]
    pub volume_kms_key: Option<String>,
    /// Existing CloudWatch Logs group the nodes ship their logs to.
    #[arg(long)]
    pub log_group: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `rmqctl aws plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Cluster and settings.
    #[command(flatten)]
    pub target: Target,
    /// Print the node role's least-privilege IAM policy (and trust policy) and stop.
    #[arg(long)]
    pub print_iam_policy: bool,
}

/// `rmqctl aws apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Cluster and settings.
    #[command(flatten)]
    pub target: Target,
    /// Seconds each waiter may take.
    #[arg(long, default_value_t = 900)]
    pub wait_timeout: u64,
    /// Delete the data volumes of removed brokers without a final snapshot.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Do not replace instances after their launch template changed (they pick it up when
    /// replaced for another reason).
    #[arg(long)]
    pub no_roll: bool,
    /// Nameservers to reconcile topics and groups through [default: the cluster's addresses].
    #[command(flatten)]
    pub namesrv: NamesrvArg,
    /// Do not reconcile topics and consumer groups.
    #[arg(long)]
    pub skip_topics: bool,
    /// Test hook: stop before action N.
    #[arg(long, hide = true, env = "RMQ_AWS_FAIL_AFTER")]
    pub fail_after: Option<usize>,
}

/// `rmqctl aws destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Cluster and settings (the artefact bucket/prefix say which artefacts to remove).
    #[command(flatten)]
    pub target: Target,
    /// Really delete (without it the plan is printed and nothing changes).
    #[arg(long)]
    pub yes: bool,
    /// Delete data volumes without a final snapshot.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Seconds each waiter may take.
    #[arg(long, default_value_t = 900)]
    pub wait_timeout: u64,
}

/// Runs an `aws` subcommand.
pub async fn run(cmd: AwsCommand) -> Result<(), CtlError> {
    match cmd {
        AwsCommand::Plan(a) => plan(a).await,
        AwsCommand::Apply(a) => apply(a).await,
        AwsCommand::Destroy(a) => destroy(a).await,
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
    let cluster =
        match decls.clusters.as_slice() {
            [(_, c)] => c.clone(),
            [] => return Err(CtlError::Input(
                "no RocketMQCluster in the files (fix: add exactly one RocketMQCluster document)"
                    .into(),
            )),
            many => {
                return Err(CtlError::Input(format!(
                    "{} RocketMQCluster documents ({}) (fix: one cluster per `rmqctl aws` call)",
                    many.len(),
                    many.iter()
                        .map(|(s, c)| format!("{} at {s}", c.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
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
    let artefact_dir = t.artefact_dir.clone().or_else(|| {
        let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
        ["rmq-namesrv", "rmq-broker"]
            .iter()
            .all(|b| dir.join(b).is_file())
            .then_some(dir)
    });
    let params = Params {
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
    };
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
        return;
    }
    println!(
        "plan for cluster {} ({verb}): {c} to create, {u} to update, {d} to delete",
        plan.cluster
    );
    for a in &plan.actions {
        println!("  {a}");
    }
}

fn emit<T: Serialize>(output: Output, data: &T) -> Result<(), CtlError> {
    crate::output::print(output, data, crate::output::Table::default)
}

async fn plan(a: PlanArgs) -> Result<(), CtlError> {
    let (_, cluster, params, aws) = setup(&a.target).await?;
    if a.print_iam_policy {
        let stack = params.stack(&cluster.name);
        let prefix = params.prefix(&cluster.name, &cluster.version);
        let doc = serde_json::json!({
            "PolicyName": "rmq-node",
            "PolicyDocument": rmq_aws::iam::node_policy(aws.partition(), &stack, &params.artefact_bucket, &prefix, params.log_group.as_deref()),
            "AssumeRolePolicyDocument": rmq_aws::iam::trust_policy(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| CtlError::Render(e.to_string()))?
        );
        return Ok(());
    }
    let (_, plan) = rmq_aws::plan_apply(&aws, &cluster, &params)
        .await
        .map_err(aws_err)?;
    match a.target.output {
        Output::Table => {
            print_plan(&plan, "plan only, nothing changes");
            Ok(())
        }
        o => emit(
            o,
            &serde_json::json!({"cluster": plan.cluster, "actions": plan.actions, "warnings": plan.warnings}),
        ),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplyJson<'a> {
    actions: &'a [rmq_aws::Action],
    applied: usize,
    failed: Option<String>,
    not_applied: usize,
    snapshots: &'a [String],
    outputs: Option<Outputs>,
}

fn summarize(report: &Report, table: bool) {
    if !table {
        return;
    }
    for a in &report.not_done {
        println!("  not run {a}");
    }
    if !report.snapshots.is_empty() {
        println!(
            "final snapshots of deleted data volumes: {}",
            report.snapshots.join(", ")
        );
    }
    match &report.failed {
        None => println!("applied {} change(s)", report.done.len()),
        Some(_) => println!(
            "stopped: {} change(s) applied, 1 failed, {} not applied; fix the cause and run the same command again (it continues from the current state)",
            report.done.len(),
            report.not_done.len()
        ),
    }
}

fn failed(report: &Report) -> Result<(), CtlError> {
    match &report.failed {
        None => Ok(()),
        Some((a, e)) => Err(CtlError::ApplyFailed(format!("{a}: {e}"))),
    }
}

fn print_outputs(out: &Outputs) {
    println!("cluster {}", out.cluster);
    println!("  NameServerAddresses    {}", out.name_server_addresses);
    if let Some(sg) = &out.client_security_group {
        println!("  ClientSecurityGroupID  {sg}");
    }
    if let Some(v) = &out.vpc_id {
        println!(
            "  VPCID                  {v}  (private subnets {})",
            out.private_subnets.join(", ")
        );
    }
    if let Some(b) = &out.bastion_auto_scaling_group {
        println!("  Bastion                {b}");
    }
    if let Some(a) = &out.artefacts {
        println!("  Artefacts              {a}");
    }
    let mut t =
        crate::output::Table::new(&["NODE", "ROLE", "ENDPOINT", "INTERFACE", "VOLUME", "ASG"]);
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    for n in &out.nodes {
        t.row(vec![
            n.node.clone(),
            n.role.clone(),
            dash(&n.endpoint),
            dash(&n.network_interface),
            dash(&n.data_volume),
            dash(&n.auto_scaling_group),
        ]);
    }
    print!("{}", t.render());
}

async fn apply(a: ApplyArgs) -> Result<(), CtlError> {
    let (decls, cluster, params, aws) = setup(&a.target).await?;
    let table = a.target.output == Output::Table;
    let (found, plan) = rmq_aws::plan_apply(&aws, &cluster, &params)
        .await
        .map_err(aws_err)?;
    if table {
        print_plan(&plan, "applying");
    }
    let opts = ApplyOptions {
        wait_timeout: Duration::from_secs(a.wait_timeout),
        snapshot_volumes: !a.no_snapshot,
        roll_instances: !a.no_roll,
        fail_after: a.fail_after,
        ..ApplyOptions::default()
    };
    let progress = if table {
        Progress::new(true)
    } else {
        Progress::silent()
    };
    let report = rmq_aws::apply(&aws, &plan, &found, &opts, &progress).await;
    summarize(&report, table);
    let out = report.ok().then(|| rmq_aws::outputs(&plan, &report.state));
    if table {
        if let Some(o) = &out {
            print_outputs(o);
        }
    } else {
        emit(
            a.target.output,
            &ApplyJson {
                actions: &plan.actions,
                applied: report.done.len(),
                failed: report.failed.as_ref().map(|(x, e)| format!("{x}: {e}")),
                not_applied: report.not_done.len(),
                snapshots: &report.snapshots,
                outputs: out.clone(),
            },
        )?;
    }
    failed(&report)?;
    if a.skip_topics || (decls.topics.is_empty() && decls.groups.is_empty()) {
        return Ok(());
    }
    let list = a
        .namesrv
        .namesrv
        .clone()
        .or_else(|| out.map(|o| o.name_server_addresses))
        .unwrap_or_default();
    let admin = Admin::new(crate::apply::name_servers(&NamesrvArg {
        namesrv: Some(list),
    })?);
    let mut desired = Desired::new(
        decls.topics.iter().map(|(_, t)| t.clone()).collect(),
        decls.groups.iter().map(|(_, g)| g.clone()).collect(),
        std::slice::from_ref(&cluster.name),
    );
    desired.manager = rmq_model::defaults::MANAGER_RMQCTL.to_owned();
    if table {
        println!(
            "topics and consumer groups (nameservers {}):",
            admin.name_servers().join(";")
        );
    }
    crate::apply::reconcile(
        &admin,
        &desired,
        &decls,
        false,
        a.target.output,
        &mut |line| println!("{line}"),
    )
        .await
        .map_err(|e| match e {
            CtlError::Admin(err) => CtlError::Aws(format!(
                "the cluster's resources are applied, but topics and groups were not: {err} (fix: run from the bastion or inside the VPC, pass --namesrv through a tunnel, or --skip-topics)"
            )),
            other => other,
        })
}

async fn destroy(a: DestroyArgs) -> Result<(), CtlError> {
    let (_, cluster, params, aws) = setup(&a.target).await?;
    let table = a.target.output == Output::Table;
    let (found, plan) = rmq_aws::plan_destroy_cluster(&aws, &cluster, &params)
        .await
        .map_err(aws_err)?;
    if plan.actions.is_empty() {
        if table {
            println!(
                "nothing to delete: no resource is tagged rmq.dev/cluster={}",
                cluster.name
            );
        }
        return Ok(());
    }
    if table {
        print_plan(
            &plan,
            if a.yes {
                "destroying"
            } else {
                "destroy plan only; pass --yes to delete"
            },
        );
    }
    if !a.yes {
        return if table {
            Ok(())
        } else {
            emit(a.target.output, &plan.actions)
        };
    }
    let opts = ApplyOptions {
        wait_timeout: Duration::from_secs(a.wait_timeout),
        snapshot_volumes: !a.no_snapshot,
        ..ApplyOptions::default()
    };
    let progress = if table {
        Progress::new(true)
    } else {
        Progress::silent()
    };
    let report = rmq_aws::apply(&aws, &plan, &found, &opts, &progress).await;
    summarize(&report, table);
    if !table {
        emit(
            a.target.output,
            &ApplyJson {
                actions: &plan.actions,
                applied: report.done.len(),
                failed: report.failed.as_ref().map(|(x, e)| format!("{x}: {e}")),
                not_applied: report.not_done.len(),
                snapshots: &report.snapshots,
                outputs: None,
            },
        )?;
    }
    failed(&report)
}
