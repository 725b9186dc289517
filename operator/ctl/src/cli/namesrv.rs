//! `--namesrv` and the security flags that go with it, shared by `apply`, `get`, `top`, `route`
//! and `aws apply`.

use super::security::SecurityArgs;
use clap::Args;

/// Where the nameservers are, and how to prove who rmqctl is to them.
#[derive(Debug, Args, Clone)]
pub struct NamesrvArg {
    /// Nameserver addresses, `host:port;host:port`.
    #[arg(short = 'n', long = "namesrv", env = "NAMESRV_ADDR")]
    pub namesrv: Option<String>,
    /// Credentials and TLS (clusters with `spec.security`).
    #[command(flatten)]
    pub security: SecurityArgs,
}
