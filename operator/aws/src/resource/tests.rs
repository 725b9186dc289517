//! Unit tests of the parent module.
#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn references_resolve_or_stay_pending() {
    let mut state = State::default();
    let r = Resource {
        key: "subnet/a".into(),
        name: "x".into(),
        component: "network".into(),
        extra_tags: BTreeMap::new(),
        spec: Spec::Subnet {
            vpc: Value::id("vpc"),
            cidr: "10.0.0.0/19".into(),
            az: "us-east-1a".into(),
            public: false,
        },
    };
    assert_eq!(r.deps(), vec!["vpc".to_owned()]);
    assert!(!r.is_resolvable(&state));
    let pending_hash = r.hash(&state);
    state.put(Actual::new(Kind::Vpc, "vpc", "vpc-1"));
    assert!(r.is_resolvable(&state));
    assert_ne!(r.hash(&state), pending_hash);
    assert_eq!(r.resolved(&state)["vpc"], "vpc-1");
}

#[test]
fn concat_and_ip_refs() {
    let mut state = State::default();
    state.put(Actual::new(Kind::NetworkInterface, "eni/n0", "eni-1").with("ip", "10.0.0.5"));
    let v = Value::Concat {
        concat: vec![Value::ip("eni/n0"), Value::lit(":9876")],
    };
    assert_eq!(v.resolve(&state).unwrap(), "10.0.0.5:9876");
    assert_eq!(Value::version("lt/x").resolve(&state), None);
}

#[test]
fn kinds_are_ranked_in_creation_order() {
    assert!(Kind::Vpc.rank() < Kind::Subnet.rank());
    assert!(Kind::NatGateway.rank() < Kind::RouteTable.rank());
    assert!(Kind::NetworkInterface.rank() < Kind::LaunchTemplate.rank());
    assert!(Kind::LaunchTemplate.rank() < Kind::AutoScalingGroup.rank());
}
