//! `ClientTls`: how this process dials remoting servers over TLS (`tls.enable`, `tls.client.*`,
//! `tls.test.mode.enable`).

use super::TlsError;
use super::files::{load_certs, load_key, load_roots, provider};
use super::insecure::AcceptAnyServerCert;
use super::settings::{ClientTlsSettings, keys};
use rustls::client::WebPkiServerVerifier;
use rustls_pki_types::ServerName;
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
}
