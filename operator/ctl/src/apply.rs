//! `rmqctl apply` and the reconcile step of `local up`: load declarations, observe, plan (pure),
//! print the plan, execute it action by action and report what was and was not applied.

use crate::cli::ApplyArgs;
use crate::error::CtlError;
use crate::output::{Output, emit};
use rmq_model::admin::{Admin, ApplyReport, Outcome};
use rmq_model::manifest::{Declarations, Source, load_files};
use rmq_model::plan::{Action, Desired, PlanError, plan};
use serde::Serialize;
use std::path::PathBuf;

/// Loads and validates files; every problem becomes one line of the error.
pub fn load(files: &[PathBuf]) -> Result<Declarations, CtlError> {
    load_files(files).map_err(CtlError::Manifest)
}

/// `rmqctl apply`.
pub async fn run(args: ApplyArgs) -> Result<(), CtlError> {
    let decls = load(&args.files)?;
    let admin = crate::security::admin(&args.namesrv)?;
    let mut scope = args.prune_clusters.clone();
    scope.extend(decls.clusters.iter().map(|(_, c)| c.name.clone()));
    let mut desired = decls.desired(&scope);
    desired.manager = args.manager.clone();
    reconcile(
        &admin,
        &desired,
        &decls,
        args.dry_run,
        args.output,
        &mut |line| println!("{line}"),
    )
    .await
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    dry_run: bool,
    name_servers: &'a [String],
    plan: &'a [Action],
    applied: usize,
    failed: Option<String>,
    not_applied: usize,
}

/// Observes, plans and (unless `dry_run`) applies `desired`. With the table format every line
/// goes to `out`; JSON and YAML go to stdout at the end.
pub async fn reconcile(
    admin: &Admin,
    desired: &Desired,
    decls: &Declarations,
    dry_run: bool,
    output: Output,
    out: &mut dyn FnMut(String),
) -> Result<(), CtlError> {
    let observed = admin.observe(&desired.clusters()).await?;
    let actions = plan(desired, &observed).map_err(|errs| plan_errors(errs, decls))?;
    let table = output == Output::Table;
    let ns = admin.name_servers().join(";");
    if actions.is_empty() {
        if table {
            out(format!(
                "no changes: {} topic(s) and {} consumer group(s) are as declared (nameservers {ns})",
                desired.topics.len(),
                desired.groups.len()
            ));
        } else {
            emit(output, &json(admin, &actions, dry_run, None))?;
        }
        return Ok(());
    }
    if table {
        let verb = if dry_run { "would apply" } else { "applying" };
        out(format!(
            "plan ({verb} {} change(s), nameservers {ns}):",
            actions.len()
        ));
        if dry_run {
            for a in &actions {
                out(format!("  {a}"));
            }
            out("dry run: nothing was changed".into());
            return Ok(());
        }
    } else if dry_run {
        return emit(output, &json(admin, &actions, true, None));
    }
    let report = admin
        .execute(&actions, |action, outcome| {
            if table {
                match outcome {
                    Outcome::Done => out(format!("  done    {action}")),
                    Outcome::Failed(e) => out(format!("  FAILED  {action}\n          {e}")),
                }
            }
        })
        .await;
    if table {
        summarize(&report, out);
    } else {
        emit(output, &json(admin, &actions, false, Some(&report)))?;
    }
    match &report.failed {
        None => Ok(()),
        Some((action, e)) => Err(CtlError::ApplyFailed(format!(
            "{action}: {e} ({} applied before it, {} not applied)",
            report.done.len(),
            report.not_done.len()
        ))),
    }
}

fn summarize(report: &ApplyReport, out: &mut dyn FnMut(String)) {
    for a in &report.not_done {
        out(format!("  not run {a}"));
    }
    if report.ok() {
        out(format!("applied {} change(s)", report.done.len()));
    } else {
        out(format!(
            "stopped: {} change(s) applied, 1 failed, {} not applied; fix the cause and apply again (it continues from the current state)",
            report.done.len(),
            report.not_done.len()
        ));
    }
}

fn json<'a>(
    admin: &'a Admin,
    actions: &'a [Action],
    dry_run: bool,
    report: Option<&ApplyReport>,
) -> JsonReport<'a> {
    JsonReport {
        dry_run,
        name_servers: admin.name_servers(),
        plan: actions,
        applied: report.map_or(0, |r| r.done.len()),
        failed: report.and_then(|r| r.failed.as_ref().map(|(a, e)| format!("{a}: {e}"))),
        not_applied: report.map_or(if dry_run { actions.len() } else { 0 }, |r| {
            r.not_done.len() + usize::from(r.failed.is_some())
        }),
    }
}

/// Plan errors with the files and documents that declared the cluster.
fn plan_errors(errs: Vec<PlanError>, decls: &Declarations) -> CtlError {
    CtlError::Plan(
        errs.into_iter()
            .map(|e| {
                let cluster = match &e {
                    PlanError::UnknownCluster { cluster, .. }
                    | PlanError::NoMaster { cluster, .. } => cluster,
                };
                let mut sources: Vec<&Source> = decls
                    .topics
                    .iter()
                    .filter(|(_, t)| &t.cluster == cluster)
                    .map(|(s, _)| s)
                    .chain(
                        decls
                            .groups
                            .iter()
                            .filter(|(_, g)| &g.cluster == cluster)
                            .map(|(s, _)| s),
                    )
                    .collect();
                sources.truncate(5);
                if sources.is_empty() {
                    e.to_string()
                } else {
                    let list: Vec<String> = sources
                        .iter()
                        .map(|s| format!("{s} spec.cluster"))
                        .collect();
                    format!("{e}; declared at {}", list.join(", "))
                }
            })
            .collect(),
    )
}
