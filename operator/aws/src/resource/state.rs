//! What exists: the resources found by their tags (or just created), by logical key, and the
//! attributes a reference can read from them.

use super::kind::Kind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which attribute of another resource a reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attr {
    /// Its id (`vpc-…`, `subnet-…`, allocation id of an EIP, group name of an ASG, name of an
    /// alarm or dashboard).
    Id,
    /// The primary private IP of a network interface.
    PrivateIp,
    /// The latest version number of a launch template.
    Version,
    /// The ARN of a CloudWatch alarm (the dashboard's alarm widget lists them).
    Arn,
}

/// A resource that exists, found by its tags (or just created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actual {
    /// What kind of resource it is (the Describe call that found it).
    pub kind: Kind,
    /// Logical key (`rmq.dev/resource` tag).
    pub key: String,
    /// AWS id (allocation id for EIPs, group name for ASGs, bucket for artefacts, name for alarms
    /// and dashboards).
    pub id: String,
    /// `rmq.dev/hash` (or the rules hash / artefact hash), if converged.
    pub hash: Option<String>,
    /// Attributes read by discovery (`ip`, `subnet`, `az`, `version`, `ami`, `size`, ...).
    pub attrs: BTreeMap<String, String>,
}

impl Actual {
    /// A record of resource `id` under `key`, without hash or attributes yet.
    pub fn new(kind: Kind, key: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind,
            key: key.into(),
            id: id.into(),
            hash: None,
            attrs: BTreeMap::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, k: &str, v: impl Into<String>) -> Self {
        self.attrs.insert(k.to_owned(), v.into());
        self
    }
}

/// What exists, by logical key (plus resources referred to from outside, e.g. an existing VPC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct State {
    /// Every known resource under its logical key.
    pub resources: BTreeMap<String, Actual>,
}

impl State {
    /// Attribute `attr` of `key`.
    pub fn attr(&self, key: &str, attr: Attr) -> Option<String> {
        let r = self.resources.get(key)?;
        match attr {
            Attr::Id => Some(r.id.clone()),
            Attr::PrivateIp => r.attrs.get("ip").cloned(),
            Attr::Version => r.attrs.get("version").cloned(),
            Attr::Arn => r.attrs.get("arn").cloned(),
        }
    }

    /// Records `a` (replacing what was known under its key).
    pub fn put(&mut self, a: Actual) {
        self.resources.insert(a.key.clone(), a);
    }

    /// Looks up `key`.
    pub fn get(&self, key: &str) -> Option<&Actual> {
        self.resources.get(key)
    }
}
