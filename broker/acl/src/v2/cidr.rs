//! The `sourceIps` of an ACL 2.0 policy entry: an address (`192.168.0.7`, `::1`) or a CIDR
//! block (`10.0.0.0/8`, `fd00::/8`), as Java's `IPAddressUtils.isValidIPOrCidr` accepts.
//! (ACL 1.0's [`crate::ip`] patterns have no CIDR form, so ACL 2.0 has its own, smaller, type.)
//! IPv4-mapped IPv6 clients (`::ffff:10.0.0.1`) match IPv4 blocks.

use std::fmt;
use std::net::IpAddr;

/// One source address or block, with its text as written.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceIp {
    text: String,
    net: IpAddr,
    prefix: u8,
}

impl SourceIp {
    /// Parses an address or `address/prefix`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let net: IpAddr = addr.parse().map_err(|_| {
            format!(
                "source IP {text:?} is not an address or CIDR block; write e.g. 192.168.0.7, \
                 10.0.0.0/8 or fd00::/8"
            )
        })?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                format!("source IP {text:?}: the prefix length must be 0 to {max}")
            })?,
        };
        Ok(Self {
            text: text.to_owned(),
            net,
            prefix,
        })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` are equal.
fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

impl fmt::Display for SourceIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for SourceIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect(s)
    }

    #[test]
    fn addresses_and_blocks() {
        let one = SourceIp::parse("192.168.0.7").expect("ip");
        assert!(one.contains(ip("192.168.0.7")));
        assert!(!one.contains(ip("192.168.0.8")));
        let block = SourceIp::parse(" 10.1.0.0/12 ").expect("cidr");
        assert_eq!(block.as_str(), "10.1.0.0/12");
        assert!(block.contains(ip("10.15.255.1")));
        assert!(!block.contains(ip("10.16.0.1")));
        assert!(block.contains(ip("::ffff:10.2.3.4")));
        assert!(
            SourceIp::parse("0.0.0.0/0")
                .expect("all")
                .contains(ip("8.8.8.8"))
        );
        let v6 = SourceIp::parse("fd00::/8").expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
    }

    #[test]
    fn bad_text_is_refused_with_a_hint() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "host",
            "10.0.0.0/x",
        ] {
            let e = SourceIp::parse(bad).expect_err(bad);
            assert!(e.contains("source IP"), "{e}");
        }
    }
}
