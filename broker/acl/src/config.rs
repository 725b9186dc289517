//! The `plain_acl.yml` model (ACL 1.0): global white addresses and accounts with their
//! permissions, validated with errors that name the account, the item and the line.
//!
//! ```yaml
//! globalWhiteRemoteAddresses: [10.10.103.*]     # no credentials needed from these
//! accounts:
//!   - accessKey: RocketMQ                       # at least 7 characters
//!     secretKey: "12345678"                     # at least 7 characters
//!     whiteRemoteAddress: 192.168.1.*           # optional; see below
//!     admin: false                              # admins may do anything
//!     defaultTopicPerm: DENY                    # DENY (when absent), PUB, SUB, PUB|SUB
//!     defaultGroupPerm: SUB
//!     topicPerms: [topicA=DENY, topicB=PUB|SUB]
//!     groupPerms: [groupA=DENY, groupB=SUB]
//! ```
//!
//! Requests from an account's `whiteRemoteAddress` that carry its `AccessKey` are let in
//! without a signature and without permission checks, as in Java.

use crate::ip::AddrPattern;
use crate::lines::{find_line, list_item_lines};
use crate::perm::Perm;
use crate::resource::{RETRY_PREFIX, Resource};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// Shortest accessKey and secretKey Java accepts (`length() <= 6` is refused).
pub const MIN_KEY_CHARS: usize = 7;

/// One account (`PlainAccessConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account name clients send as `AccessKey`.
    pub access_key: String,
    /// The shared secret requests are signed with.
    pub secret_key: Secret,
    /// Addresses from which this account's requests need no signature (blank: none).
    pub white_remote_address: AddrPattern,
    /// Admins pass every permission check, admin-only request codes included.
    pub admin: bool,
    /// Permission on topics not in `topic_perms`.
    pub default_topic_perm: Perm,
    /// Permission on groups not in `group_perms`.
    pub default_group_perm: Perm,
    /// Permission per topic.
    pub topic_perms: BTreeMap<String, Perm>,
    /// Permission per consumer group.
    pub group_perms: BTreeMap<String, Perm>,
}

impl Account {
    /// A non-admin account with DENY defaults and no white address.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: Secret::new(secret_key),
            white_remote_address: AddrPattern::default(),
            admin: false,
            default_topic_perm: Perm::DENY,
            default_group_perm: Perm::DENY,
            topic_perms: BTreeMap::new(),
            group_perms: BTreeMap::new(),
        }
    }

    /// The permission this account holds on `resource`, and whether it is listed explicitly
    /// (`false`: the default applies).
    pub fn perm_for(&self, resource: &Resource) -> (Perm, bool) {
        let (listed, default) = match resource {
            Resource::Topic(t) => (self.topic_perms.get(t), self.default_topic_perm),
            Resource::Group(g) => (self.group_perms.get(g), self.default_group_perm),
        };
        listed.map_or((default, false), |p| (*p, true))
    }
}

/// A validated ACL configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclConfig {
    global_white: Vec<AddrPattern>,
    accounts: Vec<Account>,
    index: HashMap<String, usize>,
}

impl AclConfig {
    /// Builds a configuration from parts; fails on a repeated accessKey.
    pub fn new(
        global_white: Vec<AddrPattern>,
        accounts: Vec<Account>,
    ) -> Result<Self, ConfigError> {
        let mut index = HashMap::new();
        let mut problems = Vec::new();
        for (i, a) in accounts.iter().enumerate() {
            if let Some(first) = index.insert(a.access_key.clone(), i) {
                problems.push(duplicate(i, &a.access_key, first, None));
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::new("ACL configuration", problems));
        }
        Ok(Self {
            global_white,
            accounts,
            index,
        })
    }

    /// Parses and validates `plain_acl.yml` text; `name` (a path, usually) prefixes errors.
    pub fn parse(src: &str, name: &str) -> Result<Self, ConfigError> {
        let raw: RawFile = if src.trim().is_empty() {
            RawFile::default()
        } else {
            serde_yaml_ng::from_str(src).map_err(|e| {
                let line = e.location().map(|l| l.line());
                ConfigError::new(name, vec![Problem::new(line, "file", format!("{e}"))])
            })?
        };
        build(raw, src).map_err(|problems| ConfigError::new(name, problems))
    }

    /// Reads and parses a `plain_acl.yml` file (the only I/O in this crate).
    pub fn load_from_path(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| {
            let msg = format!("cannot be read ({e}); check the path and its permissions");
            ConfigError::new(&name, vec![Problem::new(None, "file", msg)])
        })?;
        Self::parse(&src, &name)
    }

    /// Patterns whose addresses need no credentials at all.
    pub fn global_white_remote_addresses(&self) -> &[AddrPattern] {
        &self.global_white
    }

    /// All accounts, in file order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The account named `access_key`.
    pub fn account(&self, access_key: &str) -> Option<&Account> {
        self.index
            .get(access_key)
            .and_then(|i| self.accounts.get(*i))
    }
}

/// One thing wrong in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file, when it could be found.
    pub line: Option<usize>,
    /// Where: `accounts[1] (accessKey "RocketMQ") topicPerms[0]`, `globalWhiteRemoteAddresses[2]`.
    pub place: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    fn new(line: Option<usize>, place: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line,
            place: place.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}, ")?;
        }
        write!(f, "{}: {}", self.place, self.message)
    }
}

/// Why a configuration was refused: every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or "ACL configuration" when built in code).
    pub source_name: String,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    fn new(name: &str, problems: Vec<Problem>) -> Self {
        Self {
            source_name: name.to_owned(),
            problems,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "{}: {one}", self.source_name),
            many => {
                write!(f, "{}: {} problems:", self.source_name, many.len())?;
                many.iter().try_for_each(|p| write!(f, "\n  {p}"))
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A YAML scalar read as text, as SnakeYAML fills a Java `String` (`secretKey: 12345678`).
#[derive(Debug, Clone, Default)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawFile {
    global_white_remote_addresses: Option<Vec<Text>>,
    accounts: Option<Vec<RawAccount>>,
    /// Written by Java's admin tools; ignored.
    #[allow(dead_code)]
    data_version: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawAccount {
    access_key: Option<Text>,
    secret_key: Option<Text>,
    white_remote_address: Option<Text>,
    admin: Option<bool>,
    default_topic_perm: Option<Text>,
    default_group_perm: Option<Text>,
    topic_perms: Option<Vec<Text>>,
    group_perms: Option<Vec<Text>>,
}

/// Where account `i` sits in the file, for error lines.
struct Locator<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl Locator<'_> {
    /// The line of `needle` inside item `i`, else the item's first line.
    fn line(&self, i: usize, needle: &str) -> Option<usize> {
        let start = *self.starts.get(i)?;
        let end = self.starts.get(i + 1).copied().unwrap_or(0);
        find_line(self.src, start, end, needle).or(Some(start))
    }
}

fn build(raw: RawFile, src: &str) -> Result<AclConfig, Vec<Problem>> {
    let mut problems = Vec::new();
    let white_loc = Locator {
        src,
        starts: list_item_lines(src, "globalWhiteRemoteAddresses"),
    };
    let mut global_white = Vec::new();
    for (i, text) in raw
        .global_white_remote_addresses
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match AddrPattern::parse(&text.0) {
            Ok(p) => global_white.push(p),
            Err(e) => problems.push(Problem::new(
                white_loc.line(i, text.0.trim()),
                format!("globalWhiteRemoteAddresses[{i}]"),
                e.to_string(),
            )),
        }
    }
    let loc = Locator {
        src,
        starts: list_item_lines(src, "accounts"),
    };
    let mut accounts = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, raw) in raw.accounts.unwrap_or_default().into_iter().enumerate() {
        let Some(account) = build_account(i, raw, &loc, &mut problems) else {
            continue;
        };
        if let Some(first) = index.get(&account.access_key) {
            let line = loc.line(i, &account.access_key);
            problems.push(duplicate(i, &account.access_key, *first, line));
            continue;
        }
        index.insert(account.access_key.clone(), accounts.len());
        accounts.push(account);
    }
    if problems.is_empty() {
        Ok(AclConfig {
            global_white,
            accounts,
            index,
        })
    } else {
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        Err(problems)
    }
}

fn duplicate(i: usize, key: &str, first: usize, line: Option<usize>) -> Problem {
    Problem::new(
        line,
        format!("accounts[{i}] (accessKey {key:?})"),
        format!(
            "accessKey {key:?} is already used by accounts[{first}]; every accessKey must be unique"
        ),
    )
}

/// Validates one account; pushes its problems and returns `None` when it has any.
fn build_account(
    i: usize,
    raw: RawAccount,
    loc: &Locator<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Account> {
    let before = problems.len();
    let key = raw
        .access_key
        .map(|t| t.0.trim().to_owned())
        .unwrap_or_default();
    let place = if key.is_empty() {
        format!("accounts[{i}]")
    } else {
        format!("accounts[{i}] (accessKey {key:?})")
    };
    let mut report = |needle: &str, what: String, message: String| {
        problems.push(Problem::new(
            loc.line(i, needle),
            format!("{place}{what}"),
            message,
        ));
    };
    let secret = raw
        .secret_key
        .map(|t| t.0.trim().to_owned())
        .unwrap_or_default();
    for (needle, message) in key_problems(&key, &secret) {
        report(needle, String::new(), message);
    }
    let white = raw.white_remote_address.map(|t| t.0).unwrap_or_default();
    let white = AddrPattern::parse(&white).unwrap_or_else(|e| {
        report(
            "whiteRemoteAddress",
            " whiteRemoteAddress".to_owned(),
            e.to_string(),
        );
        AddrPattern::default()
    });
    let mut default_perm = |field: &str, value: Option<Text>| match value {
        None => Perm::DENY,
        Some(t) => Perm::parse(&t.0).unwrap_or_else(|| {
            report(field, format!(" {field}"), perm_message(&t.0));
            Perm::DENY
        }),
    };
    let default_topic_perm = default_perm("defaultTopicPerm", raw.default_topic_perm);
    let default_group_perm = default_perm("defaultGroupPerm", raw.default_group_perm);
    let mut lists = |field: &str, items: Option<Vec<Text>>| {
        resource_perms(
            field,
            &items.unwrap_or_default(),
            &mut |needle, what, msg| report(needle, what, msg),
        )
    };
    let topic_perms = lists("topicPerms", raw.topic_perms);
    let group_perms = lists("groupPerms", raw.group_perms);
    (problems.len() == before).then(|| Account {
        access_key: key,
        secret_key: Secret::new(secret),
        white_remote_address: white,
        admin: raw.admin.unwrap_or(false),
        default_topic_perm,
        default_group_perm,
        topic_perms,
        group_perms,
    })
}

/// Problems with an account's accessKey and secretKey, as (field, message); the secret itself is
/// never echoed.
fn key_problems(key: &str, secret: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let key_chars = key.chars().count();
    if key.is_empty() {
        out.push((
            "accessKey",
            format!(
                "accessKey is missing; give every account an accessKey of at least \
                 {MIN_KEY_CHARS} characters"
            ),
        ));
    } else if key_chars < MIN_KEY_CHARS {
        out.push((
            "accessKey",
            format!(
                "accessKey is {key_chars} characters; Java brokers refuse keys shorter than \
                 {MIN_KEY_CHARS} characters, use a longer one"
            ),
        ));
    }
    let secret_chars = secret.chars().count();
    if secret_chars < MIN_KEY_CHARS {
        let what = if secret.is_empty() {
            "missing".to_owned()
        } else {
            format!("{secret_chars} characters")
        };
        out.push((
            "secretKey",
            format!("secretKey is {what}; use a secretKey of at least {MIN_KEY_CHARS} characters"),
        ));
    }
    out
}

fn perm_message(text: &str) -> String {
    format!(
        "{:?} is not a permission; write DENY, PUB, SUB or PUB|SUB",
        text.trim()
    )
}

/// Reads `name=PERM` items of `topicPerms` / `groupPerms`.
fn resource_perms(
    field: &str,
    items: &[Text],
    report: &mut dyn FnMut(&str, String, String),
) -> BTreeMap<String, Perm> {
    let mut out = BTreeMap::new();
    let example = if field == "topicPerms" {
        "topicA=PUB|SUB"
    } else {
        "groupA=SUB"
    };
    for (k, item) in items.iter().enumerate() {
        let text = item.0.trim();
        let what = format!(" {field}[{k}] {text:?}");
        let Some((name, perm)) = text.split_once('=').filter(|(_, p)| !p.contains('=')) else {
            report(
                text,
                what,
                format!("not of the form name=PERM; write e.g. {example}"),
            );
            continue;
        };
        let name = name.trim();
        if name.is_empty() {
            report(
                text,
                what,
                format!("the name before '=' is empty; write e.g. {example}"),
            );
            continue;
        }
        if field == "topicPerms" && name.starts_with(RETRY_PREFIX) {
            let group = &name[RETRY_PREFIX.len()..];
            report(
                text,
                what,
                format!(
                    "{name:?} is a retry topic, which stands for its consumer group; write {group}={} under groupPerms instead",
                    perm.trim()
                ),
            );
            continue;
        }
        let Some(perm) = Perm::parse(perm) else {
            report(text, what, perm_message(perm));
            continue;
        };
        if out.insert(name.to_owned(), perm).is_some() {
            report(
                text,
                what,
                format!("{name:?} is listed twice; keep one entry"),
            );
        }
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
