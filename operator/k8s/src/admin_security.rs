//! The operator's own credentials for a cluster with `spec.security`: it signs every topic,
//! group and broker-config request with the admin account of `spec.security.acl.adminSecret`
//! (keys `accessKey`, `secretKey`) and, with TLS on, verifies the brokers and nameservers
//! against the `ca.crt` of `spec.security.tls.certificateSecret` (presenting that Secret's
//! `tls.crt`/`tls.key` when client certificates are required). The Secrets are read by name
//! (RBAC: `get` on secrets) and never logged; their resourceVersions tell a rotation apart, so
//! a rotated Secret gets a new client.

use crate::{Error, Result};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use rmq_model::admin::{AdminSecurity, ClientTls, Credentials};
use rmq_model::types::ClientAuthMode;
use rmq_model::validate::{ADMIN_KEYS, Security, TLS_FILES};

/// The admin security of a cluster and a stamp of the Secrets it came from (their names and
/// resourceVersions; empty without security).
pub async fn load(
    client: &Client,
    ns: &str,
    security: &Security,
) -> Result<(AdminSecurity, String)> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let admin = match &security.acl {
        Some(acl) => Some(get(&api, ns, &acl.admin).await?),
        None => None,
    };
    let cert = match &security.tls {
        Some(tls) => Some(get(&api, ns, &tls.certificate).await?),
        None => None,
    };
    let stamp = [&admin, &cert]
        .iter()
        .filter_map(|s| s.as_ref())
        .map(|s| {
            let m = &s.metadata;
            format!(
                "{}:{}",
                m.name.as_deref().unwrap_or_default(),
                m.resource_version.as_deref().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let built = from_secrets(security, admin.as_ref(), cert.as_ref())
        .map_err(|e| Error::ClusterNotReady(format!("{e} (namespace {ns})")))?;
    Ok((built, stamp))
}

async fn get(api: &Api<Secret>, ns: &str, name: &str) -> Result<Secret> {
    api.get(name).await.map_err(Error::kube(format!(
        "read Secret {ns}/{name} named by spec.security (create it, and let the operator get it)"
    )))
}

/// The bytes of `key` in `secret`, else an error naming both.
fn value<'a>(secret: &'a Secret, key: &str) -> std::result::Result<&'a [u8], String> {
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.as_slice())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("Secret {name} has no key {key:?}: add it"))
}

/// The admin security from the Secrets' contents (pure).
pub fn from_secrets(
    security: &Security,
    admin: Option<&Secret>,
    cert: Option<&Secret>,
) -> std::result::Result<AdminSecurity, String> {
    let credentials = match admin {
        Some(s) => {
            let (ak, sk) = ADMIN_KEYS;
            let text = |k| {
                value(s, k).and_then(|b| {
                    std::str::from_utf8(b)
                        .map(|t| t.trim().to_owned())
                        .map_err(|_| format!("key {k:?} of the admin Secret is not UTF-8"))
                })
            };
            Some(Credentials::new(text(ak)?, text(sk)?))
        }
        None => None,
    };
    let tls = match (cert, &security.tls) {
        (Some(s), Some(settings)) => {
            let (crt, key, ca) = TLS_FILES;
            let client = match settings.client_auth {
                ClientAuthMode::Require => Some((value(s, crt)?, value(s, key)?)),
                _ => None,
            };
            let tls = ClientTls::from_pem(value(s, ca)?, client).map_err(|e| e.to_string())?;
            Some(std::sync::Arc::new(tls))
        }
        _ => None,
    };
    Ok(AdminSecurity::new(credentials, tls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;
    use rmq_model::validate::AclSecrets;
    use std::collections::BTreeMap;

    fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    fn acl_only() -> Security {
        Security {
            acl: Some(AclSecrets {
                accounts: "rmq-acl".into(),
                admin: "rmq-admin".into(),
            }),
            tls: None,
        }
    }

    #[test]
    fn the_admin_secret_gives_the_signing_account() {
        let s = secret(
            "rmq-admin",
            &[("accessKey", "rmqadmin\n"), ("secretKey", "s3cret-admin")],
        );
        let built = from_secrets(&acl_only(), Some(&s), None).unwrap();
        let c = built.credentials().unwrap();
        assert_eq!(c.access_key, "rmqadmin");
        assert_eq!(c.secret_key.expose(), "s3cret-admin");
        assert!(built.tls().is_none());
        assert!(!format!("{built:?}").contains("s3cret"));
    }

    #[test]
    fn a_missing_key_is_named_and_no_value_is_shown() {
        let s = secret("rmq-admin", &[("accessKey", "rmqadmin")]);
        let err = from_secrets(&acl_only(), Some(&s), None).unwrap_err();
        assert!(
            err.contains("rmq-admin") && err.contains("secretKey"),
            "{err}"
        );
        let s = secret("rmq-admin", &[("accessKey", "rmqadmin"), ("secretKey", "")]);
        assert!(from_secrets(&acl_only(), Some(&s), None).is_err());
    }
}
