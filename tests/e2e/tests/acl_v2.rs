//! ACL 2.0 (`authenticationEnabled`, `authorizationEnabled`, `initAuthenticationUser`) with
//! real processes: the super user of `initAuthenticationUser` creates a normal user and its ACL
//! with Apache's `mqadmin` 5.3.3; the unmodified Java 5 client, signing as that user, produces
//! and consumes what the ACL allows and is refused with `NO_PERMISSION` (16) elsewhere, after a
//! Deny entry and after `deleteAcl`; wrong passwords and disabled users are refused; a normal
//! user cannot manage users; users and ACLs survive a restart; no password reaches
//! GET_BROKER_CONFIG or the log.

#![allow(clippy::unwrap_used)]

use rmq_e2e::mqadmin::mqadmin_as;
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, HarnessResult, NamesrvProc, run_line};
use rmq_protocol::request_code as rc;

const ROOT: (&str, &str) = ("rmqroot", "root-secret-0001");
const ALICE: (&str, &str) = ("alice", "alice-secret-0002");

fn start() -> (NamesrvProc, BrokerProc) {
    let ns = NamesrvProc::start();
    let mut opts = BrokerOpts::default();
    for (k, v) in [
        ("authenticationEnabled", "true".to_owned()),
        ("authorizationEnabled", "true".to_owned()),
        (
            "initAuthenticationUser",
            format!(r#"{{"username":"{}","password":"{}"}}"#, ROOT.0, ROOT.1),
        ),
    ] {
        opts.set.push((k.into(), v));
    }
    let broker = BrokerProc::start(&ns.addr, opts);
    (ns, broker)
}

fn creds((ak, sk): (&str, &str)) -> String {
    format!("--access-key {ak} --secret-key {sk}")
}

/// One sync send of one message, no retries.
fn produce_one(ns: &str, topic: &str, auth: &str) -> HarnessResult {
    let r = run_line(
        Client::Java5,
        &format!(
            "produce --namesrv {ns} --topic {topic} --count 1 --retries 0 --send-timeout-ms 5000 \
             --timeout-ms 30000 {auth}"
        ),
    );
    eprintln!("produce {topic} [{auth}]: {}", r.json);
    r
}

/// Asserts a refused send: `NO_PERMISSION` and a remark saying `says`.
fn assert_refused(r: &HarnessResult, says: &str) {
    assert!(!r.ok(), "the send should be refused: {}", r.json);
    let e = r.json["errors"].to_string();
    assert!(e.contains("CODE: 16"), "NO_PERMISSION expected: {e}");
    assert!(e.contains(says), "the remark should say {says:?}: {e}");
}

/// `mqadmin` as `who` against the broker; panics unless the output says `expect`.
fn admin_says(who: (&str, &str), args: &[&str], expect: &str) -> String {
    let (_, out) = mqadmin_as(who, args);
    assert!(
        out.contains(expect),
        "mqadmin {args:?} should say {expect:?}: {out}"
    );
    out
}

/// The super user creates alice with Pub and Sub on V2T and Sub on group v2-readers.
fn create_alice_and_her_acl(b: &str) {
    admin_says(
        ROOT,
        &["createUser", "-b", b, "-u", ALICE.0, "-p", ALICE.1],
        "success",
    );
    alice_entry(b, "createAcl", "Topic:V2T", "Pub,Sub", "Allow");
    alice_entry(b, "createAcl", "Group:v2-readers", "Sub", "Allow");
}

/// What listUser and getAcl print.
fn assert_listed(b: &str) {
    let users = admin_says(ROOT, &["listUser", "-b", b], "alice");
    assert!(users.contains(ROOT.0) && users.contains("Normal") && users.contains("Super"));
    let acl = admin_says(ROOT, &["getAcl", "-b", b, "-s", "User:alice"], "Topic:V2T");
    assert!(
        acl.contains("Group:v2-readers") && acl.contains("Allow"),
        "{acl}"
    );
}

/// `mqadmin createAcl|updateAcl` of one entry for alice, as root.
fn alice_entry(b: &str, op: &str, resource: &str, actions: &str, decision: &str) {
    let args = [
        op,
        "-b",
        b,
        "-s",
        "User:alice",
        "-r",
        resource,
        "-a",
        actions,
        "-d",
        decision,
    ];
    admin_says(ROOT, &args, "success");
}

/// Alice produces and consumes what her ACL allows.
fn alice_produces_and_consumes(ns: &str) {
    run_line(
        Client::Java5,
        &format!(
            "produce --namesrv {ns} --topic V2T --prefix v2 --count 10 --send-timeout-ms 10000 {}",
            creds(ALICE)
        ),
    )
    .assert_ok();
    run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {ns} --topic V2T --group v2-readers --prefix v2 --expect 10 \
             --timeout-ms 60000 {}",
            creds(ALICE)
        ),
    )
    .assert_ok();
}

/// Another topic, wrong passwords, unknown users (the same answer), no credentials; a normal
/// user managing users.
fn everything_else_is_refused(ns: &str, b: &str) {
    assert_refused(
        &produce_one(ns, "V2Other", &creds(ALICE)),
        "may not Pub on Topic:V2Other",
    );
    let wrong = format!("--access-key {} --secret-key not-her-password", ALICE.0);
    assert_refused(&produce_one(ns, "V2T", &wrong), "authentication failed");
    let unknown = "--access-key mallory --secret-key whatever-secret";
    assert_refused(&produce_one(ns, "V2T", unknown), "authentication failed");
    assert_refused(&produce_one(ns, "V2T", ""), "no AccessKey");
    admin_says(
        ALICE,
        &["createUser", "-b", b, "-u", "eve", "-p", "eve-secret-1"],
        "only super users",
    );
    admin_says(ROOT, &["getUser", "-b", b, "-u", "alice"], "Normal");
}

/// A Deny entry, then no entry, then Allow again and a disabled user.
fn deny_delete_and_disable(ns: &str, b: &str) {
    alice_entry(b, "updateAcl", "Topic:V2T", "Pub", "Deny");
    let denied = produce_one(ns, "V2T", &creds(ALICE));
    assert_refused(&denied, "denied by its Deny entry");
    admin_says(
        ROOT,
        &["deleteAcl", "-b", b, "-s", "User:alice", "-r", "Topic:V2T"],
        "success",
    );
    assert_refused(&produce_one(ns, "V2T", &creds(ALICE)), "no Allow entry");
    let acl = admin_says(
        ROOT,
        &["getAcl", "-b", b, "-s", "User:alice"],
        "Group:v2-readers",
    );
    assert!(!acl.contains("Topic:V2T"), "{acl}");
    alice_entry(b, "createAcl", "Topic:V2T", "Pub", "Allow");
    produce_one(ns, "V2T", &creds(ALICE)).assert_ok();
    admin_says(
        ROOT,
        &["updateUser", "-b", b, "-u", "alice", "-s", "disable"],
        "success",
    );
    assert_refused(&produce_one(ns, "V2T", &creds(ALICE)), "is disabled");
}

/// No password in the configuration or the log; the file readable by its owner only.
fn no_password_leaks(root: &Admin, broker: &BrokerProc) {
    let conf = root
        .call(&broker.addr, rc::GET_BROKER_CONFIG)
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap();
    assert!(conf.contains("authorizationEnabled=true"), "{conf}");
    let log = broker.log();
    for secret in [ROOT.1, ALICE.1] {
        assert!(
            !conf.contains(secret) && !log.contains(secret),
            "{secret} leaked"
        );
    }
    let file = broker.store.join("config/auth.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{} is readable by others", file.display());
}

#[test]
fn mqadmin_users_and_acls_govern_the_java_client_and_survive_a_restart() {
    let (ns, mut broker) = start();
    let ns = ns.addr.as_str();
    let root = Admin::signed(ROOT.0, ROOT.1);
    for topic in ["V2T", "V2Other"] {
        assert_eq!(root.create_topic(&broker.addr, topic, 4), Some(0));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let b = broker.addr.clone();
    create_alice_and_her_acl(&b);
    assert_listed(&b);
    alice_produces_and_consumes(ns);
    everything_else_is_refused(ns, &b);

    // everything survives a restart
    broker.restart();
    assert_listed(&broker.addr);
    produce_one(ns, "V2T", &creds(ALICE)).assert_ok();

    deny_delete_and_disable(ns, &b);
    no_password_leaks(&root, &broker);
}
