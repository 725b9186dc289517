//! TLS settings read from key/value config under Apache RocketMQ's own key names, so a Java
//! deployment's `tls.properties` carries over. Pure parsing and validation; no file is opened here.

use super::TlsError;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The config keys, spelled as Apache RocketMQ spells them.
pub mod keys {
    /// Server side: `disabled|permissive|enforcing`.
    pub const SERVER_MODE: &str = "tls.server.mode";
    /// Server certificate chain (PEM).
    pub const SERVER_CERT_PATH: &str = "tls.server.certPath";
    /// Server private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub const SERVER_KEY_PATH: &str = "tls.server.keyPath";
    /// Whether the server asks clients for certificates: `none|optional|require`.
    pub const SERVER_NEED_CLIENT_AUTH: &str = "tls.server.need.client.auth";
    /// CA bundle (PEM) that client certificates must chain to.
    pub const SERVER_TRUST_CERT_PATH: &str = "tls.server.trustCertPath";
    /// Outgoing connections of this process use TLS: `true|false`.
    pub const CLIENT_ENABLE: &str = "tls.enable";
    /// CA bundle (PEM) that server certificates must chain to.
    pub const CLIENT_TRUST_CERT_PATH: &str = "tls.client.trustCertPath";
    /// Client certificate chain (PEM), sent when the server asks.
    pub const CLIENT_CERT_PATH: &str = "tls.client.certPath";
    /// Client private key (PEM).
    pub const CLIENT_KEY_PATH: &str = "tls.client.keyPath";
    /// Client side: skip server certificate verification (tests only): `true|false`.
    pub const TEST_MODE_ENABLE: &str = "tls.test.mode.enable";
}

/// Whether a server speaks TLS on its remoting port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plaintext only (our default; Java defaults to permissive with a built-in test cert).
    #[default]
    Disabled,
    /// TLS and plaintext on the same port, told apart by the first byte a client sends.
    Permissive,
    /// TLS only; plaintext clients are refused.
    Enforcing,
}

impl FromStr for TlsMode {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disabled" => Ok(Self::Disabled),
            "permissive" => Ok(Self::Permissive),
            "enforcing" => Ok(Self::Enforcing),
            _ => Err(bad_value(
                keys::SERVER_MODE,
                s,
                "disabled|permissive|enforcing",
            )),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disabled => "disabled",
            Self::Permissive => "permissive",
            Self::Enforcing => "enforcing",
        })
    }
}

/// Whether a TLS server asks clients for a certificate (Java's `tls.server.need.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is requested.
    #[default]
    None,
    /// A client certificate is requested and verified if sent; clients without one are accepted.
    Optional,
    /// Clients must present a certificate chaining to `tls.server.trustCertPath`.
    Require,
}

impl FromStr for ClientAuth {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "optional" => Ok(Self::Optional),
            "require" => Ok(Self::Require),
            _ => Err(bad_value(
                keys::SERVER_NEED_CLIENT_AUTH,
                s,
                "none|optional|require",
            )),
        }
    }
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Optional => "optional",
            Self::Require => "require",
        })
    }
}

/// Server-side TLS settings (the `tls.server.*` keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerTlsSettings {
    /// `tls.server.mode`.
    pub mode: TlsMode,
    /// `tls.server.certPath`: certificate chain, leaf first.
    pub cert_path: Option<PathBuf>,
    /// `tls.server.keyPath`: the leaf's private key.
    pub key_path: Option<PathBuf>,
    /// `tls.server.need.client.auth`.
    pub client_auth: ClientAuth,
    /// `tls.server.trustCertPath`: CA bundle for client certificates.
    pub trust_cert_path: Option<PathBuf>,
}

/// Client-side TLS settings: how this process dials other remoting servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsSettings {
    /// `tls.enable`: outgoing connections use TLS.
    pub enable: bool,
    /// `tls.client.trustCertPath`: CA bundle for server certificates.
    pub trust_cert_path: Option<PathBuf>,
    /// `tls.client.certPath`: client certificate chain, sent when the server asks.
    pub cert_path: Option<PathBuf>,
    /// `tls.client.keyPath`: the client certificate's private key.
    pub key_path: Option<PathBuf>,
    /// `tls.test.mode.enable`: accept any server certificate (tests only).
    pub insecure: bool,
}

/// All TLS settings of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// How the process's own server port speaks TLS.
    pub server: ServerTlsSettings,
    /// How the process dials others.
    pub client: ClientTlsSettings,
}

impl TlsSettings {
    /// Every key `from_lookup` reads, so config loaders can accept them.
    pub const KEYS: &[&str] = &[
        keys::SERVER_MODE,
        keys::SERVER_CERT_PATH,
        keys::SERVER_KEY_PATH,
        keys::SERVER_NEED_CLIENT_AUTH,
        keys::SERVER_TRUST_CERT_PATH,
        keys::CLIENT_ENABLE,
        keys::CLIENT_TRUST_CERT_PATH,
        keys::CLIENT_CERT_PATH,
        keys::CLIENT_KEY_PATH,
        keys::TEST_MODE_ENABLE,
    ];

    /// Reads and validates the settings; `lookup` returns a key's value, `None` (or blank) when
    /// unset. Unset keys take their defaults: mode `disabled`, client auth `none`, flags false.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TlsError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let path = |key: &str| get(key).map(PathBuf::from);
        let flag = |key: &'static str| get(key).map_or(Ok(false), |v| parse_bool(key, &v));
        let settings = Self {
            server: ServerTlsSettings {
                mode: get(keys::SERVER_MODE).map_or(Ok(TlsMode::Disabled), |v| v.parse())?,
                cert_path: path(keys::SERVER_CERT_PATH),
                key_path: path(keys::SERVER_KEY_PATH),
                client_auth: get(keys::SERVER_NEED_CLIENT_AUTH)
                    .map_or(Ok(ClientAuth::None), |v| v.parse())?,
                trust_cert_path: path(keys::SERVER_TRUST_CERT_PATH),
            },
            client: ClientTlsSettings {
                enable: flag(keys::CLIENT_ENABLE)?,
                trust_cert_path: path(keys::CLIENT_TRUST_CERT_PATH),
                cert_path: path(keys::CLIENT_CERT_PATH),
                key_path: path(keys::CLIENT_KEY_PATH),
                insecure: flag(keys::TEST_MODE_ENABLE)?,
            },
        };
        settings.server.validate()?;
        settings.client.validate()?;
        Ok(settings)
    }
}

impl ServerTlsSettings {
    /// Checks that the paths the mode needs are set. With mode `disabled` nothing is needed.
    pub fn validate(&self) -> Result<(), TlsError> {
        if self.mode == TlsMode::Disabled {
            return Ok(());
        }
        let why = format!("{}={}", keys::SERVER_MODE, self.mode);
        if self.cert_path.is_none() {
            return Err(missing(
                keys::SERVER_CERT_PATH,
                why,
                "the certificate chain (PEM)",
            ));
        }
        if self.key_path.is_none() {
            return Err(missing(keys::SERVER_KEY_PATH, why, "the private key (PEM)"));
        }
        if self.client_auth != ClientAuth::None && self.trust_cert_path.is_none() {
            let why = format!("{}={}", keys::SERVER_NEED_CLIENT_AUTH, self.client_auth);
            let what = "the CA bundle (PEM) that client certificates must chain to";
            return Err(missing(keys::SERVER_TRUST_CERT_PATH, why, what));
        }
        Ok(())
    }
}

impl ClientTlsSettings {
    /// Checks that outgoing TLS can verify servers and that a client cert comes with its key.
    /// With `tls.enable=false` nothing is needed.
    pub fn validate(&self) -> Result<(), TlsError> {
        if !self.enable {
            return Ok(());
        }
        if self.trust_cert_path.is_none() && !self.insecure {
            return Err(TlsError::NoClientTrust);
        }
        match (&self.cert_path, &self.key_path) {
            (Some(_), None) => Err(missing(
                keys::CLIENT_KEY_PATH,
                format!("{} is set", keys::CLIENT_CERT_PATH),
                "the client certificate's private key (PEM)",
            )),
            (None, Some(_)) => Err(missing(
                keys::CLIENT_CERT_PATH,
                format!("{} is set", keys::CLIENT_KEY_PATH),
                "the client certificate chain (PEM)",
            )),
            _ => Ok(()),
        }
    }
}

fn parse_bool(key: &'static str, value: &str) -> Result<bool, TlsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(key, value, "true|false")),
    }
}

fn bad_value(key: &'static str, value: &str, expected: &'static str) -> TlsError {
    TlsError::BadValue {
        key,
        value: value.to_owned(),
        expected,
    }
}

fn missing(key: &'static str, why: String, what: &'static str) -> TlsError {
    TlsError::Missing { key, why, what }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<TlsSettings, TlsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TlsSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_disabled_and_plaintext() {
        let s = parse(&[]).unwrap();
        assert_eq!(s, TlsSettings::default());
        assert_eq!(s.server.mode, TlsMode::Disabled);
        assert_eq!(s.server.client_auth, ClientAuth::None);
        assert!(!s.client.enable && !s.client.insecure);
    }

    #[test]
    fn full_settings_parse_case_insensitively() {
        let s = parse(&[
            ("tls.server.mode", " Enforcing "),
            ("tls.server.certPath", "/c.pem"),
            ("tls.server.keyPath", "/k.pem"),
            ("tls.server.need.client.auth", "REQUIRE"),
            ("tls.server.trustCertPath", "/ca.pem"),
            ("tls.enable", "TRUE"),
            ("tls.client.trustCertPath", "/ca2.pem"),
            ("tls.test.mode.enable", "false"),
            ("tls.client.keyPassword", ""),
        ])
        .unwrap();
        assert_eq!(s.server.mode, TlsMode::Enforcing);
        assert_eq!(s.server.client_auth, ClientAuth::Require);
        assert_eq!(s.server.key_path, Some(PathBuf::from("/k.pem")));
        assert!(s.client.enable);
        assert_eq!(s.client.trust_cert_path, Some(PathBuf::from("/ca2.pem")));
    }

    #[test]
    fn bad_values_name_the_key_and_the_allowed_values() {
        let e = parse(&[("tls.server.mode", "strict")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls.server.mode") && e.contains("disabled|permissive|enforcing"));
        let e = parse(&[("tls.server.need.client.auth", "yes")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("none|optional|require"), "{e}");
        let e = parse(&[("tls.enable", "1")]).unwrap_err().to_string();
        assert!(e.contains("tls.enable") && e.contains("true|false"), "{e}");
    }

    #[test]
    fn enabled_modes_need_cert_and_key() {
        let e = parse(&[("tls.server.mode", "permissive")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tls.server.certPath") && e.contains("permissive"),
            "{e}"
        );
        let e = parse(&[
            ("tls.server.mode", "enforcing"),
            ("tls.server.certPath", "/c"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("tls.server.keyPath"), "{e}");
    }

    #[test]
    fn client_auth_needs_a_trust_bundle() {
        let e = parse(&[
            ("tls.server.mode", "enforcing"),
            ("tls.server.certPath", "/c"),
            ("tls.server.keyPath", "/k"),
            ("tls.server.need.client.auth", "optional"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("tls.server.trustCertPath"), "{e}");
    }

    #[test]
    fn outgoing_tls_needs_trust_or_test_mode_and_cert_with_key() {
        let e = parse(&[("tls.enable", "true")]).unwrap_err().to_string();
        assert!(e.contains("tls.client.trustCertPath") && e.contains("tls.test.mode.enable"));
        assert!(parse(&[("tls.enable", "true"), ("tls.test.mode.enable", "true")]).is_ok());
        let e = parse(&[
            ("tls.enable", "true"),
            ("tls.client.trustCertPath", "/ca"),
            ("tls.client.certPath", "/c"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("tls.client.keyPath"), "{e}");
    }

    #[test]
    fn every_key_is_listed() {
        assert_eq!(TlsSettings::KEYS.len(), 10);
        assert!(TlsSettings::KEYS.iter().all(|k| k.starts_with("tls.")));
    }
}
