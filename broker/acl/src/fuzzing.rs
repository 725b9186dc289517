//! One fuzz input, shared by the libFuzzer target (`broker/acl/fuzz`) and its seeded run in CI
//! (`tests/fuzz_smoke.rs`): everything the ACL reads from outside must be answered, never
//! panic, and a signed request whose signed bytes changed must never be allowed.

use crate::config::AclConfig;
use crate::decide::{Decision, Request, decide};
use crate::signature::Credentials;
use rmq_protocol::ExtFields;
use rmq_protocol::request_code as rc;
use std::net::{IpAddr, Ipv4Addr};

/// The account file requests are decided against (an admin, a producer, a consumer).
pub const FIXED_ACL: &str = "globalWhiteRemoteAddresses:\n- 10.10.*.*\naccounts:\n\
    - accessKey: fuzzAdmin\n  secretKey: fuzz-admin-secret\n  admin: true\n\
    - accessKey: fuzzProducer\n  secretKey: fuzz-producer-secret\n  defaultTopicPerm: DENY\n  \
      topicPerms:\n  - T=PUB\n\
    - accessKey: fuzzConsumer\n  secretKey: fuzz-consumer-secret\n  whiteRemoteAddress: 192.168.1.*\n  \
      defaultGroupPerm: SUB\n  topicPerms:\n  - T=SUB\n";

/// Request codes worth deciding: every code family the decision reads differently.
const CODES: &[i32] = &[
    rc::SEND_MESSAGE,
    rc::SEND_MESSAGE_V2,
    rc::SEND_BATCH_MESSAGE,
    rc::PULL_MESSAGE,
    rc::HEART_BEAT,
    rc::LOCK_BATCH_MQ,
    rc::UNLOCK_BATCH_MQ,
    rc::CONSUMER_SEND_MSG_BACK,
    rc::UPDATE_AND_CREATE_TOPIC,
    rc::REGISTER_BROKER,
    rc::PUT_KV_CONFIG,
    rc::GET_ROUTEINFO_BY_TOPIC,
    rc::QUERY_MESSAGE,
    rc::END_TRANSACTION,
];

/// Runs one input: byte 0 picks the mode (parse an account file, or decide a request built
/// from the rest). Panics only when an invariant breaks.
pub fn one_input(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode.is_multiple_of(2) {
        parse_file(rest);
    } else {
        decide_request(rest);
    }
}

/// Parses `data` as `plain_acl.yml`; a file that parses is used to decide a request.
fn parse_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = AclConfig::parse(&text, "fuzz.yml") else {
        return;
    };
    let fields: ExtFields = [("topic", "T"), ("AccessKey", "fuzzAdmin")]
        .into_iter()
        .collect();
    let req = request(rc::SEND_MESSAGE, &fields, data);
    let _ = decide(&config, &req);
    let _ = crate::namesrv::check(&config, &req);
}

fn request<'a>(code: i32, fields: &'a ExtFields, body: &'a [u8]) -> Request<'a> {
    Request {
        code,
        version: rmq_protocol::codes::version::CURRENT,
        fields,
        body,
        remote: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// Ext fields from `text`: `key=value` pairs separated by NUL bytes.
fn fields_from(text: &str) -> ExtFields {
    text.split('\0')
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

/// Builds a request from `data` (code, fields, body), decides it as sent, then signed by each
/// account, then with one signed byte changed.
fn decide_request(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let config = fixed_config();
    let code = CODES[usize::from(pick) % CODES.len()];
    let split = rest.iter().position(|&b| b == 0xFF).unwrap_or(rest.len());
    let (head, body) = rest.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let fields = fields_from(&String::from_utf8_lossy(head));
    let _ = decide(&config, &request(code, &fields, body));
    let _ = crate::namesrv::check(&config, &request(code, &fields, body));
    for (ak, sk) in [
        ("fuzzAdmin", "fuzz-admin-secret"),
        ("fuzzProducer", "fuzz-producer-secret"),
    ] {
        signed_then_changed(
            &config,
            code,
            &fields,
            body,
            &Credentials::new(ak, sk),
            pick,
        );
    }
}

fn fixed_config() -> AclConfig {
    match AclConfig::parse(FIXED_ACL, "fixed.yml") {
        Ok(c) => c,
        Err(e) => panic!("the fixed account file must parse: {e}"),
    }
}

/// A correctly signed request is never refused for its credentials; the same request with one
/// signed byte changed (a field value or the body) is never allowed.
fn signed_then_changed(
    config: &AclConfig,
    code: i32,
    fields: &ExtFields,
    body: &[u8],
    creds: &Credentials,
    pick: u8,
) {
    let mut signed = fields.clone();
    let Ok(added) = creds.sign_request(signed.iter(), body) else {
        return;
    };
    for (k, v) in added {
        signed.insert(k, v);
    }
    if let Decision::Deny(d) = decide(config, &request(code, &signed, body)) {
        assert!(
            !d.reason.is_authentication_failure(),
            "a correctly signed request was refused as unauthenticated: {d:?}"
        );
    }
    let mut body = body.to_vec();
    let changed = change_one_byte(&mut signed, &mut body, usize::from(pick));
    if changed {
        let after = decide(config, &request(code, &signed, &body));
        assert!(
            matches!(after, Decision::Deny(_)),
            "a request changed after signing was allowed: {after:?}"
        );
    }
}

/// Changes one ASCII byte of a signed value (not `Signature`'s) or of the body; false if there
/// is none to change.
fn change_one_byte(fields: &mut ExtFields, body: &mut [u8], pick: usize) -> bool {
    if !body.is_empty() && pick.is_multiple_of(2) {
        let i = pick % body.len();
        body[i] ^= 0x01;
        return true;
    }
    let candidates: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, v)| {
            *k != crate::signature::SIGNATURE && v.bytes().any(|b| b.is_ascii_alphanumeric())
        })
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let Some((key, value)) = candidates.get(pick % candidates.len().max(1)) else {
        return false;
    };
    let mut bytes = value.clone().into_bytes();
    let Some(i) = bytes.iter().position(|b| b.is_ascii_alphanumeric()) else {
        return false;
    };
    // letters and digits stay ASCII alphanumerics (a valid string) when their low bit flips
    bytes[i] ^= 0x01;
    let Ok(text) = String::from_utf8(bytes) else {
        return false;
    };
    fields.insert(key, text);
    true
}
