//! The access decision for one request (`PlainPermissionManager.validate` and
//! `PlainPermissionChecker.check`), in Java's order:
//!
//! 1. the remote address is in `globalWhiteRemoteAddresses`: allowed, no credentials needed;
//! 2. no `AccessKey` field: denied;
//! 3. a known account whose `whiteRemoteAddress` matches: allowed, no signature or permission
//!    check (Java's documented behaviour);
//! 4. no `Signature`, an unknown account or a wrong signature: denied, one remark for the last two
//!    so a client cannot learn which accounts exist;
//! 5. admins: allowed;
//! 6. admin-only request codes: denied;
//! 7. every topic/group the request touches: the account's permission on it (listed, else its
//!    default) must grant what the request needs. Sending to `RMQ_SYS_TRACE_TOPIC` needs none.
//!
//! Every denial answers `NO_PERMISSION` (16), as ACL 2.0 brokers do; ACL 1.0 brokers answered
//! `SYSTEM_ERROR` (1). Java clients retry sends on either.

use crate::config::{Account, AclConfig};
use crate::perm::Perm;
use crate::resource::{self, Need, Resource, TRACE_TOPIC};
use crate::signature::{self, ACCESS_KEY, SIGNATURE};
use rmq_protocol::{ExtFields, request_code, response_code};
use std::net::IpAddr;

/// What [`decide`] looks at in a request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The request code.
    pub code: i32,
    /// The command's `version` (`MQVersion` ordinal of the client).
    pub version: i32,
    /// The ext fields, `AccessKey` and `Signature` included.
    pub fields: &'a ExtFields,
    /// The body as received (signed as is, compressed or not).
    pub body: &'a [u8],
    /// The peer's address.
    pub remote: IpAddr,
}

/// Why a request is let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant<'a> {
    /// The remote address is globally white-listed; the request may carry no credentials.
    GlobalWhiteAddress,
    /// The account's own `whiteRemoteAddress` matched; signature and permissions were not checked.
    WhiteAddress(&'a Account),
    /// The signature verified and the account holds every permission needed.
    Signed(&'a Account),
}

impl<'a> Grant<'a> {
    /// The account, unless the global white list let the request in.
    pub fn account(&self) -> Option<&'a Account> {
        match self {
            Grant::GlobalWhiteAddress => None,
            Grant::WhiteAddress(a) | Grant::Signed(a) => Some(a),
        }
    }
}

/// Why a request is refused (for logs, metrics and [`crate::guard::FailureCounter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No `AccessKey` field.
    NoAccessKey,
    /// `AccessKey` but no `Signature`.
    NoSignature,
    /// Unknown account or wrong signature (deliberately not told apart).
    BadCredentials,
    /// An admin-only request code from a non-admin account.
    AdminOnly,
    /// A topic or group permission is missing.
    NoPermission,
    /// The body (heartbeat, queue lock) cannot be read to find the resources.
    BadBody,
    /// Too many failed attempts on this connection; nothing was checked.
    TooManyFailures,
}

impl DenyReason {
    /// Whether this counts as a failed authentication attempt (a guessed key or signature).
    pub fn is_authentication_failure(self) -> bool {
        matches!(self, DenyReason::NoSignature | DenyReason::BadCredentials)
    }
}

/// A refusal: the response code and remark to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Response code: `NO_PERMISSION`.
    pub code: i32,
    /// Response remark: what is missing and how to fix it, without telling whether an account
    /// exists.
    pub remark: String,
    /// The reason, for the caller.
    pub reason: DenyReason,
}

impl Denial {
    /// A denial with `NO_PERMISSION`.
    pub fn new(reason: DenyReason, remark: impl Into<String>) -> Self {
        Self {
            code: response_code::NO_PERMISSION,
            remark: remark.into(),
            reason,
        }
    }
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Process the request.
    Allow(Grant<'a>),
    /// Answer with the denial instead.
    Deny(Denial),
}

/// Decides whether `req` may be processed under `config`.
pub fn decide<'a>(config: &'a AclConfig, req: &Request<'_>) -> Decision<'a> {
    if config
        .global_white_remote_addresses()
        .iter()
        .any(|p| p.matches(req.remote))
    {
        return Decision::Allow(Grant::GlobalWhiteAddress);
    }
    let Some(access_key) = req.fields.get(ACCESS_KEY) else {
        return deny(
            DenyReason::NoAccessKey,
            "ACL: this server requires credentials and the request has no AccessKey; give the \
             client an AclClientRPCHook(new SessionCredentials(accessKey, secretKey))"
                .to_owned(),
        );
    };
    let account = config.account(access_key);
    if let Some(a) = account.filter(|a| a.white_remote_address.matches(req.remote)) {
        return Decision::Allow(Grant::WhiteAddress(a));
    }
    let Some(presented) = req.fields.get(SIGNATURE) else {
        return deny(
            DenyReason::NoSignature,
            format!(
                "ACL: the request has AccessKey {access_key:?} but no Signature; sign every \
                 request with AclClientRPCHook"
            ),
        );
    };
    let content = signature::content_to_verify(req.fields.iter(), req.body, req.version);
    let account = match account {
        Some(a) if signature::verify(&content, &a.secret_key, presented) => a,
        _ => {
            return deny(
                DenyReason::BadCredentials,
                format!(
                    "ACL: signature check failed for AccessKey {access_key:?}: the accessKey is \
                     not known here or the request was not signed with its secretKey; check the \
                     client's credentials"
                ),
            );
        }
    };
    match authorize(account, req) {
        Ok(()) => Decision::Allow(Grant::Signed(account)),
        Err(denial) => Decision::Deny(denial),
    }
}

fn deny<'a>(reason: DenyReason, remark: String) -> Decision<'a> {
    Decision::Deny(Denial::new(reason, remark))
}

/// Steps 5 to 7: the authenticated account's permissions.
fn authorize(account: &Account, req: &Request<'_>) -> Result<(), Denial> {
    if account.admin {
        return Ok(());
    }
    let ak = &account.access_key;
    if resource::is_admin_only(req.code) {
        let name = request_code::name(req.code);
        return Err(Denial::new(
            DenyReason::AdminOnly,
            format!(
                "ACL: request code {} ({name}) needs an admin account and AccessKey {ak:?} is \
                 not one; use an account with admin: true",
                req.code
            ),
        ));
    }
    let needs = resource::needs(req.code, req.fields, req.body)
        .map_err(|e| Denial::new(DenyReason::BadBody, format!("ACL: {e}")))?;
    for Need { resource, perm } in &needs {
        if *perm == Perm::PUB && *resource == Resource::Topic(TRACE_TOPIC.to_owned()) {
            continue;
        }
        let (owned, listed) = account.perm_for(resource);
        if owned.grants(*perm) {
            continue;
        }
        let (list, how) = match (resource, listed) {
            (Resource::Topic(_), true) => ("topicPerms", "listed"),
            (Resource::Topic(_), false) => ("topicPerms", "default topic"),
            (Resource::Group(_), true) => ("groupPerms", "listed"),
            (Resource::Group(_), false) => ("groupPerms", "default group"),
        };
        let need = if *perm == Perm::ANY {
            "PUB or SUB".to_owned()
        } else {
            perm.to_string()
        };
        return Err(Denial::new(
            DenyReason::NoPermission,
            format!(
                "ACL: AccessKey {ak:?} lacks {need} on {resource} (its {how} permission is \
                 {owned}); grant it in the account's {list}"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
