//! `ServerTls`: the server side's rustls config, built from `tls.server.*` files and swapped for a
//! new one when those files change (see `reload`). New handshakes use the current config; open
//! connections keep the one they were made with.

use super::TlsError;
use super::files::{load_certs, load_key, load_roots, provider};
use super::reload::{self, Decision, ReloadState};
use super::settings::{ClientAuth, ServerTlsSettings, TlsMode, keys};
use parking_lot::{Mutex, RwLock};
use rustls::server::WebPkiClientVerifier;
use std::path::Path;
use std::sync::Arc;

/// The TLS side of a remoting server: its mode and its current, reloadable rustls config.
pub struct ServerTls {
    settings: ServerTlsSettings,
    current: RwLock<Arc<rustls::ServerConfig>>,
    reload: Mutex<ReloadState>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("mode", &self.settings.mode)
            .field("cert_path", &self.settings.cert_path)
            .field("client_auth", &self.settings.client_auth)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the certificate chain, private key and (for client auth) CA bundle the settings
    /// name. The paths are needed whatever the mode; with mode `disabled` the server still
    /// speaks plaintext only.
    pub fn new(settings: ServerTlsSettings) -> Result<Self, TlsError> {
        settings.validate()?;
        let stamps = reload::stamps(&watched(&settings)?);
        let config = build(&settings)?;
        Ok(Self {
            settings,
            current: RwLock::new(config),
            reload: Mutex::new(ReloadState::new(stamps)),
        })
    }

    /// `None` when `tls.server.mode=disabled`, else the loaded TLS side.
    pub fn from_settings(settings: &ServerTlsSettings) -> Result<Option<Arc<Self>>, TlsError> {
        if settings.mode == TlsMode::Disabled {
            return Ok(None);
        }
        Self::new(settings.clone()).map(|t| Some(Arc::new(t)))
    }

    /// `tls.server.mode`.
    pub fn mode(&self) -> TlsMode {
        self.settings.mode
    }

    /// The settings this was built from.
    pub fn settings(&self) -> &ServerTlsSettings {
        &self.settings
    }

    /// The config new handshakes use.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        self.current.read().clone()
    }

    /// Rebuilds the config if a watched file's (mtime, length) changed since the last attempt.
    /// `Ok(true)`: the new files are in use. `Ok(false)`: nothing changed (or the files are the
    /// same broken ones as last time). `Err`: the changed files cannot be used; the previous
    /// config stays in use and the error is logged once for this change.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let mut state = self.reload.lock();
        let now = reload::stamps(&watched(&self.settings)?);
        match state.decide(&now) {
            Decision::Unchanged | Decision::KnownBroken => Ok(false),
            Decision::Rebuild => match build(&self.settings) {
                Ok(config) => {
                    *self.current.write() = config;
                    state.applied(now);
                    tracing::info!(cert = ?self.settings.cert_path, "TLS certificate reloaded");
                    Ok(true)
                }
                Err(e) => {
                    state.failed(now);
                    tracing::error!(
                        "TLS files changed but cannot be used, keeping the previous certificate: {e}"
                    );
                    Err(e)
                }
            },
        }
    }
}

/// The files whose changes trigger a reload.
fn watched(settings: &ServerTlsSettings) -> Result<Vec<&Path>, TlsError> {
    let (cert, key) = cert_and_key(settings)?;
    let mut files = vec![cert, key];
    if settings.client_auth != ClientAuth::None
        && let Some(ca) = &settings.trust_cert_path
    {
        files.push(ca);
    }
    Ok(files)
}

fn cert_and_key(settings: &ServerTlsSettings) -> Result<(&Path, &Path), TlsError> {
    let why = || String::from("the server is given a TLS config");
    let cert = settings
        .cert_path
        .as_deref()
        .ok_or_else(|| TlsError::Missing {
            key: keys::SERVER_CERT_PATH,
            why: why(),
            what: "the certificate chain (PEM)",
        })?;
    let key = settings
        .key_path
        .as_deref()
        .ok_or_else(|| TlsError::Missing {
            key: keys::SERVER_KEY_PATH,
            why: why(),
            what: "the private key (PEM)",
        })?;
    Ok((cert, key))
}

/// Reads the files and builds a rustls server config.
fn build(settings: &ServerTlsSettings) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert_path, key_path) = cert_and_key(settings)?;
    let certs = load_certs(cert_path, keys::SERVER_CERT_PATH)?;
    let key = load_key(key_path, keys::SERVER_KEY_PATH)?;
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Provider)?;
    let builder = match (settings.client_auth, &settings.trust_cert_path) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(TlsError::Missing {
                key: keys::SERVER_TRUST_CERT_PATH,
                why: format!("{}={}", keys::SERVER_NEED_CLIENT_AUTH, settings.client_auth),
                what: "the CA bundle (PEM) that client certificates must chain to",
            });
        }
        (auth, Some(ca)) => {
            let roots = load_roots(ca, keys::SERVER_TRUST_CERT_PATH)?;
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if auth == ClientAuth::Optional {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier.build().map_err(|e| TlsError::Verifier {
                path: ca.to_owned(),
                key: keys::SERVER_TRUST_CERT_PATH,
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::CertKey {
            cert: cert_path.to_owned(),
            cert_key: keys::SERVER_CERT_PATH,
            key_path: key_path.to_owned(),
            key_key: keys::SERVER_KEY_PATH,
            source: Box::new(source),
        })?;
    Ok(Arc::new(config))
}
