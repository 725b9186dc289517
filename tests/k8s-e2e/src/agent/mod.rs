//! The node agent: node heartbeat, PV provisioning, pods as processes, the hosts file.

pub mod hosts;
pub mod node;
pub mod pods;
pub mod pv;
pub mod spawn;
pub mod volumes;

use std::path::PathBuf;

/// Agent settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Node name (`rmq-test-node`).
    pub node: String,
    /// State directory: pods, volumes, logs, the hosts file.
    pub state_dir: PathBuf,
    /// Directory of the binaries images map to.
    pub bin_dir: PathBuf,
    /// Image repositories that map to `bin_dir` (`rmq` matches `rmq`, `rmq:dev`, `x/rmq:1`).
    pub images: Vec<String>,
    /// The LD_PRELOAD shim turning wildcard binds into the pod address.
    pub shim: Option<PathBuf>,
    /// API server host and port given to pods as `KUBERNETES_SERVICE_HOST/PORT`.
    pub apiserver: (String, u16),
    /// Most seconds a terminating process gets before SIGKILL.
    pub max_grace_seconds: u64,
}

impl Config {
    /// The hosts file.
    pub fn hosts_file(&self) -> PathBuf {
        self.state_dir.join("hosts")
    }

    /// True if `image` maps to our binaries.
    pub fn image_supported(&self, image: &str) -> bool {
        let no_tag = image.split('@').next().unwrap_or(image);
        let repo = match no_tag.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r,
            _ => no_tag,
        };
        let last = repo.rsplit('/').next().unwrap_or(repo);
        self.images.iter().any(|i| i == repo || i == last)
    }
}

/// Now as RFC 3339 (second precision).
pub fn now() -> String {
    let t = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}
