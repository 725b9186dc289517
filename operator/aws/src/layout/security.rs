//! The security groups of the layout and their rules, as `cloudformation/README.md` lays them
//! down: clients reach the nameservers (9876) and brokers (10911); brokers reach each other
//! (10911-10912) and the nameservers; nodes reach AWS APIs over HTTPS; SSH comes only from the
//! bastion, and to the bastion only from `--remote-access-cidr`. With `failover: Automatic` the
//! controllers on the nameserver nodes take brokers' heartbeats on 9878, talk Raft to each
//! other on 9878 and tell brokers of role changes on 10911.

use super::failover::CONTROLLER_PORT;
use crate::resource::{Peer, Resource, Rule, Spec, Value};

/// The groups every cluster has: (name, description).
const GROUPS: [(&str, &str); 3] = [
    (
        "clients",
        "rmq clients (attach to producers, consumers and admin hosts)",
    ),
    ("namesrv", "rmq nameservers (9876 from clients and brokers)"),
    (
        "broker",
        "rmq brokers (10911 from clients and brokers, 10912 from brokers)",
    ),
];

/// The group of a bastion the cluster creates.
const BASTION_GROUP: (&str, &str) = (
    "bastion",
    "rmq bastion hosts (SSH in from RemoteAccessCIDR only)",
);

/// What the rules depend on besides the fixed contract.
pub(super) struct Access {
    /// The VPC's block (ports opened to it with `--allow-clients-from-vpc`; a bastion's SSH to
    /// it).
    pub(super) vpc_cidr: String,
    /// The group allowed to SSH to the nodes: the new bastion's, or `--bastion-security-group`.
    pub(super) bastion: Option<Value>,
    /// A bastion is created (new VPC, `--bastion-count` > 0): it gets a group and rules.
    pub(super) new_bastion: bool,
    /// Open the nameserver and broker ports to the whole VPC block too.
    pub(super) from_vpc: bool,
    /// The only CIDR allowed to SSH to a new bastion.
    pub(super) remote: String,
    /// Controllers run on the nameserver nodes (`failover: Automatic`).
    pub(super) controllers: bool,
}

/// One group's rules: (group name, ingress, egress).
type RuleSet = (&'static str, Vec<Rule>, Vec<Rule>);

fn tcp(from: i32, to: i32, peer: Peer, description: &str) -> Rule {
    Rule {
        protocol: "tcp".into(),
        from,
        to,
        peer,
        description: description.into(),
    }
}

fn group(key: &str) -> Peer {
    Peer::Group(Value::id(key))
}

fn anywhere() -> Peer {
    Peer::Cidr("0.0.0.0/0".into())
}

fn https() -> Rule {
    tcp(
        443,
        443,
        anywhere(),
        "AWS APIs: S3 artefacts, EC2 attach, CloudWatch",
    )
}

/// Every security group (bastion first when there is one), then every group's rules.
pub(super) fn groups_and_rules(c: &str, access: &Access, out: &mut Vec<Resource>) {
    let bastion = access.new_bastion.then_some(BASTION_GROUP);
    for (name, description) in bastion.into_iter().chain(GROUPS) {
        let spec = Spec::SecurityGroup {
            vpc: Value::id("vpc"),
            name: format!("{c}-{name}"),
            description: description.into(),
        };
        out.push(Resource::new(
            format!("sg/{name}"),
            format!("{c}-{name}"),
            "security",
            spec,
        ));
    }
    for (name, ingress, egress) in rule_sets(access) {
        let spec = Spec::SecurityGroupRules {
            group: Value::id(format!("sg/{name}")),
            ingress,
            egress,
        };
        out.push(Resource::new(
            format!("rules/{name}"),
            format!("{c}-{name}"),
            "security",
            spec,
        ));
    }
}

/// The rules of every group, in the order of the groups.
fn rule_sets(access: &Access) -> Vec<RuleSet> {
    let clients_egress = Rule {
        protocol: "-1".into(),
        from: -1,
        to: -1,
        peer: anywhere(),
        description: "your clients' own traffic".into(),
    };
    let bastion = access.new_bastion.then(|| bastion_rules(access));
    let fixed = [
        ("clients", vec![], vec![clients_egress]),
        ("namesrv", namesrv_ingress(access), namesrv_egress(access)),
        ("broker", broker_ingress(access), broker_egress(access)),
    ];
    bastion.into_iter().chain(fixed).collect()
}

/// Route lookups from clients and registration from brokers (plus the VPC, plus SSH).
fn namesrv_ingress(access: &Access) -> Vec<Rule> {
    let mut rules = vec![
        tcp(
            9876,
            9876,
            group("sg/clients"),
            "route lookups from clients",
        ),
        tcp(9876, 9876, group("sg/broker"), "broker registration"),
    ];
    if access.controllers {
        rules.extend([
            controller_rule(
                group("sg/broker"),
                "controllers: heartbeats from the brokers",
            ),
            controller_rule(
                group("sg/namesrv"),
                "controllers: Raft between the replicas",
            ),
        ]);
    }
    if access.from_vpc {
        let vpc = Peer::Cidr(access.vpc_cidr.clone());
        rules.push(tcp(9876, 9876, vpc, "route lookups from the VPC"));
    }
    rules.extend(from_bastion(
        access,
        9876,
        "route lookups and admin from the bastion",
    ));
    rules
}

/// Clients on 10911, brokers on 10911-10912 (plus the VPC, plus SSH).
fn broker_ingress(access: &Access) -> Vec<Rule> {
    let mut rules = vec![
        tcp(
            10911,
            10911,
            group("sg/clients"),
            "send, pull and admin from clients",
        ),
        tcp(
            10911,
            10912,
            group("sg/broker"),
            "slave sync and HA replication between brokers",
        ),
    ];
    if access.controllers {
        rules.push(tcp(
            10911,
            10911,
            group("sg/namesrv"),
            "role changes from the controllers",
        ));
    }
    if access.from_vpc {
        let vpc = Peer::Cidr(access.vpc_cidr.clone());
        rules.push(tcp(10911, 10911, vpc, "send, pull and admin from the VPC"));
    }
    rules.extend(from_bastion(
        access,
        10911,
        "topic admin and test sends from the bastion",
    ));
    rules
}

/// HTTPS; with controllers, Raft to the other replicas and role changes to the brokers.
fn namesrv_egress(access: &Access) -> Vec<Rule> {
    let mut rules = vec![https()];
    if access.controllers {
        rules.extend([
            controller_rule(
                group("sg/namesrv"),
                "controllers: Raft between the replicas",
            ),
            tcp(
                10911,
                10911,
                group("sg/broker"),
                "controllers: role changes to the brokers",
            ),
        ]);
    }
    rules
}

/// Port [`CONTROLLER_PORT`] to or from `peer`.
fn controller_rule(peer: Peer, description: &str) -> Rule {
    let port = i32::from(CONTROLLER_PORT);
    tcp(port, port, peer, description)
}

/// HTTPS, registration with the nameservers (and heartbeats to the controllers), replication
/// to other brokers.
fn broker_egress(access: &Access) -> Vec<Rule> {
    let mut rules = vec![
        https(),
        tcp(
            9876,
            9876,
            group("sg/namesrv"),
            "registration with the nameservers",
        ),
        tcp(
            10911,
            10912,
            group("sg/broker"),
            "slave to master sync and HA replication",
        ),
    ];
    if access.controllers {
        rules.push(controller_rule(
            group("sg/namesrv"),
            "heartbeats and registration with the controllers",
        ));
    }
    rules
}

/// SSH and the admin `port` from the bastion's group, when there is one: `rmqctl aws`'s topic
/// step (and mqadmin) runs from the bastion, or through an SSH tunnel by way of it.
fn from_bastion(access: &Access, port: i32, what: &str) -> Vec<Rule> {
    let Some(b) = access.bastion.as_ref() else {
        return Vec::new();
    };
    vec![
        tcp(22, 22, Peer::Group(b.clone()), "SSH from the bastion only"),
        tcp(port, port, Peer::Group(b.clone()), what),
    ]
}

/// A new bastion: SSH in from `--remote-access-cidr`; SSH, nameserver and broker ports out to
/// the VPC (the topic step and tunnels), HTTPS out.
fn bastion_rules(access: &Access) -> RuleSet {
    let remote = Peer::Cidr(access.remote.clone());
    let vpc = Peer::Cidr(access.vpc_cidr.clone());
    (
        "bastion",
        vec![tcp(22, 22, remote, "SSH from RemoteAccessCIDR")],
        vec![
            tcp(22, 22, vpc.clone(), "SSH to hosts in the VPC"),
            tcp(
                9876,
                9876,
                vpc.clone(),
                "route lookups and admin to the nameservers",
            ),
            tcp(
                10911,
                10911,
                vpc,
                "topic admin and test sends to the brokers",
            ),
            tcp(443, 443, anywhere(), "package updates over HTTPS"),
        ],
    )
}
