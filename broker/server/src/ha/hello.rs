//! How a slave proves to a master with `aclEnable=true` that it holds an admin account of the
//! master's `plain_acl.yml` before any commit log byte flows (pure: encoding, parsing,
//! verification; the I/O is in `admit` and `slave`).
//!
//! **Hello** (slave → master, the first bytes of the connection, in place of the first
//! report; big-endian like the rest of [`super::wire`]):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic [`HELLO_MAGIC`] `FF 'R' 'M' 'Q' 'H' 'A' 00 01` (a negative `i64`: never a report) |
//! | 4 | `u32` length of everything after this field |
//! | 8 | `i64` the slave's clock, ms since the epoch |
//! | 16 | random nonce |
//! | 2 + n | `u16` length, then the accessKey (UTF-8) |
//! | 2 + n | `u16` length, then the signature (base64 HMAC-SHA1, as requests are signed) |
//! | 0..7 | zero padding, so that the whole hello is a multiple of 8 bytes |
//! | 8 | `i64` the slave's commit log end: its first report |
//!
//! The signature is `rmq_acl::signature::sign` with the account's secret over
//! [`signed_content`]: the purpose `rmq-ha-slave-hello-v1`, accessKey, timestamp, nonce and
//! offset, each length-prefixed (so no two field lists give the same bytes, and no remoting
//! request signature can pass for a hello).
//!
//! The master accepts the hello when the account exists, the signature verifies (constant
//! time; an unknown account costs the same work), the account is an admin, the timestamp is
//! within [`MAX_SKEW_MS`] of the master's clock, and the nonce was not seen within that window
//! (a captured hello cannot be replayed). `globalWhiteRemoteAddresses` and an account's
//! `whiteRemoteAddress` do not exempt the HA port: the commit log is every topic's data.
//! Otherwise it answers one **refusal** frame — a transfer header whose offset is
//! [`REFUSAL_MAGIC`] (negative, never a commit log offset), then the reason in UTF-8 — and
//! closes. The reason never says whether an accessKey exists.
//!
//! Compatibility: without `aclEnable` a master takes a plain report as before and skips a
//! hello (its trailing 8 bytes are the first report). A slave sends a hello only when it has
//! inner credentials; because the hello is a multiple of 8 bytes ending with the real report,
//! an older master (rmq or Java), which reads the *last* 8-byte value of what arrived, still
//! starts from the right offset. Without TLS and ACL the bytes on the wire are unchanged.

use rmq_acl::signature::{sign, verify};
use rmq_acl::{AclConfig, Credentials, Secret, SignError};
use std::collections::HashMap;

/// First 8 bytes of a hello.
pub const HELLO_MAGIC: [u8; 8] = [0xFF, b'R', b'M', b'Q', b'H', b'A', 0x00, 0x01];
/// Transfer-header offset of a refusal frame.
pub const REFUSAL_MAGIC: i64 = i64::from_be_bytes([0xFF, b'R', b'M', b'Q', b'N', b'O', 0x00, 0x01]);
/// Largest difference between the slave's and the master's clocks a hello may show.
pub const MAX_SKEW_MS: i64 = 120_000;
/// Largest hello accepted (an accessKey and a signature are far shorter).
pub const MAX_HELLO: usize = 4096;
/// Longest refusal reason sent.
pub const MAX_REFUSAL: usize = 1024;
/// Magic and length field.
const PREFIX: usize = 12;
/// Timestamp, nonce, the two length fields and the trailing report.
const FIXED: usize = 8 + 16 + 2 + 2 + 8;
/// Domain separation of the signed content.
const PURPOSE: &str = "rmq-ha-slave-hello-v1";
/// Remembered nonces at most (each needs a valid admin signature to get in).
const MAX_NONCES: usize = 65_536;

/// A parsed hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The account the slave claims.
    pub access_key: String,
    /// The slave's clock when it connected (ms since the epoch).
    pub timestamp_ms: i64,
    /// Random per connection.
    pub nonce: [u8; 16],
    /// Base64 HMAC-SHA1 over [`signed_content`].
    pub signature: String,
    /// The slave's commit log end (its first report).
    pub offset: i64,
}

/// The bytes a hello's signature covers: each field length-prefixed (`u32`).
pub fn signed_content(
    access_key: &str,
    timestamp_ms: i64,
    nonce: &[u8; 16],
    offset: i64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + access_key.len());
    for field in [
        PURPOSE.as_bytes(),
        access_key.as_bytes(),
        &timestamp_ms.to_be_bytes(),
        nonce,
        &offset.to_be_bytes(),
    ] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// A signed hello for `credentials`, reporting `offset`.
pub fn encode_hello(
    credentials: &Credentials,
    offset: i64,
    now_ms: i64,
    nonce: [u8; 16],
) -> Result<Vec<u8>, SignError> {
    let ak = credentials.access_key.as_bytes();
    let content = signed_content(&credentials.access_key, now_ms, &nonce, offset);
    let signature = sign(&content, &credentials.secret_key)?;
    let unpadded = PREFIX + FIXED + ak.len() + signature.len();
    let pad = (8 - unpadded % 8) % 8;
    let mut out = Vec::with_capacity(unpadded + pad);
    out.extend_from_slice(&HELLO_MAGIC);
    out.extend_from_slice(&((unpadded + pad - PREFIX) as u32).to_be_bytes());
    out.extend_from_slice(&now_ms.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&(ak.len() as u16).to_be_bytes());
    out.extend_from_slice(ak);
    out.extend_from_slice(&(signature.len() as u16).to_be_bytes());
    out.extend_from_slice(signature.as_bytes());
    out.resize(out.len() + pad, 0);
    out.extend_from_slice(&offset.to_be_bytes());
    Ok(out)
}

/// What the first bytes of a slave connection are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// Fewer bytes than needed to tell.
    NeedMore,
    /// A classic report (no hello): nothing consumed.
    Report,
    /// A hello; the caller consumes `consumed` bytes, leaving its trailing 8-byte report.
    Hello(Hello, usize),
    /// Starts like a hello but cannot be one.
    Malformed(String),
}

/// Tells a hello from a classic report at the start of `buf`.
pub fn parse_opening(buf: &[u8]) -> Opening {
    if buf.len() < HELLO_MAGIC.len() {
        return Opening::NeedMore;
    }
    if buf[..8] != HELLO_MAGIC {
        return Opening::Report;
    }
    let Some(len) = buf
        .get(8..PREFIX)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return Opening::NeedMore;
    };
    let total = PREFIX + len as usize;
    if !(PREFIX + FIXED..=MAX_HELLO).contains(&total) || !total.is_multiple_of(8) {
        return Opening::Malformed(format!("hello length {len} is not possible"));
    }
    let Some(body) = buf.get(PREFIX..total) else {
        return Opening::NeedMore;
    };
    match parse_body(body) {
        Ok(hello) => Opening::Hello(hello, total - 8),
        Err(why) => Opening::Malformed(why),
    }
}

/// Reads the fields after the length; `body` ends with the report.
fn parse_body(body: &[u8]) -> Result<Hello, String> {
    let mut r = Reader(body);
    let timestamp_ms = i64::from_be_bytes(r.array()?);
    let nonce: [u8; 16] = r.array()?;
    let access_key = r.text("accessKey")?;
    let signature = r.text("signature")?;
    let rest = r.0;
    let (pad, report) = rest.split_at(rest.len().saturating_sub(8));
    if report.len() != 8 || pad.len() >= 8 || pad.iter().any(|b| *b != 0) {
        return Err("hello fields do not add up to its length".into());
    }
    Ok(Hello {
        access_key,
        timestamp_ms,
        nonce,
        signature,
        offset: i64::from_be_bytes(report.try_into().map_err(|_| "short report")?),
    })
}

/// A cursor over hello fields.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .0
            .split_at_checked(N)
            .ok_or("hello shorter than its fields")?;
        self.0 = rest;
        head.try_into()
            .map_err(|_| "hello shorter than its fields".into())
    }

    fn text(&mut self, what: &str) -> Result<String, String> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        let (head, rest) = self
            .0
            .split_at_checked(len)
            .ok_or_else(|| format!("hello {what} runs past its end"))?;
        self.0 = rest;
        String::from_utf8(head.to_vec()).map_err(|_| format!("hello {what} is not UTF-8"))
    }
}

/// Why a master refused a slave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A classic report: the slave sent no credentials.
    NoHello,
    /// Bytes that start like a hello but are not one.
    Malformed(String),
    /// No such accessKey in the ACL.
    UnknownAccount(String),
    /// The signature does not verify with the account's secret.
    BadSignature(String),
    /// The account is valid but not an admin.
    NotAdmin(String),
    /// The timestamp is too far from the master's clock.
    Stale {
        /// The account (authenticated).
        access_key: String,
        /// Slave clock minus master clock, ms.
        skew_ms: i64,
    },
    /// This exact hello was already used.
    Replayed(String),
}

impl Refusal {
    /// One line for the master's log: which account and why (never a secret).
    pub fn log_reason(&self) -> String {
        match self {
            Refusal::NoHello => "no credentials: the slave sent a plain report, not a signed \
                                 hello (aclEnable=true needs one)"
                .into(),
            Refusal::Malformed(why) => format!("malformed hello: {why}"),
            Refusal::UnknownAccount(ak) => format!("accessKey {ak:?} is not in the ACL file"),
            Refusal::BadSignature(ak) => {
                format!("accessKey {ak:?}: the signature does not match its secretKey")
            }
            Refusal::NotAdmin(ak) => format!("accessKey {ak:?} is not an admin account"),
            Refusal::Stale {
                access_key,
                skew_ms,
            } => format!(
                "accessKey {access_key:?}: its clock differs from this master's by {skew_ms} ms \
                 (at most {MAX_SKEW_MS} ms)"
            ),
            Refusal::Replayed(ak) => {
                format!("accessKey {ak:?}: replayed hello (nonce seen before)")
            }
        }
    }

    /// What the slave is told (it logs it). Unknown account and wrong secret read the same,
    /// so a stranger learns nothing about which accounts exist.
    pub fn to_slave(&self) -> String {
        match self {
            Refusal::NoHello => "this master has aclEnable=true: the slave must authenticate \
                                 with an admin account of the master's ACL"
                .into(),
            Refusal::Malformed(why) => format!("malformed hello: {why}"),
            Refusal::UnknownAccount(_) | Refusal::BadSignature(_) => {
                "unknown accessKey or wrong secretKey".into()
            }
            Refusal::NotAdmin(ak) => {
                format!("accessKey {ak:?} is not an admin in the master's ACL")
            }
            Refusal::Stale { skew_ms, .. } => format!(
                "the slave's clock differs from the master's by {skew_ms} ms (at most \
                 {MAX_SKEW_MS} ms): synchronise the clocks (NTP)"
            ),
            Refusal::Replayed(_) => "replayed hello".into(),
        }
    }
}

/// Nonces of accepted hellos, kept while their timestamp is within the window.
#[derive(Debug, Default)]
pub struct SeenNonces {
    seen: HashMap<[u8; 16], i64>,
}

impl SeenNonces {
    /// Records `nonce` (of a hello stamped `timestamp_ms`); false if it was already there.
    pub fn insert(&mut self, nonce: [u8; 16], timestamp_ms: i64, now_ms: i64) -> bool {
        self.seen
            .retain(|_, ts| now_ms.saturating_sub(*ts) <= MAX_SKEW_MS);
        if self.seen.contains_key(&nonce) {
            return false;
        }
        if self.seen.len() < MAX_NONCES {
            self.seen.insert(nonce, timestamp_ms);
        }
        true
    }
}

/// Any secret, for the constant work on an unknown account.
const DUMMY_SECRET: &str = "rmq-ha-hello-no-such-account";

/// Checks a hello against the ACL in force at `now_ms`.
pub fn verify_hello(
    acl: &AclConfig,
    hello: &Hello,
    now_ms: i64,
    seen: &mut SeenNonces,
) -> Result<String, Refusal> {
    let ak = hello.access_key.clone();
    let content = signed_content(&ak, hello.timestamp_ms, &hello.nonce, hello.offset);
    let Some(account) = acl.account(&ak) else {
        let _ = verify(&content, &Secret::new(DUMMY_SECRET), &hello.signature);
        return Err(Refusal::UnknownAccount(ak));
    };
    if !verify(&content, &account.secret_key, &hello.signature) {
        return Err(Refusal::BadSignature(ak));
    }
    let skew_ms = hello.timestamp_ms.saturating_sub(now_ms);
    if skew_ms.saturating_abs() > MAX_SKEW_MS {
        return Err(Refusal::Stale {
            access_key: ak,
            skew_ms,
        });
    }
    if !account.admin {
        return Err(Refusal::NotAdmin(ak));
    }
    if !seen.insert(hello.nonce, hello.timestamp_ms, now_ms) {
        return Err(Refusal::Replayed(ak));
    }
    Ok(ak)
}

/// A refusal frame: header with [`REFUSAL_MAGIC`], then `reason` (cut to [`MAX_REFUSAL`]).
pub fn encode_refusal(reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_REFUSAL);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    super::wire::encode_transfer(REFUSAL_MAGIC, &reason.as_bytes()[..end])
}

/// The reason of a complete refusal frame at the start of `buf`; `None` for anything else
/// (transfer frames, or a refusal not fully arrived).
pub fn refusal(buf: &[u8]) -> Option<String> {
    let h = super::wire::TransferHeader::peek(buf)?;
    if h.phy_offset != REFUSAL_MAGIC {
        return None;
    }
    let len = usize::try_from(h.body_size).ok()?.min(MAX_REFUSAL);
    let body = buf.get(super::wire::HEADER_LEN..super::wire::HEADER_LEN + len)?;
    Some(String::from_utf8_lossy(body).into_owned())
}

#[cfg(test)]
#[path = "hello_tests.rs"]
mod tests;
