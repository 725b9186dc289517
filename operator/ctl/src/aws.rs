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

use crate::cli::aws::{ApplyArgs, AwsCommand, DestroyArgs, PlanArgs, SecretsCommand, Target};
use crate::cli::{NamesrvArg, SecurityArgs};
use crate::error::CtlError;
use crate::output::{Output, Table, emit};
use rmq_aws::params::{Connection, Network, Params};
use rmq_aws::{ApplyOptions, Aws, Outputs, Plan, Progress, Report};
use rmq_model::ValidatedCluster;
use rmq_model::manifest::Declarations;
use serde::Serialize;
use std::time::Duration;

mod roll;
mod secrets;
use secrets::{admin_security, cluster_ca, secrets_list, secrets_put};

/// Runs an `aws` subcommand.
pub async fn run(cmd: AwsCommand) -> Result<(), CtlError> {
    match cmd {
        AwsCommand::Plan(a) => plan(a).await,
        AwsCommand::Apply(a) => apply(a).await,
        AwsCommand::Destroy(a) => destroy(a).await,
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
    match a.target.output {
        Output::Table => {
            print_plan(&plan, "plan only, nothing changes");
            Ok(())
        }
        o => emit(
            o,
            &serde_json::json!({"cluster": plan.cluster, "actions": plan.actions, "controllers": plan.controllers, "warnings": plan.warnings}),
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

impl<'a> ApplyJson<'a> {
    fn new(plan: &'a Plan, report: &'a Report, outputs: Option<Outputs>) -> Self {
        Self {
            actions: &plan.actions,
            applied: report.done.len(),
            failed: report.failed.as_ref().map(|(x, e)| format!("{x}: {e}")),
            not_applied: report.not_done.len(),
            snapshots: &report.snapshots,
            outputs,
        }
    }
}

/// Executes `plan` (with a progress display for the table format) and prints the summary.
async fn execute(
    aws: &Aws,
    plan: &Plan,
    found: &rmq_aws::Discovered,
    opts: &ApplyOptions,
    table: bool,
) -> Report {
    let progress = if table {
        Progress::new(true)
    } else {
        Progress::silent()
    };
    let report = rmq_aws::apply(aws, plan, found, opts, &progress).await;
    summarize(&report, table);
    report
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
    if !out.controller_addresses.is_empty() {
        println!("  ControllerAddresses    {}", out.controller_addresses);
    }
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
    if let Some(d) = &out.dashboard {
        println!(
            "  DashboardName          {d}  (alarms {})",
            out.alarms.join(", ")
        );
    }
    let controllers = out.nodes.iter().any(|n| n.controller.is_some());
    let mut head = vec!["NODE", "ROLE", "ENDPOINT", "INTERFACE", "VOLUME", "ASG"];
    if controllers {
        head.push("CONTROLLER");
    }
    let mut t = Table::new(&head);
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    for n in &out.nodes {
        let mut row = vec![
            n.node.clone(),
            n.role.clone(),
            dash(&n.endpoint),
            dash(&n.network_interface),
            dash(&n.data_volume),
            dash(&n.auto_scaling_group),
        ];
        if controllers {
            row.push(dash(&n.controller));
        }
        t.row(row);
    }
    print!("{}", t.render());
}

async fn apply(a: ApplyArgs) -> Result<(), CtlError> {
    let (decls, cluster, params, aws) = setup(&a.target).await?;
    let output = a.target.output;
    let table = output == Output::Table;
    let (found, mut plan) = rmq_aws::plan_apply(&aws, &cluster, &params)
        .await
        .map_err(aws_err)?;
    let roll_note = if a.no_roll {
        None
    } else {
        roll::masters_last(&mut plan, &found, &cluster, &a.namesrv, &aws).await
    };
    if table {
        print_plan(&plan, "applying");
        if let Some(note) = &roll_note {
            println!("{note}");
        }
    }
    let opts = ApplyOptions {
        wait_timeout: Duration::from_secs(a.wait_timeout),
        snapshot_volumes: !a.no_snapshot,
        roll_instances: !a.no_roll,
        fail_after: a.fail_after,
        ..ApplyOptions::default()
    };
    let report = execute(&aws, &plan, &found, &opts, table).await;
    let out = report.ok().then(|| rmq_aws::outputs(&plan, &report.state));
    match &out {
        Some(o) if table => print_outputs(o),
        _ if table => {}
        _ => emit(output, &ApplyJson::new(&plan, &report, out.clone()))?,
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
    let mut security = admin_security(&aws, &cluster, &a.namesrv.security).await?;
    // Kept until the reconcile is done: the CA bundle read from SSM, as a file for --tls-ca.
    let _ca = cluster_ca(&aws, &cluster, &mut security).await?;
    reconcile_topics(&decls, &cluster, list, &security, output).await
}

/// Reconciles the files' topics and consumer groups through the nameservers in `list`, as
/// `rmqctl apply` does.
async fn reconcile_topics(
    decls: &Declarations,
    cluster: &ValidatedCluster,
    list: String,
    security: &SecurityArgs,
    output: Output,
) -> Result<(), CtlError> {
    let admin = crate::security::admin(&NamesrvArg {
        namesrv: Some(list),
        security: security.clone(),
    })?;
    let desired = decls.desired(std::slice::from_ref(&cluster.name));
    if output == Output::Table {
        println!(
            "topics and consumer groups (nameservers {}):",
            admin.name_servers().join(";")
        );
    }
    crate::apply::reconcile(&admin, &desired, decls, false, output, &mut |line| {
        println!("{line}")
    })
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
    let output = a.target.output;
    let table = output == Output::Table;
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
        let verb = if a.yes {
            "destroying"
        } else {
            "destroy plan only; pass --yes to delete"
        };
        print_plan(&plan, verb);
    }
    if !a.yes {
        return if table {
            Ok(())
        } else {
            emit(output, &plan.actions)
        };
    }
    let opts = ApplyOptions {
        wait_timeout: Duration::from_secs(a.wait_timeout),
        snapshot_volumes: !a.no_snapshot,
        ..ApplyOptions::default()
    };
    let report = execute(&aws, &plan, &found, &opts, table).await;
    if !table {
        emit(output, &ApplyJson::new(&plan, &report, None))?;
    }
    failed(&report)
}
