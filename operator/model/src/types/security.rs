//! `spec.security`: who may produce, consume and administer (the ACL of `plain_acl.yml`), and
//! TLS on the remoting ports. Secrets are referenced by name, never written into the spec; each
//! back-end resolves a name the same way a Kubernetes Secret volume is laid out — a directory
//! holding one file per key:
//! - Kubernetes: the Secret of that name in the cluster's namespace, mounted into the pods
//!   (cert-manager `Certificate`s work as the TLS source: their Secret has `tls.crt`, `tls.key`
//!   and `ca.crt`);
//! - local mode: `<secrets dir>/<name>/<key>` files (`rmqctl local up --secrets-dir`);
//! - AWS: SSM SecureString parameters `/rmq/<cluster>/<name>/<key>`, readable by the node role.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// ACL and TLS of every nameserver and broker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySpec {
    /// Accounts and permissions (RocketMQ ACL 1.0, `plain_acl.yml`).
    #[serde(default)]
    pub acl: AclSpec,
    /// TLS on the remoting ports.
    #[serde(default)]
    pub tls: TlsSpec,
}

/// The ACL: brokers check every request, nameservers every state change (admins only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AclSpec {
    /// Turn the ACL on (`aclEnable`).
    #[serde(default)]
    pub enabled: bool,
    /// The secret holding `plain_acl.yml` (the accounts). Changes apply without a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts_secret: Option<String>,
    /// The secret holding `accessKey` and `secretKey` of an admin account of that file: brokers
    /// sign their registrations and slave syncs with it, the operator and `rmqctl` administer
    /// topics and groups with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_secret: Option<String>,
}

/// TLS of the remoting ports (Java's `tls.server.mode`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// `Disabled` (default), `Permissive` (TLS and plaintext clients both accepted) or
    /// `Enforcing` (TLS only; brokers also reach nameservers and masters over TLS).
    #[serde(default)]
    pub mode: TlsMode,
    /// The secret holding `tls.crt`, `tls.key` and `ca.crt` (the layout of a cert-manager
    /// Certificate's Secret); the certificate must name every address clients use. Replaced
    /// files apply to new connections without a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_secret: Option<String>,
    /// Client certificates: `None` (default), `Optional` or `Require` (signed by `ca.crt`).
    #[serde(default)]
    pub client_auth: ClientAuthMode,
}

/// How the remoting ports treat plaintext.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TlsMode {
    /// Plaintext only.
    #[default]
    Disabled,
    /// TLS and plaintext (a migration step).
    Permissive,
    /// TLS only.
    Enforcing,
}

impl TlsMode {
    /// The value of `tls.server.mode`.
    pub fn as_conf(self) -> &'static str {
        match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Permissive => "permissive",
            TlsMode::Enforcing => "enforcing",
        }
    }
}

/// Whether clients must present certificates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ClientAuthMode {
    /// No client certificates asked for.
    #[default]
    None,
    /// Checked when presented.
    Optional,
    /// Required.
    Require,
}

impl ClientAuthMode {
    /// The value of `tls.server.need.client.auth`.
    pub fn as_conf(self) -> &'static str {
        match self {
            ClientAuthMode::None => "none",
            ClientAuthMode::Optional => "optional",
            ClientAuthMode::Require => "require",
        }
    }
}
