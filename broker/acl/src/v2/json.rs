//! The JSON bodies of the ACL 2.0 administration requests, field for field as Java's
//! `UserInfo` and `AclInfo` (`PolicyInfo`, `PolicyEntryInfo`) serialize them, and their
//! conversion to and from the validated [`model`](crate::v2::model) types. Absent fields are
//! omitted, as fastjson omits nulls; unknown fields are ignored, as fastjson ignores them.

use crate::Secret;
use crate::v2::cidr::SourceIp;
use crate::v2::model::{
    Acl, Action, Decision, Policy, PolicyEntry, PolicyType, ResourcePattern, User, UserStatus,
    UserType, parse_subject, subject_of,
};
use serde::{Deserialize, Serialize};

/// A user as sent by `createUser`/`updateUser` and answered by `getUser`/`listUser`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// The username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `Super` or `Normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// `enable` or `disable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_status: Option<String>,
}

/// The ACL of one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AclInfo {
    /// `User:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<PolicyInfo>>,
}

/// One policy of an [`AclInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    /// `Custom` (when absent) or `Default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_type: Option<String>,
    /// Its entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<PolicyEntryInfo>>,
}

/// One entry of a [`PolicyInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyEntryInfo {
    /// `Topic:orders`, `Group:g*`, `Cluster:c`, `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `Pub`, `Sub`, `Create`, `Update`, `Delete`, `Get`, `List`, `All`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    /// Addresses or CIDR blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ips: Option<Vec<String>>,
    /// `Allow` or `Deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

/// The valid action names, for error messages.
const ACTIONS: &str = "Pub, Sub, Create, Update, Delete, Get, List or All";

/// The wire form of a user. The password is included, as Java answers it to `getUser` (which
/// only super users may call) and `mqadmin copyUsers` needs it.
pub fn user_info(u: &User) -> UserInfo {
    UserInfo {
        username: Some(u.username.clone()),
        password: Some(u.password.expose().to_owned()),
        user_type: Some(u.user_type.name().to_owned()),
        user_status: Some(u.status.name().to_owned()),
    }
}

/// Reads an optional `userType`; an unknown name is an error naming the valid ones.
pub fn parse_user_type(t: Option<&str>) -> Result<Option<UserType>, String> {
    match t.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => UserType::parse(t)
            .map(Some)
            .ok_or_else(|| format!("userType {t:?} is unknown; use Super or Normal")),
    }
}

/// Reads an optional `userStatus`; an unknown name is an error naming the valid ones.
pub fn parse_user_status(s: Option<&str>) -> Result<Option<UserStatus>, String> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => UserStatus::parse(s)
            .map(Some)
            .ok_or_else(|| format!("userStatus {s:?} is unknown; use enable or disable")),
    }
}

/// A new user from a `createUser` body (`username` from the header); the password is required,
/// type defaults to Normal and status to enable.
pub fn new_user(username: &str, info: &UserInfo) -> Result<User, String> {
    if username.trim().is_empty() {
        return Err("the username is blank; give one (mqadmin -u)".into());
    }
    let password = info.password.as_deref().unwrap_or("");
    if password.trim().is_empty() {
        return Err("the password is blank; give one (mqadmin -p)".into());
    }
    Ok(User {
        username: username.to_owned(),
        password: Secret::new(password),
        user_type: parse_user_type(info.user_type.as_deref())?.unwrap_or(UserType::Normal),
        status: parse_user_status(info.user_status.as_deref())?.unwrap_or(UserStatus::Enable),
    })
}

/// The wire form of an ACL.
pub fn acl_info(acl: &Acl) -> AclInfo {
    let policies = acl
        .policies
        .iter()
        .map(|p| PolicyInfo {
            policy_type: Some(p.policy_type.name().to_owned()),
            entries: Some(p.entries.iter().map(entry_info).collect()),
        })
        .collect();
    AclInfo {
        subject: Some(subject_of(&acl.username)),
        policies: Some(policies),
    }
}

fn entry_info(e: &PolicyEntry) -> PolicyEntryInfo {
    PolicyEntryInfo {
        resource: Some(e.resource.to_string()),
        actions: Some(e.actions.iter().map(|a| a.name().to_owned()).collect()),
        source_ips: (!e.source_ips.is_empty())
            .then(|| e.source_ips.iter().map(|s| s.as_str().to_owned()).collect()),
        decision: Some(e.decision.name().to_owned()),
    }
}

/// An ACL from a `createAcl`/`updateAcl` body; the body's subject, else `header_subject`.
/// Every policy needs entries, every entry a resource, actions and a decision.
pub fn parse_acl(info: &AclInfo, header_subject: Option<&str>) -> Result<Acl, String> {
    let subject = info
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .or(header_subject)
        .unwrap_or("");
    let username = parse_subject(subject).ok_or_else(|| {
        format!("subject {subject:?} is not a user; write User:<username> (mqadmin -s)")
    })?;
    let policies = info
        .policies
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or("the ACL has no policies; give at least one resource, action and decision")?;
    let policies = policies
        .iter()
        .map(parse_policy)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Acl {
        username: username.to_owned(),
        policies,
    })
}

/// Reads an optional `policyType` (absent: `Custom`).
pub fn parse_policy_type(t: Option<&str>) -> Result<PolicyType, String> {
    match t.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(PolicyType::Custom),
        Some(t) => PolicyType::parse(t)
            .ok_or_else(|| format!("policyType {t:?} is unknown; use Custom or Default")),
    }
}

/// Reads a resource pattern; the error says how to write one.
pub fn parse_resource(r: &str) -> Result<ResourcePattern, String> {
    ResourcePattern::parse(r).ok_or_else(|| {
        format!(
            "resource {r:?} is not valid; write Topic:<name>, Group:<name>, Cluster:<name>, a \
             prefix such as Topic:orders*, Topic:* or *"
        )
    })
}

fn parse_policy(p: &PolicyInfo) -> Result<Policy, String> {
    let policy_type = parse_policy_type(p.policy_type.as_deref())?;
    let entries = p
        .entries
        .as_deref()
        .filter(|e| !e.is_empty())
        .ok_or("a policy has no entries; give at least one resource")?;
    let entries = entries
        .iter()
        .map(parse_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let mut policy = Policy {
        policy_type,
        entries: Vec::new(),
    };
    policy.merge(entries);
    Ok(policy)
}

fn parse_entry(e: &PolicyEntryInfo) -> Result<PolicyEntry, String> {
    let resource = parse_resource(e.resource.as_deref().unwrap_or(""))?;
    let mut actions = Vec::new();
    for a in e.actions.iter().flatten() {
        let action = Action::parse(a)
            .ok_or_else(|| format!("action {a:?} on {resource} is unknown; use {ACTIONS}"))?;
        if !actions.contains(&action) {
            actions.push(action);
        }
    }
    if actions.is_empty() {
        return Err(format!(
            "no actions on {resource}; give {ACTIONS} (mqadmin -a)"
        ));
    }
    let source_ips = e
        .source_ips
        .iter()
        .flatten()
        .map(|s| SourceIp::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let decision = e.decision.as_deref().unwrap_or("");
    let decision = Decision::parse(decision).ok_or_else(|| {
        format!("decision {decision:?} on {resource} is not valid; use Allow or Deny (mqadmin -d)")
    })?;
    Ok(PolicyEntry {
        resource,
        actions,
        source_ips,
        decision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `mqadmin createAcl -s User:u -r Topic:t,Group:g -a Pub,Sub -i 10.0.0.0/8 -d Allow`
    /// sends (fastjson field order, `policyType` absent).
    const MQADMIN_ACL: &str = r#"{"policies":[{"entries":[{"actions":["Pub","Sub"],"decision":"Allow","resource":"Topic:t","sourceIps":["10.0.0.0/8"]},{"actions":["Pub","Sub"],"decision":"Allow","resource":"Group:g","sourceIps":["10.0.0.0/8"]}]}],"subject":"User:u"}"#;

    #[test]
    fn mqadmin_bodies_round_trip() {
        let info: AclInfo = serde_json::from_slice(MQADMIN_ACL.as_bytes()).expect("json");
        let acl = parse_acl(&info, None).expect("valid");
        assert_eq!(acl.username, "u");
        assert_eq!(acl.policies[0].policy_type, PolicyType::Custom);
        assert_eq!(acl.policies[0].entries.len(), 2);
        let back = serde_json::to_string(&acl_info(&acl)).expect("json");
        assert!(back.contains(r#""policyType":"Custom""#), "{back}");
        assert!(back.contains(r#""sourceIps":["10.0.0.0/8"]"#), "{back}");
        assert!(back.contains(r#""subject":"User:u""#), "{back}");
        let user: UserInfo =
            serde_json::from_str(r#"{"password":"pw","userType":"Normal","other":1}"#)
                .expect("json");
        let u = new_user("bob", &user).expect("user");
        assert_eq!(
            (u.user_type, u.status),
            (UserType::Normal, UserStatus::Enable)
        );
        let out = serde_json::to_string(&user_info(&u)).expect("json");
        assert_eq!(
            out,
            r#"{"username":"bob","password":"pw","userType":"Normal","userStatus":"enable"}"#
        );
    }

    #[test]
    fn invalid_bodies_say_what_is_wrong() {
        let bad = |json: &str, says: &str| {
            let info: AclInfo = serde_json::from_str(json).expect("json");
            let e = parse_acl(&info, Some("User:u")).expect_err(json);
            assert!(e.contains(says), "{json}: {e}");
        };
        bad(r#"{"policies":[]}"#, "no policies");
        bad(r#"{"subject":"Role:x","policies":[]}"#, "not a user");
        bad(r#"{"policies":[{"entries":[]}]}"#, "no entries");
        let entry = |e: &str| format!(r#"{{"policies":[{{"entries":[{e}]}}]}}"#);
        bad(
            &entry(r#"{"resource":"Queue:q","actions":["Pub"],"decision":"Allow"}"#),
            "Topic:",
        );
        bad(
            &entry(r#"{"resource":"Topic:t","actions":["Fly"],"decision":"Allow"}"#),
            "Fly",
        );
        bad(
            &entry(r#"{"resource":"Topic:t","actions":[],"decision":"Allow"}"#),
            "no actions",
        );
        bad(
            &entry(r#"{"resource":"Topic:t","actions":["Pub"],"decision":"Maybe"}"#),
            "Allow",
        );
        bad(
            &entry(
                r#"{"resource":"Topic:t","actions":["Pub"],"decision":"Allow","sourceIps":["x"]}"#,
            ),
            "source IP",
        );
        assert!(new_user("", &UserInfo::default()).is_err());
        let no_pw = UserInfo::default();
        assert!(
            new_user("bob", &no_pw)
                .expect_err("pw")
                .contains("password")
        );
        let bad_type = UserInfo {
            password: Some("pw".into()),
            user_type: Some("Root".into()),
            ..UserInfo::default()
        };
        assert!(
            new_user("bob", &bad_type)
                .expect_err("type")
                .contains("Super or Normal")
        );
    }
}
