//! Command line of `rmq-broker`.

use super::{BrokerConfig, ConfigError};
use clap::Parser;
use std::net::IpAddr;
use std::path::PathBuf;

/// `rmq-broker [-c broker.conf] [-n namesrv;namesrv] [flags]`.
#[derive(Debug, Parser, Default)]
#[command(name = "rmq-broker", version, about = "RocketMQ-compatible broker")]
pub struct Args {
    /// broker.conf (Java properties: brokerClusterName, brokerName, brokerId, namesrvAddr, ...).
    #[arg(short = 'c', long = "config", env = "RMQ_BROKER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Nameserver addresses, `host:port;host:port` (overrides namesrvAddr).
    #[arg(short = 'n', long = "namesrv-addr", env = "NAMESRV_ADDR")]
    pub namesrv_addr: Option<String>,
    /// Main port (overrides listenPort; 0 = ephemeral).
    #[arg(long, env = "RMQ_BROKER_LISTEN_PORT")]
    pub listen_port: Option<u16>,
    /// Address to bind [default: 0.0.0.0].
    #[arg(long, env = "RMQ_BROKER_LISTEN_ADDR")]
    pub listen_addr: Option<IpAddr>,
    /// Address advertised to clients and nameservers (overrides brokerIP1).
    #[arg(long, env = "RMQ_BROKER_IP1")]
    pub broker_ip1: Option<String>,
    /// Store root (overrides storePathRootDir).
    #[arg(long, env = "RMQ_BROKER_STORE_DIR")]
    pub store_dir: Option<PathBuf>,
    /// Broker group name (overrides brokerName).
    #[arg(long, env = "RMQ_BROKER_NAME")]
    pub broker_name: Option<String>,
    /// Cluster name (overrides brokerClusterName).
    #[arg(long, env = "RMQ_BROKER_CLUSTER")]
    pub cluster: Option<String>,
    /// Any broker.conf key, repeatable: `--set flushDiskType=SYNC_FLUSH`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl Args {
    /// Applies the explicit flags (highest precedence).
    pub fn apply_to(&self, c: &mut BrokerConfig) -> Result<(), ConfigError> {
        if let Some(n) = &self.namesrv_addr {
            c.apply("namesrvAddr", n, "--namesrv-addr")?;
        }
        if let Some(p) = self.listen_port {
            c.listen_port = p;
        }
        if let Some(a) = self.listen_addr {
            c.listen_addr = a;
        }
        if let Some(ip) = &self.broker_ip1 {
            c.broker_ip1 = Some(ip.clone());
        }
        if let Some(d) = &self.store_dir {
            c.store_root = d.clone();
        }
        if let Some(n) = &self.broker_name {
            c.broker_name = n.clone();
        }
        if let Some(n) = &self.cluster {
            c.cluster_name = n.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BrokerRole, DEFAULT_BUSY_POLL, FlushDiskType};
    use std::time::Duration;

    #[test]
    fn file_set_and_flags_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.conf");
        std::fs::write(
            &path,
            "brokerClusterName = C1\nbrokerName=broker-b\nbrokerId=0\nnamesrvAddr=127.0.0.1:9876;127.0.0.2:9876\n\
             flushDiskType=SYNC_FLUSH\nbrokerRole=SYNC_MASTER\nlistenPort=20911\ndeleteWhen=04\n",
        )
        .unwrap();
        let args = Args {
            config: Some(path.clone()),
            listen_port: Some(0),
            set: vec!["autoCreateTopicEnable=false".into()],
            ..Args::default()
        };
        let c = BrokerConfig::from_args(&args).unwrap();
        assert_eq!(c.cluster_name, "C1");
        assert_eq!(c.namesrv_addrs, vec!["127.0.0.1:9876", "127.0.0.2:9876"]);
        assert_eq!(c.flush_disk_type, FlushDiskType::Sync);
        assert_eq!(c.broker_role, BrokerRole::SyncMaster);
        assert_eq!(c.listen_port, 0);
        assert!(!c.auto_create_topic_enable);
        assert!(c.to_properties().contains("deleteWhen=04"));
    }

    /// The config from `--set` lines `set` over `args`.
    fn with_args(set: &[&str], args: Args) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_args(&Args {
            set: set.iter().map(|s| (*s).to_owned()).collect(),
            ..args
        })
    }

    /// The config from `--set` lines `set` alone.
    fn with_set(set: &[&str]) -> Result<BrokerConfig, ConfigError> {
        with_args(set, Args::default())
    }

    #[test]
    fn http_port_follows_listen_port() {
        let with = |set: &[&str], port: Option<u16>| {
            with_args(
                set,
                Args {
                    listen_port: port,
                    ..Args::default()
                },
            )
        };
        let c = with(&[], None).unwrap();
        assert!(c.http_enable);
        assert_eq!(c.http_port(), 10918);
        assert_eq!(with(&[], Some(20911)).unwrap().http_port(), 20918);
        assert_eq!(with(&[], Some(0)).unwrap().http_port(), 0);
        let c = with(&["httpListenPort=8080", "httpEnable=false"], Some(0)).unwrap();
        assert_eq!((c.http_port(), c.http_enable), (8080, false));
        assert!(c.to_properties().contains("httpListenPort=8080"));
        for bad in [
            "httpListenPort=abc",
            "httpListenPort=70000",
            "httpEnable=yes",
        ] {
            let err = with(&[bad], None).unwrap_err().to_string();
            let key = bad.split('=').next().unwrap();
            assert!(err.contains(key) && err.contains("--set"), "{err}");
        }
    }

    #[test]
    fn commit_log_write_back_reaches_the_store() {
        let with = with_set;
        let c = with(&[]).unwrap();
        assert_eq!(
            c.write_back_bytes(),
            0,
            "ASYNC_FLUSH: a kill -9 loses nothing acknowledged"
        );
        let c = with(&["flushDiskType=SYNC_FLUSH"]).unwrap();
        assert_eq!(
            c.write_back_bytes(),
            16 * 1024,
            "SYNC_FLUSH: acks wait for the fsync"
        );
        assert!(c.to_properties().contains("commitLogWriteBack=16384"));
        let c = with(&["flushDiskType=SYNC_FLUSH", "commitLogWriteBack=0"]).unwrap();
        assert_eq!(c.write_back_bytes(), 0);
        let c = with(&["commitLogWriteBack=4096"]).unwrap();
        assert_eq!(c.write_back_bytes(), 4096);
        assert!(c.to_properties().contains("commitLogWriteBack=4096"));
        let err = with(&["commitLogWriteBack=-1"]).unwrap_err().to_string();
        assert!(err.contains("commitLogWriteBack"), "{err}");
    }

    #[test]
    fn busy_poll_is_bounded_and_reported() {
        let with = with_set;
        let c = with(&[]).unwrap();
        assert_eq!(c.busy_poll, DEFAULT_BUSY_POLL);
        assert!(c.to_properties().contains("busyPollMicros=50\n"));
        let c = with(&["busyPollMicros=0"]).unwrap();
        assert!(c.busy_poll.is_zero());
        let c = with(&["busyPollMicros=1000"]).unwrap();
        assert_eq!(c.busy_poll, Duration::from_millis(1));
        for bad in [
            "busyPollMicros=1001",
            "busyPollMicros=-5",
            "busyPollMicros=fast",
        ] {
            let err = with(&[bad]).unwrap_err().to_string();
            assert!(
                err.contains("busyPollMicros") && err.contains("1000"),
                "{err}"
            );
        }
    }

    #[test]
    fn acl_keys_need_a_file_and_are_reported() {
        let with = with_set;
        let c = with(&[]).unwrap();
        assert!(!c.security.acl_enable && c.security.acl_file.is_none());
        let err = with(&["aclEnable=true"]).unwrap_err().to_string();
        assert!(err.contains("aclFile"), "{err}");
        let c = with(&["aclEnable=true", "aclFile=/etc/rmq/plain_acl.yml"]).unwrap();
        assert!(c.security.acl_enable);
        let props = c.to_properties();
        assert!(props.contains("aclEnable=true\n"), "{props}");
        assert!(
            props.contains("aclFile=/etc/rmq/plain_acl.yml\n"),
            "{props}"
        );
        assert_eq!(props.matches("aclEnable=").count(), 1, "{props}");
        assert!(with(&["aclEnable=maybe"]).is_err());
    }

    #[test]
    fn errors_name_key_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.conf");
        std::fs::write(&path, "flushDiskType=SOMETIMES\n").unwrap();
        let err = BrokerConfig::from_args(&Args {
            config: Some(path),
            ..Args::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("flushDiskType") && err.contains("SYNC_FLUSH"),
            "{err}"
        );
        let err = BrokerConfig::from_args(&Args {
            set: vec!["brokerId=1".into()],
            ..Args::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("brokerRole=SLAVE"), "{err}");
        let err = BrokerConfig::from_args(&Args {
            namesrv_addr: Some("nohost".into()),
            ..Args::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("no port"), "{err}");
        assert!(
            BrokerConfig::from_args(&Args {
                set: vec!["novalue".into()],
                ..Args::default()
            })
            .is_err()
        );
    }
}
