//! `TlsError`: everything that can be wrong with TLS settings or the files they name. Each message
//! says what was wrong and which config key to fix.

use std::path::PathBuf;
use thiserror::Error;

/// A TLS setting or file that cannot be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A key holds text that is not one of its allowed values.
    #[error("invalid {key}={value:?}: expected one of {expected}")]
    BadValue {
        /// The config key, e.g. `tls.server.mode`.
        key: &'static str,
        /// The text found.
        value: String,
        /// The allowed values, e.g. `disabled|permissive|enforcing`.
        expected: &'static str,
    },
    /// A key that the other settings make necessary is not set.
    #[error("{key} is not set but {why}: set {key} to {what}")]
    Missing {
        /// The config key to set.
        key: &'static str,
        /// Why it is needed, e.g. `tls.server.mode=enforcing`.
        why: String,
        /// What the key should point at.
        what: &'static str,
    },
    /// Neither a trust bundle nor the insecure test mode is set for outgoing TLS.
    #[error(
        "tls.enable=true but the client cannot verify servers: set tls.client.trustCertPath to \
         the CA bundle (PEM) that signed the servers' certificates, or tls.test.mode.enable=true \
         to skip verification (tests only)"
    )]
    NoClientTrust,
    /// A file named by a key cannot be read.
    #[error("cannot read {path} ({key}): {source}; check that {key} names a readable file")]
    Read {
        /// The file.
        path: PathBuf,
        /// The config key that named it.
        key: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file holds no usable PEM block of the expected kind.
    #[error("no {what} in {path} ({key}): expected a PEM {block} block{detail}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// The config key that named it.
        key: &'static str,
        /// What was looked for, e.g. `private key`.
        what: &'static str,
        /// The PEM label expected, e.g. `'PRIVATE KEY'`.
        block: &'static str,
        /// Extra words from the PEM parser, starting with `: ` (empty if none).
        detail: String,
    },
    /// A certificate in a CA bundle is not a usable trust anchor.
    #[error("bad CA certificate in {path} ({key}): {source}")]
    BadCa {
        /// The bundle.
        path: PathBuf,
        /// The config key that named it.
        key: &'static str,
        /// Why rustls refused it.
        source: rustls::Error,
    },
    /// rustls refused the certificate chain and key, e.g. the key does not match the certificate.
    #[error(
        "cannot use certificate {cert} ({cert_key}) with private key {key_path} ({key_key}): \
         {source}; check that the key belongs to the first certificate of the chain"
    )]
    CertKey {
        /// The certificate chain file.
        cert: PathBuf,
        /// Its config key.
        cert_key: &'static str,
        /// The private key file.
        key_path: PathBuf,
        /// Its config key.
        key_key: &'static str,
        /// Why rustls refused them (boxed: keeps `TlsError` small).
        source: Box<rustls::Error>,
    },
    /// A client-certificate or server-certificate verifier could not be built from a CA bundle.
    #[error("cannot verify peers with the CA bundle {path} ({key}): {reason}")]
    Verifier {
        /// The bundle.
        path: PathBuf,
        /// The config key that named it.
        key: &'static str,
        /// Why the verifier could not be built.
        reason: String,
    },
    /// The protocol versions of the ring provider cannot be used (a build problem).
    #[error("the TLS provider refuses the default protocol versions: {0}")]
    Provider(rustls::Error),
    /// The host of an address is neither an IP literal nor a valid DNS name.
    #[error(
        "cannot connect with TLS to {addr:?}: {host:?} is not a valid DNS name or IP address; \
         use host:port where host matches the server certificate"
    )]
    ServerName {
        /// The `host:port` dialled.
        addr: String,
        /// The host part.
        host: String,
    },
}
