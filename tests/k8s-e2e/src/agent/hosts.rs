//! The hosts file that stands in for cluster DNS (pure computation + an in-place write, so the
//! bind mounts over `/etc/hosts` in every process's mount namespace see each update).
//!
//! Names (each also with `.cluster.local` appended):
//! - `<hostname>.<subdomain>.<ns>.svc` → that pod, for pods with `spec.hostname` and
//!   `spec.subdomain` (StatefulSet pods under their headless Service);
//! - `<svc>.<ns>.svc` → a running pod the Service selects (a ready one when there is one):
//!   ClusterIPs are API data only here, nothing routes them.

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// A pod as the hosts file sees it.
#[derive(Debug, Clone)]
pub struct PodAddr {
    /// Namespace.
    pub namespace: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `spec.hostname`.
    pub hostname: Option<String>,
    /// `spec.subdomain`.
    pub subdomain: Option<String>,
    /// Address.
    pub ip: String,
    /// Ready.
    pub ready: bool,
}

impl PodAddr {
    /// From a pod with an IP.
    pub fn from_pod(p: &Pod, ip: &str, ready: bool) -> Self {
        let spec = p.spec.clone().unwrap_or_default();
        Self {
            namespace: p.namespace().unwrap_or_default(),
            labels: p.labels().clone(),
            hostname: spec.hostname,
            subdomain: spec.subdomain,
            ip: ip.to_owned(),
            ready,
        }
    }
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The hosts file text.
pub fn render(services: &[Service], pods: &[PodAddr]) -> String {
    let mut entries: BTreeMap<String, String> = BTreeMap::new();
    for p in pods {
        if let (Some(h), Some(sd)) = (&p.hostname, &p.subdomain) {
            entries.insert(format!("{h}.{sd}.{}.svc", p.namespace), p.ip.clone());
        }
    }
    for s in services {
        let ns = s.namespace().unwrap_or_default();
        let sel = s
            .spec
            .as_ref()
            .and_then(|sp| sp.selector.clone())
            .unwrap_or_default();
        let mut matching: Vec<&PodAddr> = pods
            .iter()
            .filter(|p| p.namespace == ns && selects(&sel, &p.labels))
            .collect();
        matching.sort_by_key(|p| !p.ready);
        if let Some(p) = matching.first() {
            entries.insert(format!("{}.{ns}.svc", s.name_any()), p.ip.clone());
        }
    }
    let mut out = String::from(
        "# written by rmq-node-agent: the test stand-in for cluster DNS\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
    );
    for (name, ip) in entries {
        out.push_str(&format!("{ip} {name} {name}.cluster.local\n"));
    }
    out
}

/// Writes `text` into `path` in place (same inode: bind mounts keep seeing it).
pub fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.flush()
}
