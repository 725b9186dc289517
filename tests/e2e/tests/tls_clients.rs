//! TLS on the remoting ports with unmodified Java clients (`-Dtls.enable=true`): enforcing
//! serves TLS clients and refuses plaintext ones, permissive serves both, a client verifying
//! against another CA or meeting an expired certificate fails the handshake (and the server
//! logs one clear line), required client certificates let only the trusted CA's clients in.
//! The broker registers with the nameservers over TLS too (`tls.enable` on the broker).

#![allow(clippy::unwrap_used)]

use rmq_e2e::admin::poll_until;
use rmq_e2e::certs::Certs;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, HarnessResult, NamesrvProc, run_line_env};
use std::time::Duration;

/// The `tls.server.*` keys of a node serving `cert` in `mode`.
fn server_keys(certs: &Certs, mode: &str, cert: &str, auth: &str) -> Vec<(String, String)> {
    vec![
        ("tls.server.mode".into(), mode.into()),
        (
            "tls.server.certPath".into(),
            certs.path(&format!("{cert}.crt")),
        ),
        (
            "tls.server.keyPath".into(),
            certs.path(&format!("{cert}.key")),
        ),
        ("tls.server.trustCertPath".into(), certs.path("ca.pem")),
        ("tls.server.need.client.auth".into(), auth.into()),
    ]
}

/// The broker's own connections (registration) over TLS, verifying the nameserver, with the
/// trusted client certificate.
fn broker_client_keys(certs: &Certs) -> Vec<(String, String)> {
    vec![
        ("tls.enable".into(), "true".into()),
        ("tls.client.trustCertPath".into(), certs.path("ca.pem")),
        ("tls.client.certPath".into(), certs.path("client.crt")),
        ("tls.client.keyPath".into(), certs.path("client.key")),
    ]
}

fn namesrv(keys: &[(String, String)]) -> NamesrvProc {
    let conf: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    NamesrvProc::start_with(0, &conf)
}

fn broker(ns: &NamesrvProc, name: &str, keys: Vec<(String, String)>) -> BrokerProc {
    let mut opts = BrokerOpts {
        name: name.into(),
        ..BrokerOpts::default()
    };
    opts.set.extend(keys);
    BrokerProc::start(&ns.addr, opts)
}

/// JVM options of a Java client: `tls` on or off; `verify` = the CA file it trusts (else it
/// trusts anything, Java's default test mode); `cert` = the client certificate it presents.
fn java_opts(certs: &Certs, tls: bool, verify: Option<&str>, cert: Option<&str>) -> String {
    let mut o = format!("-Xmx256m -Dtls.enable={tls}");
    if verify.is_some() || cert.is_some() {
        o.push_str(" -Dtls.test.mode.enable=false");
    }
    if let Some(ca) = verify {
        let ca = certs.path(ca);
        o.push_str(&format!(
            " -Dtls.client.authServer=true -Dtls.client.trustCertPath={ca}"
        ));
    }
    if let Some(c) = cert {
        let (crt, key) = (
            certs.path(&format!("{c}.crt")),
            certs.path(&format!("{c}.key")),
        );
        o.push_str(&format!(
            " -Dtls.client.certPath={crt} -Dtls.client.keyPath={key}"
        ));
    }
    o
}

/// Sends `count` messages numbered from `start`.
fn produce_from(
    client: Client,
    ns: &str,
    topic: &str,
    opts: &str,
    (start, count): (u32, u32),
) -> HarnessResult {
    let line = format!(
        "produce --namesrv {ns} --topic {topic} --start {start} --count {count} --prefix tls \
         --retries 1 --send-timeout-ms 5000 --timeout-ms 25000"
    );
    let r = run_line_env(client, &line, &[("RMQ_HARNESS_JAVA_OPTS", opts)]);
    eprintln!("{client:?} produce [{opts}]: {}", r.json);
    r
}

fn produce(client: Client, ns: &str, topic: &str, opts: &str, count: u32) -> HarnessResult {
    produce_from(client, ns, topic, opts, (0, count))
}

fn consume(ns: &str, topic: &str, group: &str, opts: &str, expect: u32) -> HarnessResult {
    let line = format!(
        "consume --namesrv {ns} --topic {topic} --group {group} --prefix tls --expect {expect} \
         --timeout-ms 60000"
    );
    run_line_env(Client::Java5, &line, &[("RMQ_HARNESS_JAVA_OPTS", opts)])
}

/// Waits until `broker`'s or `ns`'s log has a line holding every part of `parts`.
fn logged(ns: &NamesrvProc, broker: &BrokerProc, parts: &[&str]) -> bool {
    poll_until("the log line", Duration::from_secs(10), || {
        let text = format!("{}\n{}", ns.log(), broker.log());
        text.lines().any(|l| parts.iter().all(|p| l.contains(p)))
    })
}

#[test]
fn enforcing_serves_tls_clients_and_refuses_plaintext_and_strangers() {
    let certs = Certs::generate();
    let ns = namesrv(&server_keys(&certs, "enforcing", "server", "none"));
    let mut keys = server_keys(&certs, "enforcing", "server", "none");
    keys.extend(broker_client_keys(&certs));
    let b = broker(&ns, "broker-t", keys);
    let tls = java_opts(&certs, true, None, None);
    let verified = java_opts(&certs, true, Some("ca.pem"), None);
    produce(Client::Java5, &ns.addr, "TlsT", &verified, 20).assert_ok();
    produce(Client::Java4, &ns.addr, "TlsT4", &tls, 10).assert_ok();
    consume(&ns.addr, "TlsT", "tls-readers", &tls, 20).assert_ok();

    let plain = java_opts(&certs, false, None, None);
    assert!(!produce(Client::Java5, &ns.addr, "TlsT", &plain, 1).ok());
    assert!(
        logged(&ns, &b, &["TLS handshake with", "not a TLS client"]),
        "{}\n{}",
        ns.log(),
        b.log()
    );
    let stranger = java_opts(&certs, true, Some("other-ca.pem"), None);
    assert!(!produce(Client::Java5, &ns.addr, "TlsT", &stranger, 1).ok());
    assert!(logged(&ns, &b, &["TLS handshake with", "failed"]));
}

#[test]
fn permissive_serves_tls_and_plaintext_clients() {
    let certs = Certs::generate();
    let ns = namesrv(&server_keys(&certs, "permissive", "server", "none"));
    let _b = broker(
        &ns,
        "broker-p",
        server_keys(&certs, "permissive", "server", "none"),
    );
    let tls = java_opts(&certs, true, Some("ca.pem"), None);
    let plain = java_opts(&certs, false, None, None);
    produce(Client::Java5, &ns.addr, "TlsP", &tls, 10).assert_ok();
    produce_from(Client::Java5, &ns.addr, "TlsP", &plain, (10, 10)).assert_ok();
    consume(&ns.addr, "TlsP", "tls-plain", &plain, 20).assert_ok();
}

#[test]
fn expired_certificates_and_missing_client_certificates_fail_the_handshake() {
    let certs = Certs::generate();
    // the nameserver requires client certificates; the broker's certificate has expired
    let ns = namesrv(&server_keys(&certs, "enforcing", "server", "require"));
    let mut keys = server_keys(&certs, "enforcing", "expired", "none");
    keys.extend(broker_client_keys(&certs));
    let b = broker(&ns, "broker-x", keys);
    let with_cert = java_opts(&certs, true, Some("ca.pem"), Some("client"));
    let r = produce(Client::Java5, &ns.addr, "TlsX", &with_cert, 1);
    assert!(
        !r.ok(),
        "a broker with an expired certificate must not be trusted"
    );
    assert!(logged(&ns, &b, &["TLS handshake with", "failed"]));
    // the same client without verifying the server: the nameserver let it in, the broker too
    let unverified = java_opts(&certs, true, None, Some("client"));
    produce(Client::Java5, &ns.addr, "TlsX", &unverified, 5).assert_ok();
    // no client certificate, or one from another CA: the nameserver refuses the handshake
    let no_cert = java_opts(&certs, true, Some("ca.pem"), None);
    assert!(!produce(Client::Java5, &ns.addr, "TlsX", &no_cert, 1).ok());
    assert!(logged(&ns, &b, &["TLS handshake with", "no certificates"]));
    let stranger = java_opts(&certs, true, None, Some("stranger"));
    assert!(!produce(Client::Java5, &ns.addr, "TlsX", &stranger, 1).ok());
}
