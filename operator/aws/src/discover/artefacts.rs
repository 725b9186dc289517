//! The artefact bucket: whether it exists, whether this cluster owns it, and the checksums and
//! build architectures of the binaries (and `rmq-controller`, when there) under the cluster's
//! prefix.

use crate::client::Aws;
use crate::discovered::Discovered;
use crate::error::{Result, aws as sdk_err};
use crate::params::Params;
use crate::resource::{
    Actual, BINARIES, CONTROLLER_BINARY, Kind, META_ARCH, META_CLUSTER, META_SHA256, TAG_CLUSTER,
};

/// What the artefact bucket holds under the prefix.
pub(super) async fn artefacts(
    aws: &Aws,
    cluster: &str,
    version: &str,
    params: &Params,
    found: &mut Discovered,
) -> Result<()> {
    let region = params
        .artefact_region
        .clone()
        .unwrap_or_else(|| aws.region.clone());
    let s3 = aws.s3_in(&region);
    let bucket = &params.artefact_bucket;
    if bucket.is_empty() {
        return Ok(());
    }
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(()),
        Err(e) => return Err(sdk_err(format!("HeadBucket {bucket}"), e)),
    }
    let owned = match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => t
            .tag_set()
            .iter()
            .any(|t| t.key() == TAG_CLUSTER && t.value() == cluster),
        Err(_) => false, // NoSuchTagSet (or no permission): not ours
    };
    let prefix = params.prefix(cluster, version);
    let mut a = Actual::new(Kind::Artefacts, "artefacts", bucket.clone())
        .with("owned", owned.to_string())
        .with("prefix", prefix.clone())
        .with("root", params.artefact_root(cluster))
        .with("region", region.clone());
    let mut ours = false;
    let others = [CONTROLLER_BINARY, crate::secrets::NODE_SCRIPT_NAME];
    for name in BINARIES.iter().chain(&others) {
        match s3
            .head_object()
            .bucket(bucket)
            .key(format!("{prefix}{name}"))
            .send()
            .await
        {
            Ok(o) => {
                let meta = o.metadata();
                let sha = meta
                    .and_then(|m| m.get(META_SHA256))
                    .cloned()
                    .unwrap_or_default();
                ours |= meta
                    .and_then(|m| m.get(META_CLUSTER))
                    .is_some_and(|c| c == cluster);
                if let Some(arch) = meta.and_then(|m| m.get(META_ARCH)) {
                    a.attrs.insert(format!("arch/{name}"), arch.clone());
                }
                a.attrs.insert(format!("sha256/{name}"), sha);
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => {
                return Err(sdk_err(
                    format!("HeadObject s3://{bucket}/{prefix}{name}"),
                    e,
                ));
            }
        }
    }
    a.attrs.insert("ours".into(), ours.to_string());
    found.state.put(a);
    Ok(())
}
