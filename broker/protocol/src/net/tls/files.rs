//! Reading PEM files named by config keys: certificate chains, private keys and CA bundles.
//! Errors name the file and the key; they never quote key material.

use super::TlsError;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The crypto provider of every config we build: ring, explicitly. The process-default provider
/// is ambiguous in workspace builds that also pull aws-lc-rs.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The whole file, or an error naming it and its key.
fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        key,
        source,
    })
}

/// The certificates of a PEM file, in file order (a chain: leaf first).
pub(crate) fn load_certs(
    path: &Path,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path, key)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| no_cert(path, key, &e))?;
    if certs.is_empty() {
        return Err(no_cert(path, key, &pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// The first private key of a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
pub(crate) fn load_key(path: &Path, key: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path, key)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        path: path.to_owned(),
        key,
        what: "private key",
        block: "'PRIVATE KEY'",
        detail: match e {
            pem::Error::NoItemsFound => String::from(
                " (or 'RSA PRIVATE KEY' / 'EC PRIVATE KEY'); encrypted keys are not supported",
            ),
            other => format!(": {}", describe(&other)),
        },
    })
}

/// A trust store holding every certificate of a PEM CA bundle.
pub(crate) fn load_roots(path: &Path, key: &'static str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, key)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: path.to_owned(),
            key,
            source,
        })?;
    }
    Ok(roots)
}

fn no_cert(path: &Path, key: &'static str, e: &pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        key,
        what: "certificate",
        block: "'CERTIFICATE'",
        detail: match e {
            pem::Error::NoItemsFound => String::new(),
            other => format!(": {}", describe(other)),
        },
    }
}

/// What is wrong with a PEM file, in words that never quote its content.
fn describe(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no matching -----END line",
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a PEM block's base64 body is corrupt",
        pem::Error::SectionTooLarge => "a PEM block is larger than 256 MB",
        _ => "the file is not valid PEM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone.pem");
        let e = load_certs(&gone, "tls.server.certPath")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("gone.pem") && e.contains("tls.server.certPath"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let e = load_key(&empty, "tls.server.keyPath")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no private key in")
                && e.contains("(tls.server.keyPath): expected a PEM 'PRIVATE KEY' block"),
            "{e}"
        );
        let e = load_certs(&empty, "tls.client.trustCertPath")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no certificate in"), "{e}");
    }

    #[test]
    fn corrupt_key_is_described_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN PRIVATE KEY-----\nSECRET$$$\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = load_key(&bad, "tls.server.keyPath")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("SECRET"), "{e}");
        assert!(e.contains("base64"), "{e}");
    }
}
