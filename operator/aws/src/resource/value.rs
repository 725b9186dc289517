//! Values in a spec: a string known now, or a reference to an attribute of another resource
//! that is resolved against the [`State`] once that resource exists.

use super::state::{Attr, State};
use serde::{Deserialize, Serialize};

/// A string known now, or a reference to an attribute of another resource, or a concatenation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A string known when the plan is made.
    Lit(String),
    /// `{"ref": key, "attr": ...}`.
    Ref {
        /// Logical key of the referenced resource.
        #[serde(rename = "ref")]
        key: String,
        /// Which of its attributes is read.
        attr: Attr,
    },
    /// `{"concat": [...]}`: the parts joined.
    Concat {
        /// The parts, joined without a separator.
        concat: Vec<Value>,
    },
}

impl Value {
    /// A literal.
    pub fn lit(s: impl Into<String>) -> Self {
        Value::Lit(s.into())
    }
    /// The id of `key`.
    pub fn id(key: impl Into<String>) -> Self {
        Value::Ref {
            key: key.into(),
            attr: Attr::Id,
        }
    }
    /// The private IP of `key`.
    pub fn ip(key: impl Into<String>) -> Self {
        Value::Ref {
            key: key.into(),
            attr: Attr::PrivateIp,
        }
    }
    /// The latest version of launch template `key`.
    pub fn version(key: impl Into<String>) -> Self {
        Value::Ref {
            key: key.into(),
            attr: Attr::Version,
        }
    }

    /// The ARN of `key` (a CloudWatch alarm).
    pub fn arn(key: impl Into<String>) -> Self {
        Value::Ref {
            key: key.into(),
            attr: Attr::Arn,
        }
    }

    /// Resolves against `state`; `None` if a referenced resource or attribute is not known yet.
    pub fn resolve(&self, state: &State) -> Option<String> {
        match self {
            Value::Lit(s) => Some(s.clone()),
            Value::Ref { key, attr } => state.attr(key, *attr),
            Value::Concat { concat } => {
                let mut out = String::new();
                for p in concat {
                    out.push_str(&p.resolve(state)?);
                }
                Some(out)
            }
        }
    }

    /// Keys this value refers to.
    pub fn refs(&self, out: &mut Vec<String>) {
        match self {
            Value::Lit(_) => {}
            Value::Ref { key, .. } => out.push(key.clone()),
            Value::Concat { concat } => concat.iter().for_each(|p| p.refs(out)),
        }
    }
}
