//! TLS on the remoting protocol over real sockets on 127.0.0.1, with certificates made by rcgen.
#![allow(clippy::unwrap_used)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rmq_protocol::RemotingCommand;
use rmq_protocol::net::tls::{
    ClientAuth, ClientTls, ClientTlsSettings, ServerTls, ServerTlsSettings, TlsMode,
};
use rmq_protocol::net::{
    Channel, ClientConfig, NetError, RemotingClient, RequestHandler, ServerConfig, serve,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

struct Echo;

impl RequestHandler for Echo {
    async fn handle(&self, _: &Channel, req: RemotingCommand) -> Option<RemotingCommand> {
        Some(RemotingCommand::success(&req).with_body(req.body.clone()))
    }
}

/// A certificate authority that signs leaf certificates.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        issuer: Issuer::new(params, key),
        pem,
    }
}

/// A leaf certificate for `san` signed by `ca`: (certificate PEM, key PEM).
fn leaf(ca: &Ca, san: &str, expired: bool) -> (String, String) {
    let mut params = CertificateParams::new(vec![san.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, san);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Certificates on disk: `ca.pem`/`other-ca.pem`, `server.*`, `client.*`, `stranger.*` (a client
/// cert from the other CA), `expired.*` (an expired server cert from `ca`).
struct Pki {
    dir: TempDir,
    ca: Ca,
    other: Ca,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca, other) = (ca("rmq test CA"), ca("rmq other CA"));
        let pki = Self { dir, ca, other };
        pki.write("ca.pem", &pki.ca.pem);
        pki.write("other-ca.pem", &pki.other.pem);
        pki.write_pair("server", leaf(&pki.ca, "127.0.0.1", false));
        pki.write_pair("client", leaf(&pki.ca, "client", false));
        pki.write_pair("stranger", leaf(&pki.other, "client", false));
        pki.write_pair("expired", leaf(&pki.ca, "127.0.0.1", true));
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn write_pair(&self, name: &str, (cert, key): (String, String)) {
        self.write(&format!("{name}.pem"), &cert);
        self.write(&format!("{name}.key"), &key);
    }

    fn server(&self, mode: TlsMode, name: &str, auth: ClientAuth) -> Arc<ServerTls> {
        Arc::new(ServerTls::new(self.server_settings(mode, name, auth)).unwrap())
    }

    fn server_settings(&self, mode: TlsMode, name: &str, auth: ClientAuth) -> ServerTlsSettings {
        ServerTlsSettings {
            mode,
            cert_path: Some(self.path(&format!("{name}.pem"))),
            key_path: Some(self.path(&format!("{name}.key"))),
            client_auth: auth,
            trust_cert_path: Some(self.path("ca.pem")),
        }
    }

    /// A TLS client trusting `trust` (a file name), sending the `cert` pair if given.
    fn client(&self, trust: &str, cert: Option<&str>) -> RemotingClient {
        let settings = ClientTlsSettings {
            enable: true,
            trust_cert_path: Some(self.path(trust)),
            cert_path: cert.map(|c| self.path(&format!("{c}.pem"))),
            key_path: cert.map(|c| self.path(&format!("{c}.key"))),
            insecure: false,
        };
        tls_client(ClientTls::new(&settings).unwrap())
    }
}

fn tls_client(tls: ClientTls) -> RemotingClient {
    RemotingClient::new(ClientConfig {
        tls: Some(Arc::new(tls)),
        ..ClientConfig::default()
    })
}

fn plain_client() -> RemotingClient {
    RemotingClient::new(ClientConfig::default())
}

async fn start(tls: Option<Arc<ServerTls>>) -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = CancellationToken::new();
    let config = ServerConfig {
        tls,
        ..ServerConfig::default()
    };
    tokio::spawn(serve(listener, Arc::new(Echo), config, stop.clone()));
    (addr, stop)
}

/// One echo round trip, bounded by 3 s.
async fn ping(client: &RemotingClient, addr: &str) -> Result<(), NetError> {
    let req = RemotingCommand::request(1).with_body(&b"ping"[..]);
    let resp = client.invoke(addr, req, Duration::from_secs(3)).await?;
    assert_eq!(&resp.body[..], b"ping");
    Ok(())
}

#[tokio::test]
async fn enforcing_serves_tls_and_refuses_plaintext() {
    let pki = Pki::new();
    let (addr, stop) = start(Some(pki.server(
        TlsMode::Enforcing,
        "server",
        ClientAuth::None,
    )))
    .await;
    ping(&pki.client("ca.pem", None), &addr).await.unwrap();
    let err = ping(&plain_client(), &addr).await.unwrap_err();
    assert!(matches!(err, NetError::Closed { .. }), "{err}");
    stop.cancel();
}

#[tokio::test]
async fn permissive_serves_both_and_disabled_only_plaintext() {
    let pki = Pki::new();
    let (addr, stop) = start(Some(pki.server(
        TlsMode::Permissive,
        "server",
        ClientAuth::None,
    )))
    .await;
    ping(&pki.client("ca.pem", None), &addr).await.unwrap();
    ping(&plain_client(), &addr).await.unwrap();
    stop.cancel();

    let (addr, stop) = start(Some(pki.server(
        TlsMode::Disabled,
        "server",
        ClientAuth::None,
    )))
    .await;
    ping(&plain_client(), &addr).await.unwrap();
    assert!(ping(&pki.client("ca.pem", None), &addr).await.is_err());
    stop.cancel();
}

#[tokio::test]
async fn required_client_auth_accepts_only_the_trusted_ca() {
    let pki = Pki::new();
    let (addr, stop) = start(Some(pki.server(
        TlsMode::Enforcing,
        "server",
        ClientAuth::Require,
    )))
    .await;
    assert!(ping(&pki.client("ca.pem", None), &addr).await.is_err());
    assert!(
        ping(&pki.client("ca.pem", Some("stranger")), &addr)
            .await
            .is_err()
    );
    ping(&pki.client("ca.pem", Some("client")), &addr)
        .await
        .unwrap();
    stop.cancel();

    let (addr, stop) = start(Some(pki.server(
        TlsMode::Enforcing,
        "server",
        ClientAuth::Optional,
    )))
    .await;
    ping(&pki.client("ca.pem", None), &addr).await.unwrap();
    ping(&pki.client("ca.pem", Some("client")), &addr)
        .await
        .unwrap();
    assert!(
        ping(&pki.client("ca.pem", Some("stranger")), &addr)
            .await
            .is_err()
    );
    stop.cancel();
}

#[tokio::test]
async fn clients_refuse_unknown_and_expired_server_certificates() {
    let pki = Pki::new();
    let (addr, stop) = start(Some(pki.server(
        TlsMode::Enforcing,
        "server",
        ClientAuth::None,
    )))
    .await;
    let err = ping(&pki.client("other-ca.pem", None), &addr)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, NetError::Connect { .. }), "{text}");
    assert!(
        text.contains("TLS handshake failed") && text.contains("certificate"),
        "{text}"
    );

    // Test mode skips verification.
    let insecure = ClientTlsSettings {
        enable: true,
        insecure: true,
        ..Default::default()
    };
    ping(&tls_client(ClientTls::new(&insecure).unwrap()), &addr)
        .await
        .unwrap();
    stop.cancel();

    let (addr, stop) = start(Some(pki.server(
        TlsMode::Enforcing,
        "expired",
        ClientAuth::None,
    )))
    .await;
    let text = ping(&pki.client("ca.pem", None), &addr)
        .await
        .unwrap_err()
        .to_string();
    assert!(text.to_lowercase().contains("expired"), "{text}");
    stop.cancel();
}

/// Sets a file's mtime into the future so the reload sees a change even within one clock tick.
fn touch(path: &Path, secs: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(secs))
        .unwrap();
}

#[tokio::test]
async fn reload_swaps_certificates_and_keeps_the_last_good_one() {
    let pki = Pki::new();
    let tls = pki.server(TlsMode::Enforcing, "server", ClientAuth::None);
    let (addr, stop) = start(Some(tls.clone())).await;
    assert!(!tls.reload_if_changed().unwrap());
    assert!(
        ping(&pki.client("other-ca.pem", None), &addr)
            .await
            .is_err()
    );

    pki.write_pair("server", leaf(&pki.other, "127.0.0.1", false));
    touch(&pki.path("server.pem"), 10);
    touch(&pki.path("server.key"), 10);
    assert!(tls.reload_if_changed().unwrap());
    ping(&pki.client("other-ca.pem", None), &addr)
        .await
        .unwrap();
    assert!(ping(&pki.client("ca.pem", None), &addr).await.is_err());

    pki.write(
        "server.key",
        "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    );
    touch(&pki.path("server.key"), 20);
    let err = tls.reload_if_changed().unwrap_err().to_string();
    assert!(err.contains("tls.server.keyPath"), "{err}");
    // The same broken files are not retried; the previous certificate stays in use.
    assert!(!tls.reload_if_changed().unwrap());
    ping(&pki.client("other-ca.pem", None), &addr)
        .await
        .unwrap();
    stop.cancel();
}

#[tokio::test]
async fn bad_files_are_reported_with_their_keys() {
    let pki = Pki::new();
    let mut settings = pki.server_settings(TlsMode::Enforcing, "server", ClientAuth::None);
    settings.key_path = Some(pki.path("ca.pem"));
    let err = ServerTls::new(settings.clone()).unwrap_err().to_string();
    assert!(
        err.contains("no private key in") && err.contains("(tls.server.keyPath)"),
        "{err}"
    );
    settings.key_path = Some(pki.path("client.key"));
    let err = ServerTls::new(settings.clone()).unwrap_err().to_string();
    assert!(
        err.contains("does not match") || err.contains("key belongs"),
        "{err}"
    );
    settings.cert_path = Some(pki.path("missing.pem"));
    let err = ServerTls::new(settings).unwrap_err().to_string();
    assert!(
        err.contains("missing.pem") && err.contains("tls.server.certPath"),
        "{err}"
    );
    let disabled = ServerTlsSettings::default();
    assert!(ServerTls::from_settings(&disabled).unwrap().is_none());
}

/// Collects the messages of WARN-or-worse events logged on this thread.
#[derive(Clone, Default)]
struct Warnings(Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.0 = format!("{v:?}");
                }
            }
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0.lock().unwrap().push(m.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Warnings {
    /// Waits up to 10 s (CI shares two cores with other suites) for a line containing every
    /// one of `parts`; all lines if none matches.
    async fn wait_for(&self, parts: &[&str]) -> Result<String, Vec<String>> {
        for _ in 0..1000 {
            let lines = self.0.lock().unwrap().clone();
            if let Some(l) = lines.iter().find(|l| parts.iter().all(|p| l.contains(p))) {
                return Ok(l.clone());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(self.0.lock().unwrap().clone())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn handshake_failures_log_one_clear_line() {
    let warnings = Warnings::default();
    let _guard = tracing::subscriber::set_default(warnings.clone());
    let pki = Pki::new();
    let (addr, stop) = start(Some(pki.server(
        TlsMode::Enforcing,
        "server",
        ClientAuth::Require,
    )))
    .await;
    assert!(ping(&plain_client(), &addr).await.is_err());
    let line = warnings
        .wait_for(&[
            "TLS handshake with 127.0.0.1:",
            "not a TLS client",
            "enforcing",
        ])
        .await
        .unwrap();
    assert!(
        line.contains("tls.server.mode=enforcing refuses plaintext"),
        "{line}"
    );
    assert!(ping(&pki.client("ca.pem", None), &addr).await.is_err());
    let line = warnings
        .wait_for(&["TLS handshake with 127.0.0.1:", "failed:", "certificate"])
        .await
        .unwrap();
    assert_eq!(warnings.0.lock().unwrap().len(), 2, "{line}");
    stop.cancel();
}
