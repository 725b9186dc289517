//! The users and ACLs of a broker ([`AuthStore`]): the operations behind `createUser` …
//! `listAcl` with Java's semantics (an ACL is for an existing user; creating or updating an
//! ACL merges its entries into the subject's; deleting a user deletes its ACL), and the file
//! they are kept in (`auth.json`: `{"version":1,"users":[UserInfo…],"acls":[AclInfo…]}`, the
//! request bodies' shapes). Pure: reading and writing the file is the gate's.

use crate::Secret;
use crate::v2::json::{self, AclInfo, UserInfo};
use crate::v2::model::{Acl, PolicyType, ResourcePattern, User, UserStatus, UserType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Users by name and their ACLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthStore {
    users: BTreeMap<String, User>,
    acls: BTreeMap<String, Acl>,
}

/// The file's layout.
#[derive(Serialize, Deserialize)]
struct AuthFile {
    version: u32,
    #[serde(default)]
    users: Vec<UserInfo>,
    #[serde(default)]
    acls: Vec<AclInfo>,
}

/// The one file version written so far.
const FILE_VERSION: u32 = 1;

impl AuthStore {
    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// The ACL of user `name`.
    pub fn acl(&self, name: &str) -> Option<&Acl> {
        self.acls.get(name)
    }

    /// How many users there are.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// How many ACLs there are.
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }

    /// Adds a user; refused when the name is taken.
    pub fn create_user(&mut self, user: User) -> Result<(), String> {
        if self.users.contains_key(&user.username) {
            return Err(format!(
                "user {:?} already exists; use updateUser to change it",
                user.username
            ));
        }
        self.users.insert(user.username.clone(), user);
        Ok(())
    }

    /// Changes the given fields of user `name` (a blank password keeps the old one).
    pub fn update_user(&mut self, name: &str, info: &UserInfo) -> Result<(), String> {
        let user_type = json::parse_user_type(info.user_type.as_deref())?;
        let status = json::parse_user_status(info.user_status.as_deref())?;
        let user = self
            .users
            .get_mut(name)
            .ok_or_else(|| format!("user {name:?} does not exist; create it with createUser"))?;
        if let Some(p) = info.password.as_deref().filter(|p| !p.trim().is_empty()) {
            user.password = Secret::new(p);
        }
        if let Some(t) = user_type {
            user.user_type = t;
        }
        if let Some(s) = status {
            user.status = s;
        }
        Ok(())
    }

    /// Removes user `name` and its ACL; whether there was such a user.
    pub fn delete_user(&mut self, name: &str) -> bool {
        self.acls.remove(name);
        self.users.remove(name).is_some()
    }

    /// The users whose name contains `filter` (all when blank), by name.
    pub fn list_users(&self, filter: Option<&str>) -> Vec<&User> {
        let filter = filter.map(str::trim).unwrap_or("");
        self.users
            .values()
            .filter(|u| u.username.contains(filter))
            .collect()
    }

    /// Creates the ACL of its user or merges it into the existing one (Java's `createAcl` and
    /// `updateAcl` do the same); the user must exist.
    pub fn put_acl(&mut self, acl: Acl) -> Result<(), String> {
        if !self.users.contains_key(&acl.username) {
            return Err(format!(
                "user {:?} does not exist; create it with createUser before its ACL",
                acl.username
            ));
        }
        match self.acls.get_mut(&acl.username) {
            Some(old) => old.merge(acl.policies),
            None => {
                self.acls.insert(acl.username.clone(), acl);
            }
        }
        Ok(())
    }

    /// Deletes the entry of `resource` from the `policy_type` policy of user `name`, or the
    /// whole ACL when `resource` is `None` (or nothing is left).
    pub fn delete_acl(
        &mut self,
        name: &str,
        policy_type: PolicyType,
        resource: Option<&ResourcePattern>,
    ) -> Result<(), String> {
        let acl = self
            .acls
            .get_mut(name)
            .ok_or_else(|| format!("user {name:?} has no ACL"))?;
        if let Some(r) = resource {
            acl.remove_entry(policy_type, r);
        }
        if resource.is_none() || acl.policies.is_empty() {
            self.acls.remove(name);
        }
        Ok(())
    }

    /// The ACLs whose subject contains `subject_filter`, keeping only the entries whose
    /// resource contains `resource_filter` (unless the subject does); both ignored when blank.
    pub fn list_acls(
        &self,
        subject_filter: Option<&str>,
        resource_filter: Option<&str>,
    ) -> Vec<Acl> {
        let sf = subject_filter.map(str::trim).unwrap_or("");
        let rf = resource_filter.map(str::trim).unwrap_or("");
        let mut out = Vec::new();
        for acl in self.acls.values() {
            let subject = crate::v2::model::subject_of(&acl.username);
            if !subject.contains(sf) {
                continue;
            }
            let mut acl = acl.clone();
            if !rf.is_empty() && !subject.contains(rf) {
                for p in &mut acl.policies {
                    p.entries.retain(|e| e.resource.to_string().contains(rf));
                }
                acl.policies.retain(|p| !p.entries.is_empty());
            }
            if !acl.policies.is_empty() {
                out.push(acl);
            }
        }
        out
    }

    /// Creates super user `name` unless a user of that name exists (`initAuthenticationUser`,
    /// `innerClientAuthenticationCredentials`); whether it was created.
    pub fn ensure_super_user(&mut self, name: &str, password: &Secret) -> bool {
        if self.users.contains_key(name) {
            return false;
        }
        self.users.insert(
            name.to_owned(),
            User {
                username: name.to_owned(),
                password: password.clone(),
                user_type: UserType::Super,
                status: UserStatus::Enable,
            },
        );
        true
    }

    /// The file's content (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let file = AuthFile {
            version: FILE_VERSION,
            users: self.users.values().map(json::user_info).collect(),
            acls: self.acls.values().map(json::acl_info).collect(),
        };
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    /// Reads the file's content; the error names the user or ACL that is invalid (never a
    /// password).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let file: AuthFile = serde_json::from_slice(bytes)
            .map_err(|e| format!("not valid JSON at line {} column {}", e.line(), e.column()))?;
        if file.version != FILE_VERSION {
            return Err(format!(
                "version {} is not known (this rmq writes {FILE_VERSION}); was it written by a \
                 newer rmq?",
                file.version
            ));
        }
        let mut store = AuthStore::default();
        for (i, info) in file.users.iter().enumerate() {
            let name = info.username.as_deref().unwrap_or("");
            let user = json::new_user(name, info).map_err(|e| format!("users[{i}]: {e}"))?;
            store
                .create_user(user)
                .map_err(|e| format!("users[{i}]: {e}"))?;
        }
        for (i, info) in file.acls.iter().enumerate() {
            let acl = json::parse_acl(info, None).map_err(|e| format!("acls[{i}]: {e}"))?;
            store.put_acl(acl).map_err(|e| format!("acls[{i}]: {e}"))?;
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v2::json::{PolicyEntryInfo, PolicyInfo};

    fn user(name: &str) -> User {
        json::new_user(
            name,
            &UserInfo {
                password: Some(format!("{name}-password")),
                ..UserInfo::default()
            },
        )
        .expect("user")
    }

    fn acl(name: &str, resource: &str, actions: &[&str], decision: &str) -> Acl {
        let info = AclInfo {
            subject: Some(format!("User:{name}")),
            policies: Some(vec![PolicyInfo {
                policy_type: None,
                entries: Some(vec![PolicyEntryInfo {
                    resource: Some(resource.into()),
                    actions: Some(actions.iter().map(|a| (*a).to_owned()).collect()),
                    source_ips: None,
                    decision: Some(decision.into()),
                }]),
            }]),
        };
        json::parse_acl(&info, None).expect("acl")
    }

    #[test]
    fn users_and_acls_follow_java_rules_and_survive_the_file() {
        let mut s = AuthStore::default();
        assert!(s.ensure_super_user("root", &Secret::new("root-pw")));
        assert!(!s.ensure_super_user("root", &Secret::new("other")));
        s.create_user(user("alice")).expect("create");
        assert!(
            s.create_user(user("alice"))
                .expect_err("dup")
                .contains("exists")
        );
        assert!(
            s.put_acl(acl("nobody", "Topic:t", &["Pub"], "Allow"))
                .is_err()
        );
        s.put_acl(acl("alice", "Topic:t", &["Pub"], "Allow"))
            .expect("acl");
        s.put_acl(acl("alice", "Group:g", &["Sub"], "Allow"))
            .expect("merge");
        s.put_acl(acl("alice", "Topic:t", &["Sub"], "Deny"))
            .expect("replace");
        let entries = &s.acl("alice").expect("acl").policies[0].entries;
        assert_eq!(entries.len(), 2);
        assert_eq!(s.list_acls(Some("ali"), Some("Group")).len(), 1);
        assert_eq!(
            s.list_acls(None, Some("Group"))[0].policies[0]
                .entries
                .len(),
            1
        );
        assert!(s.list_acls(Some("bob"), None).is_empty());
        let disable = UserInfo {
            user_status: Some("disable".into()),
            ..UserInfo::default()
        };
        s.update_user("alice", &disable).expect("update");
        assert_eq!(s.user("alice").expect("u").status, UserStatus::Disable);
        assert_eq!(
            s.user("alice").expect("u").password.expose(),
            "alice-password"
        );
        assert!(s.update_user("bob", &disable).is_err());
        assert_eq!(s.list_users(Some("li")).len(), 1);
        assert_eq!(s.list_users(None).len(), 2);

        let back = AuthStore::from_json(&s.to_json()).expect("reads back");
        assert_eq!(back, s);

        let t = ResourcePattern::parse("Topic:t").expect("t");
        s.delete_acl("alice", PolicyType::Custom, Some(&t))
            .expect("entry");
        assert_eq!(s.acl("alice").expect("acl").policies[0].entries.len(), 1);
        s.delete_acl("alice", PolicyType::Custom, None)
            .expect("all");
        assert!(s.acl("alice").is_none());
        assert!(s.delete_acl("alice", PolicyType::Custom, None).is_err());
        s.put_acl(acl("alice", "Topic:t", &["Pub"], "Allow"))
            .expect("acl");
        assert!(s.delete_user("alice"));
        assert!(s.acl("alice").is_none() && !s.delete_user("alice"));
    }

    #[test]
    fn bad_files_are_refused_without_their_passwords() {
        assert!(
            AuthStore::from_json(b"{")
                .expect_err("json")
                .contains("line 1")
        );
        let e = AuthStore::from_json(br#"{"version":9}"#).expect_err("version");
        assert!(e.contains("version 9"), "{e}");
        let e = AuthStore::from_json(
            br#"{"version":1,"users":[{"username":"a","password":"s3cr3t","userType":"Boss"}]}"#,
        )
        .expect_err("type");
        assert!(e.contains("users[0]") && !e.contains("s3cr3t"), "{e}");
        assert_eq!(
            AuthStore::from_json(br#"{"version":1}"#).expect("empty"),
            AuthStore::default()
        );
    }
}
