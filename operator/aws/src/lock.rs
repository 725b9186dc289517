//! The apply lock: at most one `rmqctl aws apply` or `destroy` changes a cluster at a time.
//!
//! The lock is an empty EC2 launch template named `rmq-lock.<cluster>` ([`lock_name`]). Launch
//! template names are unique in an account and region, so `CreateLaunchTemplate` is an atomic
//! conditional create: whoever creates it holds the lock, everyone else gets
//! `InvalidLaunchTemplateName.AlreadyExistsException` and reads the holder from its tags (who,
//! which command, since when, until when). It needs no bucket, no VPC and no right beyond the
//! launch template calls an apply makes anyway, and it carries no `rmq.dev/cluster` tag, so
//! discovery never mistakes it for a resource of the cluster (nor destroy deletes it).
//!
//! The holder renews the expiry every [`RENEW_EVERY`] while it runs (to now + [`LOCK_TTL`]) and
//! deletes the template at the end, on success and on error. A lock whose expiry has passed was
//! left by a process that died: it still blocks (nothing is taken over silently), and the error
//! says so and how to break it (`--break-lock`, which deletes only a stale lock). If the
//! renewal finds the lock gone or someone else's, the apply stops before its next action
//! ([`LeaseWatch`]).

use crate::client::Aws;
use crate::error::{Error, Result, aws as sdk_err};
use aws_sdk_ec2::types::{RequestLaunchTemplateData, ResourceType, Tag, TagSpecification};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a lock lives without renewal: a holder that died blocks others this long at most.
pub const LOCK_TTL: Duration = Duration::from_secs(600);
/// How often the holder renews its lock.
pub const RENEW_EVERY: Duration = Duration::from_secs(120);
/// Tag naming the cluster a lock is for (not `rmq.dev/cluster`: the lock is not a resource of
/// the cluster).
pub const TAG_LOCK: &str = "rmq.dev/lock";
/// Tag naming who holds a lock.
const TAG_OWNER: &str = "rmq.dev/lock-owner";
/// Tag naming the command that holds a lock (`apply`, `destroy`).
const TAG_COMMAND: &str = "rmq.dev/lock-command";
/// Tag: when the lock was taken (Unix seconds).
const TAG_SINCE: &str = "rmq.dev/lock-since";
/// Tag: when the lock expires unless renewed (Unix seconds).
const TAG_EXPIRES: &str = "rmq.dev/lock-expires";
/// The error code of a launch template name in use.
const NAME_TAKEN: &str = "InvalidLaunchTemplateName.AlreadyExistsException";
/// The error codes of a launch template that does not exist.
const NOT_FOUND: [&str; 2] = [
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
    fn from_tags(cluster: &str, id: &str, tags: &[Tag]) -> Self {
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

/// Whether the lock is still ours, as the renewal last saw it.
#[derive(Debug, Clone, Default)]
pub struct LeaseWatch(Arc<AtomicBool>);

impl LeaseWatch {
    /// True when the renewal found the lock gone or taken over.
    pub fn lost(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A held lock; [`Lock::release`] it at the end (on error too).
pub struct Lock {
    aws: Aws,
    holder: Holder,
    /// The stale lock `--break-lock` removed to take this one.
    broken: Option<Holder>,
    watch: LeaseWatch,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl Lock {
    /// Takes `cluster`'s lock for `command` run by `owner`; with `break_stale`, first removes
    /// a stale lock (never a live one). [`Error::Locked`] names the holder otherwise.
    pub async fn acquire(
        aws: &Aws,
        cluster: &str,
        owner: &str,
        command: &str,
        break_stale: bool,
    ) -> Result<Self> {
        let mut broken = None;
        for attempt in 0..2 {
            let since = now();
            match create(aws, cluster, owner, command, since).await {
                Ok(id) => {
                    let mut lock = Self::held(aws, cluster, owner, command, since, id);
                    lock.broken = broken;
                    return Ok(lock);
                }
                Err(e) if e.code() != Some(NAME_TAKEN) => return Err(e),
                Err(_) => {}
            }
            let Some(holder) = current(aws, cluster).await? else {
                continue; // released in between: try again
            };
            let held = Held { holder, now: now() };
            if !(break_stale && attempt == 0 && held.holder.stale_at(held.now)) {
                return Err(Error::Locked(Box::new(held)));
            }
            delete(aws, &held.holder.id).await?;
            broken = Some(held.holder);
        }
        let holder = current(aws, cluster).await?;
        Err(holder.map_or_else(
            || {
                Error::Input(format!(
                    "the lock of cluster {cluster} keeps changing hands"
                ))
            },
            |holder| Error::Locked(Box::new(Held { holder, now: now() })),
        ))
    }

    /// The lock just created as `id`, renewed in the background.
    fn held(aws: &Aws, cluster: &str, owner: &str, command: &str, since: i64, id: String) -> Self {
        let holder = Holder {
            cluster: cluster.to_owned(),
            owner: owner.to_owned(),
            command: command.to_owned(),
            since,
            expires: since + LOCK_TTL.as_secs() as i64,
            id,
        };
        let watch = LeaseWatch::default();
        let renewer = tokio::spawn(renew(aws.clone(), holder.clone(), watch.clone()));
        Self {
            aws: aws.clone(),
            holder,
            broken: None,
            watch,
            renewer: Some(renewer),
        }
    }

    /// Who holds it (this process).
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// The stale lock that was removed to take this one (`break_stale`), if any.
    pub fn broken(&self) -> Option<&Holder> {
        self.broken.as_ref()
    }

    /// Whether the lock is still ours (for [`crate::ApplyOptions::lease`]).
    pub fn watch(&self) -> LeaseWatch {
        self.watch.clone()
    }

    /// Stops renewing and deletes the lock, if it is still ours.
    pub async fn release(mut self) -> Result<()> {
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
        match current(&self.aws, &self.holder.cluster).await? {
            Some(h) if h.id == self.holder.id => delete(&self.aws, &h.id).await,
            _ => Ok(()),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
    }
}

/// Renews the lock every [`RENEW_EVERY`]; marks `watch` lost when it is gone or not ours.
async fn renew(aws: Aws, holder: Holder, watch: LeaseWatch) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match current(&aws, &holder.cluster).await {
            Ok(Some(h)) if h.id == holder.id => {
                let expires = (now() + LOCK_TTL.as_secs() as i64).to_string();
                let _ = aws
                    .ec2
                    .create_tags()
                    .resources(&holder.id)
                    .tags(Tag::builder().key(TAG_EXPIRES).value(expires).build())
                    .send()
                    .await;
            }
            Ok(_) => {
                watch.0.store(true, Ordering::SeqCst);
                return;
            }
            Err(_) => {} // transient: try again next time
        }
    }
}

/// Creates the lock template; its id.
async fn create(
    aws: &Aws,
    cluster: &str,
    owner: &str,
    command: &str,
    since: i64,
) -> Result<String> {
    let expires = since + LOCK_TTL.as_secs() as i64;
    let tags = [
        ("Name", lock_name(cluster)),
        (TAG_LOCK, cluster.to_owned()),
        (TAG_OWNER, owner.to_owned()),
        (TAG_COMMAND, command.to_owned()),
        (TAG_SINCE, since.to_string()),
        (TAG_EXPIRES, expires.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect();
    let out = aws
        .ec2
        .create_launch_template()
        .launch_template_name(lock_name(cluster))
        .version_description(format!("rmqctl aws {command} lock of cluster {cluster}"))
        .launch_template_data(RequestLaunchTemplateData::builder().build())
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::LaunchTemplate)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await
        .map_err(|e| sdk_err(format!("CreateLaunchTemplate {}", lock_name(cluster)), e))?;
    Ok(out
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap_or_default()
        .to_owned())
}

/// The current holder of `cluster`'s lock, if it is locked.
pub async fn current(aws: &Aws, cluster: &str) -> Result<Option<Holder>> {
    let name = lock_name(cluster);
    let out = aws
        .ec2
        .describe_launch_templates()
        .launch_template_names(&name)
        .send()
        .await
        .map_err(|e| sdk_err(format!("DescribeLaunchTemplates {name}"), e));
    let out = match out {
        Ok(o) => o,
        Err(e) if e.code().is_some_and(|c| NOT_FOUND.contains(&c)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(out.launch_templates().first().map(|t| {
        Holder::from_tags(
            cluster,
            t.launch_template_id().unwrap_or_default(),
            t.tags(),
        )
    }))
}

/// Deletes lock template `id` (gone already is fine).
async fn delete(aws: &Aws, id: &str) -> Result<()> {
    match aws
        .ec2
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
        .map_err(|e| sdk_err(format!("DeleteLaunchTemplate {id} (lock)"), e))
    {
        Err(e) if e.code().is_some_and(|c| NOT_FOUND.contains(&c)) => Ok(()),
        other => other.map(|_| ()),
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
