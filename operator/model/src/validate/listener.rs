//! Validation of `spec.listener`: node ports inside the API server's default range for every
//! broker the spec declares.

use super::ValidationError;
use crate::defaults::NODE_PORT_RANGE;
use crate::types::{ListenerSpec, ListenerType};

/// The node port of broker number `n` (0-based over all brokers, group by group).
pub fn broker_node_port(listener: &ListenerSpec, n: u32) -> u16 {
    u16::try_from(i64::from(listener.node_port_base) + 1 + i64::from(n)).unwrap_or(0)
}

/// Checks the listener of a cluster with `brokers` brokers in all.
pub fn check_listener(listener: &ListenerSpec, brokers: u32, errs: &mut Vec<ValidationError>) {
    if listener.kind != ListenerType::NodePort {
        return;
    }
    let (low, high) = NODE_PORT_RANGE;
    let last = i64::from(listener.node_port_base) + i64::from(brokers);
    if listener.node_port_base < low || last > i64::from(high) {
        errs.push(ValidationError::new(
            "spec.listener.nodePortBase",
            format!(
                "node ports {}..={last} (the nameservers and {brokers} brokers) leave the node \
                 port range {low}-{high}",
                listener.node_port_base
            ),
            format!(
                "set nodePortBase between {low} and {}",
                i64::from(high) - i64::from(brokers)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ports_stay_in_range() {
        let mut l = ListenerSpec {
            kind: ListenerType::NodePort,
            ..ListenerSpec::default()
        };
        let mut errs = Vec::new();
        check_listener(&l, 4, &mut errs);
        assert!(errs.is_empty());
        assert_eq!(broker_node_port(&l, 0), 30901);
        l.node_port_base = 32765;
        check_listener(&l, 4, &mut errs);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .to_string()
                .contains("set nodePortBase between 30000 and 32763")
        );
    }
}
