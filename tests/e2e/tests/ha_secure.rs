//! The HA port secured like the remoting ports: with `tls.server.mode=enforcing` and
//! `aclEnable=true` a master replicates over TLS to a slave that authenticates with an admin
//! account (`innerClientAuthenticationCredentials`); a plaintext client on the HA port gets
//! nothing, a TLS slave without credentials or with a non-admin account is refused (both sides
//! log why, no secret) and receives no data. In `permissive` mode a plaintext slave and a TLS
//! slave both replicate, and a plaintext peer without credentials gets only a refusal frame.
//! Messages are sent by the Java client over TLS, signed.

#![allow(clippy::unwrap_used)]

use rmq_e2e::admin::poll_until;
use rmq_e2e::certs::Certs;
use rmq_e2e::http::{metric_value, scrape_metrics};
use rmq_e2e::process::free_port;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, NamesrvProc, run_line_env, wait_until};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const ADMIN: (&str, &str) = ("rmqadmin", "admin-secret-0001");
const USER: (&str, &str) = ("rmquser", "user-secret-0002");
/// The offset field of a refusal frame (`FF 'R' 'M' 'Q' 'N' 'O' 00 01`).
const REFUSAL: [u8; 8] = [0xFF, b'R', b'M', b'Q', b'N', b'O', 0x00, 0x01];

/// An admin and a user who may publish and subscribe to everything.
fn write_acl(dir: &Path) -> String {
    let file = dir.join("plain_acl.yml");
    let text = format!(
        "accounts:\n\
         - accessKey: {}\n  secretKey: {}\n  admin: true\n\
         - accessKey: {}\n  secretKey: {}\n  defaultTopicPerm: PUB|SUB\n  defaultGroupPerm: SUB\n",
        ADMIN.0, ADMIN.1, USER.0, USER.1
    );
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

/// A broker of group `broker-sec`: `id` 0 is the master (ACL on, HA port `ha_port`), others
/// slaves; TLS server side in `mode`, its own connections over TLS when `tls_client`, signed
/// with `creds`.
struct Node<'a> {
    id: u32,
    mode: &'a str,
    tls_client: bool,
    creds: Option<(&'a str, &'a str)>,
}

fn node_opts(certs: &Certs, acl: &str, ha_port: u16, n: &Node) -> BrokerOpts {
    let mut set: Vec<(String, String)> = vec![
        ("tls.server.mode".into(), n.mode.into()),
        ("tls.server.certPath".into(), certs.path("server.crt")),
        ("tls.server.keyPath".into(), certs.path("server.key")),
        ("aclEnable".into(), "true".into()),
        ("aclFile".into(), acl.into()),
    ];
    if n.tls_client {
        set.push(("tls.enable".into(), "true".into()));
        set.push(("tls.client.trustCertPath".into(), certs.path("ca.pem")));
    }
    if let Some((ak, sk)) = n.creds {
        set.push((
            "innerClientAuthenticationCredentials".into(),
            format!("{{\"accessKey\":\"{ak}\",\"secretKey\":\"{sk}\"}}"),
        ));
    }
    if n.id == 0 {
        set.push(("haListenPort".into(), ha_port.to_string()));
    } else {
        set.push(("brokerId".into(), n.id.to_string()));
        set.push(("brokerRole".into(), "SLAVE".into()));
    }
    let mut o = BrokerOpts {
        name: "broker-sec".into(),
        ..BrokerOpts::default()
    };
    o.set.extend(set);
    o
}

/// A nameserver taking both TLS and plaintext registrations.
fn namesrv(certs: &Certs) -> NamesrvProc {
    let (crt, key) = (certs.path("server.crt"), certs.path("server.key"));
    NamesrvProc::start_with(
        0,
        &[
            ("tls.server.mode", "permissive"),
            ("tls.server.certPath", &crt),
            ("tls.server.keyPath", &key),
        ],
    )
}

/// Sends `count` messages as the admin, over TLS (verifying the CA) or plaintext.
fn produce(certs: &Certs, ns: &str, topic: &str, tls: bool, count: u32) {
    let mut opts = format!("-Xmx256m -Dtls.enable={tls}");
    if tls {
        let ca = certs.path("ca.pem");
        opts.push_str(&format!(
            " -Dtls.test.mode.enable=false -Dtls.client.authServer=true \
             -Dtls.client.trustCertPath={ca}"
        ));
    }
    let line = format!(
        "produce --namesrv {ns} --topic {topic} --count {count} --prefix hasec --retries 2 \
         --send-timeout-ms 10000 --timeout-ms 60000 --access-key {} --secret-key {}",
        ADMIN.0, ADMIN.1
    );
    let r = run_line_env(Client::Java5, &line, &[("RMQ_HARNESS_JAVA_OPTS", &opts)]);
    eprintln!("produce {topic} (tls {tls}): {}", r.json);
    r.assert_ok();
}

/// A `/metrics` value without labels (-1 when absent).
fn metric(b: &BrokerProc, name: &str) -> f64 {
    metric_value(&scrape_metrics(&b.http_addr), name, &[]).unwrap_or(-1.0)
}

/// Waits until `slave` holds the master's whole commit log (and it is not empty).
fn wait_replicated(master: &BrokerProc, slave: &BrokerProc) {
    wait_until(
        "the slave has the master's data",
        Duration::from_secs(60),
        || {
            let m = metric(master, "rmq_store_commitlog_bytes");
            m > 0.0
                && metric(slave, "rmq_store_commitlog_bytes") == m
                && metric(master, "rmq_ha_slave_lag_bytes") == 0.0
        },
    );
}

/// Connects to `addr` in plaintext, sends a classic report (offset 0) and reads until the
/// master closes: everything it sent.
fn plaintext_peer(addr: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(&0i64.to_be_bytes()).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the master neither answered nor closed: {e} (got {got:?})"),
        }
    }
}

/// Waits until `b`'s log has a line holding every one of `parts`.
fn logged(b: &BrokerProc, parts: &[&str]) -> bool {
    poll_until("the log line", Duration::from_secs(30), || {
        b.log().lines().any(|l| parts.iter().all(|p| l.contains(p)))
    })
}

#[test]
fn enforcing_tls_and_acl_replicate_only_to_an_admin_slave() {
    let certs = Certs::generate();
    let dir = tempfile::tempdir().unwrap();
    let acl = write_acl(dir.path());
    let ns = namesrv(&certs);
    let ha_port = free_port();
    let node = |id, creds| Node {
        id,
        mode: "enforcing",
        tls_client: true,
        creds,
    };
    let start = |n: &Node| BrokerProc::start(&ns.addr, node_opts(&certs, &acl, ha_port, n));
    let master = start(&node(0, Some(ADMIN)));
    let slave = start(&node(1, Some(ADMIN)));
    wait_until("the slave connects", Duration::from_secs(30), || {
        metric(&master, "rmq_ha_slaves_connected") == 1.0
    });
    produce(&certs, &ns.addr, "HaSecT", true, 20);
    wait_replicated(&master, &slave);
    assert!(logged(
        &master,
        &["HA: slave connected", "tls=true", ADMIN.0]
    ));

    // a plaintext peer on the enforcing HA port: no byte, closed
    let got = plaintext_peer(&format!("127.0.0.1:{ha_port}"));
    assert!(got.is_empty(), "a plaintext peer got {} bytes", got.len());
    assert!(logged(
        &master,
        &["HA: TLS handshake with", "not a TLS client"]
    ));

    // TLS slaves without credentials and with a non-admin account: refused, told why
    let bare = start(&node(2, None));
    let user = start(&node(3, Some(USER)));
    assert!(logged(
        &bare,
        &[
            "the master refused this slave",
            "innerClientAuthenticationCredentials"
        ]
    ));
    assert!(logged(&master, &["HA: slave refused", "no credentials"]));
    assert!(logged(
        &user,
        &["the master refused this slave", "not an admin"]
    ));
    assert!(logged(
        &master,
        &["HA: slave refused", USER.0, "not an admin"]
    ));
    produce(&certs, &ns.addr, "HaSecT", true, 5);
    wait_replicated(&master, &slave);
    for refused in [&bare, &user] {
        assert_eq!(metric(refused, "rmq_store_commitlog_bytes"), 0.0);
    }
    // a slave that sent a hello counts as connected only once the master let it in
    assert_eq!(metric(&user, "rmq_ha_master_connected"), 0.0);
    assert_eq!(metric(&master, "rmq_ha_slaves_connected"), 1.0);
    for b in [&master, &slave, &bare, &user] {
        let log = b.log();
        assert!(
            !log.contains(ADMIN.1) && !log.contains(USER.1),
            "a secret leaked: {log}"
        );
    }
}

#[test]
fn permissive_replicates_to_plaintext_and_tls_slaves() {
    let certs = Certs::generate();
    let dir = tempfile::tempdir().unwrap();
    let acl = write_acl(dir.path());
    let ns = namesrv(&certs);
    let ha_port = free_port();
    let node = |id, tls_client| Node {
        id,
        mode: "permissive",
        tls_client,
        creds: Some(ADMIN),
    };
    let start = |n: &Node| BrokerProc::start(&ns.addr, node_opts(&certs, &acl, ha_port, n));
    let master = start(&node(0, false));
    let plain = start(&node(1, false));
    let tls = start(&node(2, true));
    wait_until("both slaves connect", Duration::from_secs(30), || {
        metric(&master, "rmq_ha_slaves_connected") == 2.0
    });
    produce(&certs, &ns.addr, "HaSecP", false, 20);
    wait_replicated(&master, &plain);
    wait_replicated(&master, &tls);
    assert!(logged(
        &master,
        &["HA: slave connected", "tls=false", ADMIN.0]
    ));
    assert!(logged(
        &master,
        &["HA: slave connected", "tls=true", ADMIN.0]
    ));

    // plaintext without a hello: ACL refuses with a refusal frame, never commit log data
    let got = plaintext_peer(&format!("127.0.0.1:{ha_port}"));
    assert!(got.len() > 12 && got[..8] == REFUSAL, "{got:?}");
    let reason = String::from_utf8_lossy(&got[12..]);
    assert!(reason.contains("aclEnable=true"), "{reason}");
    assert!(logged(&master, &["HA: slave refused", "no credentials"]));
}
