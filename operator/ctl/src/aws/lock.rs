//! `apply` and `destroy --yes` hold the cluster's apply lock ([`rmq_aws::lock`]) from before
//! discovery until the end: a second apply of the same cluster meanwhile is refused with the
//! holder's name, the command, since when and until when. The lock is released on success, on
//! error and on Ctrl-C / SIGTERM; a process that was killed leaves it to expire
//! ([`rmq_aws::lock::LOCK_TTL`] after its last renewal), after which `--break-lock` removes it.

use super::aws_err;
use crate::error::CtlError;
use rmq_aws::Aws;
use rmq_aws::lock::{LeaseWatch, Lock, default_owner, rfc3339};
use rmq_model::protocol::net::shutdown_signal;

/// Runs `work` holding `cluster`'s apply lock for `command` (`apply`, `destroy`), removing a
/// stale lock first with `break_stale`; releases it afterwards, whatever the outcome.
pub(super) async fn locked<T, Fut>(
    aws: &Aws,
    cluster: &str,
    command: &str,
    break_stale: bool,
    work: impl FnOnce(LeaseWatch) -> Fut,
) -> Result<T, CtlError>
where
    Fut: Future<Output = Result<T, CtlError>>,
{
    let lock = Lock::acquire(aws, cluster, &default_owner(), command, break_stale)
        .await
        .map_err(aws_err)?;
    if let Some(old) = lock.broken() {
        eprintln!(
            "removed the stale lock of {} (`rmqctl aws {}` since {}, expired at {})",
            old.owner,
            old.command,
            rfc3339(old.since),
            rfc3339(old.expires)
        );
    }
    let result = tokio::select! {
        r = work(lock.watch()) => r,
        () = shutdown_signal() => Err(CtlError::Aws(format!(
            "interrupted: the {command} stopped part-way (fix: run the same command again; it continues from the current state)"
        ))),
    };
    let released = lock.release().await;
    match (result, released) {
        (Err(e), Err(r)) => {
            eprintln!("warning: the lock of cluster {cluster} could not be released: {r}");
            Err(e)
        }
        (Err(e), Ok(())) => Err(e),
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(CtlError::Aws(format!(
            "the {command} is done, but its lock could not be released: {e} (fix: it expires within {} min; `--break-lock` removes it after that)",
            rmq_aws::lock::LOCK_TTL.as_secs() / 60
        ))),
    }
}
