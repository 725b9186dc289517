//! broker.conf keys of access control: the ACL (`aclEnable`, `aclFile`) and the account the
//! broker signs its own requests with (`innerClientAuthenticationCredentials`, RocketMQ 5's key:
//! registrations with ACL-enabled nameservers, a slave's metadata sync from its master).
//! Secrets never leave this module in clear: GET_BROKER_CONFIG shows them redacted and errors
//! never echo them.

use super::ConfigError;
use super::parse::{boolean, invalid};
use rmq_acl::Credentials;
use std::path::PathBuf;

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
    pub inner_credentials: Option<Credentials>,
}

/// The keys [`SecurityConfig::apply`] handles.
pub const KEYS: &[&str] = &[
    "aclEnable",
    "aclFile",
    "innerClientAuthenticationCredentials",
];

/// The JSON of `innerClientAuthenticationCredentials`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InnerCredentials {
    access_key: String,
    secret_key: String,
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
                self.inner_credentials = parse_inner(v).map_err(|why| {
                    invalid(origin, key, REDACTED, &format!("{INNER_EXPECTED}: {why}"))
                })?;
            }
            _ => {}
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
        Ok(())
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
        if let Some(c) = &self.inner_credentials {
            lines.push(format!(
                "innerClientAuthenticationCredentials={{\"accessKey\":{:?},\"secretKey\":\"{REDACTED}\"}}",
                c.access_key
            ));
        }
        lines
    }
}

/// Reads the credentials JSON without ever putting the secret into an error.
fn parse_inner(v: &str) -> Result<Option<Credentials>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let parsed: InnerCredentials = serde_json::from_str(v).map_err(|e| {
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
        let c = s.inner_credentials.as_ref().unwrap();
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
    fn secret_looking_keys() {
        assert!(looks_secret("secretKey"));
        assert!(looks_secret("tls.server.keyPassword"));
        assert!(looks_secret("sessionToken"));
        assert!(!looks_secret("brokerName"));
    }
}
