//! `--access-key`/`--secret-key` and `--tls-ca` (with the optional client certificate), shared
//! by every command that talks to a cluster through `--namesrv`.

use clap::Args;
use std::fmt;
use std::path::PathBuf;

/// How rmqctl proves who it is to a cluster with `spec.security`.
#[derive(Debug, Args, Clone, Default)]
pub struct SecurityArgs {
    /// Access key of the account every request is signed with (clusters with an ACL; creating
    /// and deleting topics and groups needs an admin account); needs --secret-key.
    #[arg(
        long,
        env = "RMQ_ACCESS_KEY",
        value_name = "KEY",
        hide_env_values = true,
        help_heading = "Security"
    )]
    pub access_key: Option<String>,
    /// Secret key of that account; prefer the environment variable (a command line is visible
    /// to other local users).
    #[arg(
        long,
        env = "RMQ_SECRET_KEY",
        value_name = "SECRET",
        hide_env_values = true,
        help_heading = "Security"
    )]
    pub secret_key: Option<SecretArg>,
    /// Connect with TLS, verifying the servers' certificates against this CA bundle (PEM; the
    /// `ca.crt` of the cluster's certificate secret).
    #[arg(
        long,
        env = "RMQ_TLS_CA",
        value_name = "FILE",
        help_heading = "Security"
    )]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate chain (PEM) to present, for clusters with `clientAuth: Require`;
    /// needs --tls-client-key and --tls-ca.
    #[arg(
        long,
        env = "RMQ_TLS_CLIENT_CERT",
        value_name = "FILE",
        help_heading = "Security"
    )]
    pub tls_client_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-client-cert.
    #[arg(
        long,
        env = "RMQ_TLS_CLIENT_KEY",
        value_name = "FILE",
        help_heading = "Security"
    )]
    pub tls_client_key: Option<PathBuf>,
}

/// A secret given on the command line or in the environment; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretArg(String);

impl SecretArg {
    /// The secret itself, to sign with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretArg {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
