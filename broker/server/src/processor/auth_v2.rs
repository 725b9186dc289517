//! ACL 2.0 on a broker (`authenticationEnabled` / `authorizationEnabled`): opening the gate
//! at start, its users and ACLs kept in `<storePathRootDir>/config/auth.json`, and answering the
//! administration requests (3001–3010) that `mqadmin createUser … listAcl` send.

use crate::config::BrokerConfig;
use crate::processor::reply::{Reply, refuse, respond};
use rmq_acl::Secret;
use rmq_acl::v2::Settings;
use rmq_acl::v2::gate::{AuthGate, OpenError};
use rmq_protocol::{RemotingCommand, response_code};
use std::path::PathBuf;
use std::sync::Arc;

/// The file of users and ACLs under the store root.
pub fn auth_file(config: &BrokerConfig) -> PathBuf {
    config.store_root.join("config").join("auth.json")
}

/// The ACL 2.0 gate when either key is on, else `None`. The super users of
/// `initAuthenticationUser` and of the broker's own credentials
/// (`innerClientAuthenticationCredentials`, as Java does) are created when absent.
pub fn open(config: &BrokerConfig) -> Result<Option<Arc<AuthGate>>, OpenError> {
    let security = &config.security;
    if !security.auth_v2() {
        return Ok(None);
    }
    let mut initial: Vec<(String, Secret)> = Vec::new();
    let inner = security
        .inner_credentials
        .as_ref()
        .and_then(|c| c.load().ok());
    for c in security.init_user.iter().chain(inner.iter()) {
        initial.push((c.access_key.clone(), c.secret_key.clone()));
    }
    let settings = Settings {
        authorization: security.authorization_enabled,
        cluster: config.cluster_name.clone(),
    };
    let gate = AuthGate::open(&auth_file(config), settings, &initial)?;
    Ok(Some(Arc::new(gate)))
}

/// Answers an ACL 2.0 administration request (the gate has let only super users through).
pub fn admin(auth: &Option<Arc<AuthGate>>, req: &RemotingCommand) -> Reply {
    match auth {
        Some(gate) => respond(gate.handle_admin(req)),
        None => refuse(
            req,
            response_code::SYSTEM_ERROR,
            format!(
                "request code {} manages ACL 2.0 users and ACLs, which are off on this broker; \
                 set authenticationEnabled=true (and authorizationEnabled=true) with \
                 initAuthenticationUser={{\"username\":..,\"password\":..}}",
                req.code
            ),
        ),
    }
}
