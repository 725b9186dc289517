use super::*;
use crate::ha::wire::{self, TransferHeader};
use bytes::BytesMut;

const NOW: i64 = 1_700_000_000_000;
const NONCE: [u8; 16] = [7; 16];

fn acl() -> AclConfig {
    let text = "accounts:\n\
                - accessKey: rmqadmin\n  secretKey: admin-secret-1\n  admin: true\n\
                - accessKey: rmquser\n  secretKey: user-secret-2\n";
    AclConfig::parse(text, "plain_acl.yml").unwrap()
}

fn hello_of(bytes: &[u8]) -> (Hello, usize) {
    match parse_opening(bytes) {
        Opening::Hello(h, consumed) => (h, consumed),
        other => panic!("not a hello: {other:?}"),
    }
}

#[test]
fn a_hello_round_trips_and_ends_with_its_report() {
    let creds = Credentials::new("rmqadmin", "admin-secret-1");
    for ak in ["rmqadmin", "a-longer-access-key-x", "ak12345"] {
        let creds = Credentials::new(ak, "admin-secret-1");
        let bytes = encode_hello(&creds, 4096, NOW, NONCE).unwrap();
        assert_eq!(bytes.len() % 8, 0, "{ak}");
        assert_eq!(&bytes[..8], &HELLO_MAGIC);
        // an older master reads the last 8-byte value: the real offset
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(wire::take_last_report(&mut buf), Some(4096));
        let (h, consumed) = hello_of(&bytes);
        assert_eq!(consumed, bytes.len() - 8);
        assert_eq!(
            (h.access_key.as_str(), h.timestamp_ms, h.nonce, h.offset),
            (ak, NOW, NONCE, 4096)
        );
    }
    let bytes = encode_hello(&creds, 0, NOW, NONCE).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("admin-secret-1"), "the secret is never sent");
}

#[test]
fn reports_partial_hellos_and_garbage_are_told_apart() {
    assert_eq!(parse_opening(&[]), Opening::NeedMore);
    assert_eq!(
        parse_opening(&wire::encode_report(0)[..7]),
        Opening::NeedMore
    );
    assert_eq!(parse_opening(&wire::encode_report(0)), Opening::Report);
    assert_eq!(
        parse_opening(&wire::encode_report(123_456)),
        Opening::Report
    );
    let bytes = encode_hello(&Credentials::new("rmqadmin", "s3cret-x"), 9, NOW, NONCE).unwrap();
    for cut in [8, 11, 12, bytes.len() - 1] {
        assert_eq!(parse_opening(&bytes[..cut]), Opening::NeedMore, "cut {cut}");
    }
    let mut huge = HELLO_MAGIC.to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(parse_opening(&huge), Opening::Malformed(_)));
    let mut bad_pad = bytes.clone();
    let pad_at = bytes.len() - 9;
    bad_pad[pad_at] ^= 0x55;
    assert!(
        matches!(parse_opening(&bad_pad), Opening::Malformed(_)),
        "{:?}",
        parse_opening(&bad_pad)
    );
    let mut bad_len = bytes.clone();
    bad_len[12 + 8 + 16 + 1] = 200; // accessKey length beyond the hello
    assert!(matches!(parse_opening(&bad_len), Opening::Malformed(_)));
}

#[test]
fn an_admin_with_the_right_secret_is_admitted_once() {
    let acl = acl();
    let mut seen = SeenNonces::default();
    let bytes = encode_hello(
        &Credentials::new("rmqadmin", "admin-secret-1"),
        77,
        NOW,
        NONCE,
    )
    .unwrap();
    let (h, _) = hello_of(&bytes);
    assert_eq!(
        verify_hello(&acl, &h, NOW + 5_000, &mut seen).as_deref(),
        Ok("rmqadmin")
    );
    assert_eq!(
        verify_hello(&acl, &h, NOW + 6_000, &mut seen),
        Err(Refusal::Replayed("rmqadmin".into()))
    );
    let fresh = encode_hello(
        &Credentials::new("rmqadmin", "admin-secret-1"),
        77,
        NOW,
        [8; 16],
    );
    let (h2, _) = hello_of(&fresh.unwrap());
    assert!(verify_hello(&acl, &h2, NOW, &mut seen).is_ok());
}

#[test]
fn wrong_secret_unknown_account_non_admin_and_stale_are_refused() {
    let acl = acl();
    let mut seen = SeenNonces::default();
    let mut check = |ak: &str, sk: &str, at: i64| {
        let bytes = encode_hello(&Credentials::new(ak, sk), 1, at, NONCE).unwrap();
        verify_hello(&acl, &hello_of(&bytes).0, NOW, &mut seen)
    };
    assert_eq!(
        check("rmqadmin", "not-the-secret", NOW),
        Err(Refusal::BadSignature("rmqadmin".into()))
    );
    assert_eq!(
        check("nobody-here", "whatever-1", NOW),
        Err(Refusal::UnknownAccount("nobody-here".into()))
    );
    assert_eq!(
        check("rmquser", "user-secret-2", NOW),
        Err(Refusal::NotAdmin("rmquser".into()))
    );
    assert_eq!(
        check("rmqadmin", "admin-secret-1", NOW - MAX_SKEW_MS - 1),
        Err(Refusal::Stale {
            access_key: "rmqadmin".into(),
            skew_ms: -MAX_SKEW_MS - 1
        })
    );
    assert!(matches!(
        check("rmqadmin", "admin-secret-1", NOW + MAX_SKEW_MS + 1),
        Err(Refusal::Stale { .. })
    ));
    // a refused hello's nonce is not remembered: the right one still gets in
    assert!(check("rmqadmin", "admin-secret-1", NOW + MAX_SKEW_MS).is_ok());
}

#[test]
fn a_tampered_hello_does_not_verify() {
    let acl = acl();
    let bytes = encode_hello(
        &Credentials::new("rmqadmin", "admin-secret-1"),
        100,
        NOW,
        NONCE,
    )
    .unwrap();
    let (h, _) = hello_of(&bytes);
    for tampered in [
        Hello {
            offset: 0,
            ..h.clone()
        },
        Hello {
            timestamp_ms: NOW + 1,
            ..h.clone()
        },
        Hello {
            nonce: [9; 16],
            ..h.clone()
        },
    ] {
        let mut seen = SeenNonces::default();
        assert_eq!(
            verify_hello(&acl, &tampered, NOW, &mut seen),
            Err(Refusal::BadSignature("rmqadmin".into()))
        );
    }
}

#[test]
fn signed_content_is_unambiguous() {
    let a = signed_content("ab", 1, &NONCE, 2);
    let b = signed_content("a", 1, &NONCE, 2);
    assert_ne!(a, b);
    assert!(a.starts_with(&[0, 0, 0, 21]));
    assert!(a.windows(PURPOSE.len()).any(|w| w == PURPOSE.as_bytes()));
}

#[test]
fn refusals_tell_the_slave_nothing_about_accounts_and_never_a_secret() {
    let unknown = Refusal::UnknownAccount("nobody-here".into());
    let wrong = Refusal::BadSignature("rmqadmin".into());
    assert_eq!(unknown.to_slave(), wrong.to_slave());
    assert!(unknown.log_reason().contains("nobody-here"));
    assert!(wrong.log_reason().contains("rmqadmin"));
    assert!(Refusal::NoHello.to_slave().contains("aclEnable=true"));
    assert!(
        Refusal::NotAdmin("rmquser".into())
            .to_slave()
            .contains("admin")
    );
}

#[test]
fn a_refusal_frame_is_a_header_no_slave_mistakes_for_data() {
    let frame = encode_refusal("no way");
    let h = TransferHeader::peek(&frame).unwrap();
    assert_eq!(h.phy_offset, REFUSAL_MAGIC);
    assert!(h.phy_offset < 0);
    assert_eq!(&frame[12..], b"no way");
    assert_eq!(refusal(&frame).as_deref(), Some("no way"));
    assert_eq!(refusal(&frame[..frame.len() - 1]), None);
    assert_eq!(refusal(&wire::encode_transfer(0, b"data")), None);
    let long = "é".repeat(MAX_REFUSAL);
    let frame = encode_refusal(&long);
    assert!(frame.len() - 12 <= MAX_REFUSAL);
    assert!(std::str::from_utf8(&frame[12..]).is_ok());
}

#[test]
fn old_nonces_are_forgotten_after_the_window() {
    let mut seen = SeenNonces::default();
    assert!(seen.insert(NONCE, NOW, NOW));
    assert!(!seen.insert(NONCE, NOW, NOW + MAX_SKEW_MS));
    assert!(seen.insert(NONCE, NOW, NOW + MAX_SKEW_MS + 1));
}
