//! The apply lock against moto: of two applies that start together exactly one takes the
//! lock, the other is refused naming the holder, the command and the expiry; once released the
//! lock can be taken again; a stale lock (its holder stopped renewing) is refused as stale with
//! how to break it, `--break-lock` (`break_stale`) removes only a stale one; the lock is no
//! resource of the cluster (discovery does not see it).

#![allow(clippy::unwrap_used, missing_docs)]

use crate::common::{connect, endpoint, unique};
use aws_sdk_ec2::types::Tag;
use rmq_aws::lock::{Lock, current, lock_name};
use rmq_aws::{Aws, Error, discover_tagged};

/// Takes the lock of `cluster` as `owner`.
async fn take(aws: &Aws, cluster: &str, owner: &str, break_stale: bool) -> rmq_aws::Result<Lock> {
    Lock::acquire(aws, cluster, owner, "apply", break_stale).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_apply_sees_the_lock_and_its_holder() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let cluster = unique("lock");
    let (a, b) = tokio::join!(
        take(&aws, &cluster, "alice@ops-1 (pid 1)", false),
        take(&aws, &cluster, "bob@ops-2 (pid 2)", false)
    );
    let (held, refused, loser) = match (a, b) {
        (Ok(l), Err(e)) => (l, e, "bob"),
        (Err(e), Ok(l)) => (l, e, "alice"),
        (a, b) => panic!(
            "exactly one apply takes the lock: {:?} / {:?}",
            a.map(|l| l.holder().clone()),
            b.map(|l| l.holder().clone())
        ),
    };
    let Error::Locked(info) = &refused else {
        panic!("not a lock error: {refused}")
    };
    assert_eq!(info.holder, *held.holder());
    assert!(!held.holder().owner.starts_with(loser));
    let text = refused.to_string();
    for part in [
        format!(
            "cluster {cluster} is locked: `rmqctl aws apply` of {}",
            held.holder().owner
        ),
        format!("(launch template {} ", lock_name(&cluster)),
        "it is renewed while that command runs and expires at".into(),
        "fix: wait until it finishes".into(),
    ] {
        assert!(text.contains(&part), "{part:?} missing from: {text}");
    }
    // A live lock is never broken.
    let again = take(&aws, &cluster, "carol@ops-3 (pid 3)", true).await;
    assert!(matches!(again, Err(Error::Locked(_))));
    // The lock is no resource of the cluster.
    let found = discover_tagged(
        &aws,
        &cluster,
        "0.1.0",
        &crate::common::params("none", None),
    )
    .await
    .unwrap();
    assert!(found.state.resources.is_empty(), "{:?}", found.state);

    held.release().await.unwrap();
    assert_eq!(current(&aws, &cluster).await.unwrap(), None);
    let next = take(&aws, &cluster, "carol@ops-3 (pid 3)", false)
        .await
        .unwrap();
    next.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lock_is_explained_and_broken_only_on_request() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let cluster = unique("stale");
    let dead = take(&aws, &cluster, "dave@ops-4 (pid 4)", false)
        .await
        .unwrap();
    let id = dead.holder().id.clone();
    // The holder died: its lock was not renewed and expired an hour ago.
    drop(dead);
    let past = (rmq_aws::lock::now() - 3600).to_string();
    aws.ec2
        .create_tags()
        .resources(&id)
        .tags(
            Tag::builder()
                .key("rmq.dev/lock-expires")
                .value(past)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let refused = take(&aws, &cluster, "erin@ops-5 (pid 5)", false)
        .await
        .err()
        .expect("a stale lock still blocks");
    let text = refused.to_string();
    for part in [
        "`rmqctl aws apply` of dave@ops-4 (pid 4)",
        "the lock is stale: it expired at",
        "stopped without releasing it",
        "then run the same command again with --break-lock",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }

    let lock = take(&aws, &cluster, "erin@ops-5 (pid 5)", true)
        .await
        .unwrap();
    assert_eq!(
        lock.broken().map(|h| h.owner.as_str()),
        Some("dave@ops-4 (pid 4)")
    );
    let now = current(&aws, &cluster).await.unwrap().unwrap();
    assert_eq!(now.owner, "erin@ops-5 (pid 5)");
    assert_ne!(now.id, id);
    lock.release().await.unwrap();
    assert_eq!(current(&aws, &cluster).await.unwrap(), None);
}
