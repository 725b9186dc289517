//! `failover: Automatic`: the current masters roll last. Any replica of a group may be its
//! master, so just before an apply that replaces broker instances `rmqctl aws apply` asks the
//! nameservers (`--namesrv`, else the cluster's fixed addresses) which broker each group
//! registered with id 0 and moves those brokers' replacements behind the others
//! ([`rmq_aws::roll`]). Without an answer (run from outside the VPC, no tunnel) the plan's
//! index order stands, and the note says so.

use super::secrets::cluster_ca;
use crate::cli::NamesrvArg;
use rmq_aws::roll::{master_nodes, roll_masters_last, rolls_brokers};
use rmq_aws::{Aws, Discovered, Plan};
use rmq_model::ValidatedCluster;
use std::time::Duration;

/// How long the cluster info may take (every nameserver tried in turn).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Reorders `plan` so that the brokers that are masters now roll last; returns the line that
/// tells the user what was decided, or `None` when no broker rolls (or failover is Manual).
pub(super) async fn masters_last(
    plan: &mut Plan,
    found: &Discovered,
    cluster: &ValidatedCluster,
    namesrv: &NamesrvArg,
    aws: &Aws,
) -> Option<String> {
    if cluster.failover.is_none() || !rolls_brokers(&plan.actions) {
        return None;
    }
    let list = namesrv
        .namesrv
        .clone()
        .unwrap_or_else(|| rmq_aws::outputs(plan, &found.state).name_server_addresses);
    let masters = match current_masters(&list, cluster, namesrv, aws).await {
        Ok(addrs) => master_nodes(&found.state, &addrs),
        Err(why) => {
            return Some(format!(
                "brokers roll in index order: the current masters are unknown ({why}); a group whose master is replaced fails over (fix: run from inside the VPC or pass --namesrv through a tunnel)"
            ));
        }
    };
    roll_masters_last(&mut plan.actions, &masters);
    let names = masters.into_iter().collect::<Vec<_>>().join(", ");
    Some(format!(
        "brokers roll one at a time, the current masters last: {}",
        if names.is_empty() {
            "none found"
        } else {
            &names
        }
    ))
}

/// The master addresses (`ip:port`) of `cluster`'s groups, from the nameservers in `list`.
async fn current_masters(
    list: &str,
    cluster: &ValidatedCluster,
    namesrv: &NamesrvArg,
    aws: &Aws,
) -> Result<Vec<String>, String> {
    if list.is_empty() {
        return Err("no nameserver address known yet".into());
    }
    let mut security = namesrv.security.clone();
    let _ca = cluster_ca(aws, cluster, &mut security)
        .await
        .map_err(|e| e.to_string())?;
    let admin = crate::security::admin(&NamesrvArg {
        namesrv: Some(list.to_owned()),
        security,
    })
    .map_err(|e| e.to_string())?;
    let info = tokio::time::timeout(LOOKUP_TIMEOUT, admin.cluster_info())
        .await
        .map_err(|_| format!("{list} did not answer within {LOOKUP_TIMEOUT:?}"))?
        .map_err(|e| format!("{list}: {e}"))?;
    Ok(info.master_addrs(Some(&cluster.name)))
}
