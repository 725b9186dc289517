//! `rmqctl aws apply`: under the cluster's apply lock, discover and plan, move the current
//! masters last (`failover: Automatic`), ask for the confirmation of deletes, look at the cluster
//! for the readiness gate when instances roll, execute with progress and print the outputs;
//! then, outside the lock, reconcile the files' topics and consumer groups through the
//! nameservers.

use super::lock::locked;
use super::report::{ApplyJson, execute, failed, print_outputs};
use super::secrets::{admin_security, cluster_ca};
use super::{aws_err, print_destructive, print_plan, ready, roll, setup};
use crate::cli::aws::ApplyArgs;
use crate::cli::{NamesrvArg, SecurityArgs};
use crate::error::CtlError;
use crate::output::{Output, emit};
use rmq_aws::lock::LeaseWatch;
use rmq_aws::params::Params;
use rmq_aws::{ApplyOptions, Aws, Outputs, Plan};
use rmq_model::ValidatedCluster;
use rmq_model::manifest::Declarations;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

/// `rmqctl aws apply`.
pub(super) async fn apply(a: ApplyArgs) -> Result<(), CtlError> {
    let (decls, cluster, params, aws) = setup(&a.target).await?;
    let output = a.target.output;
    let out = locked(&aws, &cluster.name, "apply", a.break_lock, |lease| {
        converge(&a, &cluster, &params, &aws, lease)
    })
    .await?;
    if a.skip_topics || (decls.topics.is_empty() && decls.groups.is_empty()) {
        return Ok(());
    }
    let list = a
        .namesrv
        .namesrv
        .clone()
        .unwrap_or(out.name_server_addresses);
    let mut security = admin_security(&aws, &cluster, &a.namesrv.security).await?;
    // Kept until the reconcile is done: the CA bundle read from SSM, as a file for --tls-ca.
    let _ca = cluster_ca(&aws, &cluster, &mut security).await?;
    reconcile_topics(&decls, &cluster, list, &security, output).await
}

/// Plans and applies the cluster's resources (the lock held); the outputs when every action
/// was done.
async fn converge(
    a: &ApplyArgs,
    cluster: &ValidatedCluster,
    params: &Params,
    aws: &Aws,
    lease: LeaseWatch,
) -> Result<Outputs, CtlError> {
    let output = a.target.output;
    let table = output == Output::Table;
    let (found, mut plan) = rmq_aws::plan_apply(aws, cluster, params)
        .await
        .map_err(aws_err)?;
    let roll_note = if a.no_roll {
        None
    } else {
        roll::masters_last(&mut plan, &found, cluster, &a.namesrv, aws).await
    };
    if table {
        print_plan(&plan, "applying");
        print_destructive(&plan);
        if let Some(note) = &roll_note {
            println!("{note}");
        }
    }
    confirm(&plan, a.yes, table)?;
    let readiness = ready::gate(&plan, &found, cluster, a, aws).await?;
    let opts = ApplyOptions {
        wait_timeout: Duration::from_secs(a.wait_timeout),
        snapshot_volumes: !a.no_snapshot,
        roll_instances: !a.no_roll,
        readiness,
        ready_timeout: Duration::from_secs(a.ready_timeout),
        lease: Some(lease),
        fail_after: a.fail_after,
        ..ApplyOptions::default()
    };
    let report = execute(aws, &plan, &found, &opts, table).await;
    let out = report.ok().then(|| rmq_aws::outputs(&plan, &report.state));
    match &out {
        Some(o) if table => print_outputs(o),
        _ if table => {}
        _ => emit(output, &ApplyJson::new(&plan, &report, out.clone()))?,
    }
    failed(&report)?;
    out.ok_or_else(|| CtlError::ApplyFailed("no outputs".into()))
}

/// The plan's deletes run only when confirmed: `--yes`, or "yes" typed on a terminal. Without
/// a terminal (scripts, CI) and without `--yes` the apply is refused before anything changes.
fn confirm(plan: &Plan, yes: bool, table: bool) -> Result<(), CtlError> {
    let deletes = plan.destructive();
    if deletes.is_empty() || yes {
        return Ok(());
    }
    let list = deletes
        .iter()
        .map(|a| a.key.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let n = deletes.len();
    if table && std::io::stdin().is_terminal() {
        print!("this apply deletes {n} resource(s) ({list}); type yes to go on: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() == "yes" {
            return Ok(());
        }
        return Err(CtlError::Input(
            "the deletes were not confirmed: nothing was changed".into(),
        ));
    }
    Err(CtlError::Input(format!(
        "this apply deletes {n} resource(s) ({list}) and --yes was not given; it cannot ask (stdin is not a terminal), so nothing was changed (fix: review the plan, then run the same apply with --yes)"
    )))
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
