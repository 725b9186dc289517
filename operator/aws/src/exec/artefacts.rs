//! The artefact bucket: created (and tagged for the cluster) when it does not exist; each binary
//! uploaded under the prefix with its SHA-256 as object metadata plus a `NAME.sha256` file the
//! bootstrap verifies; skipped when the bucket already holds the same bytes. Deleting removes
//! the objects this cluster uploaded, and the bucket too if the cluster created it.

use super::{Executor, wrong_spec};
use crate::error::{Error, Result, aws};
use crate::resource::{
    Actual, ArtefactFile, BINARIES, CONTROLLER_BINARY, Kind, META_CLUSTER, META_SHA256, Resource,
    Spec, TAG_CLUSTER, TAG_COMPONENT,
};
use aws_sdk_s3::Client as S3;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Tagging};

impl Executor<'_> {
    pub(crate) async fn ensure_artefacts(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::Artefacts {
            bucket,
            prefix,
            region,
            files,
        } = &r.spec
        else {
            return Err(wrong_spec(r));
        };
        let s3 = self.aws.s3_in(region);
        let mut actual = existing.cloned().unwrap_or_else(|| {
            Actual::new(Kind::Artefacts, &r.key, bucket)
                .with("prefix", prefix.clone())
                .with("region", region.clone())
                .with("owned", "false")
        });
        if existing.is_none() {
            self.create_bucket(&s3, bucket, region).await?;
            actual.attrs.insert("owned".into(), "true".into());
        }
        for f in files {
            let attr = format!("sha256/{}", f.name);
            if actual.attrs.get(&attr) == Some(&f.sha256) {
                continue;
            }
            self.upload(&s3, bucket, prefix, f).await?;
            actual.attrs.insert(attr, f.sha256.clone());
            actual.attrs.insert("ours".into(), "true".into());
        }
        Ok(actual)
    }

    /// Creates `bucket` in `region` (or adopts it when it is ours already) and tags it for the
    /// cluster, which marks it as the cluster's to delete.
    async fn create_bucket(&self, s3: &S3, bucket: &str, region: &str) -> Result<()> {
        let mut create = s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(aws(format!("CreateBucket {bucket}"), e)),
        }
        let tags = [
            (TAG_CLUSTER, self.plan.cluster.as_str()),
            (TAG_COMPONENT, "artefacts"),
        ]
        .iter()
        .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(*k).value(*v).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Input(format!("bucket tags: {e}")))?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .map_err(|e| Error::Input(format!("bucket tags: {e}")))?;
        s3.put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| aws(format!("PutBucketTagging {bucket}"), e))?;
        Ok(())
    }

    /// Uploads binary `f` under `prefix`: its checksum file first, then the binary with its
    /// SHA-256 as metadata, both marked as the cluster's.
    async fn upload(&self, s3: &S3, bucket: &str, prefix: &str, f: &ArtefactFile) -> Result<()> {
        let bytes = f.bytes().map_err(|source| Error::Io {
            what: format!("reading {}", f.path),
            source,
        })?;
        let key = format!("{prefix}{}", f.name);
        // The checksum file first: a node that finds the binary also finds its checksum.
        s3.put_object()
            .bucket(bucket)
            .key(format!("{key}.sha256"))
            .body(ByteStream::from(
                format!("{}  {}\n", f.sha256, f.name).into_bytes(),
            ))
            .metadata(META_CLUSTER, &self.plan.cluster)
            .send()
            .await
            .map_err(|e| aws(format!("PutObject s3://{bucket}/{key}.sha256"), e))?;
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(ByteStream::from(bytes))
            .metadata(META_SHA256, &f.sha256)
            .metadata(META_CLUSTER, &self.plan.cluster)
            .send()
            .await
            .map_err(|e| aws(format!("PutObject s3://{bucket}/{key}"), e))?;
        Ok(())
    }

    pub(crate) async fn delete_artefacts(&self, key: &str) -> Result<()> {
        let Some(a) = self.state.get(key) else {
            return Ok(());
        };
        let bucket = a.id.clone();
        let owned = a.attrs.get("owned").is_some_and(|v| v == "true");
        let prefix = a.attrs.get("prefix").cloned().unwrap_or_default();
        let region = self.aws.region.clone();
        let s3 = self.aws.s3_in(a.attrs.get("region").unwrap_or(&region));
        let keys: Vec<String> = if owned {
            s3.list_objects_v2()
                .bucket(&bucket)
                .into_paginator()
                .send()
                .collect::<std::result::Result<Vec<_>, _>>()
                .await
                .map_err(|e| aws(format!("ListObjectsV2 {bucket}"), e))?
                .iter()
                .flat_map(|p| p.contents())
                .filter_map(|o| o.key().map(str::to_owned))
                .collect()
        } else {
            BINARIES
                .iter()
                .chain(&[CONTROLLER_BINARY, crate::secrets::NODE_SCRIPT_NAME])
                .flat_map(|b| [format!("{prefix}{b}"), format!("{prefix}{b}.sha256")])
                .collect()
        };
        for k in keys {
            if !owned {
                // Only objects this cluster uploaded.
                match s3.head_object().bucket(&bucket).key(&k).send().await {
                    Ok(o)
                        if o.metadata().and_then(|m| m.get(META_CLUSTER))
                            == Some(&self.plan.cluster) => {}
                    _ => continue,
                }
            }
            s3.delete_object()
                .bucket(&bucket)
                .key(&k)
                .send()
                .await
                .map_err(|e| aws(format!("DeleteObject s3://{bucket}/{k}"), e))?;
        }
        if owned {
            s3.delete_bucket()
                .bucket(&bucket)
                .send()
                .await
                .map_err(|e| aws(format!("DeleteBucket {bucket}"), e))?;
        }
        Ok(())
    }
}
