//! The ACL 2.0 model (RocketMQ 5.3 `auth` module): users, resources, actions, policy entries
//! and ACLs, with the names Java writes in its JSON bodies and `mqadmin` options (`Super`,
//! `enable`, `Topic:orders`, `Pub`, `Allow`, `Custom`), matched case-insensitively as Java does.

use crate::Secret;
use crate::v2::cidr::SourceIp;
use std::fmt;

/// A user's kind: super users bypass authorization and may manage users and ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    /// `Super`.
    Super,
    /// `Normal` (the default).
    Normal,
}

/// Whether a user may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// `enable` (the default).
    Enable,
    /// `disable`: every request signed by the user is refused.
    Disable,
}

/// One user: the `accessKey` (username) and `secretKey` (password) a client signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The username (the client's accessKey).
    pub username: String,
    /// The password (the client's secretKey); never printed by `Debug`.
    pub password: Secret,
    /// Super or normal.
    pub user_type: UserType,
    /// Enabled or disabled.
    pub status: UserStatus,
}

impl User {
    /// Whether the user bypasses authorization.
    pub fn is_super(&self) -> bool {
        self.user_type == UserType::Super
    }
}

/// What a policy entry or a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// `Cluster:<name>`: broker-wide administration.
    Cluster,
    /// `Namespace:<name>` (accepted and stored; no remoting request names one).
    Namespace,
    /// `Topic:<name>`.
    Topic,
    /// `Group:<name>` (a consumer group).
    Group,
}

/// How an entry's resource name matches a request's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourcePattern {
    /// `*` alone: every resource of every type.
    Any,
    /// `Topic:*`: every resource of the type.
    AllOfType(ResourceType),
    /// `Topic:order*`: names starting with the prefix.
    Prefixed(ResourceType, String),
    /// `Topic:orders`: exactly that name.
    Literal(ResourceType, String),
}

/// A resource a request touches (always one literal name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// Its type.
    pub kind: ResourceType,
    /// Its name.
    pub name: String,
}

/// An action on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// `All`: every action (entries only).
    All,
    /// `Pub`: send to a topic.
    Pub,
    /// `Sub`: consume a topic, or act as a consumer group.
    Sub,
    /// `Create` a topic or group.
    Create,
    /// `Update` offsets, configuration, users, ACLs.
    Update,
    /// `Delete` a topic or group.
    Delete,
    /// `Get`: read one thing (offsets, route, stats).
    Get,
    /// `List` things.
    List,
}

/// What an entry decides when it is the one that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// `Allow`.
    Allow,
    /// `Deny`.
    Deny,
}

/// A policy's kind: `Custom` entries are looked at first, `Default` ones only when no custom
/// entry matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    /// `Custom` (what `mqadmin createAcl` writes).
    Custom,
    /// `Default`.
    Default,
}

/// One entry: on `resource`, `actions` are `decision` for requests from `source_ips` (any
/// address when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    /// The resources it covers.
    pub resource: ResourcePattern,
    /// The actions it covers (never empty).
    pub actions: Vec<Action>,
    /// The client addresses it covers; empty: all.
    pub source_ips: Vec<SourceIp>,
    /// Allow or deny.
    pub decision: Decision,
}

/// The entries of one policy type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Custom or default.
    pub policy_type: PolicyType,
    /// Its entries, at most one per resource pattern.
    pub entries: Vec<PolicyEntry>,
}

/// The policies of one subject (`User:<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// The username of `User:<name>`.
    pub username: String,
    /// At most one policy per type.
    pub policies: Vec<Policy>,
}

/// The prefix of a subject naming a user.
pub const USER_SUBJECT_PREFIX: &str = "User:";

/// The username of a subject `User:<name>` (type matched case-insensitively); `None` for other
/// subjects or an empty name.
pub fn parse_subject(subject: &str) -> Option<&str> {
    let (kind, name) = subject.trim().split_once(':')?;
    (kind.eq_ignore_ascii_case("User") && !name.is_empty()).then_some(name)
}

/// The subject key of a username.
pub fn subject_of(username: &str) -> String {
    format!("{USER_SUBJECT_PREFIX}{username}")
}

macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Parses Java's name (case-insensitive); `None` when unknown.
            pub fn parse(text: &str) -> Option<Self> {
                let text = text.trim();
                $(if text.eq_ignore_ascii_case($name) { return Some($ty::$variant); })+
                None
            }
            /// Java's name.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

names!(UserType { Super => "Super", Normal => "Normal" });
names!(UserStatus { Enable => "enable", Disable => "disable" });
names!(ResourceType {
    Cluster => "Cluster",
    Namespace => "Namespace",
    Topic => "Topic",
    Group => "Group",
});
names!(Action {
    All => "All",
    Pub => "Pub",
    Sub => "Sub",
    Create => "Create",
    Update => "Update",
    Delete => "Delete",
    Get => "Get",
    List => "List",
});
names!(Decision { Allow => "Allow", Deny => "Deny" });
names!(PolicyType { Custom => "Custom", Default => "Default" });

impl ResourcePattern {
    /// Parses `*`, `Type:*`, `Type:prefix*` or `Type:name`; `None` when the type is unknown or
    /// the name empty.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text == "*" {
            return Some(ResourcePattern::Any);
        }
        let (kind, name) = text.split_once(':')?;
        let kind = ResourceType::parse(kind)?;
        Some(match name {
            "" => return None,
            "*" => ResourcePattern::AllOfType(kind),
            _ => match name.strip_suffix('*') {
                Some(prefix) => ResourcePattern::Prefixed(kind, prefix.to_owned()),
                None => ResourcePattern::Literal(kind, name.to_owned()),
            },
        })
    }

    /// Whether the pattern covers `r`.
    pub fn matches(&self, r: &Resource) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::AllOfType(k) => *k == r.kind,
            ResourcePattern::Prefixed(k, p) => *k == r.kind && r.name.starts_with(p.as_str()),
            ResourcePattern::Literal(k, n) => *k == r.kind && r.name == *n,
        }
    }

    /// How specific the pattern is: the entry with the highest rank among those that match
    /// decides (a literal name over a prefix, a longer prefix over a shorter one, a prefix over
    /// `Type:*`, and anything over `*`).
    pub fn specificity(&self) -> (u8, usize) {
        match self {
            ResourcePattern::Any => (0, 0),
            ResourcePattern::AllOfType(_) => (1, 0),
            ResourcePattern::Prefixed(_, p) => (2, p.len()),
            ResourcePattern::Literal(..) => (3, 0),
        }
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourcePattern::Any => f.write_str("*"),
            ResourcePattern::AllOfType(k) => write!(f, "{k}:*"),
            ResourcePattern::Prefixed(k, p) => write!(f, "{k}:{p}*"),
            ResourcePattern::Literal(k, n) => write!(f, "{k}:{n}"),
        }
    }
}

impl Resource {
    /// A topic.
    pub fn topic(name: &str) -> Self {
        Self {
            kind: ResourceType::Topic,
            name: name.to_owned(),
        }
    }

    /// A consumer group.
    pub fn group(name: &str) -> Self {
        Self {
            kind: ResourceType::Group,
            name: name.to_owned(),
        }
    }

    /// A cluster.
    pub fn cluster(name: &str) -> Self {
        Self {
            kind: ResourceType::Cluster,
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

impl PolicyEntry {
    /// Whether the entry covers one of `wanted` (`All` covers every action).
    pub fn covers_action(&self, wanted: &[Action]) -> bool {
        self.actions.contains(&Action::All) || wanted.iter().any(|a| self.actions.contains(a))
    }

    /// Whether the entry covers a request from `ip` (no addresses listed: every address).
    pub fn covers_ip(&self, ip: std::net::IpAddr) -> bool {
        self.source_ips.is_empty() || self.source_ips.iter().any(|s| s.contains(ip))
    }
}

impl Policy {
    /// Adds `entries`, replacing the entry of the same resource pattern (Java's `updateEntry`).
    pub fn merge(&mut self, entries: Vec<PolicyEntry>) {
        for e in entries {
            match self.entries.iter_mut().find(|o| o.resource == e.resource) {
                Some(old) => *old = e,
                None => self.entries.push(e),
            }
        }
    }
}

impl Acl {
    /// The policy of `t`, if any.
    pub fn policy(&self, t: PolicyType) -> Option<&Policy> {
        self.policies.iter().find(|p| p.policy_type == t)
    }

    /// Merges `policies` into this ACL: entries of an existing policy type are added or replace
    /// the entry of the same resource; new types are added.
    pub fn merge(&mut self, policies: Vec<Policy>) {
        for p in policies {
            match self
                .policies
                .iter_mut()
                .find(|o| o.policy_type == p.policy_type)
            {
                Some(old) => old.merge(p.entries),
                None => self.policies.push(p),
            }
        }
    }

    /// Removes the entry of `resource` from the policy of `t`, and the policy when it is left
    /// empty.
    pub fn remove_entry(&mut self, t: PolicyType, resource: &ResourcePattern) {
        for p in self.policies.iter_mut().filter(|p| p.policy_type == t) {
            p.entries.retain(|e| e.resource != *resource);
        }
        self.policies.retain(|p| !p.entries.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_insensitively_and_print_as_java() {
        assert_eq!(UserType::parse("super"), Some(UserType::Super));
        assert_eq!(UserStatus::parse("Disable"), Some(UserStatus::Disable));
        assert_eq!(Action::parse(" pub "), Some(Action::Pub));
        assert_eq!(Action::parse("Any"), None);
        assert_eq!(Decision::parse("DENY").map(|d| d.name()), Some("Deny"));
        assert_eq!(UserStatus::Enable.to_string(), "enable");
        assert_eq!(parse_subject("User:alice"), Some("alice"));
        assert_eq!(parse_subject("user:alice"), Some("alice"));
        assert_eq!(parse_subject("Role:alice"), None);
        assert_eq!(parse_subject("User:"), None);
    }

    #[test]
    fn resource_patterns_parse_print_and_match() {
        for text in [
            "*",
            "Topic:*",
            "Topic:ord*",
            "Group:g1",
            "Cluster:DefaultCluster",
        ] {
            let p = ResourcePattern::parse(text).expect(text);
            assert_eq!(p.to_string(), text);
        }
        assert_eq!(ResourcePattern::parse("Queue:x"), None);
        assert_eq!(ResourcePattern::parse("Topic:"), None);
        assert_eq!(ResourcePattern::parse("orders"), None);
        let orders = Resource::topic("orders");
        let m = |t: &str| ResourcePattern::parse(t).expect(t).matches(&orders);
        assert!(m("*") && m("Topic:*") && m("Topic:ord*") && m("Topic:orders"));
        assert!(!m("Group:*") && !m("Topic:order") && !m("Topic:orders2*") && !m("Group:orders"));
        let spec = |t: &str| ResourcePattern::parse(t).expect(t).specificity();
        assert!(spec("Topic:orders") > spec("Topic:order*"));
        assert!(spec("Topic:order*") > spec("Topic:ord*"));
        assert!(spec("Topic:o*") > spec("Topic:*"));
        assert!(spec("Topic:*") > spec("*"));
    }

    fn entry(resource: &str, actions: &[Action], decision: Decision) -> PolicyEntry {
        PolicyEntry {
            resource: ResourcePattern::parse(resource).expect(resource),
            actions: actions.to_vec(),
            source_ips: vec![],
            decision,
        }
    }

    #[test]
    fn acls_merge_and_remove_entries_like_java() {
        let mut acl = Acl {
            username: "u".into(),
            policies: vec![Policy {
                policy_type: PolicyType::Custom,
                entries: vec![entry("Topic:t", &[Action::Pub], Decision::Allow)],
            }],
        };
        acl.merge(vec![Policy {
            policy_type: PolicyType::Custom,
            entries: vec![
                entry("Topic:t", &[Action::Sub], Decision::Deny),
                entry("Group:g", &[Action::Sub], Decision::Allow),
            ],
        }]);
        let custom = acl.policy(PolicyType::Custom).expect("custom");
        assert_eq!(custom.entries.len(), 2);
        assert_eq!(custom.entries[0].decision, Decision::Deny);
        let t = ResourcePattern::parse("Topic:t").expect("t");
        let g = ResourcePattern::parse("Group:g").expect("g");
        acl.remove_entry(PolicyType::Custom, &t);
        assert_eq!(acl.policies[0].entries.len(), 1);
        acl.remove_entry(PolicyType::Custom, &g);
        assert!(acl.policies.is_empty());
        assert!(entry("*", &[Action::All], Decision::Allow).covers_action(&[Action::Get]));
        assert!(!entry("*", &[Action::Pub], Decision::Allow).covers_action(&[Action::Sub]));
    }
}
