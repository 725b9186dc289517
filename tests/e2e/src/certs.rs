//! Certificates for the TLS suites, made with rcgen in a temporary directory: two CAs, a server
//! certificate for 127.0.0.1 and `localhost`, an expired one, and client certificates from
//! each CA. Keys are PKCS#8 PEM, which both rustls and Java (Netty) read.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::PathBuf;

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let pem = params.self_signed(&key).expect("CA certificate").pem();
    Ca {
        issuer: Issuer::new(params, key),
        pem,
    }
}

/// (certificate PEM, key PEM) for 127.0.0.1 and localhost, signed by `ca`.
fn leaf(ca: &Ca, name: &str, expired: bool) -> (String, String) {
    let sans = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let mut params = CertificateParams::new(sans).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().expect("leaf key");
    let cert = params
        .signed_by(&key, &ca.issuer)
        .expect("leaf certificate");
    (cert.pem(), key.serialize_pem())
}

/// The files: `ca.pem`, `other-ca.pem`; `server`, `expired`, `client` (by `ca.pem`) and
/// `stranger` (by `other-ca.pem`), each as `<name>.crt` + `<name>.key`.
pub struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    /// Makes every certificate.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let trusted = ca("rmq test CA");
        let other = ca("rmq other CA");
        let certs = Self { dir };
        certs.write("ca.pem", &trusted.pem);
        certs.write("other-ca.pem", &other.pem);
        for (name, ca, expired) in [
            ("server", &trusted, false),
            ("expired", &trusted, true),
            ("client", &trusted, false),
            ("stranger", &other, false),
        ] {
            let (crt, key) = leaf(ca, name, expired);
            certs.write(&format!("{name}.crt"), &crt);
            certs.write(&format!("{name}.key"), &key);
        }
        certs
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).expect("write certificate");
    }

    /// The path of file `name`, as text (for config values).
    pub fn path(&self, name: &str) -> String {
        self.file(name).display().to_string()
    }

    /// The path of file `name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
