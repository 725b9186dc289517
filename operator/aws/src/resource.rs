//! The resource model: what one AWS resource of a cluster looks like before it exists.
//!
//! A [`Resource`] has a stable logical key (`subnet/private-1`, `eni/broker-a-0`), a
//! [`Spec`] whose fields may refer to other resources ([`Value::Ref`]: "the id of
//! `vpc`", "the private IP of `eni/namesrv-0`", "the latest version of `lt/broker-a-0`") and the
//! tags it carries. References are resolved against the [`State`] (what exists, by key), and the
//! resolved spec is hashed: the hash is stored in the `rmq.dev/hash` tag when the resource has
//! converged, so a later plan compares hashes instead of re-reading every property.
//!
//! - `kind`: the resource kinds and their creation order.
//! - `spec`: what each kind should look like.
//! - `value`: literals and references in a spec.
//! - `state`: what exists, and the attributes a reference reads.

mod kind;
mod spec;
mod state;
mod value;

pub use kind::Kind;
pub use spec::{
    AlarmSpec, ArtefactFile, Peer, READY_HOOK, READY_HOOK_SECONDS, RouteTarget, Rule, Spec,
};
pub use state::{Actual, Attr, State};
pub use value::Value;

use serde::Serialize;
use std::collections::BTreeMap;

/// Tag naming the cluster every resource belongs to (discovery filters on it).
pub const TAG_CLUSTER: &str = "rmq.dev/cluster";
/// Tag naming the component (`network`, `bastion`, `security`, `namesrv`, `broker`, ...).
pub const TAG_COMPONENT: &str = "rmq.dev/component";
/// Tag holding the logical key of the resource (`subnet/private-1`).
pub const TAG_RESOURCE: &str = "rmq.dev/resource";
/// Tag holding the hash of the resolved spec, written once the resource has converged.
pub const TAG_HASH: &str = "rmq.dev/hash";
/// A launch template version's description: this prefix and the hash of its spec (a version is
/// created whole, so it is converged the moment it exists).
pub const VERSION_HASH_PREFIX: &str = "rmq.dev/hash=";
/// Tag on a security group holding the hash of its converged rules.
pub const TAG_RULES_HASH: &str = "rmq.dev/rules-hash";
/// Tag on a launch template holding the AMI it was made with (kept unless `--ami-id` is given).
pub const TAG_AMI: &str = "rmq.dev/ami";
/// Tags of the CloudFormation layout contract (`cloudformation/README.md`); the node role's IAM
/// policy is scoped to `rmq:stack` (and `rmq:role` for volumes).
pub const TAG_CF_CLUSTER: &str = "rmq:cluster";
/// See [`TAG_CF_CLUSTER`].
pub const TAG_CF_STACK: &str = "rmq:stack";
/// See [`TAG_CF_CLUSTER`].
pub const TAG_CF_NODE: &str = "rmq:node";
/// See [`TAG_CF_CLUSTER`].
pub const TAG_CF_ROLE: &str = "rmq:role";

/// The binaries every cluster needs: uploaded under the artefact prefix, fetched by every node.
pub const BINARIES: [&str; 2] = ["rmq-namesrv", "rmq-broker"];
/// The binary of the controllers (`failover: Automatic` only): uploaded and fetched like the
/// others, by the nameserver nodes that host a controller.
pub const CONTROLLER_BINARY: &str = "rmq-controller";
/// S3 object metadata key holding the SHA-256 of an uploaded binary.
pub const META_SHA256: &str = "rmq-sha256";
/// S3 object metadata key naming the cluster that uploaded an object.
pub const META_CLUSTER: &str = "rmq-cluster";
/// S3 object metadata key holding the architecture an uploaded binary was built for (`x86_64`,
/// `arm64`: [`crate::arch`]), when its ELF header says.
pub const META_ARCH: &str = "rmq-arch";

/// One desired resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    /// Logical key, unique in the cluster.
    pub key: String,
    /// `Name` tag.
    pub name: String,
    /// `rmq.dev/component`.
    pub component: String,
    /// Extra tags (`rmq:node`, `rmq:role`).
    pub extra_tags: BTreeMap<String, String>,
    /// What the resource should look like.
    pub spec: Spec,
}

impl Resource {
    /// A resource with only the tags every resource carries (see [`Resource::tags`]).
    pub fn new(
        key: impl Into<String>,
        name: impl Into<String>,
        component: &str,
        spec: Spec,
    ) -> Self {
        Self {
            key: key.into(),
            name: name.into(),
            component: component.into(),
            extra_tags: BTreeMap::new(),
            spec,
        }
    }

    /// The resource with `tags` added to every tag it carries.
    pub fn with_tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.extra_tags = tags;
        self
    }

    /// The kind its spec describes.
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// Keys of the resources this one refers to.
    pub fn deps(&self) -> Vec<String> {
        let json = serde_json::to_value(&self.spec).unwrap_or_default();
        let mut out = Vec::new();
        collect_refs(&json, &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// The spec with every reference resolved (unknown ones as `<pending KEY ATTR>`), as JSON.
    pub fn resolved(&self, state: &State) -> serde_json::Value {
        let json = serde_json::to_value(&self.spec).unwrap_or_default();
        resolve_json(json, state)
    }

    /// True if every reference resolves.
    pub fn is_resolvable(&self, state: &State) -> bool {
        !self.resolved(state).to_string().contains("<pending ")
    }

    /// The hash of the resolved spec (stored in [`TAG_HASH`]).
    pub fn hash(&self, state: &State) -> String {
        fnv_hex(self.resolved(state).to_string().as_bytes())
    }

    /// Every tag of the resource.
    pub fn tags(&self, cluster: &str, stack: &str) -> Vec<(String, String)> {
        let mut t = vec![
            ("Name".to_owned(), self.name.clone()),
            (TAG_CLUSTER.to_owned(), cluster.to_owned()),
            (TAG_COMPONENT.to_owned(), self.component.clone()),
            (TAG_RESOURCE.to_owned(), self.key.clone()),
            (TAG_CF_CLUSTER.to_owned(), cluster.to_owned()),
            (TAG_CF_STACK.to_owned(), stack.to_owned()),
        ];
        t.extend(self.extra_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        t
    }
}

fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let (Some(serde_json::Value::String(k)), Some(_)) = (m.get("ref"), m.get("attr")) {
                out.push(k.clone());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn resolve_json(v: serde_json::Value, state: &State) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            if (m.contains_key("ref") && m.contains_key("attr")) || m.contains_key("concat") {
                let parsed: Result<Value, _> = serde_json::from_value(serde_json::Value::Object(m));
                return match parsed {
                    Ok(val) => serde_json::Value::String(
                        val.resolve(state).unwrap_or_else(|| pending(&val)),
                    ),
                    Err(e) => serde_json::Value::String(format!("<bad reference {e}>")),
                };
            }
            serde_json::Value::Object(
                m.into_iter()
                    .map(|(k, x)| (k, resolve_json(x, state)))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(|x| resolve_json(x, state)).collect())
        }
        other => other,
    }
}

fn pending(v: &Value) -> String {
    let mut keys = Vec::new();
    v.refs(&mut keys);
    format!("<pending {}>", keys.join(","))
}

/// 64-bit FNV-1a as 16 hex digits: stable across runs and platforms (not for security).
pub fn fnv_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests;
