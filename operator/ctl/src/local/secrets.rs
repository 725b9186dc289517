//! Local mode's secrets: the secret `<name>` that `spec.security` refers to is the directory
//! `<secrets dir>/<name>`, one file per key. [`check`] makes sure every file the cluster needs is
//! there before anything starts; [`Access`] is what `rmqctl local` itself signs and dials with
//! (the admin secret's keys, the certificate secret's CA), recorded as paths in the state file so
//! `status` finds them again. Secret values are never written or printed.

use crate::error::CtlError;
use rmq_model::admin::AdminSecurity;
use rmq_model::types::ClientAuthMode;
use rmq_model::validate::{ACL_FILE, ADMIN_KEYS, TLS_FILES, ValidatedCluster};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The secrets directory used without `--secrets-dir`: `secrets` next to the file that declares
/// the RocketMQCluster (`file`, as given on the command line).
pub fn default_dir(file: &str) -> PathBuf {
    match Path::new(file).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("secrets"),
        _ => PathBuf::from("secrets"),
    }
}

/// Every file `cluster`'s secrets must hold under `dir`, with the spec field naming its secret.
fn required_files(cluster: &ValidatedCluster, dir: &Path) -> Vec<(&'static str, String, PathBuf)> {
    let mut out = Vec::new();
    let mut need = |field: &'static str, secret: &str, key: &str| {
        out.push((field, secret.to_owned(), dir.join(secret).join(key)));
    };
    if let Some(acl) = &cluster.security.acl {
        need("spec.security.acl.accountsSecret", &acl.accounts, ACL_FILE);
        need("spec.security.acl.adminSecret", &acl.admin, ADMIN_KEYS.0);
        need("spec.security.acl.adminSecret", &acl.admin, ADMIN_KEYS.1);
    }
    if let Some(tls) = &cluster.security.tls {
        let (crt, key, ca) = TLS_FILES;
        for file in [crt, key, ca] {
            need(
                "spec.security.tls.certificateSecret",
                &tls.certificate,
                file,
            );
        }
    }
    out
}

/// Fails, naming each missing file and the spec field of its secret, unless every file of
/// `cluster`'s secrets exists under `dir`.
pub fn check(cluster: &ValidatedCluster, dir: &Path) -> Result<(), CtlError> {
    let missing: Vec<String> = required_files(cluster, dir)
        .into_iter()
        .filter(|(_, _, path)| !path.is_file())
        .map(|(field, secret, path)| {
            format!(
                "  - {field} names secret {secret:?}, but {} does not exist",
                path.display()
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CtlError::Input(format!(
        "{} secret file(s) missing under {}:\n{}\n(fix: write the files, or pass --secrets-dir \
         DIR where DIR/<secret name>/<key> holds them)",
        missing.len(),
        dir.display(),
        missing.join("\n")
    )))
}

/// What `rmqctl local` signs its requests with and dials with: paths into the secrets
/// directory, never their contents. Empty for a cluster without `spec.security`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// The admin secret's directory (`accessKey`, `secretKey`), when the ACL is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_dir: Option<PathBuf>,
    /// The CA bundle the nodes' certificates are verified with, when TLS is not Disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate chain and key, when the nodes require client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

impl Access {
    /// The access to `cluster` with its secrets under `dir`.
    pub fn of(cluster: &ValidatedCluster, dir: &Path) -> Self {
        let (crt, key, ca) = TLS_FILES;
        let tls = cluster.security.tls.as_ref();
        Self {
            credentials_dir: cluster.security.acl.as_ref().map(|a| dir.join(&a.admin)),
            tls_ca: tls.map(|t| dir.join(&t.certificate).join(ca)),
            tls_client: tls
                .filter(|t| t.client_auth == ClientAuthMode::Require)
                .map(|t| {
                    let base = dir.join(&t.certificate);
                    (base.join(crt), base.join(key))
                }),
        }
    }

    /// True for a cluster without `spec.security`.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The credentials and TLS, read from the files now.
    pub fn security(&self) -> Result<AdminSecurity, CtlError> {
        let credentials = match &self.credentials_dir {
            Some(dir) => {
                let ak = read(&dir.join(ADMIN_KEYS.0))?;
                let sk = read(&dir.join(ADMIN_KEYS.1))?;
                let from = format!("the admin secret {}", dir.display());
                Some(crate::security::credentials(&ak, &sk, &from)?)
            }
            None => None,
        };
        let tls = match &self.tls_ca {
            Some(ca) => Some(crate::security::tls(
                ca,
                self.tls_client
                    .as_ref()
                    .map(|(c, k)| (c.as_path(), k.as_path())),
                "the certificate secret",
            )?),
            None => None,
        };
        Ok(AdminSecurity::new(credentials, tls))
    }

    /// How to reach the cluster with `rmqctl apply`/`get` (flags and variables holding paths,
    /// never secrets), or empty.
    pub fn flags(&self) -> String {
        let mut out = String::new();
        if let Some((cert, key)) = &self.tls_client {
            out.push_str(&format!(
                " --tls-client-cert {} --tls-client-key {}",
                cert.display(),
                key.display()
            ));
        }
        if let Some(ca) = &self.tls_ca {
            out.insert_str(0, &format!(" --tls-ca {}", ca.display()));
        }
        if let Some(dir) = &self.credentials_dir {
            let (ak, sk) = ADMIN_KEYS;
            out.insert_str(
                0,
                &format!(
                    " --access-key \"$(cat {0}/{ak})\" --secret-key \"$(cat {0}/{sk})\"",
                    dir.display()
                ),
            );
        }
        out
    }
}

/// A credentials file, or an error naming it (never its content).
fn read(path: &Path) -> Result<String, CtlError> {
    std::fs::read_to_string(path).map_err(|e| {
        CtlError::Local(format!(
            "cannot read {} (spec.security.acl.adminSecret): {e} (fix: restore the file, or \
             pass --secrets-dir)",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_directory_is_next_to_the_cluster_file() {
        assert_eq!(default_dir("cluster.yaml"), PathBuf::from("secrets"));
        assert_eq!(
            default_dir("deploy/prod/cluster.yaml"),
            PathBuf::from("deploy/prod/secrets")
        );
        assert!(Access::default().is_empty() && Access::default().flags().is_empty());
    }
}
