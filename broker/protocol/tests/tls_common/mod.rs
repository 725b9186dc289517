//! Shared by the TLS suites: certificates made by rcgen, an echo server, clients.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

pub use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
pub use rmq_protocol::RemotingCommand;
pub use rmq_protocol::net::tls::{
    ClientAuth, ClientTls, ClientTlsSettings, ServerTls, ServerTlsSettings, TlsMode,
};
pub use rmq_protocol::net::{
    Channel, ClientConfig, NetError, RemotingClient, RequestHandler, ServerConfig, serve,
};
pub use std::path::{Path, PathBuf};
pub use std::sync::Arc;
pub use std::time::{Duration, SystemTime};
pub use tempfile::TempDir;
pub use tokio::net::TcpListener;
pub use tokio_util::sync::CancellationToken;

pub struct Echo;

impl RequestHandler for Echo {
    async fn handle(&self, _: &Channel, req: RemotingCommand) -> Option<RemotingCommand> {
        Some(RemotingCommand::success(&req).with_body(req.body.clone()))
    }
}

/// A certificate authority that signs leaf certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

pub fn ca(name: &str) -> Ca {
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
pub fn leaf(ca: &Ca, san: &str, expired: bool) -> (String, String) {
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
pub struct Pki {
    pub dir: TempDir,
    pub ca: Ca,
    pub other: Ca,
}

impl Pki {
    pub fn new() -> Self {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    pub fn write_pair(&self, name: &str, (cert, key): (String, String)) {
        self.write(&format!("{name}.pem"), &cert);
        self.write(&format!("{name}.key"), &key);
    }

    pub fn server(&self, mode: TlsMode, name: &str, auth: ClientAuth) -> Arc<ServerTls> {
        Arc::new(ServerTls::new(self.server_settings(mode, name, auth)).unwrap())
    }

    pub fn server_settings(
        &self,
        mode: TlsMode,
        name: &str,
        auth: ClientAuth,
    ) -> ServerTlsSettings {
        ServerTlsSettings {
            mode,
            cert_path: Some(self.path(&format!("{name}.pem"))),
            key_path: Some(self.path(&format!("{name}.key"))),
            client_auth: auth,
            trust_cert_path: Some(self.path("ca.pem")),
        }
    }

    /// A TLS client trusting `trust` (a file name), sending the `cert` pair if given.
    pub fn client(&self, trust: &str, cert: Option<&str>) -> RemotingClient {
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

pub fn tls_client(tls: ClientTls) -> RemotingClient {
    RemotingClient::new(ClientConfig {
        tls: Some(Arc::new(tls)),
        ..ClientConfig::default()
    })
}

pub fn plain_client() -> RemotingClient {
    RemotingClient::new(ClientConfig::default())
}

pub async fn start(tls: Option<Arc<ServerTls>>) -> (String, CancellationToken) {
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
pub async fn ping(client: &RemotingClient, addr: &str) -> Result<(), NetError> {
    let req = RemotingCommand::request(1).with_body(&b"ping"[..]);
    let resp = client.invoke(addr, req, Duration::from_secs(3)).await?;
    assert_eq!(&resp.body[..], b"ping");
    Ok(())
}
