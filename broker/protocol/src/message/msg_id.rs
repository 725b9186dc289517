//! Message ids: the offset message id (store host + commit log offset, what send responses carry)
//! and the client-style unique key the broker generates when a producer sent none.

use crate::error::ProtocolError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xF)] as char);
    }
}

/// Uppercase hex of `ip | i32 port | i64 offset` (32 chars for IPv4, 56 for IPv6).
pub fn offset_msg_id(store_host: SocketAddr, commit_log_offset: i64) -> String {
    let mut out = String::with_capacity(56);
    match store_host.ip() {
        IpAddr::V4(ip) => push_hex(&mut out, &ip.octets()),
        IpAddr::V6(ip) => push_hex(&mut out, &ip.octets()),
    }
    push_hex(&mut out, &i32::from(store_host.port()).to_be_bytes());
    push_hex(&mut out, &commit_log_offset.to_be_bytes());
    out
}

/// Decodes an offset message id into the store host and the commit log offset.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), ProtocolError> {
    let bad = |d: &str| ProtocolError::malformed("offset message id", format!("{id:?}: {d}"));
    if id.len() != 32 && id.len() != 56 {
        return Err(bad("expected 32 (IPv4) or 56 (IPv6) hex characters"));
    }
    let mut bytes = Vec::with_capacity(28);
    let raw = id.as_bytes();
    for pair in raw.chunks(2) {
        let hi = (pair[0] as char)
            .to_digit(16)
            .ok_or_else(|| bad("not hex"))?;
        let lo = (pair[1] as char)
            .to_digit(16)
            .ok_or_else(|| bad("not hex"))?;
        bytes.push((hi * 16 + lo) as u8);
    }
    let ip_len = if id.len() == 32 { 4 } else { 16 };
    let ip = if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&bytes[..16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    let p = &bytes[ip_len..ip_len + 4];
    let port = i32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    let mut o = [0u8; 8];
    o.copy_from_slice(&bytes[ip_len + 4..ip_len + 12]);
    Ok((SocketAddr::new(ip, port as u16), i64::from_be_bytes(o)))
}

/// Generates unique keys in the Java client's layout:
/// `ip(4) | pid(2) | seed(4) | ms since start of month(4) | counter(2)`, hex.
#[derive(Debug)]
pub struct UniqKeyGenerator {
    prefix: String,
    counter: AtomicU16,
}

impl UniqKeyGenerator {
    /// A generator for this host and process; `seed` stands in for the Java class-loader hash.
    pub fn new(ip: Ipv4Addr, pid: u32, seed: i32) -> Self {
        let mut prefix = String::with_capacity(20);
        push_hex(&mut prefix, &ip.octets());
        push_hex(&mut prefix, &(pid as u16).to_be_bytes());
        push_hex(&mut prefix, &seed.to_be_bytes());
        Self {
            prefix,
            counter: AtomicU16::new(0),
        }
    }

    /// The next key for a message born `now_ms` (Unix ms).
    pub fn next(&self, now_ms: i64) -> String {
        let month_ms = 31 * 24 * 3600 * 1000_i64;
        let diff = (now_ms.rem_euclid(month_ms)) as i32;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut out = String::with_capacity(32);
        out.push_str(&self.prefix);
        push_hex(&mut out, &diff.to_be_bytes());
        push_hex(&mut out, &n.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_ids_round_trip() {
        let v4: SocketAddr = "192.168.0.1:10911".parse().unwrap();
        let id = offset_msg_id(v4, 123_456_789);
        assert_eq!(id.len(), 32);
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (v4, 123_456_789));
        let v6: SocketAddr = "[fe80::1]:10911".parse().unwrap();
        let id = offset_msg_id(v6, 7);
        assert_eq!(id.len(), 56);
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (v6, 7));
        assert!(decode_offset_msg_id("XYZ").is_err());
        assert!(decode_offset_msg_id(&"G".repeat(32)).is_err());
    }

    #[test]
    fn uniq_keys_are_32_hex_and_distinct() {
        let g = UniqKeyGenerator::new(Ipv4Addr::LOCALHOST, 1234, 99);
        let a = g.next(1_700_000_000_000);
        let b = g.next(1_700_000_000_000);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.starts_with("7F00000104D200000063"));
    }
}
