//! Two clusters share one artefact bucket (against moto): each uploads under its own prefix;
//! destroying one deletes its own objects only, and keeps the bucket it created while the other
//! cluster's objects are in it (a note says so); destroying the other then removes the rest of
//! its objects. Uploads carry their SHA-256 as the request checksum and their metadata.

#![allow(clippy::unwrap_used, missing_docs)]

use crate::common::{connect, converge, endpoint, fake_artefacts, opts, params, spec, unique};
use rmq_aws::{Aws, Progress, apply, plan_destroy_cluster};

/// Every key of `bucket`.
async fn keys(aws: &Aws, bucket: &str) -> Vec<String> {
    let out = aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// Destroys `name` (everything tagged for it, its objects); the report's notes.
async fn destroy(aws: &Aws, name: &str, bucket: &str) -> Vec<String> {
    let c = spec(name, 1, 1, 1);
    let p = params(bucket, None);
    let (found, plan) = plan_destroy_cluster(aws, &c, &p).await.unwrap();
    let mut o = opts();
    o.snapshot_volumes = false;
    let report = apply(aws, &plan, &found, &o, &Progress::new(true)).await;
    assert!(report.ok(), "{:?}", report.failed);
    report.notes
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_leaves_another_clusters_objects_in_a_shared_bucket() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let (a, b) = (unique("sha"), unique("shb"));
    let bucket = format!("{a}-shared");
    let dir = fake_artefacts();
    converge(&aws, &spec(&a, 1, 1, 1), &params(&bucket, Some(dir.path()))).await;
    converge(&aws, &spec(&b, 1, 1, 1), &params(&bucket, Some(dir.path()))).await;
    let objects = |c: &str| {
        [
            "rmq-broker",
            "rmq-broker.sha256",
            "rmq-namesrv",
            "rmq-namesrv.sha256",
        ]
        .map(|f| format!("rmq/{c}/0.1.0/{f}"))
        .to_vec()
    };
    let mut both = objects(&a);
    both.extend(objects(&b));
    both.sort();
    assert_eq!(keys(&aws, &bucket).await, both);
    let head = aws
        .s3
        .head_object()
        .bucket(&bucket)
        .key(format!("rmq/{b}/0.1.0/rmq-broker"))
        .send()
        .await
        .unwrap();
    let meta = head.metadata().unwrap();
    assert_eq!(meta["rmq-cluster"], b);
    assert_eq!(meta["rmq-sha256"].len(), 64);

    // `a` created the bucket, but `b`'s objects are in it: only `a`'s go, the bucket stays.
    let notes = destroy(&aws, &a, &bucket).await;
    assert_eq!(keys(&aws, &bucket).await, objects(&b));
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("kept bucket {bucket}"))
                && n.contains("holds objects of others")),
        "{notes:?}"
    );
    destroy(&aws, &b, &bucket).await;
    assert_eq!(keys(&aws, &bucket).await, Vec::<String>::new());
    aws.s3.delete_bucket().bucket(&bucket).send().await.unwrap();
}
