use super::*;
use crate::config::AclConfig;
use crate::resource::extra_code;
use crate::signature::{Credentials, UNIQUE_KEY_QUERY, V4_9_3};
use rmq_protocol::request_code as rc;

const CONFIG: &str = "\
globalWhiteRemoteAddresses: [10.9.*.*]
accounts:
  - accessKey: app-client
    secretKey: app-secret-1
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms: [orders=PUB, events=SUB, audit=PUB|SUB]
    groupPerms: [billing=DENY]
  - accessKey: ops-admin
    secretKey: ops-secret-1
    admin: true
  - accessKey: trusted-host
    secretKey: trusted-secret
    whiteRemoteAddress: 192.168.7.{1,2}
";

const CLIENT_IP: &str = "172.16.0.5";

fn config() -> AclConfig {
    AclConfig::parse(CONFIG, "test").expect("valid config")
}

fn fields(pairs: &[(&str, &str)]) -> ExtFields {
    let mut f = ExtFields::new();
    for (k, v) in pairs {
        f.insert(k, v);
    }
    f
}

/// The fields as a Java client would send them, signed with `secret`.
fn signed(pairs: &[(&str, &str)], body: &[u8], ak: &str, secret: &str) -> ExtFields {
    let mut f = fields(pairs);
    let added = Credentials::new(ak, secret)
        .sign_request(f.iter(), body)
        .expect("sign");
    for (k, v) in added {
        f.insert(k, v);
    }
    f
}

fn run<'a>(c: &'a AclConfig, code: i32, f: &ExtFields, body: &[u8], ip: &str) -> Decision<'a> {
    let req = Request {
        code,
        version: rmq_protocol::codes::version::CURRENT,
        fields: f,
        body,
        remote: ip.parse().expect("ip"),
    };
    decide(c, &req)
}

fn denial(d: Decision<'_>) -> Denial {
    match d {
        Decision::Deny(d) => d,
        Decision::Allow(g) => panic!("expected a denial, got {g:?}"),
    }
}

fn app(pairs: &[(&str, &str)], body: &[u8]) -> ExtFields {
    signed(pairs, body, "app-client", "app-secret-1")
}

#[test]
fn global_white_list_needs_no_credentials() {
    let c = config();
    let d = run(
        &c,
        rc::UPDATE_AND_CREATE_TOPIC,
        &ExtFields::new(),
        b"",
        "10.9.200.1",
    );
    assert_eq!(d, Decision::Allow(Grant::GlobalWhiteAddress));
    assert_eq!(Grant::GlobalWhiteAddress.account(), None);
}

#[test]
fn missing_access_key_or_signature() {
    let c = config();
    let d = denial(run(
        &c,
        rc::SEND_MESSAGE,
        &fields(&[("topic", "orders")]),
        b"",
        CLIENT_IP,
    ));
    assert_eq!((d.code, d.reason), (16, DenyReason::NoAccessKey));
    assert!(
        d.remark.contains("no AccessKey") && d.remark.contains("AclClientRPCHook"),
        "{}",
        d.remark
    );
    let f = fields(&[("topic", "orders"), ("AccessKey", "app-client")]);
    let d = denial(run(&c, rc::SEND_MESSAGE, &f, b"", CLIENT_IP));
    assert_eq!(d.reason, DenyReason::NoSignature);
    assert!(d.reason.is_authentication_failure());
}

#[test]
fn unknown_account_and_wrong_secret_look_the_same() {
    let c = config();
    let ghost = denial(run(
        &c,
        rc::SEND_MESSAGE,
        &signed(&[("topic", "orders")], b"x", "ghost-user", "app-secret-1"),
        b"x",
        CLIENT_IP,
    ));
    let wrong = denial(run(
        &c,
        rc::SEND_MESSAGE,
        &signed(&[("topic", "orders")], b"x", "app-client", "not-the-secret"),
        b"x",
        CLIENT_IP,
    ));
    assert_eq!(ghost.reason, DenyReason::BadCredentials);
    assert_eq!(wrong.reason, DenyReason::BadCredentials);
    assert_eq!(
        ghost.remark.replace("ghost-user", "X"),
        wrong.remark.replace("app-client", "X")
    );
    assert!(!wrong.remark.contains("app-secret-1") && !wrong.remark.contains("not-the-secret"));
}

#[test]
fn tampering_breaks_the_signature() {
    let c = config();
    let mut f = app(&[("topic", "orders")], b"body");
    assert!(matches!(
        run(&c, rc::SEND_MESSAGE, &f, b"body", CLIENT_IP),
        Decision::Allow(Grant::Signed(_))
    ));
    let d = denial(run(&c, rc::SEND_MESSAGE, &f, b"b0dy", CLIENT_IP));
    assert_eq!(d.reason, DenyReason::BadCredentials);
    f.insert("topic", "audit");
    assert_eq!(
        denial(run(&c, rc::SEND_MESSAGE, &f, b"body", CLIENT_IP)).reason,
        DenyReason::BadCredentials
    );
}

#[test]
fn account_white_address_skips_signature_and_permissions() {
    let c = config();
    let f = fields(&[("AccessKey", "trusted-host"), ("topic", "anything")]);
    let d = run(&c, rc::UPDATE_AND_CREATE_TOPIC, &f, b"", "192.168.7.2");
    let Decision::Allow(Grant::WhiteAddress(a)) = d else {
        panic!("{d:?}")
    };
    assert_eq!(a.access_key, "trusted-host");
    // elsewhere the same request must be signed
    assert_eq!(
        denial(run(&c, rc::UPDATE_AND_CREATE_TOPIC, &f, b"", "192.168.7.3")).reason,
        DenyReason::NoSignature
    );
}

#[test]
fn topic_permissions_for_send_and_pull() {
    let c = config();
    let send = |topic: &str| {
        run(
            &c,
            rc::SEND_MESSAGE_V2,
            &app(&[("a", "pg"), ("b", topic)], b"m"),
            b"m",
            CLIENT_IP,
        )
    };
    assert!(matches!(send("orders"), Decision::Allow(Grant::Signed(_))));
    assert!(matches!(send("audit"), Decision::Allow(_)));
    let d = denial(send("events"));
    assert_eq!(d.reason, DenyReason::NoPermission);
    assert!(
        d.remark
            .contains("lacks PUB on topic:events (its listed permission is SUB)"),
        "{}",
        d.remark
    );
    let d = denial(send("unlisted"));
    assert!(
        d.remark.contains("its default topic permission is DENY")
            && d.remark.contains("topicPerms"),
        "{}",
        d.remark
    );

    let pull = |topic: &str, group: &str| {
        run(
            &c,
            rc::PULL_MESSAGE,
            &app(&[("topic", topic), ("consumerGroup", group)], b""),
            b"",
            CLIENT_IP,
        )
    };
    assert!(matches!(pull("events", "cg-any"), Decision::Allow(_)));
    assert!(
        denial(pull("orders", "cg-any"))
            .remark
            .contains("lacks SUB on topic:orders")
    );
    let d = denial(pull("events", "billing"));
    assert!(
        d.remark.contains("lacks SUB on group:billing") && d.remark.contains("groupPerms"),
        "{}",
        d.remark
    );
}

#[test]
fn retry_topics_are_their_group() {
    let c = config();
    let send = |topic: &str| {
        run(
            &c,
            rc::SEND_MESSAGE,
            &app(&[("topic", topic)], b""),
            b"",
            CLIENT_IP,
        )
    };
    // default group perm is SUB: a consumer sends back to its retry topic
    assert!(matches!(send("%RETRY%cg-any"), Decision::Allow(_)));
    let d = denial(send("%RETRY%billing"));
    assert!(
        d.remark.contains("lacks SUB on group:billing"),
        "{}",
        d.remark
    );
}

#[test]
fn admin_only_codes() {
    let c = config();
    let f = app(&[("topic", "new-topic")], b"");
    let d = denial(run(&c, rc::UPDATE_AND_CREATE_TOPIC, &f, b"", CLIENT_IP));
    assert_eq!(d.reason, DenyReason::AdminOnly);
    assert!(
        d.remark
            .contains("request code 17 (UPDATE_AND_CREATE_TOPIC) needs an admin account"),
        "{}",
        d.remark
    );
    let d = denial(run(
        &c,
        extra_code::UPDATE_AND_CREATE_STATIC_TOPIC,
        &f,
        b"",
        CLIENT_IP,
    ));
    assert!(
        d.remark.contains("request code 513 (UNKNOWN)"),
        "{}",
        d.remark
    );
    let admin = signed(&[("topic", "new-topic")], b"", "ops-admin", "ops-secret-1");
    let d = run(&c, rc::UPDATE_AND_CREATE_TOPIC, &admin, b"", CLIENT_IP);
    assert_eq!(
        d.clone(),
        Decision::Allow(Grant::Signed(c.account("ops-admin").expect("admin")))
    );
    // admins pass topic checks too
    assert!(matches!(
        run(&c, rc::SEND_MESSAGE, &admin, b"", CLIENT_IP),
        Decision::Allow(_)
    ));
}

#[test]
fn heartbeat_body_is_checked() {
    let c = config();
    let hb = |group: &str, topic: &str| {
        format!(
            r#"{{"clientID":"c1","producerDataSet":[],"consumerDataSet":[{{"groupName":"{group}","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","unitMode":false,"subscriptionDataSet":[{{"topic":"{topic}","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1,"expressionType":"TAG","classFilterMode":false}}]}}]}}"#
        )
    };
    let body = hb("cg-any", "events");
    let ok = run(
        &c,
        rc::HEART_BEAT,
        &app(&[], body.as_bytes()),
        body.as_bytes(),
        CLIENT_IP,
    );
    assert!(matches!(ok, Decision::Allow(_)), "{ok:?}");
    let body = hb("cg-any", "orders");
    let d = denial(run(
        &c,
        rc::HEART_BEAT,
        &app(&[], body.as_bytes()),
        body.as_bytes(),
        CLIENT_IP,
    ));
    assert!(d.remark.contains("topic:orders"), "{}", d.remark);
    let d = denial(run(
        &c,
        rc::HEART_BEAT,
        &app(&[], b"not json"),
        b"not json",
        CLIENT_IP,
    ));
    assert_eq!(d.reason, DenyReason::BadBody);
    assert!(d.remark.contains("request code 34"), "{}", d.remark);
}

#[test]
fn trace_topic_needs_no_permission() {
    let c = config();
    let f = app(&[("topic", "RMQ_SYS_TRACE_TOPIC")], b"trace");
    assert!(matches!(
        run(&c, rc::SEND_MESSAGE, &f, b"trace", CLIENT_IP),
        Decision::Allow(_)
    ));
    // but reading it does
    let f = app(
        &[("topic", "RMQ_SYS_TRACE_TOPIC"), ("consumerGroup", "cg")],
        b"",
    );
    assert_eq!(
        denial(run(&c, rc::PULL_MESSAGE, &f, b"", CLIENT_IP)).reason,
        DenyReason::NoPermission
    );
}

#[test]
fn route_queries_need_pub_or_sub() {
    let c = config();
    let route = |t: &str| {
        run(
            &c,
            rc::GET_ROUTEINFO_BY_TOPIC,
            &app(&[("topic", t)], b""),
            b"",
            CLIENT_IP,
        )
    };
    assert!(matches!(route("orders"), Decision::Allow(_)));
    assert!(matches!(route("events"), Decision::Allow(_)));
    assert!(
        denial(route("secret-topic"))
            .remark
            .contains("lacks PUB or SUB on topic:secret-topic")
    );
}

#[test]
fn old_clients_added_the_unique_key_flag_after_signing() {
    let c = config();
    let mut f = app(&[("topic", "events"), ("key", "k1")], b"");
    f.insert(UNIQUE_KEY_QUERY, "true");
    let at = |version: i32| {
        let req = Request {
            code: rc::QUERY_MESSAGE,
            version,
            fields: &f,
            body: b"",
            remote: CLIENT_IP.parse().expect("ip"),
        };
        decide(&c, &req)
    };
    assert!(matches!(at(V4_9_3), Decision::Allow(_)));
    assert_eq!(denial(at(V4_9_3 + 1)).reason, DenyReason::BadCredentials);
}

#[test]
fn ipv4_mapped_remotes_match_ipv4_lists() {
    let c = config();
    let d = run(
        &c,
        rc::SEND_MESSAGE,
        &ExtFields::new(),
        b"",
        "::ffff:10.9.1.1",
    );
    assert_eq!(d, Decision::Allow(Grant::GlobalWhiteAddress));
}
