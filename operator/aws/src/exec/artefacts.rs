//! The artefact bucket: created (and tagged for the cluster) when it does not exist; each binary
//! uploaded under the prefix with its SHA-256 (and build architecture) as object metadata plus a
//! `NAME.sha256` file the bootstrap verifies; skipped when the bucket already holds the same
//! bytes. A binary is streamed from its file (never read into memory) with its SHA-256 as the
//! request's `x-amz-checksum-sha256`, so S3 refuses an upload whose bytes differ from what was
//! hashed (a file changed in between, a corrupted transfer).
//!
//! Deleting removes only the objects under the cluster's own prefix
//! ([`crate::params::Params::artefact_root`]) that this cluster uploaded (their `rmq-cluster`
//! metadata), so a bucket shared with other clusters keeps theirs; a bucket the cluster created
//! is deleted too once nothing else is left in it.

use super::{Executor, wrong_spec};
use crate::error::{Error, Result, aws};
use crate::resource::{
    Actual, ArtefactFile, Kind, META_ARCH, META_CLUSTER, META_SHA256, Resource, Spec, TAG_CLUSTER,
    TAG_COMPONENT,
};
use crate::userdata::base64;
use aws_sdk_s3::Client as S3;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, CreateBucketConfiguration, Tagging,
};

/// The bytes of a SHA-256 written as hex (`None` when it is not 64 hex digits).
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

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

    /// Uploads binary `f` under `prefix`: its checksum file first, then the binary (streamed
    /// from its file, S3 checking its SHA-256) with its SHA-256 and architecture as metadata,
    /// both marked as the cluster's.
    async fn upload(&self, s3: &S3, bucket: &str, prefix: &str, f: &ArtefactFile) -> Result<()> {
        let io = |source| Error::Io {
            what: format!("reading {}", f.path),
            source,
        };
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
        let (body, arch) = match f.embedded {
            Some(text) => (ByteStream::from(text.as_bytes().to_vec()), None),
            None => {
                let path = std::path::Path::new(&f.path);
                let arch = crate::arch::file_arch(path).map_err(io)?;
                let body = ByteStream::from_path(path)
                    .await
                    .map_err(|e| io(std::io::Error::other(e)))?;
                (body, arch)
            }
        };
        let digest = hex_bytes(&f.sha256)
            .ok_or_else(|| Error::Input(format!("internal: bad SHA-256 of {}", f.name)))?;
        let mut metadata = std::collections::HashMap::from([
            (META_SHA256.to_owned(), f.sha256.clone()),
            (META_CLUSTER.to_owned(), self.plan.cluster.clone()),
        ]);
        if let Some(a) = arch {
            metadata.insert(META_ARCH.to_owned(), a);
        }
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(base64(&digest))
            .set_metadata(Some(metadata))
            .send()
            .await
            .map_err(|e| aws(format!("PutObject s3://{bucket}/{key}"), e))?;
        Ok(())
    }

    /// Deletes the objects of this cluster under its prefix; then the bucket, when the cluster
    /// created it and nothing is left in it (a note says why it stays otherwise).
    pub(crate) async fn delete_artefacts(&mut self, key: &str) -> Result<()> {
        let Some(a) = self.state.get(key) else {
            return Ok(());
        };
        let bucket = a.id.clone();
        let owned = a.attrs.get("owned").is_some_and(|v| v == "true");
        let root = a
            .attrs
            .get("root")
            .or_else(|| a.attrs.get("prefix"))
            .cloned()
            .unwrap_or_default();
        let region = self.aws.region.clone();
        let s3 = self.aws.s3_in(a.attrs.get("region").unwrap_or(&region));
        for k in self.list(&s3, &bucket, &root).await? {
            // Only objects this cluster uploaded: another cluster may share the prefix.
            match s3.head_object().bucket(&bucket).key(&k).send().await {
                Ok(o)
                    if o.metadata().and_then(|m| m.get(META_CLUSTER))
                        == Some(&self.plan.cluster) => {}
                _ => continue,
            }
            s3.delete_object()
                .bucket(&bucket)
                .key(&k)
                .send()
                .await
                .map_err(|e| aws(format!("DeleteObject s3://{bucket}/{k}"), e))?;
        }
        if !owned {
            return Ok(());
        }
        if let Some(other) = self.any_key(&s3, &bucket).await? {
            self.notes.push(format!(
                "kept bucket {bucket} (created for cluster {}): it still holds objects of others, e.g. {other}",
                self.plan.cluster
            ));
            return Ok(());
        }
        s3.delete_bucket()
            .bucket(&bucket)
            .send()
            .await
            .map_err(|e| aws(format!("DeleteBucket {bucket}"), e))?;
        Ok(())
    }

    /// The keys under `prefix` in `bucket`.
    async fn list(&self, s3: &S3, bucket: &str, prefix: &str) -> Result<Vec<String>> {
        let pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send()
            .collect::<std::result::Result<Vec<_>, _>>()
            .await
            .map_err(|e| aws(format!("ListObjectsV2 {bucket}"), e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.contents())
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }

    /// One key of `bucket`, if it holds any.
    async fn any_key(&self, s3: &S3, bucket: &str) -> Result<Option<String>> {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| aws(format!("ListObjectsV2 {bucket}"), e))?;
        Ok(out
            .contents()
            .first()
            .and_then(|o| o.key().map(str::to_owned)))
    }
}
