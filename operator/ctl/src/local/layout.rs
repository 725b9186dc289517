//! Local addressing (127.0.0.1 + ports under the state directory, secrets under the secrets
//! directory), finding the bundled binaries, and checking that the ports are free before
//! anything starts.

use crate::error::CtlError;
use rmq_model::desired::{Addressing, Endpoint};
use rmq_model::validate::ValidatedCluster;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// Distance between the first nameserver port and the first broker port (9876 → 10911).
pub const BROKER_PORT_OFFSET: u16 = 1035;
/// Ports per broker (main, HA, and room for the "VIP" main-2 port of the next one).
pub const BROKER_PORT_STEP: u16 = 10;
/// Distance between the first nameserver port and the first controller port (9876 → 10076);
/// the nameservers' HTTP ports sit at +100.
pub const CONTROLLER_PORT_OFFSET: u16 = 200;

/// How local mode places nodes: all on one host, nameserver i on `base + i`, controller i on
/// `base + 200 + i`, broker k (group by group, master first) on `base + 1035 + 10k`, data under
/// the state directory.
#[derive(Debug, Clone)]
pub struct LocalAddressing {
    /// Host every node listens on and advertises.
    pub host: String,
    /// First nameserver port.
    pub base_port: u16,
    /// The cluster's state directory (absolute).
    pub state_dir: PathBuf,
    /// The secrets directory (absolute): secret `name` is `<secrets_dir>/<name>`.
    pub secrets_dir: PathBuf,
}

impl LocalAddressing {
    /// Checks that every port of `cluster` fits below 65536.
    pub fn check(&self, cluster: &ValidatedCluster) -> Result<(), CtlError> {
        let last = u32::from(self.base_port)
            + u32::from(BROKER_PORT_OFFSET)
            + u32::from(BROKER_PORT_STEP) * cluster.broker_count()
            + 1;
        if last > u32::from(u16::MAX) || cluster.name_servers >= u32::from(BROKER_PORT_OFFSET) {
            return Err(CtlError::Input(format!(
                "--base-port {} leaves no room for {} broker(s) (fix: use a lower --base-port)",
                self.base_port,
                cluster.broker_count()
            )));
        }
        Ok(())
    }

    /// The directory of node `name`.
    pub fn node_dir(&self, name: &str) -> PathBuf {
        self.state_dir.join(name)
    }
}

fn port(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

impl Addressing for LocalAddressing {
    fn name_server(&self, _: &ValidatedCluster, index: u32) -> Endpoint {
        Endpoint {
            host: self.host.clone(),
            port: port(u32::from(self.base_port) + index),
        }
    }

    fn broker(&self, cluster: &ValidatedCluster, group: u32, replica: u32) -> Endpoint {
        let k = group * cluster.replicas_per_group + replica;
        Endpoint {
            host: self.host.clone(),
            port: port(
                u32::from(self.base_port)
                    + u32::from(BROKER_PORT_OFFSET)
                    + u32::from(BROKER_PORT_STEP) * k,
            ),
        }
    }

    fn broker_store_dir(&self, _: &ValidatedCluster, node: &str) -> String {
        self.node_dir(node).join("store").display().to_string()
    }

    fn controller(&self, _: &ValidatedCluster, index: u32) -> Endpoint {
        Endpoint {
            host: self.host.clone(),
            port: port(u32::from(self.base_port) + u32::from(CONTROLLER_PORT_OFFSET) + index),
        }
    }

    fn controller_store_dir(&self, _: &ValidatedCluster, node: &str) -> String {
        self.node_dir(node).join("store").display().to_string()
    }

    fn controller_listen_addr(&self) -> Option<String> {
        Some(self.host.clone())
    }

    fn secret_dir(&self, name: &str) -> String {
        self.secrets_dir.join(name).display().to_string()
    }
}

/// The binaries a local cluster runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// Directory holding them.
    pub dir: PathBuf,
    /// Path of the `rmq-namesrv` executable.
    pub namesrv: PathBuf,
    /// Path of the `rmq-broker` executable.
    pub broker: PathBuf,
    /// Path of the `rmq-controller` executable (checked by [`Binaries::check_controller`]:
    /// only `failover: Automatic` needs it).
    pub controller: PathBuf,
}

impl Binaries {
    /// The executable a node of `kind` runs.
    pub fn of(&self, kind: super::state::NodeKind) -> &Path {
        use super::state::NodeKind;
        match kind {
            NodeKind::NameServer => &self.namesrv,
            NodeKind::Broker => &self.broker,
            NodeKind::Controller => &self.controller,
        }
    }

    /// Fails with the fix when `rmq-controller` is not there.
    pub fn check_controller(&self) -> Result<(), CtlError> {
        if self.controller.is_file() {
            return Ok(());
        }
        Err(CtlError::Local(format!(
            "spec.brokers.failover: Automatic runs controllers, but {} does not exist (fix: build it with `cargo build -p rmq-controller` into the same target directory as rmqctl, or pass --bin-dir / set RMQ_BIN_DIR)",
            self.controller.display()
        )))
    }
}

/// Finds rmq-namesrv and rmq-broker: `--bin-dir` / `RMQ_BIN_DIR`, else next to rmqctl. The
/// directory is made absolute against rmqctl's working directory: the nodes run with their own
/// directories as working directory, where a relative path would name nothing.
pub fn find_binaries(bin_dir: Option<&Path>) -> Result<Binaries, CtlError> {
    let dir = match bin_dir {
        Some(d) => std::path::absolute(d).map_err(|e| CtlError::io(d, e))?,
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .ok_or_else(|| {
                CtlError::Local("cannot locate rmqctl's own directory (fix: pass --bin-dir)".into())
            })?,
    };
    let namesrv = dir.join("rmq-namesrv");
    let broker = dir.join("rmq-broker");
    for b in [&namesrv, &broker] {
        if !b.is_file() {
            return Err(CtlError::Local(format!(
                "cannot find {} (fix: build it with `cargo build -p rmq-broker -p rmq-namesrv` into the same target directory as rmqctl, or pass --bin-dir / set RMQ_BIN_DIR)",
                b.display()
            )));
        }
    }
    Ok(Binaries {
        controller: dir.join("rmq-controller"),
        dir,
        namesrv,
        broker,
    })
}

/// Fails with the node and the fix if `port` on `host` is taken.
pub fn check_port_free(host: &str, port: u16, what: &str) -> Result<(), CtlError> {
    TcpListener::bind((host, port)).map(drop).map_err(|e| {
        CtlError::Local(format!(
            "port {port} on {host} for {what} is not available: {e} (fix: stop whatever uses it, or move the cluster with --base-port)"
        ))
    })
}
