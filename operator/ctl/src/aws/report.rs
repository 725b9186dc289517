//! What `rmqctl aws apply|destroy` prints about an apply: the progress while it runs, the
//! summary (what was done, what failed, notes and snapshots), the JSON of `-o json`, and the
//! cluster's outputs.

use crate::error::CtlError;
use crate::output::Table;
use rmq_aws::{ApplyOptions, Aws, Outputs, Plan, Progress, Report};
use serde::Serialize;

/// The `-o json` answer of `apply` and `destroy --yes`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApplyJson<'a> {
    actions: &'a [rmq_aws::Action],
    applied: usize,
    failed: Option<String>,
    not_applied: usize,
    snapshots: &'a [String],
    notes: &'a [String],
    outputs: Option<Outputs>,
}

impl<'a> ApplyJson<'a> {
    /// The answer for `plan` executed as `report` says, with the cluster's `outputs`.
    pub(super) fn new(plan: &'a Plan, report: &'a Report, outputs: Option<Outputs>) -> Self {
        Self {
            actions: &plan.actions,
            applied: report.done.len(),
            failed: report.failed.as_ref().map(|(x, e)| format!("{x}: {e}")),
            not_applied: report.not_done.len(),
            snapshots: &report.snapshots,
            notes: &report.notes,
            outputs,
        }
    }
}

/// Executes `plan` (with a progress display for the table format) and prints the summary.
pub(super) async fn execute(
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

/// The end of an apply: what was not run, snapshots and notes, the counts.
fn summarize(report: &Report, table: bool) {
    if !table {
        return;
    }
    for a in &report.not_done {
        println!("  not run {a}");
    }
    for n in &report.notes {
        println!("note: {n}");
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

/// The failure of `report`, if any, as rmqctl's error.
pub(super) fn failed(report: &Report) -> Result<(), CtlError> {
    match &report.failed {
        None => Ok(()),
        Some((a, e)) => Err(CtlError::ApplyFailed(format!("{a}: {e}"))),
    }
}

/// The cluster's outputs as a table.
pub(super) fn print_outputs(out: &Outputs) {
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
