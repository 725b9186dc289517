//! Who holds a cluster's apply lock, as the lock's tags say, and how a refusal describes it
//! (pure: no AWS calls; see [`super`] for the lock itself).

use aws_sdk_ec2::types::Tag;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a lock lives without renewal: a holder that died blocks others this long at most.
pub const LOCK_TTL: Duration = Duration::from_secs(600);
/// How often the holder renews its lock.
pub const RENEW_EVERY: Duration = Duration::from_secs(120);
/// Tag naming the cluster a lock is for (not `rmq.dev/cluster`: the lock is not a resource of
/// the cluster).
pub const TAG_LOCK: &str = "rmq.dev/lock";
/// Tag naming who holds a lock.
pub(crate) const TAG_OWNER: &str = "rmq.dev/lock-owner";
/// Tag naming the command that holds a lock (`apply`, `destroy`).
pub(crate) const TAG_COMMAND: &str = "rmq.dev/lock-command";
/// Tag: when the lock was taken (Unix seconds).
pub(crate) const TAG_SINCE: &str = "rmq.dev/lock-since";
/// Tag: when the lock expires unless renewed (Unix seconds).
pub(crate) const TAG_EXPIRES: &str = "rmq.dev/lock-expires";
/// The error code of a launch template name in use.
pub(crate) const NAME_TAKEN: &str = "InvalidLaunchTemplateName.AlreadyExistsException";
/// The error codes of a launch template that does not exist.
pub(crate) const NOT_FOUND: [&str; 2] = [
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.NotFound",
];

/// The name of the launch template that is `cluster`'s lock.
pub fn lock_name(cluster: &str) -> String {
    format!("rmq-lock.{cluster}")
}

/// Who runs this process: `user@host (pid N)`.
pub fn default_owner() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host} (pid {})", std::process::id())
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix seconds as RFC 3339 UTC (`2026-11-25T06:05:43Z`).
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{secs} (Unix seconds)"))
}

/// A lock as its tags describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The cluster locked.
    pub cluster: String,
    /// Who holds it (`user@host (pid N)`).
    pub owner: String,
    /// The command holding it (`apply`, `destroy`).
    pub command: String,
    /// When it was taken (Unix seconds).
    pub since: i64,
    /// When it expires unless renewed (Unix seconds).
    pub expires: i64,
    /// The lock's launch template id.
    pub id: String,
}

impl Holder {
    /// True once the expiry has passed at `now`: the holder stopped renewing (it died).
    pub fn stale_at(&self, now: i64) -> bool {
        now >= self.expires
    }

    /// The holder from a lock template's tags.
    pub(crate) fn from_tags(cluster: &str, id: &str, tags: &[Tag]) -> Self {
        let tag = |k: &str| {
            tags.iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .unwrap_or_default()
                .to_owned()
        };
        let secs = |k: &str| tag(k).parse().unwrap_or(0);
        Self {
            cluster: cluster.to_owned(),
            owner: Some(tag(TAG_OWNER))
                .filter(|o| !o.is_empty())
                .unwrap_or_else(|| "an unknown holder".into()),
            command: tag(TAG_COMMAND),
            since: secs(TAG_SINCE),
            expires: secs(TAG_EXPIRES),
            id: id.to_owned(),
        }
    }
}

/// The lock is held by someone else: who, since when, until when, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The holder.
    pub holder: Holder,
    /// When it was looked at (Unix seconds).
    pub now: i64,
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.holder;
        write!(
            f,
            "cluster {} is locked: `rmqctl aws {}` of {} holds the lock since {} (launch template {} {})",
            h.cluster,
            if h.command.is_empty() {
                "?"
            } else {
                &h.command
            },
            h.owner,
            rfc3339(h.since),
            lock_name(&h.cluster),
            h.id
        )?;
        if h.stale_at(self.now) {
            write!(
                f,
                "; the lock is stale: it expired at {} without being renewed, so the process that took it stopped without releasing it (fix: make sure no apply or destroy of {} is still running, then run the same command again with --break-lock)",
                rfc3339(h.expires),
                h.cluster
            )
        } else {
            write!(
                f,
                "; it is renewed while that command runs and expires at {} otherwise (fix: wait until it finishes; if it was killed, the lock turns stale at that time and --break-lock then removes it)",
                rfc3339(h.expires)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_lock_says_how_to_break_it() {
        let holder = Holder {
            cluster: "orders".into(),
            owner: "ops@bastion (pid 42)".into(),
            command: "apply".into(),
            since: 1_790_000_000,
            expires: 1_790_000_600,
            id: "lt-1".into(),
        };
        let live = Held {
            holder: holder.clone(),
            now: 1_790_000_100,
        }
        .to_string();
        assert!(
            live.contains("`rmqctl aws apply` of ops@bastion (pid 42)"),
            "{live}"
        );
        assert!(live.contains("since 2026-09-21T14:13:20Z"), "{live}");
        assert!(live.contains("fix: wait until it finishes"), "{live}");
        let stale = Held {
            holder,
            now: 1_790_000_600,
        }
        .to_string();
        assert!(stale.contains("the lock is stale"), "{stale}");
        assert!(stale.contains("--break-lock"), "{stale}");
    }
}
