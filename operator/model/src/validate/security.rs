//! Validation of `spec.security`, and the configuration keys it becomes on every broker and
//! nameserver. Secret names resolve to directories through the back-end
//! ([`crate::desired::Addressing::secret_dir`]); the file names inside are fixed here.

use super::ValidationError;
use crate::types::{ClientAuthMode, SecuritySpec, TlsMode};
use serde::Serialize;

/// The key of the accounts secret: the `plain_acl.yml` file.
pub const ACL_FILE: &str = "plain_acl.yml";
/// The keys of the admin secret.
pub const ADMIN_KEYS: (&str, &str) = ("accessKey", "secretKey");
/// The keys of the certificate secret: chain, private key, CA bundle.
pub const TLS_FILES: (&str, &str, &str) = ("tls.crt", "tls.key", "ca.crt");

/// broker.conf keys `spec.security` sets; `spec.brokers.config` may not set them.
pub const SECURITY_KEYS: &[&str] = &[
    "aclEnable",
    "aclFile",
    "innerClientAuthenticationCredentials",
    "innerClientCredentialsDir",
];

/// `spec.security` with its references checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Security {
    /// The ACL's secrets, when the ACL is on.
    pub acl: Option<AclSecrets>,
    /// TLS, when not `Disabled`.
    pub tls: Option<TlsSettings>,
}

/// The two secrets of an ACL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclSecrets {
    /// Holds `plain_acl.yml`.
    pub accounts: String,
    /// Holds the admin account's `accessKey` and `secretKey`.
    pub admin: String,
}

/// TLS settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsSettings {
    /// Permissive or Enforcing.
    pub mode: TlsMode,
    /// Holds `tls.crt`, `tls.key`, `ca.crt`.
    pub certificate: String,
    /// Client certificates.
    pub client_auth: ClientAuthMode,
}

/// Whether `name` can name a Kubernetes Secret (a DNS-1123 subdomain), which every back-end
/// accepts as a directory or parameter name too.
fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The secret named at `path`, if it is there and valid; else an error.
fn secret(
    name: Option<&String>,
    path: &str,
    holds: &str,
    errs: &mut Vec<ValidationError>,
) -> Option<String> {
    match name {
        None => {
            errs.push(ValidationError::new(
                path,
                "is missing",
                format!("name the secret holding {holds}"),
            ));
            None
        }
        Some(n) if !is_secret_name(n) => {
            errs.push(ValidationError::new(
                path,
                format!("{n:?} is not a valid secret name"),
                "use lowercase letters, digits, '-' and '.', starting and ending with a letter \
                 or digit",
            ));
            None
        }
        Some(n) => Some(n.clone()),
    }
}

/// Checks `spec.security`.
pub fn check_security(s: &SecuritySpec, errs: &mut Vec<ValidationError>) -> Security {
    let acl = if s.acl.enabled {
        let accounts = secret(
            s.acl.accounts_secret.as_ref(),
            "spec.security.acl.accountsSecret",
            &format!("{ACL_FILE} (the accounts)"),
            errs,
        );
        let admin = secret(
            s.acl.admin_secret.as_ref(),
            "spec.security.acl.adminSecret",
            "accessKey and secretKey of an admin account",
            errs,
        );
        accounts
            .zip(admin)
            .map(|(accounts, admin)| AclSecrets { accounts, admin })
    } else {
        None
    };
    let tls = match s.tls.mode {
        TlsMode::Disabled => {
            if s.tls.client_auth != ClientAuthMode::None {
                errs.push(ValidationError::new(
                    "spec.security.tls.clientAuth",
                    "client certificates need TLS, and spec.security.tls.mode is Disabled",
                    "set mode to Permissive or Enforcing, or clientAuth to None",
                ));
            }
            None
        }
        mode => secret(
            s.tls.certificate_secret.as_ref(),
            "spec.security.tls.certificateSecret",
            "tls.crt, tls.key and ca.crt",
            errs,
        )
        .map(|certificate| TlsSettings {
            mode,
            certificate,
            client_auth: s.tls.client_auth,
        }),
    };
    Security { acl, tls }
}

/// Whether a `spec.brokers.config` key belongs to `spec.security`.
pub fn is_security_key(key: &str) -> bool {
    SECURITY_KEYS.contains(&key) || key.starts_with("tls.")
}

impl Security {
    /// The broker.conf lines of this security; `dir` maps a secret name to its directory.
    pub fn broker_lines(&self, dir: &dyn Fn(&str) -> String) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(acl) = &self.acl {
            out.push(("aclEnable".into(), "true".into()));
            out.push((
                "aclFile".into(),
                format!("{}/{ACL_FILE}", dir(&acl.accounts)),
            ));
            out.push(("innerClientCredentialsDir".into(), dir(&acl.admin)));
        }
        if let Some(tls) = &self.tls {
            out.extend(tls.server_lines(dir));
            let base = dir(&tls.certificate);
            let (crt, key, ca) = TLS_FILES;
            if tls.mode == TlsMode::Enforcing {
                out.push(("tls.enable".into(), "true".into()));
            }
            out.push(("tls.client.trustCertPath".into(), format!("{base}/{ca}")));
            if tls.client_auth != ClientAuthMode::None {
                out.push(("tls.client.certPath".into(), format!("{base}/{crt}")));
                out.push(("tls.client.keyPath".into(), format!("{base}/{key}")));
            }
        }
        out
    }

    /// The namesrv.conf lines of this security (empty without ACL and TLS).
    pub fn namesrv_lines(&self, dir: &dyn Fn(&str) -> String) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(acl) = &self.acl {
            out.push(("aclEnable".into(), "true".into()));
            out.push((
                "aclFile".into(),
                format!("{}/{ACL_FILE}", dir(&acl.accounts)),
            ));
        }
        if let Some(tls) = &self.tls {
            out.extend(tls.server_lines(dir));
        }
        out
    }
}

impl TlsSettings {
    /// The `tls.server.*` lines.
    fn server_lines(&self, dir: &dyn Fn(&str) -> String) -> Vec<(String, String)> {
        let base = dir(&self.certificate);
        let (crt, key, ca) = TLS_FILES;
        vec![
            ("tls.server.mode".into(), self.mode.as_conf().into()),
            ("tls.server.certPath".into(), format!("{base}/{crt}")),
            ("tls.server.keyPath".into(), format!("{base}/{key}")),
            ("tls.server.trustCertPath".into(), format!("{base}/{ca}")),
            (
                "tls.server.need.client.auth".into(),
                self.client_auth.as_conf().into(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AclSpec, TlsSpec};

    fn dir(name: &str) -> String {
        format!("/etc/rmq-secrets/{name}")
    }

    #[test]
    fn nothing_set_is_nothing_rendered() {
        let mut errs = Vec::new();
        let s = check_security(&SecuritySpec::default(), &mut errs);
        assert!(errs.is_empty());
        assert!(s.broker_lines(&dir).is_empty() && s.namesrv_lines(&dir).is_empty());
    }

    #[test]
    fn an_acl_needs_both_secrets_with_valid_names() {
        let mut errs = Vec::new();
        let spec = SecuritySpec {
            acl: AclSpec {
                enabled: true,
                accounts_secret: Some("Bad_Name".into()),
                admin_secret: None,
            },
            tls: TlsSpec::default(),
        };
        let s = check_security(&spec, &mut errs);
        assert_eq!(s.acl, None);
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.security.acl.accountsSecret",
                "spec.security.acl.adminSecret"
            ]
        );
    }

    #[test]
    fn tls_needs_a_certificate_and_client_auth_needs_tls() {
        let mut errs = Vec::new();
        let mut spec = SecuritySpec::default();
        spec.tls.mode = TlsMode::Enforcing;
        check_security(&spec, &mut errs);
        assert_eq!(errs[0].path, "spec.security.tls.certificateSecret");
        let mut errs = Vec::new();
        spec.tls.mode = TlsMode::Disabled;
        spec.tls.client_auth = ClientAuthMode::Require;
        check_security(&spec, &mut errs);
        assert_eq!(errs[0].path, "spec.security.tls.clientAuth");
    }

    #[test]
    fn enforcing_acl_and_client_certificates_render_every_key() {
        let spec = SecuritySpec {
            acl: AclSpec {
                enabled: true,
                accounts_secret: Some("rmq-acl".into()),
                admin_secret: Some("rmq-admin".into()),
            },
            tls: TlsSpec {
                mode: TlsMode::Enforcing,
                certificate_secret: Some("rmq-tls".into()),
                client_auth: ClientAuthMode::Require,
            },
        };
        let mut errs = Vec::new();
        let s = check_security(&spec, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        let broker: std::collections::BTreeMap<_, _> = s.broker_lines(&dir).into_iter().collect();
        assert_eq!(broker["aclFile"], "/etc/rmq-secrets/rmq-acl/plain_acl.yml");
        assert_eq!(
            broker["innerClientCredentialsDir"],
            "/etc/rmq-secrets/rmq-admin"
        );
        assert_eq!(broker["tls.server.mode"], "enforcing");
        assert_eq!(broker["tls.enable"], "true");
        assert_eq!(
            broker["tls.client.keyPath"],
            "/etc/rmq-secrets/rmq-tls/tls.key"
        );
        assert_eq!(broker["tls.server.need.client.auth"], "require");
        let ns: std::collections::BTreeMap<_, _> = s.namesrv_lines(&dir).into_iter().collect();
        assert_eq!(ns["aclEnable"], "true");
        assert_eq!(
            ns["tls.server.certPath"],
            "/etc/rmq-secrets/rmq-tls/tls.crt"
        );
        assert!(!ns.contains_key("innerClientCredentialsDir"));
    }

    #[test]
    fn security_keys_are_recognised() {
        assert!(is_security_key("aclEnable"));
        assert!(is_security_key("tls.server.mode"));
        assert!(!is_security_key("autoCreateTopicEnable"));
    }
}
