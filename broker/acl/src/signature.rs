//! Request signatures as Java's `AclClientRPCHook` makes them and its broker checks them.
//!
//! The signed content is the values of every ext field except `Signature` (including
//! `AccessKey` and `SecurityToken`, which the hook adds before signing), ordered by key as Java's
//! `TreeMap<String, String>` orders them (UTF-16 code units), concatenated and UTF-8 encoded,
//! followed by the raw body bytes. The signature is base64 (standard alphabet, padded) of
//! HMAC-SHA1 over that content, keyed with the UTF-8 bytes of the secret key.

use crate::secret::Secret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// Ext field carrying the account name (`SessionCredentials.ACCESS_KEY`).
pub const ACCESS_KEY: &str = "AccessKey";
/// Ext field carrying the base64 signature (`SessionCredentials.SIGNATURE`).
pub const SIGNATURE: &str = "Signature";
/// Ext field carrying the optional security token (`SessionCredentials.SECURITY_TOKEN`).
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// Ext field of QUERY_MESSAGE by unique key (`MixAll.UNIQUE_MSG_QUERY_FLAG`). Clients up to
/// 4.9.3 added it after signing, so brokers leave it out of the content for those versions.
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";
/// `MQVersion.Version.V4_9_3.ordinal()`: requests of this version or older are verified without
/// [`UNIQUE_KEY_QUERY`].
pub const V4_9_3: i32 = 399;

/// Why a request cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// Java's `javax.crypto` refuses an empty HMAC key, so no Java peer can use one either.
    #[error("the secret key is empty: HMAC-SHA1 needs a non-empty key; set secretKey")]
    EmptySecret,
}

/// A map key ordered as Java's `String.compareTo` orders it: by UTF-16 code units. This differs
/// from Rust's byte order only between U+E000..U+FFFF and characters above U+FFFF.
#[derive(PartialEq, Eq)]
struct JavaKey<'a>(&'a str);

impl Ord for JavaKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.encode_utf16().cmp(other.0.encode_utf16())
    }
}

impl PartialOrd for JavaKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The bytes a client signs: every field but `Signature`, sorted by key, values concatenated,
/// then `body`. A key given twice keeps its last value, like the Java map it stands for.
pub fn content_to_sign<'a, I>(fields: I, body: &[u8]) -> Vec<u8>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    combine(fields.into_iter().filter(|(k, _)| *k != SIGNATURE), body)
}

/// The bytes a broker verifies for a request of `version` (the command's `version` field):
/// [`content_to_sign`], except that requests of [`V4_9_3`] or older leave out
/// [`UNIQUE_KEY_QUERY`] (`PlainAccessResource.parse`).
pub fn content_to_verify<'a, I>(fields: I, body: &[u8], version: i32) -> Vec<u8>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let old = version <= V4_9_3;
    combine(
        fields
            .into_iter()
            .filter(|(k, _)| *k != SIGNATURE && !(old && *k == UNIQUE_KEY_QUERY)),
        body,
    )
}

fn combine<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>, body: &[u8]) -> Vec<u8> {
    let sorted: BTreeMap<JavaKey<'a>, &'a str> = fields.map(|(k, v)| (JavaKey(k), v)).collect();
    let len = sorted.values().map(|v| v.len()).sum::<usize>() + body.len();
    let mut out = Vec::with_capacity(len);
    for value in sorted.values() {
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// Base64 of HMAC-SHA1(`secret`, `content`): the value of the `Signature` field.
pub fn sign(content: &[u8], secret: &Secret) -> Result<String, SignError> {
    if secret.is_empty() {
        return Err(SignError::EmptySecret);
    }
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| SignError::EmptySecret)?;
    mac.update(content);
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `presented` is the signature of `content` under `secret`, compared in constant time
/// over the base64 text (as Java's `MessageDigest.isEqual` does). An empty secret never verifies.
pub fn verify(content: &[u8], secret: &Secret, presented: &str) -> bool {
    match sign(content, secret) {
        Ok(expected) => bool::from(expected.as_bytes().ct_eq(presented.as_bytes())),
        Err(_) => false,
    }
}

/// What a client signs with (`SessionCredentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The account name, sent in the clear as `AccessKey`.
    pub access_key: String,
    /// The shared secret; never sent.
    pub secret_key: Secret,
    /// Optional token, sent as `SecurityToken` and signed with the rest (brokers do not check it).
    pub security_token: Option<String>,
}

impl Credentials {
    /// Credentials without a security token.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: Secret::new(secret_key),
            security_token: None,
        }
    }

    /// Signs a request the way `AclClientRPCHook.doBeforeRequest` does: returns the fields to
    /// add to (or replace in) `fields`: `AccessKey`, `SecurityToken` when set, and `Signature`.
    pub fn sign_request<'a, I>(
        &self,
        fields: I,
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>, SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut added: Vec<(&'static str, String)> = vec![(ACCESS_KEY, self.access_key.clone())];
        if let Some(token) = &self.security_token {
            added.push((SECURITY_TOKEN, token.clone()));
        }
        let mut all: Vec<(&str, &str)> = fields.into_iter().collect();
        // the hook's own fields replace any the request already had (they come last)
        all.extend(added.iter().map(|(k, v)| (*k, v.as_str())));
        let content = content_to_sign(all, body);
        let signature = sign(&content, &self.secret_key)?;
        added.push((SIGNATURE, signature));
        Ok(added)
    }

    /// Signs `cmd` in place, once its fields and body are final (the opaque is not signed).
    pub fn sign_command(&self, cmd: &mut rmq_protocol::RemotingCommand) -> Result<(), SignError> {
        let added = self.sign_request(cmd.ext_fields.iter(), &cmd.body)?;
        for (k, v) in added {
            cmd.ext_fields.insert(k, v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_sorts_by_key_and_appends_the_body() {
        let fields = [("b", "2"), ("a", "1"), (SIGNATURE, "x"), ("c", "3")];
        assert_eq!(content_to_sign(fields, b"BODY"), b"123BODY");
        assert_eq!(content_to_sign([], b"only body"), b"only body");
        assert_eq!(content_to_sign([("k", "v")], b""), b"v");
    }

    #[test]
    fn keys_sort_by_utf16_units_not_bytes() {
        // In UTF-16 U+1F600 starts with the surrogate 0xD83D, below 0xE000 and 0xFFFD, so Java
        // puts the emoji key first; byte (code point) order puts it last.
        let fields = [("\u{FFFD}", "R"), ("\u{1F600}", "S"), ("\u{E000}", "P")];
        assert_eq!(content_to_sign(fields, b""), b"SPR");
        let mut by_bytes: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        by_bytes.sort_unstable();
        assert_eq!(by_bytes, ["\u{E000}", "\u{FFFD}", "\u{1F600}"]);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert_eq!(content_to_sign([("k", "old"), ("k", "new")], b""), b"new");
    }

    #[test]
    fn old_clients_leave_out_the_unique_key_flag() {
        let fields = [("topic", "t"), (UNIQUE_KEY_QUERY, "true")];
        assert_eq!(content_to_verify(fields, b"", V4_9_3), b"t");
        assert_eq!(content_to_verify(fields, b"", V4_9_3 + 1), b"truet");
        assert_eq!(content_to_sign(fields, b""), b"truet");
    }

    #[test]
    fn sign_and_verify() {
        // RFC 2202 test case 2
        let key = Secret::new("Jefe");
        let sig = sign(b"what do ya want for nothing?", &key).expect("sign");
        assert_eq!(sig, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
        assert!(verify(b"what do ya want for nothing?", &key, &sig));
        assert!(!verify(b"what do ya want for nothing!", &key, &sig));
        assert!(!verify(
            b"what do ya want for nothing?",
            &Secret::new("Jeff"),
            &sig
        ));
        assert!(!verify(b"what do ya want for nothing?", &key, ""));
        assert!(!verify(b"what do ya want for nothing?", &key, &sig[..27]));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(sign(b"x", &Secret::new("")), Err(SignError::EmptySecret));
        assert!(!verify(b"x", &Secret::new(""), ""));
    }

    #[test]
    fn client_signing_adds_access_key_token_and_signature() {
        let mut creds = Credentials::new("ak-123456", "sk-123456");
        creds.security_token = Some("tok".into());
        let added = creds
            .sign_request([("topic", "t"), (ACCESS_KEY, "someone-else")], b"b")
            .expect("sign");
        let names: Vec<&str> = added.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, [ACCESS_KEY, SECURITY_TOKEN, SIGNATURE]);
        let content = content_to_sign(
            [
                ("topic", "t"),
                (ACCESS_KEY, "ak-123456"),
                (SECURITY_TOKEN, "tok"),
            ],
            b"b",
        );
        assert_eq!(content, b"ak-123456toktb");
        assert!(verify(&content, &creds.secret_key, &added[2].1));
    }
}
