//! The roll's readiness gate: what "this node is back" means before the roll replaces the next
//! one. The Auto Scaling group's `InService` only says that EC2 started an instance; a broker
//! that has not registered with the nameservers, or a slave that has not caught up with its
//! master, is not back, and replacing the master next would lose the group's last copy.
//!
//! A roll asks a [`Readiness`] twice per node: [`Readiness::before`] just before its instance is
//! terminated (a nameserver gate records which brokers the nameservers know, so that the
//! replacement nameserver can be held to the same), then [`Readiness::check`] until the
//! replacement is ready or the roll's readiness timeout passes, which stops the roll with
//! [`crate::Error::NotReady`] (no further instance is replaced).
//!
//! [`NameserverGate`] is the gate `rmqctl aws apply` uses: it asks the nameservers and brokers
//! over the remoting protocol (see `nameservers` for what each role must show). Tests plug in
//! their own.

mod nameservers;

pub use nameservers::{DEFAULT_CATCH_UP_BYTES, NameserverGate};

use crate::layout::{BROKER_PORT, NAMESRV_PORT};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The future a gate returns (boxed: the gate is used as a trait object).
pub type GateFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a rolled node runs, as far as its readiness goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRole {
    /// A nameserver.
    NameServer,
    /// A broker of group `group` (its brokerName, e.g. `broker-a`).
    Broker {
        /// The broker group (brokerName).
        group: String,
    },
}

/// A node whose instance a roll replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledNode {
    /// The node's name (`namesrv-0`, `broker-a-1`).
    pub node: String,
    /// Nameserver or broker.
    pub role: NodeRole,
    /// `ip:port` the node serves on: its fixed interface's address, so the same before and after
    /// the replacement.
    pub address: String,
}

impl RolledNode {
    /// The node named `node` (`namesrv-<i>` or `<group>-<replica>` of a broker) serving on
    /// `host` at the layout's port for its role; `None` for anything else (the bastion hosts).
    pub fn new(node: &str, host: &str) -> Option<Self> {
        if node.starts_with("namesrv-") {
            return Some(Self {
                node: node.to_owned(),
                role: NodeRole::NameServer,
                address: format!("{host}:{NAMESRV_PORT}"),
            });
        }
        let (group, replica) = node.rsplit_once('-')?;
        if !node.starts_with("broker-") || replica.parse::<u32>().is_err() {
            return None;
        }
        Some(Self {
            node: node.to_owned(),
            role: NodeRole::Broker {
                group: group.to_owned(),
            },
            address: format!("{host}:{BROKER_PORT}"),
        })
    }
}

impl fmt::Display for RolledNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.node, self.address)
    }
}

/// One look at a replaced node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Ready: what was seen (e.g. "registered with 2 nameserver(s) as slave 1, 0 bytes behind").
    Ready(String),
    /// Not yet: why (the last reason is what a timeout reports).
    Waiting(String),
}

/// What a roll asks before and after replacing a node's instance.
pub trait Readiness: Send + Sync {
    /// Just before `node`'s instance is terminated. An error stops the roll before anything of
    /// this node is touched (e.g. the cluster cannot be reached from here).
    fn before<'a>(&'a self, node: &'a RolledNode) -> GateFuture<'a, Result<(), String>>;

    /// One look at `node` after its replacement started.
    fn check<'a>(&'a self, node: &'a RolledNode) -> GateFuture<'a, Status>;
}

/// The gate of an apply ([`crate::ApplyOptions::readiness`]).
#[derive(Clone)]
pub struct Gate(pub Arc<dyn Readiness>);

impl Gate {
    /// A gate from any [`Readiness`].
    pub fn new(r: impl Readiness + 'static) -> Self {
        Self(Arc::new(r))
    }
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gate(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_by_role() {
        let ns = RolledNode::new("namesrv-1", "10.0.0.5");
        assert_eq!(
            ns.map(|n| (n.role, n.address)),
            Some((NodeRole::NameServer, "10.0.0.5:9876".to_owned()))
        );
        let b = RolledNode::new("broker-b-1", "10.0.32.8");
        assert_eq!(
            b.map(|n| (n.role, n.address)),
            Some((
                NodeRole::Broker {
                    group: "broker-b".into()
                },
                "10.0.32.8:10911".to_owned()
            ))
        );
        assert_eq!(RolledNode::new("bastion", "10.0.128.4"), None);
    }
}
