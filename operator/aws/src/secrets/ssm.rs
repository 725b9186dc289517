//! The SSM half of the secrets: which parameters exist (names only, never decrypted), writing
//! them as SecureString (an overwrite is a rotation: the nodes pick it up within a minute), and
//! reading one back decrypted for `rmqctl aws`'s own admin client. Nothing here logs a value.

use super::{SecretFile, cluster_files, missing, missing_error, path};
use crate::client::Aws;
use crate::error::{Error, Result, aws as sdk_err};
use aws_sdk_ssm::types::{ParameterTier, ParameterType, Tag};
use rmq_model::validate::Security;
use std::collections::BTreeSet;

/// One parameter of a cluster as `secrets list` shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterInfo {
    /// Full name, `/rmq/<cluster>/<secret>/<key>`.
    pub name: String,
    /// `SecureString` (anything else was not written by rmqctl).
    pub kind: String,
    /// Version: 1 at creation, +1 per `secrets put` that changed it.
    pub version: i64,
    /// When it was last written (RFC 3339), if SSM says.
    pub last_modified: Option<String>,
}

/// Every parameter under `/rmq/<cluster>/` (names and metadata; values are not requested).
pub async fn list(aws: &Aws, cluster: &str) -> Result<Vec<ParameterInfo>> {
    let prefix = path(cluster);
    let pages = aws
        .ssm
        .get_parameters_by_path()
        .path(prefix.trim_end_matches('/'))
        .recursive(true)
        .with_decryption(false)
        .into_paginator()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_err(format!("GetParametersByPath {prefix}"), e))?;
    let mut out: Vec<ParameterInfo> = pages
        .iter()
        .flat_map(|p| p.parameters())
        .filter_map(|p| {
            Some(ParameterInfo {
                name: p.name()?.to_owned(),
                kind: p
                    .r#type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                version: p.version(),
                last_modified: p.last_modified_date().map(|d| {
                    d.fmt(aws_sdk_ssm::primitives::DateTimeFormat::DateTime)
                        .unwrap_or_default()
                }),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Refuses (a plan error naming each missing parameter and the command creating them) unless
/// every parameter `security` needs exists for `cluster`.
pub async fn check(aws: &Aws, cluster: &str, security: &Security) -> Result<()> {
    let files = cluster_files(security);
    if files.is_empty() {
        return Ok(());
    }
    let existing: BTreeSet<String> = list(aws, cluster)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let gone = missing(cluster, &files, &existing);
    if gone.is_empty() {
        Ok(())
    } else {
        Err(Error::Plan(vec![missing_error(
            cluster,
            &aws.region,
            &gone,
        )]))
    }
}

/// Writes each file as the SecureString parameter `/rmq/<cluster>/<secret>/<key>` (overwriting:
/// a rotation), encrypted with `kms_key` or the account's `alias/aws/ssm`, tagged
/// `rmq.dev/cluster`. Returns the names written and whether each changed (its version moved
/// past 1 means it existed before).
pub async fn put(
    aws: &Aws,
    cluster: &str,
    files: &[(SecretFile, String)],
    kms_key: Option<&str>,
) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for (file, value) in files {
        let name = file.parameter(cluster);
        let written = aws
            .ssm
            .put_parameter()
            .name(&name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .tier(ParameterTier::IntelligentTiering)
            .overwrite(true)
            .set_key_id(kms_key.map(str::to_owned))
            .description(format!(
                "rmq cluster {cluster}: file {} of secret {} (rmqctl aws secrets put)",
                file.key, file.secret
            ))
            .send()
            .await
            .map_err(|e| sdk_err(format!("PutParameter {name}"), e))?;
        tag(aws, cluster, &name).await?;
        out.push((name, written.version()));
    }
    Ok(out)
}

/// Tags parameter `name` for `cluster` (PutParameter cannot tag an overwrite).
async fn tag(aws: &Aws, cluster: &str, name: &str) -> Result<()> {
    let tag = Tag::builder()
        .key(crate::resource::TAG_CLUSTER)
        .value(cluster)
        .build()
        .map_err(|e| Error::Input(format!("parameter tag: {e}")))?;
    aws.ssm
        .add_tags_to_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .tags(tag)
        .send()
        .await
        .map_err(|e| sdk_err(format!("AddTagsToResource {name}"), e))?;
    Ok(())
}

/// The decrypted value of `file`'s parameter (for rmqctl's own admin client only; never
/// printed).
pub async fn read(aws: &Aws, cluster: &str, file: &SecretFile) -> Result<String> {
    let name = file.parameter(cluster);
    let out = aws
        .ssm
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| sdk_err(format!("GetParameter {name}"), e))?;
    out.parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| Error::Input(format!("parameter {name} has no value")))
}
