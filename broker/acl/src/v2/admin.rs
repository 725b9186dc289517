//! The ACL 2.0 administration requests `mqadmin` sends (`AUTH_CREATE_USER` 3001 …
//! `AUTH_LIST_ACL` 3010), applied to an [`AuthStore`]: header fields and bodies as Java's
//! `AdminBrokerProcessor` reads them, answers as it gives them (`getUser` of an unknown user
//! and `getAcl` of a user without an ACL: success without a body; `deleteUser` of an unknown
//! user: success). Errors in the request answer `INVALID_PARAMETER`, conflicts with the
//! stored users and ACLs `NO_PERMISSION` (Java's code for them), each with a remark saying
//! what to fix. The caller has checked that a super user sent the request, and persists the
//! store when [`Reply::changed`].

use crate::v2::json::{self, AclInfo, UserInfo};
use crate::v2::model::parse_subject;
use crate::v2::store::AuthStore;
use rmq_protocol::{ExtFields, response_code};

/// `AUTH_CREATE_USER`.
pub const CREATE_USER: i32 = 3001;
/// `AUTH_UPDATE_USER`.
pub const UPDATE_USER: i32 = 3002;
/// `AUTH_DELETE_USER`.
pub const DELETE_USER: i32 = 3003;
/// `AUTH_GET_USER`.
pub const GET_USER: i32 = 3004;
/// `AUTH_LIST_USER`.
pub const LIST_USER: i32 = 3005;
/// `AUTH_CREATE_ACL`.
pub const CREATE_ACL: i32 = 3006;
/// `AUTH_UPDATE_ACL`.
pub const UPDATE_ACL: i32 = 3007;
/// `AUTH_DELETE_ACL`.
pub const DELETE_ACL: i32 = 3008;
/// `AUTH_GET_ACL`.
pub const GET_ACL: i32 = 3009;
/// `AUTH_LIST_ACL`.
pub const LIST_ACL: i32 = 3010;

/// The answer to one administration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Response code.
    pub code: i32,
    /// Response remark (errors only).
    pub remark: Option<String>,
    /// Response body (JSON), empty when none.
    pub body: Vec<u8>,
    /// Whether the store changed and must be persisted before answering.
    pub changed: bool,
}

impl Reply {
    fn ok(changed: bool) -> Self {
        Self {
            code: response_code::SUCCESS,
            remark: None,
            body: Vec::new(),
            changed,
        }
    }

    fn body(json: Vec<u8>) -> Self {
        Self {
            body: json,
            ..Self::ok(false)
        }
    }

    fn error(code: i32, remark: String) -> Self {
        Self {
            code,
            remark: Some(format!("ACL 2.0: {remark}")),
            body: Vec::new(),
            changed: false,
        }
    }
}

/// An error answering `INVALID_PARAMETER`.
fn invalid(remark: String) -> Reply {
    Reply::error(response_code::INVALID_PARAMETER, remark)
}

/// An error answering `NO_PERMISSION`.
fn conflict(remark: String) -> Reply {
    Reply::error(response_code::NO_PERMISSION, remark)
}

/// Applies request `code` (3001–3010) with `fields` and `body` to `store`.
pub fn handle(store: &mut AuthStore, code: i32, fields: &ExtFields, body: &[u8]) -> Reply {
    let result = match code {
        CREATE_USER | UPDATE_USER => put_user(store, code, fields, body),
        DELETE_USER => field(fields, "username").map(|u| Reply::ok(store.delete_user(u))),
        GET_USER => field(fields, "username").map(|u| match store.user(u) {
            Some(user) => Reply::body(to_json(&json::user_info(user))),
            None => Reply::ok(false),
        }),
        LIST_USER => Ok(list_users(store, fields.get("filter"))),
        CREATE_ACL | UPDATE_ACL => put_acl(store, fields, body),
        DELETE_ACL => delete_acl(store, fields),
        GET_ACL => get_acl(store, fields),
        LIST_ACL => Ok(list_acls(store, fields)),
        _ => Err(invalid(format!(
            "request code {code} is not an ACL 2.0 request"
        ))),
    };
    result.unwrap_or_else(|reply| reply)
}

/// A non-blank header field, else an `INVALID_PARAMETER` reply naming it.
fn field<'a>(fields: &'a ExtFields, name: &str) -> Result<&'a str, Reply> {
    fields
        .get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid(format!("the {name} is blank; give one")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "the body is not a {what} JSON object (line {} column {}); send it as mqadmin does",
            e.line(),
            e.column()
        ))
    })
}

fn put_user(
    store: &mut AuthStore,
    code: i32,
    fields: &ExtFields,
    body: &[u8],
) -> Result<Reply, Reply> {
    let username = field(fields, "username")?;
    let info: UserInfo = parse_body(body, "UserInfo")?;
    if code == CREATE_USER {
        let user = json::new_user(username, &info).map_err(invalid)?;
        store.create_user(user).map_err(conflict)?;
    } else {
        store.update_user(username, &info).map_err(conflict)?;
    }
    Ok(Reply::ok(true))
}

fn list_users(store: &AuthStore, filter: Option<&str>) -> Reply {
    let users: Vec<UserInfo> = store
        .list_users(filter)
        .into_iter()
        .map(json::user_info)
        .collect();
    if users.is_empty() {
        return Reply::ok(false);
    }
    Reply::body(to_json(&users))
}

fn put_acl(store: &mut AuthStore, fields: &ExtFields, body: &[u8]) -> Result<Reply, Reply> {
    let info: AclInfo = parse_body(body, "AclInfo")?;
    let acl = json::parse_acl(&info, fields.get("subject")).map_err(invalid)?;
    store.put_acl(acl).map_err(conflict)?;
    Ok(Reply::ok(true))
}

/// The username of the `subject` field, which must be `User:<name>` of an existing user.
fn subject_user<'a>(store: &AuthStore, fields: &'a ExtFields) -> Result<&'a str, Reply> {
    let subject = field(fields, "subject")?;
    let name = parse_subject(subject)
        .ok_or_else(|| invalid(format!("subject {subject:?} is not User:<username>")))?;
    if store.user(name).is_none() {
        return Err(conflict(format!("subject {subject:?} does not exist")));
    }
    Ok(name)
}

fn delete_acl(store: &mut AuthStore, fields: &ExtFields) -> Result<Reply, Reply> {
    let name = subject_user(store, fields)?;
    let policy_type = json::parse_policy_type(fields.get("policyType")).map_err(invalid)?;
    let resource = match fields
        .get("resource")
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(r) => Some(json::parse_resource(r).map_err(invalid)?),
        None => None,
    };
    store
        .delete_acl(name, policy_type, resource.as_ref())
        .map_err(conflict)?;
    Ok(Reply::ok(true))
}

fn get_acl(store: &AuthStore, fields: &ExtFields) -> Result<Reply, Reply> {
    let name = subject_user(store, fields)?;
    Ok(match store.acl(name) {
        Some(acl) => Reply::body(to_json(&json::acl_info(acl))),
        None => Reply::ok(false),
    })
}

fn list_acls(store: &AuthStore, fields: &ExtFields) -> Reply {
    let acls: Vec<AclInfo> = store
        .list_acls(fields.get("subjectFilter"), fields.get("resourceFilter"))
        .iter()
        .map(json::acl_info)
        .collect();
    if acls.is_empty() {
        return Reply::ok(false);
    }
    Reply::body(to_json(&acls))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        let mut f = ExtFields::new();
        for (k, v) in pairs {
            f.insert(k, v);
        }
        f
    }

    fn call(s: &mut AuthStore, code: i32, f: &[(&str, &str)], body: &str) -> Reply {
        handle(s, code, &fields(f), body.as_bytes())
    }

    #[test]
    fn the_mqadmin_sequence() {
        let mut s = AuthStore::default();
        let r = call(
            &mut s,
            CREATE_USER,
            &[("username", "alice")],
            r#"{"username":"alice","password":"pw-1","userType":"Normal"}"#,
        );
        assert_eq!((r.code, r.changed), (0, true));
        let r = call(
            &mut s,
            CREATE_USER,
            &[("username", "alice")],
            r#"{"password":"x"}"#,
        );
        assert_eq!(r.code, response_code::NO_PERMISSION);
        let r = call(
            &mut s,
            CREATE_USER,
            &[("username", "bob")],
            r#"{"userType":"Normal"}"#,
        );
        assert_eq!(r.code, response_code::INVALID_PARAMETER);
        assert!(r.remark.unwrap_or_default().contains("password"));
        let r = call(&mut s, GET_USER, &[("username", "alice")], "");
        let body = String::from_utf8(r.body).expect("utf8");
        assert!(body.contains(r#""userStatus":"enable""#), "{body}");
        assert_eq!(call(&mut s, GET_USER, &[("username", "zed")], "").body, b"");
        let acl = r#"{"subject":"User:alice","policies":[{"entries":[{"resource":"Topic:t","actions":["Pub"],"decision":"Allow"}]}]}"#;
        assert_eq!(
            call(&mut s, CREATE_ACL, &[("subject", "User:alice")], acl).code,
            0
        );
        let r = call(
            &mut s,
            CREATE_ACL,
            &[("subject", "User:zed")],
            &acl.replace("alice", "zed"),
        );
        assert_eq!(r.code, response_code::NO_PERMISSION);
        let r = call(&mut s, GET_ACL, &[("subject", "User:alice")], "");
        assert!(String::from_utf8_lossy(&r.body).contains("Topic:t"));
        let r = call(&mut s, LIST_ACL, &[("resourceFilter", "Group")], "");
        assert_eq!((r.code, r.body.len()), (0, 0));
        let r = call(&mut s, LIST_USER, &[], "");
        assert!(String::from_utf8_lossy(&r.body).starts_with('['));
        let del = [("subject", "User:alice"), ("resource", "Topic:t")];
        assert_eq!(call(&mut s, DELETE_ACL, &del, "").code, 0);
        assert!(s.acl("alice").is_none());
        assert_eq!(
            call(&mut s, DELETE_ACL, &del, "").code,
            response_code::NO_PERMISSION
        );
        let r = call(
            &mut s,
            UPDATE_USER,
            &[("username", "alice")],
            r#"{"userStatus":"disable"}"#,
        );
        assert_eq!(r.code, 0);
        assert_eq!(
            call(&mut s, DELETE_USER, &[("username", "alice")], "").code,
            0
        );
        assert_eq!(s.user_count(), 0);
        let r = call(&mut s, CREATE_ACL, &[], "{not json");
        assert_eq!(r.code, response_code::INVALID_PARAMETER);
        assert_eq!(
            call(&mut s, GET_USER, &[], "").code,
            response_code::INVALID_PARAMETER
        );
    }
}
