//! One step of a plan (create, update or delete a resource) and how it prints.

use crate::resource::Kind;
use serde::Serialize;
use std::fmt;

/// Create, update or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Create (and converge).
    Create,
    /// Converge an existing resource to its spec.
    Update,
    /// Delete (scale-in, a duplicate, destroy).
    Delete,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// Create, update or delete.
    pub op: Op,
    /// The kind of the resource acted on.
    pub kind: Kind,
    /// Logical key of the resource acted on.
    pub key: String,
    /// AWS id for updates and deletes.
    pub id: Option<String>,
    /// Why an update or delete is needed (empty for creates).
    pub reason: String,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.op {
            Op::Create => "+ create",
            Op::Update => "~ update",
            Op::Delete => "- delete",
        };
        write!(f, "{sign} {} ({})", self.key, self.kind)?;
        if let Some(id) = &self.id {
            write!(f, " {id}")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}
