//! `rmqctl aws secrets put|list` (the SSM parameters of `spec.security`'s secrets) and what
//! `apply` reads from them: the admin account its topic reconcile signs with, and the cluster's
//! CA bundle when TLS is on and `--tls-ca` is not given.

use super::aws_err;
use crate::cli::SecurityArgs;
use crate::cli::aws::{SecretsListArgs, SecretsPutArgs, SecretsTarget};
use crate::error::CtlError;
use crate::output::{Output, Table, emit};
use rmq_aws::Aws;
use rmq_aws::params::Connection;
use rmq_model::ValidatedCluster;

/// With TLS on and no `--tls-ca`: the `ca.crt` parameter of the spec's `certificateSecret`,
/// written to a private temporary file that `security.tls_ca` then names (removed when the
/// returned guard drops).
pub(super) async fn cluster_ca(
    aws: &Aws,
    cluster: &ValidatedCluster,
    security: &mut SecurityArgs,
) -> Result<Option<TempCa>, CtlError> {
    let Some(tls) = &cluster.security.tls else {
        return Ok(None);
    };
    if security.tls_ca.is_some() {
        return Ok(None);
    }
    let (_, _, ca) = rmq_model::validate::TLS_FILES;
    let file = rmq_aws::secrets::SecretFile::new(&tls.certificate, ca);
    let pem = rmq_aws::secrets::ssm::read(aws, &cluster.name, &file)
        .await
        .map_err(|e| {
            CtlError::Aws(format!(
                "cannot read the CA bundle for topics and groups: {e} (fix: pass --tls-ca FILE, or let this identity read and decrypt /rmq/{}/*)",
                cluster.name
            ))
        })?;
    let guard = TempCa::write(&pem).map_err(|source| CtlError::Io {
        path: format!(
            "a temporary copy of {} (fix: pass --tls-ca FILE, or set TMPDIR to a writable directory)",
            file.parameter(&cluster.name)
        ),
        source,
    })?;
    // Checked here, so that a bad bundle is named by its parameter rather than the temporary file.
    crate::security::tls(
        &guard.path(),
        None,
        &format!("the parameter {}", file.parameter(&cluster.name)),
    )?;
    security.tls_ca = Some(guard.path());
    Ok(Some(guard))
}

/// A private directory (0700) holding `ca.crt`, removed on drop.
pub(super) struct TempCa(std::path::PathBuf);

impl TempCa {
    /// Writes `pem` as `ca.crt` into a new directory under the system's temporary directory.
    fn write(pem: &str) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("rmqctl-ca-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let guard = Self(dir);
        std::fs::write(guard.path(), pem)?;
        Ok(guard)
    }

    /// The `ca.crt` file.
    fn path(&self) -> std::path::PathBuf {
        self.0.join("ca.crt")
    }
}

impl Drop for TempCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The security flags of the topic reconcile: as given, or, without `--access-key` and
/// `--secret-key`, the admin account of the spec's `adminSecret` read from SSM (never printed).
pub(super) async fn admin_security(
    aws: &Aws,
    cluster: &ValidatedCluster,
    given: &SecurityArgs,
) -> Result<SecurityArgs, CtlError> {
    let Some(acl) = &cluster.security.acl else {
        return Ok(given.clone());
    };
    if given.access_key.is_some() || given.secret_key.is_some() {
        return Ok(given.clone());
    }
    let (ak, sk) = rmq_model::validate::ADMIN_KEYS;
    let read = |key: &'static str| {
        let file = rmq_aws::secrets::SecretFile::new(&acl.admin, key);
        async move {
            rmq_aws::secrets::ssm::read(aws, &cluster.name, &file)
                .await
                .map_err(|e| {
                    CtlError::Aws(format!(
                        "cannot read the admin account for topics and groups: {e} (fix: pass --access-key/--secret-key, or let this identity read and decrypt /rmq/{}/*)",
                        cluster.name
                    ))
                })
        }
    };
    let mut security = given.clone();
    security.access_key = Some(read(ak).await?);
    security.secret_key = Some(read(sk).await?.into());
    Ok(security)
}

/// The clients of a `secrets` command.
async fn secrets_client(t: &SecretsTarget) -> Result<Aws, CtlError> {
    if !rmq_aws::secrets::is_secret_name(&t.cluster) || t.cluster.contains('.') {
        return Err(CtlError::Input(format!(
            "--cluster {:?} is not a cluster name (fix: metadata.name of the RocketMQCluster)",
            t.cluster
        )));
    }
    Ok(Aws::connect(&Connection {
        region: t.region.clone(),
        endpoint_url: t.endpoint_url.clone(),
        no_retries: t.no_retries,
    })
    .await)
}

/// `rmqctl aws secrets put`: one SecureString parameter per file; prints names, never values.
pub(super) async fn secrets_put(a: SecretsPutArgs) -> Result<(), CtlError> {
    let files = rmq_aws::secrets::local::read_dir(&a.from_dir, &a.secrets)
        .map_err(|e| CtlError::Input(e.to_string()))?;
    let aws = secrets_client(&a.target).await?;
    let written =
        rmq_aws::secrets::ssm::put(&aws, &a.target.cluster, &files, a.kms_key_id.as_deref())
            .await
            .map_err(aws_err)?;
    match a.target.output {
        Output::Table => {
            for (name, version) in &written {
                let what = if *version > 1 { "rotated" } else { "created" };
                println!("{what} {name} (version {version})");
            }
            println!(
                "{} parameter(s) of cluster {} in {}; running nodes read them within a minute",
                written.len(),
                a.target.cluster,
                a.target.region
            );
            Ok(())
        }
        o => emit(
            o,
            &written
                .iter()
                .map(|(name, version)| serde_json::json!({"name": name, "version": version}))
                .collect::<Vec<_>>(),
        ),
    }
}

/// `rmqctl aws secrets list`: the cluster's parameters, never their values.
pub(super) async fn secrets_list(a: SecretsListArgs) -> Result<(), CtlError> {
    let aws = secrets_client(&a.target).await?;
    let found = rmq_aws::secrets::ssm::list(&aws, &a.target.cluster)
        .await
        .map_err(aws_err)?;
    if a.target.output != Output::Table {
        return emit(a.target.output, &found);
    }
    if found.is_empty() {
        println!(
            "no parameter under {} in {} (create them with `rmqctl aws secrets put --cluster {} --from-dir DIR`)",
            rmq_aws::secrets::path(&a.target.cluster),
            a.target.region,
            a.target.cluster
        );
        return Ok(());
    }
    let mut t = Table::new(&["NAME", "TYPE", "VERSION", "LAST MODIFIED"]);
    for p in &found {
        t.row(vec![
            p.name.clone(),
            p.kind.clone(),
            p.version.to_string(),
            p.last_modified.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_ca_from_ssm_is_a_private_file_removed_afterwards() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----";
        let guard = TempCa::write(pem).unwrap();
        let path = guard.path();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
        let dir = path.parent().unwrap().to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        drop(guard);
        assert!(!dir.exists());
    }
}
