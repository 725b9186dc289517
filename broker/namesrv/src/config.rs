//! Nameserver settings: defaults, an optional `namesrv.conf` (Java properties, the keys Apache
//! RocketMQ users know), then command-line flags and `RMQ_NAMESRV_*` environment variables.

use clap::Parser;
use rmq_protocol::net::tls::TlsSettings;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Command line of `rmq-namesrv`.
#[derive(Debug, Parser, Default)]
#[command(
    name = "rmq-namesrv",
    version,
    about = "RocketMQ-compatible nameserver"
)]
pub struct Args {
    /// namesrv.conf with keys such as listenPort, kvConfigPath, orderMessageEnable.
    #[arg(short = 'c', long = "config", env = "RMQ_NAMESRV_CONFIG")]
    pub config: Option<PathBuf>,
    /// Port to listen on [default: 9876].
    #[arg(long, env = "RMQ_NAMESRV_LISTEN_PORT")]
    pub listen_port: Option<u16>,
    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, env = "RMQ_NAMESRV_LISTEN_ADDR")]
    pub listen_addr: Option<IpAddr>,
    /// Where the KV config is persisted [default: ~/namesrv/kvConfig.json].
    #[arg(long, env = "RMQ_NAMESRV_KV_CONFIG_PATH")]
    pub kv_config_path: Option<PathBuf>,
    /// Seconds after which a silent broker is dropped [default: 120].
    #[arg(long, env = "RMQ_NAMESRV_BROKER_TIMEOUT_SECS")]
    pub broker_timeout_secs: Option<u64>,
    /// Put ORDER_TOPIC_CONFIG entries into routes.
    #[arg(long, env = "RMQ_NAMESRV_ORDER_MESSAGE_ENABLE")]
    pub order_message_enable: bool,
    /// Largest accepted frame in bytes [default: 16777216].
    #[arg(long, env = "RMQ_NAMESRV_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// HTTP port of /healthz and /readyz (overrides httpListenPort) [default: listen port + 7,
    /// 0 when the listen port is 0].
    #[arg(long, env = "RMQ_NAMESRV_HTTP_LISTEN_PORT")]
    pub http_listen_port: Option<u16>,
    /// Serve /healthz and /readyz over HTTP (overrides httpEnable) [default: true].
    #[arg(long, env = "RMQ_NAMESRV_HTTP_ENABLE")]
    pub http_enable: Option<bool>,
}

/// Effective settings.
#[derive(Debug, Clone)]
pub struct NamesrvConfig {
    /// Listen address.
    pub listen_addr: IpAddr,
    /// Listen port (0 = ephemeral).
    pub listen_port: u16,
    /// KV config file.
    pub kv_config_path: Option<PathBuf>,
    /// Broker liveness timeout.
    pub broker_timeout: Duration,
    /// How often silent brokers are scanned for.
    pub scan_interval: Duration,
    /// Put order topic config into routes.
    pub order_message_enable: bool,
    /// Largest accepted frame.
    pub max_frame: usize,
    /// Serve `/healthz` and `/readyz` over HTTP (`httpEnable`).
    pub http_enable: bool,
    /// The HTTP port (`httpListenPort`); `None` means listenPort + 7 (0 when listenPort is 0).
    pub http_listen_port: Option<u16>,
    /// Whether state-changing requests need an admin account of [`Self::acl_file`]
    /// (`aclEnable`); reads stay open.
    pub acl_enable: bool,
    /// The `plain_acl.yml` (`aclFile`), the same format as the brokers'.
    pub acl_file: Option<PathBuf>,
    /// TLS of the listen port (Apache's `tls.server.*` keys in namesrv.conf).
    pub tls: TlsSettings,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        Self {
            listen_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listen_port: 9876,
            kv_config_path: std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join("namesrv").join("kvConfig.json")),
            broker_timeout: Duration::from_secs(120),
            scan_interval: Duration::from_secs(5),
            order_message_enable: false,
            max_frame: rmq_protocol::frame::DEFAULT_MAX_FRAME,
            http_enable: true,
            http_listen_port: None,
            acl_enable: false,
            acl_file: None,
            tls: TlsSettings::default(),
        }
    }
}

/// A setting could not be read.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The namesrv.conf given with `-c`.
        path: PathBuf,
        /// Why it could not be opened or parsed.
        #[source]
        source: java_properties::PropertiesError,
    },
    /// A key has a bad value.
    #[error("{path}: key {key} has invalid value {value:?}: {expected}")]
    Value {
        /// The namesrv.conf holding the key.
        path: PathBuf,
        /// The namesrv.conf key.
        key: String,
        /// The value as given.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// Keys that do not fit together.
    #[error("{0}")]
    Inconsistent(String),
}

impl NamesrvConfig {
    /// Defaults, then the config file, then flags.
    pub fn from_args(args: &Args) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        if let Some(path) = &args.config {
            let props =
                crate::process::read_properties(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
            let bad = |key: &str, value: &str, expected| ConfigError::Value {
                path: path.clone(),
                key: key.to_owned(),
                value: value.to_owned(),
                expected,
            };
            for (key, value) in &props {
                if !TlsSettings::KEYS.contains(&key.as_str()) {
                    c.apply_file_key(key, value.trim(), &bad)?;
                }
            }
            c.tls = TlsSettings::from_lookup(|k| {
                props
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            })
            .map_err(|e| ConfigError::Inconsistent(format!("{}: {e}", path.display())))?;
        }
        if let Some(p) = args.listen_port {
            c.listen_port = p;
        }
        if let Some(a) = args.listen_addr {
            c.listen_addr = a;
        }
        if let Some(p) = &args.kv_config_path {
            c.kv_config_path = Some(p.clone());
        }
        if let Some(s) = args.broker_timeout_secs {
            c.broker_timeout = Duration::from_secs(s);
        }
        c.order_message_enable |= args.order_message_enable;
        if let Some(m) = args.max_frame_bytes {
            c.max_frame = m.max(1024);
        }
        if let Some(p) = args.http_listen_port {
            c.http_listen_port = Some(p);
        }
        if let Some(e) = args.http_enable {
            c.http_enable = e;
        }
        if c.acl_enable && c.acl_file.is_none() {
            return Err(ConfigError::Inconsistent(
                "aclEnable=true needs aclFile=<path of plain_acl.yml> (admin accounts that may \
                 register brokers and change the nameserver)"
                    .into(),
            ));
        }
        Ok(c)
    }

    /// Applies one namesrv.conf `key=v`; `bad` makes the error for an invalid value.
    fn apply_file_key(
        &mut self,
        key: &str,
        v: &str,
        bad: &dyn Fn(&str, &str, &'static str) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let flag = |v: &str| match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad(key, v, "true or false")),
        };
        match key {
            "listenPort" => {
                self.listen_port = v.parse().map_err(|_| bad(key, v, "a port number"))?;
            }
            "kvConfigPath" => self.kv_config_path = Some(PathBuf::from(v)),
            "orderMessageEnable" => self.order_message_enable = v.eq_ignore_ascii_case("true"),
            "scanNotActiveBrokerInterval" => {
                let ms: u64 = v.parse().map_err(|_| bad(key, v, "milliseconds"))?;
                self.scan_interval = Duration::from_millis(ms.max(100));
            }
            "httpEnable" => self.http_enable = flag(v)?,
            "httpListenPort" => {
                let port = v.parse();
                self.http_listen_port =
                    Some(port.map_err(|_| bad(key, v, "a port number (0 = ephemeral)"))?);
            }
            "aclEnable" => self.acl_enable = flag(v)?,
            "aclFile" => self.acl_file = Some(PathBuf::from(v)).filter(|_| !v.is_empty()),
            other => tracing::warn!(key = other, "ignoring unknown namesrv.conf key"),
        }
        Ok(())
    }

    /// The HTTP port: `httpListenPort`, else listenPort + 7 (9883 for 9876), else 0
    /// (ephemeral) when listenPort is 0 or too high.
    pub fn http_port(&self) -> u16 {
        self.http_listen_port
            .unwrap_or_else(|| match self.listen_port {
                0 => 0,
                p => p.checked_add(7).unwrap_or(0),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv.conf");
        std::fs::write(
            &path,
            "# comment\nlistenPort=19876\norderMessageEnable=true\n",
        )
        .unwrap();
        let args = Args {
            config: Some(path.clone()),
            listen_addr: Some("127.0.0.1".parse().unwrap()),
            ..Args::default()
        };
        let c = NamesrvConfig::from_args(&args).unwrap();
        assert_eq!(c.listen_port, 19876);
        assert!(c.order_message_enable);
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1");
        let args = Args {
            config: Some(path.clone()),
            listen_port: Some(1),
            ..Args::default()
        };
        assert_eq!(NamesrvConfig::from_args(&args).unwrap().listen_port, 1);
        std::fs::write(&path, "listenPort=abc\n").unwrap();
        let err = NamesrvConfig::from_args(&Args {
            config: Some(path),
            ..Args::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("listenPort"), "{err}");
    }

    #[test]
    fn http_keys() {
        let c = NamesrvConfig::from_args(&Args::default()).unwrap();
        assert!(c.http_enable);
        assert_eq!(c.http_port(), 9883);
        let ephemeral = Args {
            listen_port: Some(0),
            ..Args::default()
        };
        assert_eq!(NamesrvConfig::from_args(&ephemeral).unwrap().http_port(), 0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv.conf");
        std::fs::write(&path, "httpListenPort=8081\nhttpEnable=false\n").unwrap();
        let args = Args {
            config: Some(path.clone()),
            ..Args::default()
        };
        let c = NamesrvConfig::from_args(&args).unwrap();
        assert_eq!((c.http_port(), c.http_enable), (8081, false));
        let flags = Args {
            config: Some(path.clone()),
            http_listen_port: Some(8082),
            http_enable: Some(true),
            ..Args::default()
        };
        let c = NamesrvConfig::from_args(&flags).unwrap();
        assert_eq!((c.http_port(), c.http_enable), (8082, true));
        for bad in ["httpListenPort=abc\n", "httpEnable=maybe\n"] {
            std::fs::write(&path, bad).unwrap();
            let err = NamesrvConfig::from_args(&args).unwrap_err().to_string();
            let key = bad.split('=').next().unwrap();
            assert!(err.contains(key), "{err}");
        }
    }
}
