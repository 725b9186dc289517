use super::*;
use crate::Credentials;
use crate::Secret;
use crate::v2::json::{self, AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use rmq_protocol::{ExtFields, request_code as rc};
use std::net::Ipv4Addr;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn settings() -> Settings {
    Settings {
        authorization: true,
        cluster: "DefaultCluster".into(),
    }
}

/// A store with super user `root`, normal users `alice` and `bob`, and `alice`'s entries
/// `(resource, actions, decision, sourceIps)`.
fn store(entries: &[(&str, &str, &str, &str)]) -> AuthStore {
    let mut s = AuthStore::default();
    s.ensure_super_user("root", &Secret::new("root-password"));
    for name in ["alice", "bob"] {
        let info = UserInfo {
            password: Some(format!("{name}-password")),
            ..UserInfo::default()
        };
        s.create_user(json::new_user(name, &info).expect("user"))
            .expect("create");
    }
    if entries.is_empty() {
        return s;
    }
    let entries = entries
        .iter()
        .map(|(r, a, d, ips)| PolicyEntryInfo {
            resource: Some((*r).into()),
            actions: Some(a.split(',').map(str::to_owned).collect()),
            source_ips: (!ips.is_empty()).then(|| vec![(*ips).to_owned()]),
            decision: Some((*d).into()),
        })
        .collect();
    let info = AclInfo {
        subject: Some("User:alice".into()),
        policies: Some(vec![PolicyInfo {
            policy_type: None,
            entries: Some(entries),
        }]),
    };
    s.put_acl(json::parse_acl(&info, None).expect("acl"))
        .expect("put");
    s
}

/// A request of `code` with `fields`, signed as `user` with `password`.
fn request(code: i32, fields: &[(&str, &str)], user: &str, password: &str) -> (ExtFields, i32) {
    let mut f = ExtFields::new();
    for (k, v) in fields {
        f.insert(k, v);
    }
    if !user.is_empty() {
        let added = Credentials::new(user, password)
            .sign_request(f.iter(), b"")
            .expect("sign");
        for (k, v) in added {
            f.insert(k, v);
        }
    }
    (f, code)
}

fn run(
    s: &AuthStore,
    code: i32,
    fields: &[(&str, &str)],
    user: &str,
    from: IpAddr,
) -> Result<(), Denial> {
    let password = format!("{user}-password");
    let (f, code) = request(code, fields, user, &password);
    let req = Request {
        code,
        version: 500,
        fields: &f,
        body: b"",
        remote: from,
    };
    decide(s, &settings(), &req).map(|_| ())
}

fn send(s: &AuthStore, topic: &str, user: &str) -> Result<(), Denial> {
    run(s, rc::SEND_MESSAGE, &[("topic", topic)], user, LOCAL)
}

#[test]
fn authentication_failures_do_not_tell_users_apart() {
    let s = store(&[("Topic:t", "Pub", "Allow", "")]);
    let (f, code) = request(rc::SEND_MESSAGE, &[("topic", "t")], "alice", "wrong");
    let req = Request {
        code,
        version: 500,
        fields: &f,
        body: b"",
        remote: LOCAL,
    };
    let wrong = decide(&s, &settings(), &req).expect_err("wrong password");
    let unknown = send(&s, "t", "mallory").expect_err("unknown user");
    assert_eq!(wrong.reason, DenyReason::BadCredentials);
    assert_eq!(
        wrong.remark.replace("alice", "X"),
        unknown.remark.replace("mallory", "X")
    );
    assert!(!wrong.remark.contains("alice-password"));
    let none = send(&s, "t", "").expect_err("unsigned");
    assert_eq!(none.reason, DenyReason::NoAccessKey);
    assert!(send(&s, "t", "alice").is_ok());
}

#[test]
fn disabled_users_are_refused_after_their_password_is_checked() {
    let mut s = store(&[("Topic:t", "Pub", "Allow", "")]);
    let disable = UserInfo {
        user_status: Some("disable".into()),
        ..UserInfo::default()
    };
    s.update_user("alice", &disable).expect("update");
    let d = send(&s, "t", "alice").expect_err("disabled");
    assert!(d.remark.contains("disabled"), "{}", d.remark);
}

#[test]
fn allow_entries_grant_and_missing_ones_deny() {
    let s = store(&[
        ("Topic:orders", "Pub", "Allow", ""),
        ("Group:readers", "Sub", "Allow", ""),
        ("Topic:logs*", "All", "Allow", ""),
    ]);
    assert!(send(&s, "orders", "alice").is_ok());
    assert!(send(&s, "logs-2024", "alice").is_ok());
    let d = send(&s, "payments", "alice").expect_err("no entry");
    assert_eq!(d.reason, DenyReason::NoPermission);
    assert!(d.remark.contains("Pub on Topic:payments"), "{}", d.remark);
    assert!(d.remark.contains("no Allow entry"), "{}", d.remark);
    // bob has no ACL at all; root is super
    assert!(send(&s, "orders", "bob").is_err());
    assert!(send(&s, "anything", "root").is_ok());
    // a pull needs Sub on the topic too
    let pull = [("topic", "orders"), ("consumerGroup", "readers")];
    let d = run(&s, rc::PULL_MESSAGE, &pull, "alice", LOCAL).expect_err("no Sub on topic");
    assert!(d.remark.contains("Sub on Topic:orders"), "{}", d.remark);
}

#[test]
fn the_most_specific_entry_decides_and_deny_wins_ties() {
    let s = store(&[
        ("Topic:*", "Pub", "Deny", ""),
        ("Topic:orders", "Pub", "Allow", ""),
        ("Topic:pay*", "Pub", "Allow", ""),
        ("Topic:payroll*", "Pub", "Deny", ""),
        ("*", "Pub", "Allow", ""),
    ]);
    assert!(send(&s, "orders", "alice").is_ok());
    assert!(send(&s, "payments", "alice").is_ok());
    let d = send(&s, "payroll-2024", "alice").expect_err("longer prefix denies");
    assert!(
        d.remark.contains("Deny entry on Topic:payroll*"),
        "{}",
        d.remark
    );
    assert!(send(&s, "other", "alice").is_err());
    let tie = store(&[
        ("Topic:t", "Pub", "Allow", ""),
        ("Topic:t*", "Pub", "Allow", ""),
    ]);
    assert!(send(&tie, "t", "alice").is_ok());
    let tie = store(&[
        ("Topic:t", "Pub,Sub", "Allow", ""),
        ("Topic:t", "Pub", "Deny", ""),
    ]);
    // the second entry replaced the first (one entry per resource): Deny
    assert!(send(&tie, "t", "alice").is_err());
}

#[test]
fn deny_wins_between_equally_specific_entries_of_one_acl() {
    let mut acl = store(&[("Topic:t", "Pub", "Allow", "")])
        .acl("alice")
        .cloned()
        .expect("acl");
    let mut deny = acl.policies[0].entries[0].clone();
    deny.decision = Decision::Deny;
    acl.policies[0].entries.push(deny);
    let e = deciding_entry(&acl, &Resource::topic("t"), &[Action::Pub], LOCAL).expect("entry");
    assert_eq!(e.decision, Decision::Deny);
}

#[test]
fn source_ips_limit_entries() {
    let s = store(&[("Topic:t", "Pub", "Allow", "10.0.0.0/8")]);
    let inside = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
    assert!(run(&s, rc::SEND_MESSAGE, &[("topic", "t")], "alice", inside).is_ok());
    let d = run(&s, rc::SEND_MESSAGE, &[("topic", "t")], "alice", LOCAL).expect_err("outside");
    assert!(d.remark.contains("from 127.0.0.1"), "{}", d.remark);
}

#[test]
fn auth_admin_codes_need_a_super_user_even_without_authorization() {
    let s = store(&[("*", "All", "Allow", "")]);
    let d = run(&s, 3001, &[("username", "x")], "alice", LOCAL).expect_err("normal");
    assert_eq!(d.reason, DenyReason::AdminOnly);
    assert!(run(&s, 3001, &[("username", "x")], "root", LOCAL).is_ok());
    let no_authz = Settings {
        authorization: false,
        ..settings()
    };
    let (f, code) = request(rc::SEND_MESSAGE, &[("topic", "x")], "bob", "bob-password");
    let req = Request {
        code,
        version: 500,
        fields: &f,
        body: b"",
        remote: LOCAL,
    };
    assert!(decide(&s, &no_authz, &req).is_ok());
    let (f, _) = request(3005, &[], "bob", "bob-password");
    let admin = Request {
        code: 3005,
        fields: &f,
        ..req
    };
    assert!(decide(&s, &no_authz, &admin).is_err());
}

#[test]
fn admin_requests_need_create_or_cluster_update() {
    let s = store(&[
        ("Topic:own*", "Create", "Allow", ""),
        ("Cluster:DefaultCluster", "Update", "Deny", ""),
    ]);
    let create = |t: &str| {
        run(
            &s,
            rc::UPDATE_AND_CREATE_TOPIC,
            &[("topic", t)],
            "alice",
            LOCAL,
        )
    };
    assert!(create("own-topic").is_ok());
    assert!(create("their-topic").is_err());
    let d = run(&s, rc::UPDATE_BROKER_CONFIG, &[], "alice", LOCAL).expect_err("cluster");
    assert!(d.remark.contains("Cluster:DefaultCluster"), "{}", d.remark);
}
