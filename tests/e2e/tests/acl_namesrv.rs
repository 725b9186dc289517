//! ACL beyond the client's requests: a nameserver with `aclEnable=true` takes registrations and
//! other state changes only from admin accounts (brokers sign with
//! `innerClientAuthenticationCredentials`) while route lookups stay open to every client; a
//! slave signs its metadata sync to a master with ACL on; a registration refused during an admin
//! secret's rotation is retried within seconds. The Go client signs with credentials.

#![allow(clippy::unwrap_used)]

use rmq_e2e::admin::poll_until;
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, NamesrvProc, run_line};
use rmq_protocol::header::namesrv::{KvConfigKeyRequestHeader, PutKvConfigRequestHeader};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::path::Path;
use std::time::Duration;

const ADMIN: (&str, &str) = ("rmqadmin", "admin-secret-0001");
const USER: (&str, &str) = ("rmquser", "user-secret-0002");

/// An admin and a user who may publish and subscribe to everything.
fn write_acl(dir: &Path) -> String {
    write_acl_with_admin_secret(dir, ADMIN.1)
}

/// [`write_acl`] with the admin's secret key `admin_secret` (a rotation rewrites the file).
fn write_acl_with_admin_secret(dir: &Path, admin_secret: &str) -> String {
    let file = dir.join("plain_acl.yml");
    let text = format!(
        "accounts:\n\
         - accessKey: {}\n  secretKey: {}\n  admin: true\n\
         - accessKey: {}\n  secretKey: {}\n  defaultTopicPerm: PUB|SUB\n  defaultGroupPerm: SUB\n",
        ADMIN.0, admin_secret, USER.0, USER.1
    );
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

/// `innerClientAuthenticationCredentials` for `(access, secret)`.
fn inner((ak, sk): (&str, &str)) -> (String, String) {
    (
        "innerClientAuthenticationCredentials".into(),
        format!("{{\"accessKey\":\"{ak}\",\"secretKey\":\"{sk}\"}}"),
    )
}

fn broker_opts(name: &str, creds: Option<(&str, &str)>) -> BrokerOpts {
    let mut o = BrokerOpts {
        name: name.into(),
        ..BrokerOpts::default()
    };
    o.set.extend(creds.map(inner));
    o
}

/// Whether the nameserver's cluster info lists `broker`.
fn registered(ns: &str, broker: &str) -> bool {
    Admin::new()
        .call(ns, rc::GET_BROKER_CLUSTER_INFO)
        .is_some_and(|r| String::from_utf8_lossy(&r.body).contains(&format!("\"{broker}\"")))
}

fn put_kv(admin: &Admin, ns: &str, value: &str) -> RemotingCommand {
    let h = PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "AclOrdered".into(),
        value: value.into(),
    };
    let req = RemotingCommand::request_with(rc::PUT_KV_CONFIG, &h);
    admin.invoke(ns, req).unwrap()
}

fn get_kv(ns: &str) -> Option<String> {
    let h = KvConfigKeyRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "AclOrdered".into(),
    };
    let req = RemotingCommand::request_with(rc::GET_KV_CONFIG, &h);
    let r = Admin::new().invoke(ns, req).unwrap();
    r.ext_fields.get("value").map(str::to_owned)
}

/// KV changes: refused unsigned and for a non-admin, done for the admin; reads stay open.
fn kv_changes_need_an_admin(ns: &str) {
    let r = put_kv(&Admin::new(), ns, "broker-a:4");
    assert_eq!(r.code, response_code::NO_PERMISSION, "{}", r.remark_str());
    assert!(r.remark_str().contains("AccessKey"), "{}", r.remark_str());
    let r = put_kv(&Admin::signed(USER.0, USER.1), ns, "broker-a:4");
    assert_eq!(r.code, response_code::NO_PERMISSION, "{}", r.remark_str());
    assert!(r.remark_str().contains("admin"), "{}", r.remark_str());
    let r = put_kv(&Admin::signed(USER.0, "wrong-secret-9"), ns, "broker-a:4");
    assert_eq!(r.code, response_code::NO_PERMISSION, "{}", r.remark_str());
    assert_eq!(get_kv(ns), None);
    let r = put_kv(&Admin::signed(ADMIN.0, ADMIN.1), ns, "broker-a:4");
    assert_eq!(r.code, response_code::SUCCESS, "{}", r.remark_str());
    assert_eq!(get_kv(ns).as_deref(), Some("broker-a:4"));
}

#[test]
fn a_nameserver_with_acl_takes_changes_only_from_admins_and_routes_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let acl = write_acl(dir.path());
    let ns = NamesrvProc::start_with(0, &[("aclEnable", "true"), ("aclFile", &acl)]);
    let signed = BrokerProc::start(&ns.addr, broker_opts("broker-a", Some(ADMIN)));
    let unsigned = BrokerProc::start(&ns.addr, broker_opts("broker-b", None));
    let as_user = BrokerProc::start(&ns.addr, broker_opts("broker-c", Some(USER)));
    let seen = poll_until("broker-a registered", Duration::from_secs(15), || {
        registered(&ns.addr, "broker-a")
    });
    assert!(seen, "{}", signed.log());
    for (broker, says) in [(&unsigned, "no AccessKey"), (&as_user, "admin")] {
        let refused = poll_until("the refusal is logged", Duration::from_secs(15), || {
            broker.log().contains("nameserver refused registration")
        });
        assert!(refused, "{}", broker.log());
        assert!(broker.log().contains(says), "{}", broker.log());
    }
    assert!(!registered(&ns.addr, "broker-b") && !registered(&ns.addr, "broker-c"));
    kv_changes_need_an_admin(&ns.addr);

    // clients without credentials look up routes; broker-a (no ACL of its own) serves them
    let line = format!(
        "produce --namesrv {} --topic AclNsT --count 10 --prefix ns --send-timeout-ms 10000",
        ns.addr
    );
    let r = run_line(Client::Java5, &line);
    r.assert_ok();
    assert!(
        r.json["queues"].to_string().contains("broker-a"),
        "{}",
        r.json
    );
    assert!(!ns.log().contains(ADMIN.1) && !signed.log().contains(ADMIN.1));
    let conf = Admin::new()
        .call(&signed.addr, rc::GET_BROKER_CONFIG)
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap();
    assert!(
        conf.contains("innerClientAuthenticationCredentials"),
        "{conf}"
    );
    assert!(!conf.contains(ADMIN.1), "the secret leaked: {conf}");
}

/// The admin secret rotated, and the broker's credentials changed before the nameserver's
/// accounts did (Kubernetes updates each pod's Secret volume on its own schedule): the nameserver
/// refuses the registration; once its file has the new secret, the broker's retry gets in within
/// seconds, long before its next periodic round (60 s here).
#[test]
fn a_refused_registration_is_retried_soon_after_the_nameserver_learns_the_rotated_secret() {
    const ROTATED: &str = "admin-secret-0002";
    let dir = tempfile::tempdir().unwrap();
    let acl = write_acl(dir.path());
    let ns = NamesrvProc::start_with(0, &[("aclEnable", "true"), ("aclFile", &acl)]);
    let mut opts = broker_opts("broker-r", Some((ADMIN.0, ROTATED)));
    opts.set
        .push(("registerNameServerPeriod".into(), "60000".into()));
    let broker = BrokerProc::start(&ns.addr, opts);
    let refused = poll_until("the refusal is logged", Duration::from_secs(15), || {
        broker.log().contains("nameserver refused registration")
    });
    assert!(refused, "{}", broker.log());
    assert!(!registered(&ns.addr, "broker-r"));

    write_acl_with_admin_secret(dir.path(), ROTATED);
    let seen = poll_until("broker-r registered", Duration::from_secs(20), || {
        registered(&ns.addr, "broker-r")
    });
    assert!(
        seen,
        "not registered 20 s after the nameserver got the rotated secret (the period is 60 s): {}",
        broker.log()
    );
}

fn acl_broker(name: &str, acl: &str, slave: bool, creds: Option<(&str, &str)>) -> BrokerOpts {
    let mut o = broker_opts(name, creds);
    o.set.push(("aclEnable".into(), "true".into()));
    o.set.push(("aclFile".into(), acl.into()));
    if slave {
        o.set.push(("brokerId".into(), "1".into()));
        o.set.push(("brokerRole".into(), "SLAVE".into()));
    }
    o
}

#[test]
fn a_slave_signs_its_sync_with_a_master_that_has_acl_on() {
    let dir = tempfile::tempdir().unwrap();
    let acl = write_acl(dir.path());
    let ns = NamesrvProc::start();
    let master = BrokerProc::start(&ns.addr, acl_broker("broker-s", &acl, false, Some(ADMIN)));
    let admin = Admin::signed(ADMIN.0, ADMIN.1);
    assert_eq!(admin.create_topic(&master.addr, "AclSynced", 4), Some(0));
    let slave = BrokerProc::start(&ns.addr, acl_broker("broker-s", &acl, true, Some(ADMIN)));
    let synced = poll_until("the slave has the topic", Duration::from_secs(30), || {
        admin.has_topic(&slave.addr, "AclSynced")
    });
    assert!(synced, "{}", slave.log());
    assert!(!slave.log().contains("metadata sync from the master failed"));
    drop(slave);

    // without credentials the master refuses the sync and the slave says why
    let mut o = acl_broker("broker-s", &acl, true, None);
    o.set.push(("brokerId".into(), "2".into()));
    let bare = BrokerProc::start(&ns.addr, o);
    let refused = poll_until(
        "the refused sync is logged",
        Duration::from_secs(30),
        || bare.log().contains("metadata sync from the master failed"),
    );
    assert!(refused, "{}", bare.log());
    assert!(bare.log().contains("code 16"), "{}", bare.log());
    assert!(!admin.has_topic(&bare.addr, "AclSynced"));
}

#[test]
fn the_go_client_signs_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let acl = write_acl(dir.path());
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, acl_broker("broker-g", &acl, false, None));
    let admin = Admin::signed(ADMIN.0, ADMIN.1);
    assert_eq!(admin.create_topic(&broker.addr, "AclGo", 4), Some(0));
    std::thread::sleep(Duration::from_millis(500));
    let ns = ns.addr.as_str();
    let auth = format!("--access-key {} --secret-key {}", USER.0, USER.1);
    let produce = format!(
        "produce --namesrv {ns} --topic AclGo --count 20 --prefix go --send-timeout-ms 10000 {auth}"
    );
    run_line(Client::Go, &produce).assert_ok();
    let consume = format!(
        "consume --namesrv {ns} --topic AclGo --group acl-go --prefix go --expect 20 \
         --timeout-ms 60000 {auth}"
    );
    run_line(Client::Go, &consume).assert_ok();
    // a wrong secret sends nothing
    let wrong = format!(
        "produce --namesrv {ns} --topic AclGo --count 1 --retries 0 --send-timeout-ms 5000 \
         --timeout-ms 30000 --access-key {} --secret-key not-the-secret",
        USER.0
    );
    let r = run_line(Client::Go, &wrong);
    assert!(!r.ok(), "a wrong secret must not send: {}", r.json);
}
