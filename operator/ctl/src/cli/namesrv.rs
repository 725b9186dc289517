//! `--namesrv`, shared by `apply`, `get`, `route` and `aws apply`.

use clap::Args;

/// Where the nameservers are.
#[derive(Debug, Args, Clone)]
pub struct NamesrvArg {
    /// Nameserver addresses, `host:port;host:port`.
    #[arg(short = 'n', long = "namesrv", env = "NAMESRV_ADDR")]
    pub namesrv: Option<String>,
}
