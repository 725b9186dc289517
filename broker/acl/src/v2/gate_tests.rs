use super::*;
use crate::Credentials;
use crate::decide::DenyReason;
use rmq_protocol::request_code as rc;
use std::net::Ipv4Addr;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn settings() -> Settings {
    Settings {
        authorization: true,
        cluster: "c".into(),
    }
}

fn root() -> Vec<(String, Secret)> {
    vec![("root".into(), Secret::new("root-password-1"))]
}

fn signed(code: i32, fields: &[(&str, &str)], body: &str, user: (&str, &str)) -> RemotingCommand {
    let mut req = RemotingCommand::request(code);
    for (k, v) in fields {
        req.ext_fields.insert(k, v);
    }
    req.body = body.as_bytes().to_vec().into();
    Credentials::new(user.0, user.1)
        .sign_command(&mut req)
        .expect("sign");
    req
}

const ROOT: (&str, &str) = ("root", "root-password-1");
const ALICE: (&str, &str) = ("alice", "alice-password-1");

#[test]
fn users_and_acls_are_saved_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("config/auth.json");
    let gate = AuthGate::open(&path, settings(), &root()).expect("open");
    let saved = std::fs::read_to_string(&path).expect("created with the super user");
    assert!(saved.contains("\"Super\""), "{saved}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let create = signed(
        admin::CREATE_USER,
        &[("username", "alice")],
        r#"{"password":"alice-password-1"}"#,
        ROOT,
    );
    assert_eq!(gate.check_from(1, LOCAL, &create, Instant::now()), None);
    assert_eq!(gate.handle_admin(&create).code, 0);
    let acl = r#"{"policies":[{"entries":[{"resource":"Topic:t","actions":["Pub"],"decision":"Allow"}]}]}"#;
    let create_acl = signed(admin::CREATE_ACL, &[("subject", "User:alice")], acl, ROOT);
    assert_eq!(gate.handle_admin(&create_acl).code, 0);
    let send = signed(rc::SEND_MESSAGE, &[("topic", "t")], "", ALICE);
    assert_eq!(gate.check_from(2, LOCAL, &send, Instant::now()), None);

    // alice may not manage users
    let by_alice = signed(admin::LIST_USER, &[], "", ALICE);
    let d = gate
        .check_from(2, LOCAL, &by_alice, Instant::now())
        .expect("refused");
    assert_eq!(d.reason, DenyReason::AdminOnly);

    drop(gate);
    let again = AuthGate::open(&path, settings(), &root()).expect("reopen");
    assert_eq!(again.current().user_count(), 2);
    assert_eq!(again.check_from(3, LOCAL, &send, Instant::now()), None);
    let other = signed(rc::SEND_MESSAGE, &[("topic", "u")], "", ALICE);
    assert!(again.check_from(3, LOCAL, &other, Instant::now()).is_some());
}

#[test]
fn a_failed_save_changes_nothing_and_a_bad_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("auth.json");
    let gate = AuthGate::open(&path, settings(), &root()).expect("open");
    // the file's place becomes a directory: the rename fails
    std::fs::remove_file(&path).expect("rm");
    std::fs::create_dir_all(path.join("x")).expect("dir");
    let create = signed(
        admin::CREATE_USER,
        &[("username", "alice")],
        r#"{"password":"alice-password-1"}"#,
        ROOT,
    );
    let r = gate.handle_admin(&create);
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(r.remark_str().contains("not made"), "{}", r.remark_str());
    assert!(gate.current().user("alice").is_none());

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"version":1,"users":[{"username":"a"}]}"#).expect("write");
    let e = AuthGate::open(&bad, settings(), &[])
        .err()
        .expect("refused");
    assert!(e.to_string().contains("password"), "{e}");
}

#[test]
fn guessing_passwords_is_cut_off_per_connection() {
    let dir = tempfile::tempdir().expect("dir");
    let gate = AuthGate::open(&dir.path().join("a.json"), settings(), &root()).expect("open");
    let now = Instant::now();
    let bad = signed(rc::GET_BROKER_CONFIG, &[], "", ("root", "guess"));
    for _ in 0..crate::FailureLimit::default().max_failures {
        assert!(gate.check_from(9, LOCAL, &bad, now).is_some());
    }
    let good = signed(rc::GET_BROKER_CONFIG, &[], "", ROOT);
    let d = gate.check_from(9, LOCAL, &good, now).expect("cut off");
    assert_eq!(d.reason, DenyReason::TooManyFailures);
    gate.connection_closed(9);
    assert_eq!(gate.check_from(9, LOCAL, &good, now), None);
}
