//! `ClientTls`: how this process dials remoting servers over TLS (`tls.enable`, `tls.client.*`,
//! `tls.test.mode.enable`).

use super::TlsError;
use super::files::{load_certs, load_key, load_roots, provider};
use super::insecure::AcceptAnyServerCert;
use super::settings::{ClientTlsSettings, keys};
use rustls::client::WebPkiServerVerifier;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The client side's rustls config.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
}

impl ClientTls {
    /// Builds the config: server certificates are verified against `tls.client.trustCertPath`,
    /// or not at all with `tls.test.mode.enable=true`; the client certificate is sent when
    /// `tls.client.certPath`/`keyPath` are set. `tls.enable` itself is not looked at.
    pub fn new(settings: &ClientTlsSettings) -> Result<Self, TlsError> {
        ClientTlsSettings {
            enable: true,
            ..settings.clone()
        }
        .validate()?;
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Provider)?;
        let builder = match &settings.trust_cert_path {
            Some(ca) if !settings.insecure => {
                let roots = load_roots(ca, keys::CLIENT_TRUST_CERT_PATH)?;
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| TlsError::Verifier {
                            path: ca.clone(),
                            key: keys::CLIENT_TRUST_CERT_PATH,
                            reason: e.to_string(),
                        })?;
                builder.with_webpki_verifier(verifier)
            }
            _ => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(&provider))),
        };
        let config = match (&settings.cert_path, &settings.key_path) {
            (Some(cert_path), Some(key_path)) => {
                let certs = load_certs(cert_path, keys::CLIENT_CERT_PATH)?;
                let key = load_key(key_path, keys::CLIENT_KEY_PATH)?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|source| TlsError::CertKey {
                        cert: cert_path.clone(),
                        cert_key: keys::CLIENT_CERT_PATH,
                        key_path: key_path.clone(),
                        key_key: keys::CLIENT_KEY_PATH,
                        source: Box::new(source),
                    })?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Builds the config from PEM data instead of files (e.g. the `ca.crt`, `tls.crt` and
    /// `tls.key` of a Kubernetes Secret): server certificates are verified against exactly the
    /// CA certificates of `ca_pem` (never the system roots); with `client` = (certificate chain
    /// PEM, private key PEM) that certificate is presented to servers that ask for one. Errors
    /// name the data by those Secret keys (`ca.crt`, `tls.crt`, `tls.key`) and never quote it.
    pub fn from_pem(ca_pem: &[u8], client: Option<(&[u8], &[u8])>) -> Result<Self, TlsError> {
        let provider = provider();
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem_certs(ca_pem, PEM_CA)? {
            roots.add(cert).map_err(|source| TlsError::BadCa {
                path: PEM_DATA.into(),
                key: PEM_CA,
                source,
            })?;
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsError::Verifier {
                    path: PEM_DATA.into(),
                    key: PEM_CA,
                    reason: e.to_string(),
                })?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Provider)?
            .with_webpki_verifier(verifier);
        let config = match client {
            Some((chain, key)) => builder
                .with_client_auth_cert(pem_certs(chain, PEM_CERT)?, pem_key(key)?)
                .map_err(|source| TlsError::CertKey {
                    cert: PEM_DATA.into(),
                    cert_key: PEM_CERT,
                    key_path: PEM_DATA.into(),
                    key_key: PEM_KEY,
                    source: Box::new(source),
                })?,
            None => builder.with_no_client_auth(),
        };
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// `None` when `tls.enable=false`, else the loaded client side.
    pub fn from_settings(settings: &ClientTlsSettings) -> Result<Option<Arc<Self>>, TlsError> {
        if !settings.enable {
            return Ok(None);
        }
        Self::new(settings).map(|t| Some(Arc::new(t)))
    }

    /// The rustls config.
    pub fn config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }

    /// Runs the TLS handshake on a connected stream to `addr` (`host:port`); errors say that TLS
    /// failed and why.
    pub(crate) async fn handshake(
        &self,
        addr: &str,
        stream: TcpStream,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = server_name(addr).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        TlsConnector::from(self.config.clone())
            .connect(name, stream)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake failed: {e}")))
    }
}

/// The name a server certificate must match for `addr` (`host:port` or `[v6]:port`): an IP
/// literal host gives an IP address name, anything else a DNS name.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, TlsError> {
    let host = match addr.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(h, _)| h),
        None => addr.rsplit_once(':').map_or(addr, |(h, _)| h),
    };
    ServerName::try_from(host.to_owned()).map_err(|_| TlsError::ServerName {
        addr: addr.to_owned(),
        host: host.to_owned(),
    })
}

/// What [`ClientTls::from_pem`]'s errors call their input in place of a file path.
const PEM_DATA: &str = "PEM data";
/// The Secret key of the CA bundle, named in [`ClientTls::from_pem`]'s errors.
const PEM_CA: &str = "ca.crt";
/// The Secret key of the client certificate chain.
const PEM_CERT: &str = "tls.crt";
/// The Secret key of the client private key.
const PEM_KEY: &str = "tls.key";

/// The certificates of PEM data, in order; at least one.
fn pem_certs(pem: &[u8], key: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(key, "certificate", "'CERTIFICATE'", &e))?;
    if certs.is_empty() {
        return Err(pem_error(
            key,
            "certificate",
            "'CERTIFICATE'",
            &pem::Error::NoItemsFound,
        ));
    }
    Ok(certs)
}

/// The first private key of PEM data: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
fn pem_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| pem_error(PEM_KEY, "private key", "'PRIVATE KEY'", &e))
}

/// A [`TlsError::Pem`] for PEM data; the detail never quotes the data.
fn pem_error(
    key: &'static str,
    what: &'static str,
    block: &'static str,
    e: &pem::Error,
) -> TlsError {
    let detail = match e {
        pem::Error::NoItemsFound if what == "private key" => {
            " (or 'RSA PRIVATE KEY' / 'EC PRIVATE KEY'); encrypted keys are not supported"
        }
        pem::Error::NoItemsFound => "",
        pem::Error::MissingSectionEnd { .. } => ": a PEM block has no matching -----END line",
        pem::Error::IllegalSectionStart { .. } => ": a -----BEGIN line is malformed",
        pem::Error::Base64Decode(_) => ": a PEM block's base64 body is corrupt",
        _ => ": the data is not valid PEM",
    };
    TlsError::Pem {
        path: PEM_DATA.into(),
        key,
        what,
        block,
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn ip_literals_and_dns_names() {
        let ip = |a: &str| match server_name(a).unwrap() {
            ServerName::IpAddress(ip) => IpAddr::from(ip),
            other => panic!("{other:?}"),
        };
        assert_eq!(ip("127.0.0.1:9876"), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(ip("[::1]:9876"), IpAddr::V6(Ipv6Addr::LOCALHOST));
        match server_name("broker-0.rmq.svc:10911").unwrap() {
            ServerName::DnsName(d) => assert_eq!(d.as_ref(), "broker-0.rmq.svc"),
            other => panic!("{other:?}"),
        }
        let e = server_name("bad host!:1").unwrap_err().to_string();
        assert!(e.contains("bad host!"), "{e}");
    }

    #[test]
    fn needs_trust_or_test_mode() {
        let e = ClientTls::new(&ClientTlsSettings::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls.client.trustCertPath"), "{e}");
        let insecure = ClientTlsSettings {
            insecure: true,
            ..Default::default()
        };
        assert!(ClientTls::new(&insecure).is_ok());
        assert!(ClientTls::from_settings(&insecure).unwrap().is_none());
    }

    /// PEM of a CA, and of leaf certificates (chain, key) for 127.0.0.1 signed by it.
    struct TestCa {
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
        pem: String,
    }

    impl TestCa {
        fn new(name: &str) -> Self {
            use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let key = KeyPair::generate().unwrap();
            let pem = params.self_signed(&key).unwrap().pem();
            Self {
                issuer: rcgen::Issuer::new(params, key),
                pem,
            }
        }

        fn leaf(&self) -> (String, String) {
            let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        }
    }

    /// Runs a TLS server serving `leaf` for one handshake and dials it with `client`.
    async fn handshake_with(client: &ClientTls, leaf: &(String, String)) -> io::Result<()> {
        let chain = pem_certs(leaf.0.as_bytes(), PEM_CERT).unwrap();
        let key = pem_key(leaf.1.as_bytes()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let serve = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = acceptor.accept(tcp).await;
        });
        let tcp = TcpStream::connect(&addr).await.unwrap();
        let result = client.handshake(&addr, tcp).await.map(drop);
        serve.abort();
        result
    }

    #[tokio::test]
    async fn from_pem_trusts_exactly_the_given_ca() {
        let (ca, other) = (TestCa::new("from_pem CA"), TestCa::new("other CA"));
        let client = ClientTls::from_pem(ca.pem.as_bytes(), None).unwrap();
        handshake_with(&client, &ca.leaf()).await.unwrap();
        let e = handshake_with(&client, &other.leaf()).await.unwrap_err();
        assert!(e.to_string().contains("TLS handshake failed"), "{e}");
        let (crt, key) = ca.leaf();
        let with_cert =
            ClientTls::from_pem(ca.pem.as_bytes(), Some((crt.as_bytes(), key.as_bytes()))).unwrap();
        handshake_with(&with_cert, &ca.leaf()).await.unwrap();
    }

    #[test]
    fn from_pem_errors_name_the_secret_key_never_the_data() {
        let e = ClientTls::from_pem(b"not pem SECRET", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no certificate in PEM data (ca.crt)"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        let ca = TestCa::new("from_pem CA");
        let (crt, key) = ca.leaf();
        let bad_key = b"-----BEGIN PRIVATE KEY-----\nSECRET$$$\n-----END PRIVATE KEY-----\n";
        let e = ClientTls::from_pem(ca.pem.as_bytes(), Some((crt.as_bytes(), bad_key)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("(tls.key)") && e.contains("base64"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        let (_, other_key) = ca.leaf();
        let e = ClientTls::from_pem(
            ca.pem.as_bytes(),
            Some((crt.as_bytes(), other_key.as_bytes())),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("(tls.crt)") && e.contains("(tls.key)"), "{e}");
        assert!(
            ClientTls::from_pem(ca.pem.as_bytes(), Some((crt.as_bytes(), key.as_bytes()))).is_ok()
        );
    }
}
