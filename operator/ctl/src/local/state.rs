//! The local cluster's state directory: `state.json` (layout, pids, addresses), one directory
//! per node (`namesrv-0/`, `broker-a-0/` with `broker.conf` and `store/`), `logs/`, pid files.
//! `up` writes it, `status` and `down` read it; `up` again reuses the data directories.

use super::secrets::Access;
use crate::error::CtlError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Default parent of state directories: `./.rmq-local`.
pub const DEFAULT_ROOT: &str = ".rmq-local";
/// The state file inside a cluster's state directory.
pub const STATE_FILE: &str = "state.json";

/// Nameserver, controller or broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeKind {
    /// A nameserver (`rmq-namesrv`).
    NameServer,
    /// A broker (`rmq-broker`).
    Broker,
    /// A controller replica of `failover: Automatic` (`rmq-controller`).
    Controller,
}

/// One node as started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeState {
    /// `namesrv-0`, `broker-a-0`, ...
    pub name: String,
    /// Which binary it runs.
    pub kind: NodeKind,
    /// Broker group (brokers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// brokerId (brokers with fixed roles; the controllers assign it with `failover:
    /// Automatic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_id: Option<u32>,
    /// NAMESRV, CONTROLLER, ASYNC_MASTER, SYNC_MASTER, SLAVE or ELECTED (chosen by the
    /// controllers).
    pub role: String,
    /// Where it listens, `host:port`.
    pub address: String,
    /// Its working directory (data, `broker.conf`, pid file); its path marks the process.
    pub dir: PathBuf,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// Arguments the binary was started with.
    pub args: Vec<String>,
    /// Pid while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl NodeState {
    /// What identifies this node's process in its command line.
    pub fn marker(&self) -> String {
        format!("{}/", self.dir.display())
    }

    /// The pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    /// True if the recorded pid still runs this node.
    pub fn running(&self) -> bool {
        self.pid
            .is_some_and(|pid| super::process::is_node(pid, &self.marker()))
    }
}

/// The state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The RocketMQCluster's name (`brokerClusterName`).
    pub cluster: String,
    /// `namesrvAddr` for clients.
    pub namesrv_addr: String,
    /// Where the binaries came from.
    pub bin_dir: PathBuf,
    /// Nodes, nameservers first.
    pub nodes: Vec<NodeState>,
    /// The credentials and TLS files rmqctl reaches the nodes with (`spec.security`).
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
    /// Pid of the foreground `rmqctl local up` supervising the nodes (restarting those that
    /// exit), while one runs; `down` stops it first so it does not restart what `down` stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<u32>,
}

impl State {
    /// The supervising `rmqctl local up`, if it still runs.
    pub fn running_supervisor(&self) -> Option<u32> {
        self.supervisor
            .filter(|&pid| super::process::is_node(pid, "local\0up\0"))
    }

    /// Reads `dir/state.json`.
    pub fn load(dir: &Path) -> Result<Self, CtlError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                CtlError::Input(format!(
                    "no local cluster state at {} (fix: run `rmqctl local up -f cluster.yaml` first, or pass --state-dir)",
                    path.display()
                ))
            } else {
                CtlError::io(&path, e)
            }
        })?;
        serde_json::from_str(&text)
            .map_err(|e| CtlError::Local(format!("{}: unreadable state file: {e}", path.display())))
    }

    /// Writes `dir/state.json` (atomically) and the pid files.
    pub fn save(&self, dir: &Path) -> Result<(), CtlError> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(".state.json.tmp");
        let text =
            serde_json::to_string_pretty(self).map_err(|e| CtlError::Render(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| CtlError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| CtlError::io(&path, e))?;
        for n in &self.nodes {
            let pid_file = n.pid_file();
            match n.pid {
                Some(pid) => std::fs::write(&pid_file, format!("{pid}\n"))
                    .map_err(|e| CtlError::io(&pid_file, e))?,
                None => {
                    let _ = std::fs::remove_file(&pid_file);
                }
            }
        }
        Ok(())
    }
}

/// Absolute form of `p` (relative to the current directory), without requiring it to exist.
pub fn absolute(p: &Path) -> Result<PathBuf, CtlError> {
    std::path::absolute(p).map_err(|e| CtlError::io(p, e))
}

/// The state directory for `local status` / `local down`: `--state-dir`, else
/// `./.rmq-local/<cluster>` (cluster from `--cluster`, the files, or the only one there).
pub fn resolve(state_dir: Option<&Path>, cluster: Option<&str>) -> Result<PathBuf, CtlError> {
    if let Some(d) = state_dir {
        return absolute(d);
    }
    let root = absolute(Path::new(DEFAULT_ROOT))?;
    if let Some(c) = cluster {
        return Ok(root.join(c));
    }
    let found: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join(STATE_FILE).exists())
                .collect()
        })
        .unwrap_or_default();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CtlError::Input(format!(
            "no local cluster under {} (fix: run `rmqctl local up -f cluster.yaml`, or pass --state-dir)",
            root.display()
        ))),
        _ => Err(CtlError::Input(format!(
            "several local clusters under {} (fix: pass --cluster NAME or --state-dir)",
            root.display()
        ))),
    }
}
