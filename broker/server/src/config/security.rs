//! broker.conf keys of access control: the ACL (`aclEnable`, `aclFile`), the account the
//! broker signs its own requests with (registrations with ACL-enabled nameservers, a slave's
//! metadata sync from its master: `innerClientAuthenticationCredentials`, RocketMQ 5's key, or
//! `innerClientCredentialsDir`, a directory with `accessKey` and `secretKey` files such as a
//! mounted Secret, read at each use so a rotation applies), and TLS (Apache's `tls.*` keys).
//! Secrets never leave this module in clear: GET_BROKER_CONFIG shows them redacted and errors
//! never echo them.

use super::ConfigError;
use super::parse::{boolean, invalid};
use rmq_acl::Credentials;
use rmq_protocol::net::tls::TlsSettings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What GET_BROKER_CONFIG prints instead of a secret.
pub const REDACTED: &str = "******";

/// Access-control settings.
#[derive(Debug, Clone, Default)]
pub struct SecurityConfig {
    /// Whether every request must pass the ACL of [`Self::acl_file`] (`aclEnable`, default
    /// false).
    pub acl_enable: bool,
    /// The `plain_acl.yml` of accounts and permissions (`aclFile`); required when `aclEnable`.
    pub acl_file: Option<PathBuf>,
    /// The account this broker signs its own requests with; `None`: they go unsigned.
    pub inner_credentials: Option<InnerCredentials>,
    /// The `tls.*` keys as given (read by [`Self::tls`]).
    pub tls_keys: BTreeMap<String, String>,
    /// ACL 2.0: every request must be signed by a known, enabled user
    /// (`authenticationEnabled`, default false).
    pub authentication_enabled: bool,
    /// ACL 2.0: every request must also be allowed by the user's ACL (`authorizationEnabled`,
    /// default false; implies authentication).
    pub authorization_enabled: bool,
    /// ACL 2.0: the super user created at start when absent (`initAuthenticationUser`, JSON
    /// `{"username":..,"password":..}`), as credentials (accessKey = username).
    pub init_user: Option<Credentials>,
}

impl SecurityConfig {
    /// Whether the ACL 2.0 gate is on (either key).
    pub fn auth_v2(&self) -> bool {
        self.authentication_enabled || self.authorization_enabled
    }
}

/// Where the broker's own credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InnerCredentials {
    /// Written in broker.conf (`innerClientAuthenticationCredentials`).
    Inline(Credentials),
    /// Files `accessKey` and `secretKey` in a directory (`innerClientCredentialsDir`).
    Dir(PathBuf),
}

impl InnerCredentials {
    /// The credentials now (a directory is read again each time); the error names the file.
    pub fn load(&self) -> Result<Credentials, String> {
        match self {
            InnerCredentials::Inline(c) => Ok(c.clone()),
            InnerCredentials::Dir(dir) => {
                let access = read_trimmed(&dir.join("accessKey"))?;
                let secret = read_trimmed(&dir.join("secretKey"))?;
                Ok(Credentials::new(access, secret))
            }
        }
    }
}

/// A non-empty credentials file, trimmed; the error says which file and never its content.
fn read_trimmed(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {} (innerClientCredentialsDir): {e}",
            path.display()
        )
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!(
            "{} (innerClientCredentialsDir) is empty",
            path.display()
        ));
    }
    Ok(text.to_owned())
}

/// The keys [`SecurityConfig::apply`] handles.
pub const KEYS: &[&str] = &[
    "aclEnable",
    "aclFile",
    "innerClientAuthenticationCredentials",
    "innerClientCredentialsDir",
    "authenticationEnabled",
    "authorizationEnabled",
    "initAuthenticationUser",
];

/// Whether [`SecurityConfig::apply`] handles `key`.
pub fn handles(key: &str) -> bool {
    KEYS.contains(&key) || TlsSettings::KEYS.contains(&key)
}

/// The JSON of `innerClientAuthenticationCredentials`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InlineJson {
    access_key: String,
    secret_key: String,
}

/// The JSON of `initAuthenticationUser` (Java's `User`: other fields are ignored).
#[derive(serde::Deserialize)]
struct InitUserJson {
    username: String,
    password: String,
}

/// What `initAuthenticationUser` must look like.
const INIT_EXPECTED: &str =
    "JSON {\"username\":\"<super user>\",\"password\":\"<its password>\"}, both non-empty";

/// Reads `initAuthenticationUser` without ever putting the password into an error.
fn parse_init_user(v: &str) -> Result<Option<Credentials>, String> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let parsed: InitUserJson = serde_json::from_str(v)
        .map_err(|e| format!("not valid JSON at line {} column {}", e.line(), e.column()))?;
    if parsed.username.trim().is_empty() || parsed.password.is_empty() {
        return Err("username and password must not be empty".into());
    }
    Ok(Some(Credentials::new(parsed.username, parsed.password)))
}

/// What `innerClientAuthenticationCredentials` must look like.
const INNER_EXPECTED: &str = "JSON {\"accessKey\":\"<admin account>\",\"secretKey\":\"<its \
                              secret>\"} with a non-empty secretKey";

impl SecurityConfig {
    /// Applies one of [`KEYS`].
    pub fn apply(&mut self, key: &str, v: &str, origin: &str) -> Result<(), ConfigError> {
        match key {
            "aclEnable" => self.acl_enable = boolean(origin, key, v)?,
            "aclFile" => self.acl_file = Some(PathBuf::from(v)).filter(|_| !v.is_empty()),
            "innerClientAuthenticationCredentials" => {
                let parsed = parse_inner(v).map_err(|why| {
                    invalid(origin, key, REDACTED, &format!("{INNER_EXPECTED}: {why}"))
                })?;
                self.inner_credentials = parsed.map(InnerCredentials::Inline);
            }
            "authenticationEnabled" => self.authentication_enabled = boolean(origin, key, v)?,
            "authorizationEnabled" => self.authorization_enabled = boolean(origin, key, v)?,
            "initAuthenticationUser" => {
                self.init_user = parse_init_user(v).map_err(|why| {
                    invalid(origin, key, REDACTED, &format!("{INIT_EXPECTED}: {why}"))
                })?;
            }
            "innerClientCredentialsDir" => {
                self.inner_credentials =
                    Some(InnerCredentials::Dir(PathBuf::from(v))).filter(|_| !v.is_empty());
            }
            k => {
                self.tls_keys.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(())
    }

    /// Consistency of the keys together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.acl_enable && self.acl_file.is_none() {
            return Err(ConfigError::Inconsistent(
                "aclEnable=true needs aclFile=<path of plain_acl.yml> (the accounts and their \
                 permissions)"
                    .into(),
            ));
        }
        self.tls()
            .map_err(|e| ConfigError::Inconsistent(e.to_string()))?;
        Ok(())
    }

    /// The TLS settings of the `tls.*` keys.
    pub fn tls(&self) -> Result<TlsSettings, rmq_protocol::net::tls::TlsError> {
        TlsSettings::from_lookup(|k| self.tls_keys.get(k).cloned())
    }

    /// The settings as properties lines (GET_BROKER_CONFIG), the secret redacted.
    pub fn to_properties(&self) -> Vec<String> {
        let mut lines = vec![
            format!("aclEnable={}", self.acl_enable),
            format!(
                "aclFile={}",
                self.acl_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        ];
        match &self.inner_credentials {
            Some(InnerCredentials::Inline(c)) => lines.push(format!(
                "innerClientAuthenticationCredentials={{\"accessKey\":{:?},\"secretKey\":\"{REDACTED}\"}}",
                c.access_key
            )),
            Some(InnerCredentials::Dir(d)) => {
                lines.push(format!("innerClientCredentialsDir={}", d.display()))
            }
            None => {}
        }
        lines.push(format!(
            "authenticationEnabled={}",
            self.authentication_enabled
        ));
        lines.push(format!(
            "authorizationEnabled={}",
            self.authorization_enabled
        ));
        if let Some(c) = &self.init_user {
            lines.push(format!(
                "initAuthenticationUser={{\"username\":{:?},\"password\":\"{REDACTED}\"}}",
                c.access_key
            ));
        }
        lines.extend(self.tls_keys.iter().map(|(k, v)| format!("{k}={v}")));
        lines
    }
}

/// Reads the credentials JSON without ever putting the secret into an error.
fn parse_inner(v: &str) -> Result<Option<Credentials>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let parsed: InlineJson = serde_json::from_str(v).map_err(|e| {
        // serde_json's message can quote the input: keep only its position
        format!("not valid JSON at line {} column {}", e.line(), e.column())
    })?;
    if parsed.access_key.is_empty() || parsed.secret_key.is_empty() {
        return Err("accessKey and secretKey must not be empty".into());
    }
    Ok(Some(Credentials::new(parsed.access_key, parsed.secret_key)))
}

/// Whether an unknown (passed through) key probably holds a secret, so GET_BROKER_CONFIG
/// prints it redacted.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "credential", "token", "privatekey"]
        .iter()
        .any(|w| k.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_credentials_parse_and_never_show_the_secret() {
        let mut s = SecurityConfig::default();
        let json = r#"{"accessKey":"rocketmq2","secretKey":"12345678"}"#;
        s.apply("innerClientAuthenticationCredentials", json, "t")
            .unwrap();
        let c = s.inner_credentials.as_ref().unwrap().load().unwrap();
        assert_eq!(c.access_key, "rocketmq2");
        assert_eq!(c.secret_key.expose(), "12345678");
        let props = s.to_properties().join("\n");
        assert!(
            props.contains("rocketmq2") && !props.contains("12345678"),
            "{props}"
        );
        assert!(!format!("{s:?}").contains("12345678"));
    }

    #[test]
    fn bad_inner_credentials_are_refused_without_echoing_them() {
        for bad in [
            r#"{"accessKey":"a","secretKey":""}"#,
            r#"{"accessKey":"a","secretKey":"hunter2-secret""#,
            r#"{"accessKey":"a","secret":"hunter2-secret"}"#,
            "hunter2-secret",
        ] {
            let mut s = SecurityConfig::default();
            let err = s
                .apply("innerClientAuthenticationCredentials", bad, "broker.conf")
                .unwrap_err()
                .to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(
                err.contains("innerClientAuthenticationCredentials"),
                "{err}"
            );
            assert!(err.contains("accessKey"), "{err}");
        }
    }

    #[test]
    fn a_credentials_directory_is_read_at_each_use() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SecurityConfig::default();
        let path = dir.path().display().to_string();
        s.apply("innerClientCredentialsDir", &path, "t").unwrap();
        let source = s.inner_credentials.clone().unwrap();
        let err = source.load().unwrap_err();
        assert!(err.contains("accessKey") && err.contains(&path), "{err}");
        std::fs::write(dir.path().join("accessKey"), "admin1\n").unwrap();
        std::fs::write(dir.path().join("secretKey"), "first-secret\n").unwrap();
        assert_eq!(source.load().unwrap().secret_key.expose(), "first-secret");
        std::fs::write(dir.path().join("secretKey"), "rotated-secret").unwrap();
        assert_eq!(source.load().unwrap().secret_key.expose(), "rotated-secret");
        assert!(!s.to_properties().join("\n").contains("secret"));
    }

    #[test]
    fn tls_keys_are_checked_together() {
        let mut s = SecurityConfig::default();
        s.apply("tls.server.mode", "enforcing", "t").unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("tls.server.certPath"), "{err}");
        s.apply("tls.server.certPath", "/c.pem", "t").unwrap();
        s.apply("tls.server.keyPath", "/k.pem", "t").unwrap();
        s.validate().unwrap();
        assert!(
            s.to_properties()
                .contains(&"tls.server.mode=enforcing".to_owned())
        );
        s.apply("tls.server.mode", "sometimes", "t").unwrap();
        assert!(s.validate().is_err());
    }

    #[test]
    fn acl_v2_keys_parse_and_never_show_the_password() {
        let mut s = SecurityConfig::default();
        assert!(!s.auth_v2());
        s.apply("authorizationEnabled", "true", "t").unwrap();
        assert!(s.auth_v2());
        let json = r#"{"username":"root","password":"hunter2-root"}"#;
        s.apply("initAuthenticationUser", json, "t").unwrap();
        assert_eq!(s.init_user.as_ref().unwrap().access_key, "root");
        let props = s.to_properties().join("\n");
        assert!(props.contains("authorizationEnabled=true"), "{props}");
        assert!(
            props.contains("root") && !props.contains("hunter2"),
            "{props}"
        );
        for bad in [
            r#"{"username":"root","password":""}"#,
            "hunter2-root",
            r#"{"username":"r"}"#,
        ] {
            let err = s
                .apply("initAuthenticationUser", bad, "broker.conf")
                .unwrap_err()
                .to_string();
            assert!(
                !err.contains("hunter2") && err.contains("username"),
                "{err}"
            );
        }
    }

    #[test]
    fn secret_looking_keys() {
        assert!(looks_secret("secretKey"));
        assert!(looks_secret("tls.server.keyPassword"));
        assert!(looks_secret("sessionToken"));
        assert!(!looks_secret("brokerName"));
    }
}
