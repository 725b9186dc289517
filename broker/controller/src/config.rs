//! The controller's settings: `controller.conf` (Java properties, keys as in Java's
//! `ControllerConfig`) and the command line.
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `controllerDLegerGroup` | name of the Raft group (shown by `getControllerMetaData`) | `DefaultControllerGroup` |
//! | `controllerDLegerPeers` | every replica as `id-host:port`, `;`-separated | required |
//! | `controllerDLegerSelfId` | this replica's id in the peers | required |
//! | `controllerStorePath` | directory of the Raft log, vote and snapshot | `$HOME/DledgerController` |
//! | `enableElectUncleanMaster` | elect outside the in-sync set when nobody in it is alive | `false` |
//! | `scanNotActiveBrokerInterval` | ms between scans for dead masters | `5000` |
//! | `notifyBrokerRoleChanged` | tell brokers about a new master | `true` |
//! | `listenAddr` | address to bind (the port is this replica's peer port) | `0.0.0.0` |
//! | `raftHeartbeatIntervalMs` | leader heartbeat to followers (rmq only) | `200` |
//! | `raftElectionTimeoutMs` | follower waits this to this ×2 before an election (rmq only) | `1000` |
//!
//! One port serves everything (as Java's controller shares its DLedger port): brokers, admins
//! and the other replicas' Raft requests all arrive at this replica's address in the peers.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "rmq-controller",
    about = "RocketMQ 5 controller (controller mode failover)"
)]
pub struct Args {
    /// controller.conf (Java properties).
    #[arg(short = 'c', long = "config-file")]
    pub config: PathBuf,
}

/// A configuration that cannot be used; says which key and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A key is missing or has a bad value.
    #[error("{key}: {message}")]
    Key {
        /// The key.
        key: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
}

/// One controller replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its id (`n0`).
    pub id: String,
    /// Its `host:port`.
    pub addr: String,
}

/// The controller's settings.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The Raft group's name.
    pub group: String,
    /// Every replica, in the configured order (the Raft node id is the position).
    pub peers: Vec<Peer>,
    /// This replica's position in `peers`.
    pub self_index: usize,
    /// Where the Raft log, vote and snapshot live.
    pub store_path: PathBuf,
    /// Elect outside the in-sync set when nobody in it is alive (data loss accepted).
    pub enable_elect_unclean_master: bool,
    /// Time between scans for dead masters.
    pub scan_interval: Duration,
    /// Tell brokers about a new master (NOTIFY_BROKER_ROLE_CHANGED).
    pub notify_broker_role_changed: bool,
    /// Address to bind.
    pub listen_addr: IpAddr,
    /// Raft leader heartbeat period.
    pub raft_heartbeat: Duration,
    /// Raft election timeout (lower bound; the upper is twice this).
    pub raft_election_timeout: Duration,
}

impl ControllerConfig {
    /// Reads `args.config`.
    pub fn from_args(args: &Args) -> Result<Self, ConfigError> {
        let entries =
            crate::process::read_properties(&args.config).map_err(|e| ConfigError::Read {
                path: args.config.clone(),
                message: e.to_string(),
            })?;
        Self::from_entries(&entries)
    }

    /// Builds the settings from `key=value` entries (unknown keys are logged and ignored).
    pub fn from_entries(entries: &[(String, String)]) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.trim())
        };
        for (k, _) in entries {
            if !KNOWN.contains(&k.as_str()) {
                tracing::warn!(key = %k, "unknown controller.conf key ignored");
            }
        }
        let peers = parse_peers(get("controllerDLegerPeers").unwrap_or(""))?;
        let self_id = get("controllerDLegerSelfId").unwrap_or("");
        let self_index = peers.iter().position(|p| p.id == self_id).ok_or_else(|| {
            let ids: Vec<&str> = peers.iter().map(|p| p.id.as_str()).collect();
            key_err(
                "controllerDLegerSelfId",
                format!("{self_id:?} is not one of the peer ids {ids:?} of controllerDLegerPeers"),
            )
        })?;
        let store_path = match get("controllerStorePath").filter(|s| !s.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join("DledgerController"),
        };
        let election = millis(get("raftElectionTimeoutMs"), "raftElectionTimeoutMs", 1000)?;
        let heartbeat = millis(
            get("raftHeartbeatIntervalMs"),
            "raftHeartbeatIntervalMs",
            200,
        )?;
        if heartbeat >= election {
            return Err(key_err(
                "raftHeartbeatIntervalMs",
                format!("{heartbeat:?} must be shorter than raftElectionTimeoutMs ({election:?})"),
            ));
        }
        Ok(Self {
            group: get("controllerDLegerGroup")
                .filter(|s| !s.is_empty())
                .unwrap_or("DefaultControllerGroup")
                .to_owned(),
            peers,
            self_index,
            store_path,
            enable_elect_unclean_master: boolean(get("enableElectUncleanMaster"), false),
            scan_interval: millis(
                get("scanNotActiveBrokerInterval"),
                "scanNotActiveBrokerInterval",
                5000,
            )?,
            notify_broker_role_changed: boolean(get("notifyBrokerRoleChanged"), true),
            listen_addr: match get("listenAddr") {
                None => IpAddr::from([0, 0, 0, 0]),
                Some(a) => a
                    .parse()
                    .map_err(|_| key_err("listenAddr", format!("{a:?} is not an IP address")))?,
            },
            raft_heartbeat: heartbeat,
            raft_election_timeout: election,
        })
    }

    /// This replica.
    pub fn me(&self) -> &Peer {
        &self.peers[self.self_index]
    }

    /// The port this replica listens on (from its peer address).
    pub fn listen_port(&self) -> u16 {
        port_of(&self.me().addr).unwrap_or(0)
    }
}

const KNOWN: &[&str] = &[
    "controllerDLegerGroup",
    "controllerDLegerPeers",
    "controllerDLegerSelfId",
    "controllerStorePath",
    "enableElectUncleanMaster",
    "scanNotActiveBrokerInterval",
    "notifyBrokerRoleChanged",
    "listenAddr",
    "raftHeartbeatIntervalMs",
    "raftElectionTimeoutMs",
    // Java keys with no meaning here
    "controllerType",
    "rocketmqHome",
    "configStorePath",
    "mappedFileSize",
    "controllerThreadPoolNums",
    "controllerRequestThreadPoolQueueCapacity",
    "isProcessReadEvent",
];

fn key_err(key: &'static str, message: String) -> ConfigError {
    ConfigError::Key { key, message }
}

fn boolean(v: Option<&str>, default: bool) -> bool {
    v.map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

fn millis(v: Option<&str>, key: &'static str, default: u64) -> Result<Duration, ConfigError> {
    let ms = match v {
        None => default,
        Some(v) => v.parse::<u64>().ok().filter(|ms| *ms > 0).ok_or_else(|| {
            key_err(
                key,
                format!("{v:?} is not a positive number of milliseconds"),
            )
        })?,
    };
    Ok(Duration::from_millis(ms))
}

fn port_of(addr: &str) -> Option<u16> {
    addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// Parses `n0-127.0.0.1:9878;n1-127.0.0.1:9868` (ids must be unique and hold no `-`).
pub fn parse_peers(text: &str) -> Result<Vec<Peer>, ConfigError> {
    const KEY: &str = "controllerDLegerPeers";
    let mut peers: Vec<Peer> = Vec::new();
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = |why: &str| {
            key_err(
                KEY,
                format!(
                    "{item:?} {why}: write every peer as id-host:port, e.g. n0-127.0.0.1:9878;n1-127.0.0.1:9868"
                ),
            )
        };
        let (id, addr) = item.split_once('-').ok_or_else(|| bad("has no '-'"))?;
        if id.is_empty() {
            return Err(bad("has an empty id"));
        }
        let (host, _) = addr.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
        if host.is_empty() || port_of(addr).is_none_or(|p| p == 0) {
            return Err(bad("has no valid host:port"));
        }
        if peers.iter().any(|p| p.id == id) {
            return Err(bad("repeats an id"));
        }
        peers.push(Peer {
            id: id.to_owned(),
            addr: addr.to_owned(),
        });
    }
    if peers.is_empty() {
        return Err(key_err(
            KEY,
            "is missing or empty: list every controller as id-host:port;... (e.g. n0-127.0.0.1:9878)"
                .to_owned(),
        ));
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_java_keys() {
        let c = ControllerConfig::from_entries(&entries(&[
            ("controllerDLegerGroup", "group1"),
            (
                "controllerDLegerPeers",
                "n0-127.0.0.1:9878;n1-127.0.0.1:9868;n2-ctrl-2.example:9858;",
            ),
            ("controllerDLegerSelfId", "n1"),
            ("controllerStorePath", "/data/ctrl"),
            ("enableElectUncleanMaster", "true"),
            ("scanNotActiveBrokerInterval", "500"),
        ]))
        .unwrap();
        assert_eq!(c.group, "group1");
        assert_eq!(c.peers.len(), 3);
        assert_eq!(c.peers[2].addr, "ctrl-2.example:9858");
        assert_eq!((c.self_index, c.listen_port()), (1, 9868));
        assert!(c.enable_elect_unclean_master && c.notify_broker_role_changed);
        assert_eq!(c.scan_interval, Duration::from_millis(500));
        assert_eq!(c.store_path, PathBuf::from("/data/ctrl"));
    }

    #[test]
    fn bad_peers_and_self_ids_say_how_to_fix_them() {
        for bad in [
            "",
            "n0:127.0.0.1:9878",
            "n0-127.0.0.1",
            "n0-a:1;n0-b:2",
            "-a:1",
            "n0-a:x",
        ] {
            let e = parse_peers(bad).unwrap_err().to_string();
            assert!(e.contains("controllerDLegerPeers"), "{bad:?}: {e}");
            assert!(e.contains("id-host:port"), "{bad:?}: {e}");
        }
        let e = ControllerConfig::from_entries(&entries(&[
            ("controllerDLegerPeers", "n0-127.0.0.1:9878"),
            ("controllerDLegerSelfId", "n9"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("\"n9\" is not one of the peer ids [\"n0\"]"),
            "{e}"
        );
        let e = ControllerConfig::from_entries(&entries(&[
            ("controllerDLegerPeers", "n0-127.0.0.1:9878"),
            ("controllerDLegerSelfId", "n0"),
            ("scanNotActiveBrokerInterval", "soon"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("scanNotActiveBrokerInterval"), "{e}");
    }
}
