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

pub mod holder;

pub use holder::{
    Held, Holder, LOCK_TTL, RENEW_EVERY, TAG_LOCK, default_owner, lock_name, now, rfc3339,
};
use holder::{NAME_TAKEN, NOT_FOUND, TAG_COMMAND, TAG_EXPIRES, TAG_OWNER, TAG_SINCE};

use crate::client::Aws;
use crate::error::{Error, Result, aws as sdk_err};
use aws_sdk_ec2::types::{RequestLaunchTemplateData, ResourceType, Tag, TagSpecification};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
