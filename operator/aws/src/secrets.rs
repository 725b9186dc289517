//! `spec.security`'s secrets on AWS: one SSM SecureString parameter per file,
//! `/rmq/<cluster>/<secret>/<key>` (the layout of a Kubernetes Secret volume and of
//! `rmqctl local up --secrets-dir`: a directory per secret, a file per key).
//!
//! - `rmqctl aws secrets put` writes them from `DIR/<secret>/<key>` files ([`local`], [`ssm`]);
//! - `rmqctl aws plan|apply` refuse while one the cluster names is missing ([`ssm::check`]);
//! - the node role may read `/rmq/<cluster>/*` only ([`crate::iam`]);
//! - each node's user data lists the files that node needs ([`node_files`]: nameservers never
//!   get the admin secret), and the node fetches them with `rmq-node-secrets`
//!   ([`NODE_SCRIPT`], uploaded with the binaries) into `/etc/rmq-secrets/<secret>/<key>`, then
//!   again every minute, so a `secrets put` (rotation) reaches the servers' file-watch reload.
//!
//! This half is pure; [`ssm`] and [`local`] do the I/O.

pub mod local;
pub mod ssm;

use crate::error::PlanError;
use crate::userdata::NodeRole;
use rmq_model::validate::{ACL_FILE, ADMIN_KEYS, Security, TLS_FILES};
use std::collections::BTreeSet;

/// The first component of every parameter name.
pub const ROOT: &str = "/rmq";

/// `cloudformation/userdata/node-secrets.sh`, verbatim: the node's fetch-and-refresh script,
/// uploaded as the artefact [`NODE_SCRIPT_NAME`] and pinned by its SHA-256 in the user data.
pub const NODE_SCRIPT: &str = include_str!("../../../cloudformation/userdata/node-secrets.sh");

/// The object name of [`NODE_SCRIPT`] under the artefact prefix.
pub const NODE_SCRIPT_NAME: &str = "rmq-node-secrets";

/// The SHA-256 of `bytes` as 64 lowercase hex digits (as `sha256sum` prints it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The node script as an artefact to upload.
pub fn node_script() -> crate::resource::ArtefactFile {
    crate::resource::ArtefactFile::embedded(NODE_SCRIPT_NAME, NODE_SCRIPT)
}

/// One file of a secret: `<secret>/<key>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretFile {
    /// The secret's name (`spec.security` names it).
    pub secret: String,
    /// The file's name inside the secret (`plain_acl.yml`, `tls.crt`).
    pub key: String,
}

impl SecretFile {
    /// The file `key` of `secret`.
    pub fn new(secret: &str, key: &str) -> Self {
        Self {
            secret: secret.to_owned(),
            key: key.to_owned(),
        }
    }

    /// `<secret>/<key>`: how the user data lists it, and its path under the secrets directory.
    pub fn item(&self) -> String {
        format!("{}/{}", self.secret, self.key)
    }

    /// The SSM parameter holding it for `cluster`.
    pub fn parameter(&self, cluster: &str) -> String {
        format!("{}{}", path(cluster), self.item())
    }
}

/// `/rmq/<cluster>/`: the path every parameter of the cluster is under.
pub fn path(cluster: &str) -> String {
    format!("{ROOT}/{cluster}/")
}

/// The files a node of `role` reads: the accounts (`plain_acl.yml`) and the certificate
/// (`tls.crt`, `tls.key`, `ca.crt`) on every node, and the admin account (`accessKey`,
/// `secretKey`: brokers sign their registrations with it) on brokers only.
pub fn node_files(security: &Security, role: NodeRole) -> Vec<SecretFile> {
    let mut out = Vec::new();
    if let Some(acl) = &security.acl {
        out.push(SecretFile::new(&acl.accounts, ACL_FILE));
        if role == NodeRole::Broker {
            let (ak, sk) = ADMIN_KEYS;
            out.push(SecretFile::new(&acl.admin, ak));
            out.push(SecretFile::new(&acl.admin, sk));
        }
    }
    if let Some(tls) = &security.tls {
        let (crt, key, ca) = TLS_FILES;
        for k in [crt, key, ca] {
            out.push(SecretFile::new(&tls.certificate, k));
        }
    }
    out
}

/// Every file some node of the cluster reads (what `plan` checks), sorted, without repeats.
pub fn cluster_files(security: &Security) -> Vec<SecretFile> {
    let all: BTreeSet<SecretFile> = node_files(security, NodeRole::Broker)
        .into_iter()
        .chain(node_files(security, NodeRole::NameServer))
        .collect();
    all.into_iter().collect()
}

/// The parameters of `files` that are not among `existing` (parameter names).
pub fn missing(cluster: &str, files: &[SecretFile], existing: &BTreeSet<String>) -> Vec<String> {
    files
        .iter()
        .map(|f| f.parameter(cluster))
        .filter(|p| !existing.contains(p))
        .collect()
}

/// The error of a plan whose cluster names parameters that do not exist.
pub fn missing_error(cluster: &str, region: &str, missing: &[String]) -> PlanError {
    PlanError::new(
        format!(
            "spec.security names secrets whose SSM parameters do not exist in {region}: {}",
            missing.join(", ")
        ),
        format!(
            "put the files as DIR/<secret>/<key> (the layout of `rmqctl local up --secrets-dir`) and run `rmqctl aws secrets put --cluster {cluster} --from-dir DIR --region {region}`"
        ),
    )
}

/// The user data value listing `files` (`secret/key` words, space-separated).
pub fn user_data_list(files: &[SecretFile]) -> String {
    files
        .iter()
        .map(SecretFile::item)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `name` can name a secret: what `spec.security` accepts (a DNS-1123 subdomain).
pub fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Whether `key` can name a file of a secret and the last part of its parameter: letters,
/// digits, `.`, `_`, `-`, not starting with `.`.
pub fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_model::types::{ClientAuthMode, TlsMode};
    use rmq_model::validate::{AclSecrets, TlsSettings};

    fn full() -> Security {
        Security {
            acl: Some(AclSecrets {
                accounts: "acl".into(),
                admin: "admin".into(),
            }),
            tls: Some(TlsSettings {
                mode: TlsMode::Enforcing,
                certificate: "tls".into(),
                client_auth: ClientAuthMode::None,
            }),
        }
    }

    #[test]
    fn nameservers_never_get_the_admin_secret() {
        let ns = user_data_list(&node_files(&full(), NodeRole::NameServer));
        assert_eq!(ns, "acl/plain_acl.yml tls/tls.crt tls/tls.key tls/ca.crt");
        let broker = user_data_list(&node_files(&full(), NodeRole::Broker));
        assert_eq!(
            broker,
            "acl/plain_acl.yml admin/accessKey admin/secretKey tls/tls.crt tls/tls.key tls/ca.crt"
        );
        assert!(node_files(&Security::default(), NodeRole::Broker).is_empty());
    }

    #[test]
    fn the_plan_names_each_missing_parameter_and_the_command() {
        let files = cluster_files(&full());
        assert_eq!(files.len(), 6);
        let existing: BTreeSet<String> = ["/rmq/demo/acl/plain_acl.yml", "/rmq/demo/tls/tls.crt"]
            .map(String::from)
            .into();
        let m = missing("demo", &files, &existing);
        assert!(m.contains(&"/rmq/demo/admin/secretKey".to_owned()), "{m:?}");
        assert_eq!(m.len(), 4);
        let e = missing_error("demo", "eu-west-1", &m).to_string();
        assert!(e.contains("/rmq/demo/tls/ca.crt"), "{e}");
        assert!(
            e.contains("rmqctl aws secrets put --cluster demo --from-dir DIR --region eu-west-1"),
            "{e}"
        );
    }

    #[test]
    fn names_and_keys() {
        assert!(is_secret_name("rmq-tls.v2") && !is_secret_name("Rmq") && !is_secret_name("-a"));
        assert!(is_key("plain_acl.yml") && is_key("accessKey") && is_key("tls.crt"));
        assert!(!is_key("..data") && !is_key("a b") && !is_key("a/b") && !is_key(""));
    }
}
