//! The Secrets of `spec.security` in the pods: each referenced Secret is a volume mounted
//! read-only at [`rmq_model::desired::Addressing::secret_dir`]'s default
//! (`/etc/rmq-secrets/<secret>`), the path rmq-model wrote into broker.conf and namesrv.conf.
//! Whole-Secret volumes (no `subPath`), so the kubelet replaces the files when the Secret
//! changes and the nodes reload them: a rotated `plain_acl.yml`, certificate or admin secret
//! applies without a restart. Nameservers get the accounts and the certificate; brokers also
//! get the admin account they sign their own requests with.

use k8s_openapi::api::core::v1::{SecretVolumeSource, Volume, VolumeMount};
use rmq_model::defaults::SECRETS_DIR;
use rmq_model::validate::Security;
use std::collections::BTreeSet;

/// Which pods the volumes are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Nameservers: accounts and certificate.
    NameServer,
    /// Brokers: accounts, admin account and certificate.
    Broker,
}

/// The Secret names `role`'s pods mount, sorted, each once.
pub fn secret_names(security: &Security, role: Role) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Some(acl) = &security.acl {
        names.insert(acl.accounts.clone());
        if role == Role::Broker {
            names.insert(acl.admin.clone());
        }
    }
    if let Some(tls) = &security.tls {
        names.insert(tls.certificate.clone());
    }
    names
}

/// The volumes and mounts of `role`'s pods (empty without ACL and TLS). Volumes are named
/// `secret-<n>` in Secret-name order: Secret names may hold dots, volume names may not.
pub fn volumes(security: &Security, role: Role) -> (Vec<Volume>, Vec<VolumeMount>) {
    secret_names(security, role)
        .into_iter()
        .enumerate()
        .map(|(i, secret)| {
            let name = format!("secret-{i}");
            let volume = Volume {
                name: name.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.clone()),
                    // readable by the image's group only (fsGroup)
                    default_mode: Some(0o440),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            };
            let mount = VolumeMount {
                name,
                mount_path: format!("{SECRETS_DIR}/{secret}"),
                read_only: Some(true),
                ..VolumeMount::default()
            };
            (volume, mount)
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_model::types::{ClientAuthMode, TlsMode};
    use rmq_model::validate::{AclSecrets, TlsSettings};

    fn security(same: bool) -> Security {
        Security {
            acl: Some(AclSecrets {
                accounts: "rmq-acl".into(),
                admin: if same {
                    "rmq-acl".into()
                } else {
                    "rmq.admin".into()
                },
            }),
            tls: Some(TlsSettings {
                mode: TlsMode::Enforcing,
                certificate: "rmq-tls".into(),
                client_auth: ClientAuthMode::None,
            }),
        }
    }

    #[test]
    fn brokers_mount_every_secret_once_and_nameservers_not_the_admin() {
        let (v, m) = volumes(&security(false), Role::Broker);
        let secrets: Vec<_> = v
            .iter()
            .map(|v| v.secret.as_ref().unwrap().secret_name.clone().unwrap())
            .collect();
        assert_eq!(secrets, ["rmq-acl", "rmq-tls", "rmq.admin"]);
        assert_eq!(m[2].mount_path, "/etc/rmq-secrets/rmq.admin");
        assert_eq!(m[2].name, "secret-2");
        assert!(m.iter().all(|m| m.read_only == Some(true)));
        let (v, _) = volumes(&security(false), Role::NameServer);
        assert_eq!(v.len(), 2);
        let (v, m) = volumes(&security(true), Role::Broker);
        assert_eq!((v.len(), m.len()), (2, 2));
        assert!(volumes(&Security::default(), Role::Broker).0.is_empty());
    }
}
