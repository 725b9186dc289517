//! `rmqctl aws destroy`: the plan of deleting everything tagged for the cluster (and its own
//! objects under its prefix of the artefact bucket); with `--yes`, executed under the cluster's
//! apply lock.

use super::lock::locked;
use super::report::{ApplyJson, execute, failed};
use super::{aws_err, print_plan, setup};
use crate::cli::aws::DestroyArgs;
use crate::error::CtlError;
use crate::output::{Output, emit};
use rmq_aws::ApplyOptions;
use std::time::Duration;

/// `rmqctl aws destroy`.
pub(super) async fn destroy(a: DestroyArgs) -> Result<(), CtlError> {
    let (_, cluster, params, aws) = setup(&a.target).await?;
    let output = a.target.output;
    let table = output == Output::Table;
    if !a.yes {
        let (_, plan) = rmq_aws::plan_destroy_cluster(&aws, &cluster, &params)
            .await
            .map_err(aws_err)?;
        if plan.actions.is_empty() {
            return nothing(table, &cluster.name);
        }
        if !table {
            return emit(output, &plan.actions);
        }
        print_plan(&plan, "destroy plan only; pass --yes to delete");
        return Ok(());
    }
    locked(
        &aws,
        &cluster.name,
        "destroy",
        a.break_lock,
        |lease| async {
            let (found, plan) = rmq_aws::plan_destroy_cluster(&aws, &cluster, &params)
                .await
                .map_err(aws_err)?;
            if plan.actions.is_empty() {
                return nothing(table, &cluster.name);
            }
            if table {
                print_plan(&plan, "destroying");
            }
            let opts = ApplyOptions {
                wait_timeout: Duration::from_secs(a.wait_timeout),
                snapshot_volumes: !a.no_snapshot,
                lease: Some(lease),
                ..ApplyOptions::default()
            };
            let report = execute(&aws, &plan, &found, &opts, table).await;
            if !table {
                emit(output, &ApplyJson::new(&plan, &report, None))?;
            }
            failed(&report)
        },
    )
    .await
}

/// Nothing is tagged for the cluster.
fn nothing(table: bool, cluster: &str) -> Result<(), CtlError> {
    if table {
        println!("nothing to delete: no resource is tagged rmq.dev/cluster={cluster}");
    }
    Ok(())
}
