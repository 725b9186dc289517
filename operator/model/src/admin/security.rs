//! [`AdminSecurity`]: how an [`super::Admin`] proves who it is to a cluster with
//! `spec.security`: the account it signs every request with (ACL) and the TLS it dials with.

use rmq_acl::Credentials;
use rmq_protocol::RemotingCommand;
use rmq_protocol::net::tls::ClientTls;
use std::fmt;
use std::sync::Arc;

/// The credentials and TLS of an admin client. `Debug` shows the access key and whether TLS is
/// on, never the secret key.
#[derive(Clone, Default)]
pub struct AdminSecurity {
    /// The account every request is signed with (`AclClientRPCHook`); `None`: unsigned.
    credentials: Option<Credentials>,
    /// TLS for every connection; `None`: plaintext.
    tls: Option<Arc<ClientTls>>,
}

impl AdminSecurity {
    /// No credentials, plaintext: what a cluster without `spec.security` needs.
    pub fn none() -> Self {
        Self::default()
    }

    /// Signs every request with `credentials` (when set) and dials with `tls` (when set).
    pub fn new(credentials: Option<Credentials>, tls: Option<Arc<ClientTls>>) -> Self {
        Self { credentials, tls }
    }

    /// The account requests are signed with.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The TLS connections are made with.
    pub fn tls(&self) -> Option<&Arc<ClientTls>> {
        self.tls.as_ref()
    }

    /// Signs `req` when credentials are set; call it once every field and the body are final.
    pub(crate) fn sign(&self, req: &mut RemotingCommand) -> Result<(), rmq_acl::SignError> {
        match &self.credentials {
            Some(c) => c.sign_command(req),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for AdminSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSecurity")
            .field(
                "access_key",
                &self.credentials.as_ref().map(|c| c.access_key.as_str()),
            )
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::request_code as rc;

    #[test]
    fn signs_only_with_credentials_and_never_shows_the_secret() {
        let mut req = RemotingCommand::request(rc::GET_ALL_TOPIC_CONFIG);
        AdminSecurity::none().sign(&mut req).ok();
        assert!(req.ext_fields.is_empty());
        let s = AdminSecurity::new(Some(Credentials::new("rmqadmin", "hunter2-secret")), None);
        s.sign(&mut req).ok();
        assert_eq!(req.ext_fields.get("AccessKey"), Some("rmqadmin"));
        assert!(req.ext_fields.get("Signature").is_some());
        let shown = format!("{s:?}");
        assert!(
            shown.contains("rmqadmin") && !shown.contains("hunter2"),
            "{shown}"
        );
        let empty = AdminSecurity::new(Some(Credentials::new("rmqadmin", "")), None);
        assert!(empty.sign(&mut req).is_err());
    }
}
