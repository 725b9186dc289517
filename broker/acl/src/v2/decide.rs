//! The ACL 2.0 decision for one request, in this order:
//!
//! 1. authentication: the request carries `AccessKey` (the username) and `Signature`, the user
//!    exists and the signature verifies with its password (one remark for an unknown user and a
//!    wrong password, so a client cannot learn which users exist); then the user must be
//!    enabled;
//! 2. the ACL 2.0 administration codes (3001–3010): super users only;
//! 3. authorization (when enabled): super users may do anything; for a normal user every
//!    resource the request touches ([`needs`](crate::v2::needs)) must be allowed by the user's
//!    ACL: among the entries that cover the resource, one of the actions and the client's
//!    address, `Custom` entries first (`Default` ones only when no custom entry matches), the
//!    most specific resource pattern decides (a literal name, then the longest prefix, then
//!    `Type:*`, then `*`); at equal specificity `Deny` wins; no matching entry: denied.
//!
//! Every denial answers `NO_PERMISSION` (16), as Java's ACL 2.0 does.

use crate::decide::{Denial, DenyReason, Request};
use crate::signature::{self, ACCESS_KEY, SIGNATURE};
use crate::v2::model::{
    Acl, Action, Decision, PolicyEntry, PolicyType, Resource, User, UserStatus,
};
use crate::v2::needs::{self, Need};
use crate::v2::store::AuthStore;
use std::net::IpAddr;

/// What the gate checks (broker keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `authorizationEnabled`: check the users' ACLs (authentication is always checked).
    pub authorization: bool,
    /// `brokerClusterName`, the name of `Cluster:<name>` resources.
    pub cluster: String,
}

/// Decides `req` under `store`; `Ok` holds the authenticated user.
pub fn decide<'a>(
    store: &'a AuthStore,
    settings: &Settings,
    req: &Request<'_>,
) -> Result<&'a User, Denial> {
    let user = authenticate(store, req)?;
    if needs::is_auth_admin(req.code) {
        if user.is_super() {
            return Ok(user);
        }
        return Err(Denial::new(
            DenyReason::AdminOnly,
            format!(
                "ACL 2.0: request code {} manages users and ACLs and only super users may send \
                 it; user {:?} is not one (run mqadmin with a super user's credentials in \
                 conf/tools.yml)",
                req.code, user.username
            ),
        ));
    }
    if !settings.authorization || user.is_super() {
        return Ok(user);
    }
    let wanted = needs::needs(req.code, req.fields, req.body, &settings.cluster)
        .map_err(|e| Denial::new(DenyReason::BadBody, format!("ACL 2.0: {e}")))?;
    let acl = store.acl(&user.username);
    for need in &wanted {
        authorize(user, acl, need, req.remote)?;
    }
    Ok(user)
}

/// Step 1.
fn authenticate<'a>(store: &'a AuthStore, req: &Request<'_>) -> Result<&'a User, Denial> {
    let Some(username) = req.fields.get(ACCESS_KEY).filter(|u| !u.is_empty()) else {
        return Err(Denial::new(
            DenyReason::NoAccessKey,
            "ACL 2.0: this broker requires authentication and the request has no AccessKey; \
             give the client an AclClientRPCHook(new SessionCredentials(username, password))",
        ));
    };
    let Some(presented) = req.fields.get(SIGNATURE) else {
        return Err(Denial::new(
            DenyReason::NoSignature,
            format!(
                "ACL 2.0: the request has AccessKey {username:?} but no Signature; sign every \
                 request with AclClientRPCHook"
            ),
        ));
    };
    let content = signature::content_to_verify(req.fields.iter(), req.body, req.version);
    let user = match store.user(username) {
        Some(u) if signature::verify(&content, &u.password, presented) => u,
        _ => {
            return Err(Denial::new(
                DenyReason::BadCredentials,
                format!(
                    "ACL 2.0: authentication failed for user {username:?}: the user is not known \
                     here or the request was not signed with its password; check the client's \
                     accessKey and secretKey"
                ),
            ));
        }
    };
    if user.status == UserStatus::Disable {
        return Err(Denial::new(
            DenyReason::NoPermission,
            format!(
                "ACL 2.0: user {username:?} is disabled; a super user can enable it with mqadmin \
                 updateUser"
            ),
        ));
    }
    Ok(user)
}

/// Step 3 for one need.
fn authorize(user: &User, acl: Option<&Acl>, need: &Need, remote: IpAddr) -> Result<(), Denial> {
    let entry = acl.and_then(|a| deciding_entry(a, &need.resource, &need.actions, remote));
    let why = match entry {
        Some(e) if e.decision == Decision::Allow => return Ok(()),
        Some(e) => format!("denied by its Deny entry on {}", e.resource),
        None => "no Allow entry of its ACL matches".to_owned(),
    };
    let actions: Vec<&str> = need.actions.iter().map(|a| a.name()).collect();
    Err(Denial::new(
        DenyReason::NoPermission,
        format!(
            "ACL 2.0: User:{} may not {} on {} from {remote}: {why}; a super user can grant it \
             with mqadmin createAcl -s User:{} -r {} -a {} -d Allow",
            user.username,
            actions.join(" or "),
            need.resource,
            user.username,
            need.resource,
            actions.first().copied().unwrap_or("All"),
        ),
    ))
}

/// The entry that decides `resource`/`actions` from `remote` (see the module doc), if any.
pub fn deciding_entry<'a>(
    acl: &'a Acl,
    resource: &Resource,
    actions: &[Action],
    remote: IpAddr,
) -> Option<&'a PolicyEntry> {
    [PolicyType::Custom, PolicyType::Default]
        .into_iter()
        .filter_map(|t| acl.policy(t))
        .find_map(|p| {
            p.entries
                .iter()
                .filter(|e| e.resource.matches(resource))
                .filter(|e| e.covers_action(actions) && e.covers_ip(remote))
                .max_by_key(|e| (e.resource.specificity(), e.decision == Decision::Deny))
        })
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
