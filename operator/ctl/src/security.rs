//! The admin client of a command: `--namesrv` plus the credentials and TLS of
//! `--access-key`/`--secret-key` and `--tls-ca` ([`admin`]), and the pieces local mode builds
//! its own from (the files of a cluster's secrets): [`credentials`], [`tls`].
//! Errors name flags and files, never a secret.

use crate::cli::{NamesrvArg, SecurityArgs};
use crate::error::CtlError;
use rmq_model::admin::{Admin, AdminSecurity, ClientTls, Credentials, parse_name_servers};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Time allowed to connect (TLS handshake included).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The admin client of `--namesrv`, signing and dialling as the security flags say.
pub fn admin(arg: &NamesrvArg) -> Result<Admin, CtlError> {
    admin_for(name_servers(arg)?, &arg.security)
}

/// The admin client of `name_servers`, signing and dialling as `args` say.
pub fn admin_for(name_servers: Vec<String>, args: &SecurityArgs) -> Result<Admin, CtlError> {
    Ok(Admin::with_security(
        name_servers,
        CONNECT_TIMEOUT,
        CALL_TIMEOUT,
        security(args)?,
    ))
}

/// The credentials (both keys or neither) and TLS (`--tls-ca`, optionally a client
/// certificate) of the flags.
pub fn security(args: &SecurityArgs) -> Result<AdminSecurity, CtlError> {
    let credentials = match (&args.access_key, &args.secret_key) {
        (None, None) => None,
        (Some(ak), Some(sk)) => Some(credentials(ak, sk.expose(), "--access-key/--secret-key")?),
        (Some(_), None) => return Err(half_credentials("--access-key", "--secret-key")),
        (None, Some(_)) => return Err(half_credentials("--secret-key", "--access-key")),
    };
    let client = match (&args.tls_client_cert, &args.tls_client_key) {
        (None, None) => None,
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => {
            return Err(CtlError::Input(
                "--tls-client-cert and --tls-client-key go together (fix: pass both, or neither)"
                    .into(),
            ));
        }
    };
    let tls = match (&args.tls_ca, client) {
        (Some(ca), client) => Some(tls(ca, client, "--tls-ca")?),
        (None, Some(_)) => {
            return Err(CtlError::Input(
                "--tls-client-cert needs --tls-ca (fix: pass --tls-ca FILE, the CA bundle that \
                 signed the servers' certificates)"
                    .into(),
            ));
        }
        (None, None) => None,
    };
    Ok(AdminSecurity::new(credentials, tls))
}

fn half_credentials(given: &str, missing: &str) -> CtlError {
    CtlError::Input(format!(
        "{given} is set but {missing} is not (fix: pass both --access-key and --secret-key, or \
         set RMQ_ACCESS_KEY and RMQ_SECRET_KEY; or neither for a cluster without an ACL)"
    ))
}

/// Credentials from an access key and a secret key, both trimmed and non-empty; `from` says
/// where they came from in the error.
pub fn credentials(
    access_key: &str,
    secret_key: &str,
    from: &str,
) -> Result<Credentials, CtlError> {
    let (ak, sk) = (access_key.trim(), secret_key.trim());
    if ak.is_empty() || sk.is_empty() {
        let which = if ak.is_empty() {
            "access key"
        } else {
            "secret key"
        };
        return Err(CtlError::Input(format!(
            "the {which} of {from} is empty (fix: give the keys of an account of the cluster's \
             plain_acl.yml)"
        )));
    }
    Ok(Credentials::new(ak, sk))
}

/// TLS trusting exactly the CA bundle `ca`, presenting `client` (certificate chain, key) when
/// given; `from` says where the files came from in the error.
pub fn tls(
    ca: &Path,
    client: Option<(&Path, &Path)>,
    from: &str,
) -> Result<Arc<ClientTls>, CtlError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| {
            CtlError::Input(format!(
                "cannot read {} ({from}): {e} (fix: name a readable PEM file)",
                p.display()
            ))
        })
    };
    let ca_pem = read(ca)?;
    let client_pem = match client {
        Some((cert, key)) => Some((read(cert)?, read(key)?)),
        None => None,
    };
    let pair = client_pem
        .as_ref()
        .map(|(c, k)| (c.as_slice(), k.as_slice()));
    let files = match client {
        Some((cert, key)) => format!("{}, {}, {}", ca.display(), cert.display(), key.display()),
        None => ca.display().to_string(),
    };
    ClientTls::from_pem(&ca_pem, pair)
        .map(Arc::new)
        .map_err(|e| CtlError::Input(format!("cannot use the TLS files {files} ({from}): {e}")))
}

/// The nameserver list from `--namesrv` / `NAMESRV_ADDR`.
pub fn name_servers(arg: &NamesrvArg) -> Result<Vec<String>, CtlError> {
    let Some(list) = &arg.namesrv else {
        return Err(CtlError::Input(
            "no nameserver given (fix: pass --namesrv HOST:PORT[;HOST:PORT] or set NAMESRV_ADDR; `rmqctl local status` prints a local cluster's address)".into(),
        ));
    };
    parse_name_servers(list).map_err(|e| CtlError::Input(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ak: Option<&str>, sk: Option<&str>) -> SecurityArgs {
        SecurityArgs {
            access_key: ak.map(str::to_owned),
            secret_key: sk.map(|s| s.to_owned().into()),
            ..SecurityArgs::default()
        }
    }

    #[test]
    fn keys_come_in_pairs_and_errors_never_show_the_secret() {
        assert!(security(&args(None, None)).unwrap().credentials().is_none());
        let s = security(&args(Some("rmqadmin"), Some("hunter2-pw"))).unwrap();
        assert_eq!(s.credentials().unwrap().access_key, "rmqadmin");
        for (ak, sk) in [(Some("rmqadmin"), None), (None, Some("hunter2-pw"))] {
            let e = security(&args(ak, sk)).unwrap_err().to_string();
            assert!(e.contains("pass both --access-key and --secret-key"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = security(&args(Some("rmqadmin"), Some(" ")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("secret key of --access-key/--secret-key is empty"),
            "{e}"
        );
        assert!(!format!("{:?}", args(None, Some("hunter2-pw"))).contains("hunter2"));
    }

    #[test]
    fn tls_files_are_named_when_missing_or_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let mut a = SecurityArgs {
            tls_ca: Some(ca.clone()),
            ..SecurityArgs::default()
        };
        let e = security(&a).unwrap_err().to_string();
        assert!(e.contains("ca.pem (--tls-ca)"), "{e}");
        std::fs::write(&ca, "not a certificate").unwrap();
        let e = security(&a).unwrap_err().to_string();
        assert!(e.contains("no certificate in"), "{e}");
        a.tls_ca = None;
        a.tls_client_cert = Some(ca.clone());
        let e = security(&a).unwrap_err().to_string();
        assert!(e.contains("go together"), "{e}");
        a.tls_client_key = Some(ca);
        let e = security(&a).unwrap_err().to_string();
        assert!(e.contains("--tls-client-cert needs --tls-ca"), "{e}");
    }
}
