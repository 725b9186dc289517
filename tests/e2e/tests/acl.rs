//! ACL (`aclEnable=true`, `plain_acl.yml`): unmodified Java clients (4.9 and 5.x) with
//! `AclClientRPCHook` and the right credentials produce and consume; wrong secrets, unknown
//! keys, missing credentials, missing PUB/SUB and non-admin admin requests are refused with
//! `NO_PERMISSION` and a remark naming what is missing; the file is reloaded when it changes;
//! malformed credentials and guessing are answered, not crashed on.

#![allow(clippy::unwrap_used)]

use rmq_acl::Credentials;
use rmq_e2e::admin::poll_until;
use rmq_e2e::bin_path;
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, HarnessResult, NamesrvProc, run_line};
use rmq_protocol::header::offset::QueryConsumerOffsetRequestHeader;
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::path::Path;
use std::time::Duration;

const ADMIN: (&str, &str) = ("rmqadmin", "admin-secret-0001");
const PRODUCER: (&str, &str) = ("rmqproducer", "producer-secret-0002");
const CONSUMER: (&str, &str) = ("rmqconsumer", "consumer-secret-0003");

/// The accounts: an admin, a producer with PUB on AclT only, a consumer with SUB on AclT and
/// on the groups `readers` (`readers_perm`) and acl-readers4.
fn acl_yml(producer_perm: &str, readers_perm: &str) -> String {
    format!(
        "globalWhiteRemoteAddresses:\n\
         accounts:\n\
         - accessKey: {}\n  secretKey: {}\n  admin: true\n\
         - accessKey: {}\n  secretKey: {}\n  admin: false\n  defaultTopicPerm: DENY\n  \
           defaultGroupPerm: SUB\n  topicPerms:\n  - AclT={producer_perm}\n\
         - accessKey: {}\n  secretKey: {}\n  defaultTopicPerm: DENY\n  defaultGroupPerm: DENY\n  \
           topicPerms:\n  - AclT=SUB\n  - AclNoPub=PUB|SUB\n  groupPerms:\n  - acl-readers={readers_perm}\n  \
           - acl-readers4=SUB\n",
        ADMIN.0, ADMIN.1, PRODUCER.0, PRODUCER.1, CONSUMER.0, CONSUMER.1
    )
}

/// A nameserver and a broker with ACL on, reading `dir/plain_acl.yml`.
fn start(dir: &Path) -> (NamesrvProc, BrokerProc) {
    let file = dir.join("plain_acl.yml");
    std::fs::write(&file, acl_yml("PUB", "SUB")).unwrap();
    let ns = NamesrvProc::start();
    let mut opts = BrokerOpts::default();
    opts.set.push(("aclEnable".into(), "true".into()));
    opts.set
        .push(("aclFile".into(), file.display().to_string()));
    let broker = BrokerProc::start(&ns.addr, opts);
    (ns, broker)
}

fn creds((ak, sk): (&str, &str)) -> String {
    format!("--access-key {ak} --secret-key {sk}")
}

/// One sync send of one message, no retries.
fn produce_one(client: Client, ns: &str, topic: &str, auth: &str) -> HarnessResult {
    let r = run_line(
        client,
        &format!(
            "produce --namesrv {ns} --topic {topic} --count 1 --retries 0 --send-timeout-ms 5000 \
             --timeout-ms 30000 {auth}"
        ),
    );
    eprintln!("{client:?} produce {topic} [{auth}]: {}", r.json);
    r
}

/// The harness's error messages, joined.
fn errors(r: &HarnessResult) -> String {
    r.json["errors"].to_string()
}

/// Asserts a refused send, its code and the remark's `says`.
fn assert_refused(r: &HarnessResult, says: &str) {
    assert!(!r.ok(), "the send should be refused: {}", r.json);
    let e = errors(r);
    assert!(e.contains("CODE: 16"), "NO_PERMISSION expected: {e}");
    assert!(e.contains(says), "the remark should say {says:?}: {e}");
}

/// QUERY_CONSUMER_OFFSET of `group` on AclT through `admin`: the response code and remark.
fn query_offset(admin: &Admin, broker: &str, group: &str) -> (i32, String) {
    let h = QueryConsumerOffsetRequestHeader {
        consumer_group: group.into(),
        topic: "AclT".into(),
        queue_id: 0,
        set_zero_if_not_found: Some(false),
    };
    let req = RemotingCommand::request_with(rc::QUERY_CONSUMER_OFFSET, &h);
    let r = admin.invoke(broker, req).unwrap();
    (r.code, r.remark_str().to_owned())
}

/// Creating topics: refused unsigned and for a non-admin, done for the admin (AclT, AclNoPub).
fn admin_requests_need_an_admin(broker: &str) {
    let admin = Admin::signed(ADMIN.0, ADMIN.1);
    let unsigned = Admin::new();
    let as_producer = Admin::signed(PRODUCER.0, PRODUCER.1);
    let create = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC);
    let r = unsigned.invoke(broker, create).unwrap();
    assert_eq!(r.code, response_code::NO_PERMISSION);
    assert!(r.remark_str().contains("AccessKey"), "{}", r.remark_str());
    assert_eq!(
        as_producer.create_topic(broker, "AclT", 4),
        Some(response_code::NO_PERMISSION)
    );
    for topic in ["AclT", "AclNoPub"] {
        assert_eq!(admin.create_topic(broker, topic, 4), Some(0));
    }
    assert!(!unsigned.has_topic(broker, "AclT"));
    assert!(admin.has_topic(broker, "AclT"));
    std::thread::sleep(Duration::from_millis(500));
}

/// Wrong secret, unknown key, no credentials, a topic without PUB: refused with their remarks.
fn refusals_name_what_is_missing(client: Client, ns: &str) {
    let wrong_secret = format!("--access-key {} --secret-key not-the-secret", PRODUCER.0);
    let r = produce_one(client, ns, "AclT", &wrong_secret);
    assert_refused(&r, "signature check failed");
    let r = produce_one(
        client,
        ns,
        "AclT",
        "--access-key nobody-here --secret-key whatever1",
    );
    assert_refused(&r, "signature check failed");
    assert_refused(&produce_one(client, ns, "AclT", ""), "no AccessKey");
    let r = produce_one(client, ns, "AclNoPub", &creds(PRODUCER));
    assert_refused(&r, "lacks PUB on topic:AclNoPub");
}

#[test]
fn java_clients_with_credentials_work_and_everything_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, broker) = start(dir.path());
    let ns = ns.addr.as_str();
    let admin = Admin::signed(ADMIN.0, ADMIN.1);
    admin_requests_need_an_admin(&broker.addr);

    // the right credentials: 4.9 and 5.x produce and consume
    for (client, start) in [(Client::Java5, 0), (Client::Java4, 20)] {
        run_line(
            client,
            &format!(
                "produce --namesrv {ns} --topic AclT --prefix acl --start {start} --count 20 \
                 --send-timeout-ms 10000 {}",
                creds(PRODUCER)
            ),
        )
        .assert_ok();
    }
    for (client, group) in [
        (Client::Java5, "acl-readers"),
        (Client::Java4, "acl-readers4"),
    ] {
        run_line(
            client,
            &format!(
                "consume --namesrv {ns} --topic AclT --group {group} --prefix acl --expect 40 \
                 --timeout-ms 60000 {}",
                creds(CONSUMER)
            ),
        )
        .assert_ok();
    }

    for client in [Client::Java5, Client::Java4] {
        refusals_name_what_is_missing(client, ns);
    }
    // a group without SUB: the consumer gets nothing; the broker says why
    let r = run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {ns} --topic AclT --group acl-strangers --prefix acl --expect 40 \
             --timeout-ms 8000 {}",
            creds(CONSUMER)
        ),
    );
    assert!(!r.ok() && r.num("distinct") == 0, "{}", r.json);
    let as_consumer = Admin::signed(CONSUMER.0, CONSUMER.1);
    let as_producer = Admin::signed(PRODUCER.0, PRODUCER.1);
    let (code, remark) = query_offset(&as_consumer, &broker.addr, "acl-strangers");
    assert_eq!(code, response_code::NO_PERMISSION, "{remark}");
    assert!(
        remark.contains("lacks SUB on group:acl-strangers"),
        "{remark}"
    );
    // a topic without SUB
    let (code, remark) = query_offset(&as_producer, &broker.addr, "acl-readers");
    assert_eq!(code, response_code::NO_PERMISSION, "{remark}");
    assert!(remark.contains("lacks SUB on topic:AclT"), "{remark}");

    // the configuration names the file; no secret reaches it or the log
    let conf = admin
        .call(&broker.addr, rc::GET_BROKER_CONFIG)
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap();
    assert!(conf.contains("aclEnable=true"), "{conf}");
    let log = broker.log();
    for secret in [ADMIN.1, PRODUCER.1, CONSUMER.1] {
        assert!(
            !conf.contains(secret) && !log.contains(secret),
            "{secret} leaked"
        );
    }
}

#[test]
fn a_changed_file_applies_to_the_next_requests_and_a_bad_one_keeps_the_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, broker) = start(dir.path());
    let admin = Admin::signed(ADMIN.0, ADMIN.1);
    assert_eq!(admin.create_topic(&broker.addr, "AclT", 4), Some(0));
    std::thread::sleep(Duration::from_millis(500));
    let as_consumer = Admin::signed(CONSUMER.0, CONSUMER.1);
    let (code, remark) = query_offset(&as_consumer, &broker.addr, "acl-readers");
    assert_ne!(code, response_code::NO_PERMISSION, "{remark}");
    produce_one(Client::Java5, &ns.addr, "AclT", &creds(PRODUCER)).assert_ok();

    // the producer loses PUB, the consumer's group loses SUB
    let file = dir.path().join("plain_acl.yml");
    std::fs::write(&file, acl_yml("SUB", "DENY")).unwrap();
    let seen = poll_until("the new permissions apply", Duration::from_secs(10), || {
        query_offset(&as_consumer, &broker.addr, "acl-readers").0 == response_code::NO_PERMISSION
    });
    assert!(seen, "the changed file did not apply within 10 s");
    let r = produce_one(Client::Java5, &ns.addr, "AclT", &creds(PRODUCER));
    assert_refused(&r, "lacks PUB on topic:AclT");

    // an invalid file: logged with its line, the accounts in force stay
    std::fs::write(&file, "accounts:\n- accessKey: rmqadmin\n  secretKey: admin-secret-0001\n  defaultTopicPerm: MAYBE\n").unwrap();
    let logged = poll_until("the bad file is reported", Duration::from_secs(10), || {
        broker.log().contains("ACL file changed but is invalid")
    });
    assert!(logged, "{}", broker.log());
    let log = broker.log();
    assert!(
        log.contains("line 4"),
        "the error should name the line: {log}"
    );
    assert!(
        !log.contains("admin-secret-0001"),
        "a secret reached the log"
    );
    let (code, _) = query_offset(&as_consumer, &broker.addr, "acl-readers");
    assert_eq!(code, response_code::NO_PERMISSION);
    let (code, remark) = query_offset(&admin, &broker.addr, "acl-readers");
    assert_ne!(code, response_code::NO_PERMISSION, "{remark}");
    // fixed again: the original accounts come back
    std::fs::write(&file, acl_yml("PUB", "SUB")).unwrap();
    let back = poll_until("the fixed file applies", Duration::from_secs(10), || {
        query_offset(&as_consumer, &broker.addr, "acl-readers").0 != response_code::NO_PERMISSION
    });
    assert!(back);
    produce_one(Client::Java5, &ns.addr, "AclT", &creds(PRODUCER)).assert_ok();
}

/// A request carrying `fields` as given, unsigned by the client.
fn raw(fields: &[(&str, &str)]) -> RemotingCommand {
    let mut req = RemotingCommand::request(rc::GET_BROKER_CONFIG);
    for (k, v) in fields {
        req.ext_fields.insert(k, v);
    }
    req
}

/// A request signed with `c`.
fn signed(c: &Credentials, code: i32) -> RemotingCommand {
    let mut req = RemotingCommand::request(code);
    c.sign_command(&mut req).unwrap();
    req
}

#[test]
fn malformed_credentials_are_refused_and_guessing_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (_ns, broker) = start(dir.path());
    let conn = Admin::new();
    let long = "k".repeat(100_000);
    let cases: [&[(&str, &str)]; 6] = [
        &[("AccessKey", ""), ("Signature", "")],
        &[
            ("AccessKey", "rmqadmin"),
            ("Signature", "!!! not base64 !!!"),
        ],
        &[("AccessKey", "rmqadmin")],
        &[("Signature", "c2ln")],
        &[("AccessKey", "\u{1F600}\u{0}é"), ("Signature", "===")],
        &[("AccessKey", long.as_str()), ("Signature", long.as_str())],
    ];
    for fields in cases {
        // a new connection each time: these count as failed attempts
        let fresh = Admin::new();
        let r = fresh.invoke(&broker.addr, raw(fields)).unwrap();
        assert_eq!(r.code, response_code::NO_PERMISSION, "{}", r.remark_str());
        assert!(r.remark_str().starts_with("ACL:"), "{}", r.remark_str());
    }
    // guessing secrets on one connection: refused unchecked after the limit, even the right one
    let good = Credentials::new(ADMIN.0, ADMIN.1);
    let bad = Credentials::new(ADMIN.0, "guess-guess-guess");
    assert_eq!(
        conn.invoke(&broker.addr, signed(&good, rc::GET_BROKER_CONFIG))
            .unwrap()
            .code,
        response_code::SUCCESS
    );
    for _ in 0..10 {
        let r = conn
            .invoke(&broker.addr, signed(&bad, rc::GET_BROKER_CONFIG))
            .unwrap();
        assert_eq!(r.code, response_code::NO_PERMISSION);
    }
    let r = conn
        .invoke(&broker.addr, signed(&good, rc::GET_BROKER_CONFIG))
        .unwrap();
    assert_eq!(r.code, response_code::NO_PERMISSION);
    assert!(
        r.remark_str().contains("failed authentication attempts"),
        "{}",
        r.remark_str()
    );
    // another connection is not affected
    let other = Admin::signed(ADMIN.0, ADMIN.1);
    assert!(other.call(&broker.addr, rc::GET_BROKER_CONFIG).is_some());
}

#[test]
fn the_broker_refuses_to_start_without_a_valid_acl_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("plain_acl.yml");
    std::fs::write(&bad, "accounts:\n- accessKey: ab\n  secretKey: tiny\n").unwrap();
    let missing = dir.path().join("missing.yml");
    let cases = [
        (vec!["aclEnable=true".to_owned()], "aclFile"),
        (
            vec![
                "aclEnable=true".into(),
                format!("aclFile={}", missing.display()),
            ],
            "cannot be read",
        ),
        (
            vec![
                "aclEnable=true".into(),
                format!("aclFile={}", bad.display()),
            ],
            "line 2",
        ),
    ];
    for (set, says) in cases {
        let mut cmd = std::process::Command::new(bin_path("rmq-broker"));
        cmd.args([
            "--listen-addr",
            "127.0.0.1",
            "--listen-port",
            "0",
            "--store-dir",
        ])
        .arg(dir.path().join("store"));
        for s in &set {
            cmd.arg("--set").arg(s);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{set:?} started: {stderr}");
        assert!(stderr.contains(says), "{set:?}: {stderr}");
    }
}
