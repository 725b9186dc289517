//! The readiness gate of `rmqctl aws apply` ([`rmq_aws::readiness`]): when the plan replaces
//! nodes' instances, each replaced node must be back — registered with every nameserver, a
//! slave caught up with its master — before the next is replaced. The gate asks the cluster's
//! nameservers (`--namesrv`, else the fixed addresses) and brokers directly, signed and with
//! TLS as the cluster's security needs; before anything changes it looks once at every
//! nameserver and broker, and an apply that would roll from where the cluster cannot be reached
//! is refused (nothing changed) unless `--skip-readiness`.

use super::secrets::{admin_security, cluster_ca};
use crate::cli::NamesrvArg;
use crate::cli::aws::ApplyArgs;
use crate::error::CtlError;
use rmq_aws::readiness::{Gate, NameserverGate};
use rmq_aws::roll::rolled_nodes;
use rmq_aws::{Aws, Discovered, Plan};
use rmq_model::ValidatedCluster;
use std::time::Duration;

/// How long the first look at the cluster may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The gate of an apply of `plan`; `None` when no node's group is updated, with `--no-roll` or
/// with `--skip-readiness`. An error (nothing changed yet) when the cluster cannot be looked at.
pub(super) async fn gate(
    plan: &Plan,
    found: &Discovered,
    cluster: &ValidatedCluster,
    a: &ApplyArgs,
    aws: &Aws,
) -> Result<Option<Gate>, CtlError> {
    let nodes = rolled_nodes(&plan.actions);
    if a.no_roll || a.skip_readiness || nodes.is_empty() {
        return Ok(None);
    }
    let list = a
        .namesrv
        .namesrv
        .clone()
        .unwrap_or_else(|| rmq_aws::outputs(plan, &found.state).name_server_addresses);
    let refuse = |why: String| {
        CtlError::Aws(format!(
            "this apply updates the Auto Scaling groups of {} one at a time (replacing each instance whose launch template changed) and waits until each node is ready (registered with the nameservers, a slave caught up), but the cluster cannot be looked at from here: {why}; nothing was changed (fix: run from the bastion or inside the VPC, or pass --skip-readiness to wait for the Auto Scaling groups only)",
            nodes.join(", ")
        ))
    };
    if list.is_empty() {
        return Err(refuse("no nameserver address is known yet".into()));
    }
    let mut security = admin_security(aws, cluster, &a.namesrv.security).await?;
    let _ca = cluster_ca(aws, cluster, &mut security).await?;
    let admin = crate::security::admin(&NamesrvArg {
        namesrv: Some(list),
        security,
    })?;
    let gate = NameserverGate::new(admin, &cluster.name).with_catch_up_bytes(a.catch_up_bytes);
    match tokio::time::timeout(PROBE_TIMEOUT, gate.probe()).await {
        Ok(Ok(seen)) => {
            if a.target.output == crate::output::Output::Table {
                println!("readiness gate: {seen}; each replaced node is waited for");
            }
            Ok(Some(Gate::new(gate)))
        }
        Ok(Err(why)) => Err(refuse(why)),
        Err(_) => Err(refuse(format!("no answer within {PROBE_TIMEOUT:?}"))),
    }
}
