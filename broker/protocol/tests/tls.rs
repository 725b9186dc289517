//! TLS on the remoting protocol over real sockets on 127.0.0.1, with certificates made by rcgen.
#![allow(clippy::unwrap_used)]

mod tls_common;

use tls_common::*;

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
