//! `failover: Automatic` on AWS (pure): the controllers run on the first nameserver nodes
//! (controller i next to `namesrv-i`, port [`CONTROLLER_PORT`], Raft log on the node's root
//! volume under `/var/lib/rmq`), the brokers are in controller mode. What AWS needs beyond the
//! model's validation, and the user-data lines of each node, taken from the configuration
//! rmq-model renders for every back-end.

use crate::discovered::Environment;
use crate::error::PlanError;
use crate::resource::{CONTROLLER_BINARY, Value};
use crate::userdata::NodeFailover;
use rmq_model::ValidatedCluster;
use rmq_model::desired::{BrokerNode, ControllerNode};
use rmq_model::validate::FAILOVER_BROKER_KEYS;
use serde::Serialize;

/// The port every controller listens on (brokers, admins and the other replicas).
pub const CONTROLLER_PORT: u16 = rmq_model::defaults::CONTROLLER_PORT;

/// How a layout placeholder names nameserver `i`'s address: its interface's key.
const NAMESRV_HOST: &str = "eni/namesrv-";

/// Where one controller runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerPlacement {
    /// `controller-<i>`.
    pub name: String,
    /// The nameserver node that runs it (`namesrv-<i>`).
    pub node: String,
    /// The port it listens on.
    pub port: u16,
}

/// The controllers of `cluster` and their nodes (empty without automatic failover).
pub fn controllers(cluster: &ValidatedCluster) -> Vec<ControllerPlacement> {
    let count = cluster.failover.as_ref().map_or(0, |f| f.controllers);
    (0..count)
        .map(|i| ControllerPlacement {
            name: format!("controller-{i}"),
            node: format!("namesrv-{i}"),
            port: CONTROLLER_PORT,
        })
        .collect()
}

/// What stops automatic failover on AWS: fewer nameserver nodes than controllers, or no
/// `rmq-controller` to run (neither under `--artefact-dir` nor in the bucket).
pub(super) fn check(cluster: &ValidatedCluster, env: &Environment) -> Vec<PlanError> {
    let Some(failover) = &cluster.failover else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    if cluster.name_servers < failover.controllers {
        errs.push(PlanError::new(
            format!(
                "spec.controller.replicas is {} but spec.nameServer.replicas is {}: on AWS each controller runs on a nameserver node (controller i on namesrv-i)",
                failover.controllers, cluster.name_servers
            ),
            format!(
                "set spec.nameServer.replicas to {} or more, or spec.controller.replicas to an odd count no larger than {}",
                failover.controllers, cluster.name_servers
            ),
        ));
    }
    if env.binary_sha256(CONTROLLER_BINARY).is_empty() {
        errs.push(PlanError::new(
            "spec.brokers.failover is Automatic, but there is no rmq-controller to run: neither --artefact-dir nor the bucket's prefix holds one",
            "build it (cargo build --release -p rmq-controller) next to rmq-namesrv and rmq-broker and pass that directory as --artefact-dir",
        ));
    }
    errs
}

/// A broker's user-data lines: the controller-mode keys of its broker.conf.
pub(super) fn broker(b: &BrokerNode) -> NodeFailover {
    let broker_conf = b
        .broker_conf
        .lines()
        .filter(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| FAILOVER_BROKER_KEYS.iter().any(|(key, _)| *key == k))
        })
        .map(with_addresses)
        .collect();
    NodeFailover {
        broker_conf,
        ..NodeFailover::default()
    }
}

/// The user-data lines of the nameserver node running controller `c`: its controller.conf
/// without comments, and the checksum of the `rmq-controller` it fetches.
pub(super) fn controller(c: &ControllerNode, env: &Environment) -> NodeFailover {
    NodeFailover {
        controller_conf: c
            .conf
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(with_addresses)
            .collect(),
        controller_sha256: env.binary_sha256(CONTROLLER_BINARY),
        ..NodeFailover::default()
    }
}

/// `text` with every nameserver placeholder (`eni/namesrv-<i>`) replaced by a reference to
/// that interface's private IP.
pub(super) fn with_addresses(text: &str) -> Value {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(NAMESRV_HOST) {
        let digits = rest[at + NAMESRV_HOST.len()..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let end = at + NAMESRV_HOST.len() + digits;
        if at > 0 {
            parts.push(Value::lit(&rest[..at]));
        }
        parts.push(Value::ip(&rest[at..end]));
        rest = &rest[end..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(Value::lit(rest));
    }
    Value::Concat { concat: parts }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::resource::{Actual, Kind, State};

    #[test]
    fn placeholders_become_interface_addresses() {
        let v =
            with_addresses("controllerDLegerPeers=n0-eni/namesrv-0:9878;n1-eni/namesrv-12:9878");
        let mut state = State::default();
        assert_eq!(
            v.resolve(&state),
            None,
            "unresolved until the interfaces exist"
        );
        for (k, ip) in [
            ("eni/namesrv-0", "10.0.0.5"),
            ("eni/namesrv-12", "10.0.32.7"),
        ] {
            state.put(Actual::new(Kind::NetworkInterface, k, "eni-1").with("ip", ip));
        }
        assert_eq!(
            v.resolve(&state).unwrap(),
            "controllerDLegerPeers=n0-10.0.0.5:9878;n1-10.0.32.7:9878"
        );
        assert_eq!(
            with_addresses("enableControllerMode=true")
                .resolve(&state)
                .unwrap(),
            "enableControllerMode=true"
        );
    }
}
