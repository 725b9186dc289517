//! Remote address patterns of `plain_acl.yml` (`globalWhiteRemoteAddresses`,
//! `whiteRemoteAddress`), as `RemoteAddressStrategyFactory` reads them:
//!
//! | pattern | matches |
//! | --- | --- |
//! | blank | nothing |
//! | `*`, `*.*.*.*`, `*:*:*:*:*:*:*:*` | every address |
//! | `192.168.0.1`, `::1` | that address |
//! | `192.168.0.1,10.0.0.2` | any listed address (no wildcards in the items) |
//! | `192.168.0.{1,2}`, `2001:db8::{1,a}` | the prefix with any listed last part |
//! | `192.168.1.1-100`, `192.168.*.*`, `10.*.0-9.*` | per part: a number, `a-b` or `*` |
//! | `2001:db8::1-ff`, `2001:db8::*` | the same per hexadecimal group, `::` allowed |
//!
//! One deliberate difference: Java checks only the first part that holds `*` or a range and
//! ignores the parts after it (`192.*.1.1` lets in all of `192.0.0.0/8`); here every part must
//! match. IPv4-mapped IPv6 remotes (`::ffff:10.0.0.1`, from dual-stack sockets) match as IPv4.

use std::fmt;
use std::net::IpAddr;

/// A parsed address pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct AddrPattern {
    text: String,
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Nothing,
    Everything,
    Set(Vec<IpAddr>),
    V4([(u8, u8); 4]),
    V6([(u16, u16); 8]),
}

/// A pattern that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "address pattern {pattern:?}: {problem}; write an address (192.168.0.1), a range or * per \
     part (192.168.1.1-100, 192.168.*.*), a list in the last part (192.168.0.{{1,2}}), \
     addresses separated by commas, or * for any address"
)]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub problem: String,
}

impl AddrPattern {
    /// Parses a pattern (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let text = text.trim();
        let fail = |problem: String| PatternError {
            pattern: text.to_owned(),
            problem,
        };
        let kind = if text.is_empty() {
            Kind::Nothing
        } else if matches!(text, "*" | "*.*.*.*" | "*:*:*:*:*:*:*:*") {
            Kind::Everything
        } else if text.ends_with('}') {
            Kind::Set(brace_list(text).map_err(fail)?)
        } else if text.contains(',') {
            let items = text.split(',').map(str::trim).filter(|s| !s.is_empty());
            Kind::Set(items.map(exact).collect::<Result<_, _>>().map_err(fail)?)
        } else if text.contains('*') || text.contains('-') {
            if text.contains(':') {
                Kind::V6(v6_parts(text).map_err(fail)?)
            } else {
                Kind::V4(v4_parts(text).map_err(fail)?)
            }
        } else {
            Kind::Set(vec![exact(text).map_err(fail)?])
        };
        Ok(Self {
            text: text.to_owned(),
            kind,
        })
    }

    /// A pattern that matches every address.
    pub fn any() -> Self {
        Self {
            text: "*".to_owned(),
            kind: Kind::Everything,
        }
    }

    /// Whether `ip` matches.
    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = normalize(ip);
        match (&self.kind, ip) {
            (Kind::Nothing, _) => false,
            (Kind::Everything, _) => true,
            (Kind::Set(set), ip) => set.contains(&ip),
            (Kind::V4(parts), IpAddr::V4(v4)) => in_ranges(parts, &v4.octets()),
            (Kind::V6(parts), IpAddr::V6(v6)) => in_ranges(parts, &v6.segments()),
            _ => false,
        }
    }

    /// Whether the pattern is blank (matches nothing).
    pub fn is_blank(&self) -> bool {
        self.kind == Kind::Nothing
    }

    /// The pattern as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Default for AddrPattern {
    /// The blank pattern: matches nothing.
    fn default() -> Self {
        Self {
            text: String::new(),
            kind: Kind::Nothing,
        }
    }
}

impl fmt::Display for AddrPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AddrPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AddrPattern({:?})", self.text)
    }
}

fn in_ranges<T: PartialOrd + Copy>(parts: &[(T, T)], values: &[T]) -> bool {
    parts
        .iter()
        .zip(values)
        .all(|((lo, hi), v)| *lo <= *v && *v <= *hi)
}

/// IPv4-mapped IPv6 addresses are IPv4 addresses.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn exact(text: &str) -> Result<IpAddr, String> {
    text.trim()
        .parse::<IpAddr>()
        .map(normalize)
        .map_err(|_| format!("{:?} is not an IPv4 or IPv6 address", text.trim()))
}

/// `prefix{a,b,c}`: the prefix ends with the separator before the last part.
fn brace_list(text: &str) -> Result<Vec<IpAddr>, String> {
    let open = text
        .rfind('{')
        .ok_or_else(|| "a closing } without an opening {".to_owned())?;
    let prefix = &text[..open];
    if !(prefix.ends_with('.') || prefix.ends_with(':')) {
        return Err("a {..} list must be the whole last part, after a '.' or ':'".to_owned());
    }
    let inner = &text[open + 1..text.len() - 1];
    let items: Vec<&str> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err("the {..} list is empty".to_owned());
    }
    items
        .iter()
        .map(|i| exact(&format!("{prefix}{i}")))
        .collect()
}

fn v4_parts(text: &str) -> Result<[(u8, u8); 4], String> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return Err(format!(
            "an IPv4 pattern has 4 parts, this has {}",
            parts.len()
        ));
    }
    let mut out = [(0u8, 0u8); 4];
    for (slot, part) in out.iter_mut().zip(parts) {
        let (lo, hi) = part_range(part.trim(), 10, 255)?;
        // part_range bounds both ends by 255
        *slot = (lo as u8, hi as u8);
    }
    Ok(out)
}

fn v6_parts(text: &str) -> Result<[(u16, u16); 8], String> {
    let groups: Vec<&str> = match text.split_once("::") {
        Some((left, right)) => {
            let (left, right) = (side(left), side(right));
            if left.len() + right.len() > 7 {
                return Err("too many groups around '::'".to_owned());
            }
            let zeros = vec!["0"; 8 - left.len() - right.len()];
            left.into_iter().chain(zeros).chain(right).collect()
        }
        None => text.split(':').collect(),
    };
    if groups.len() != 8 {
        return Err(format!(
            "an IPv6 pattern has 8 groups (or '::'), this has {}",
            groups.len()
        ));
    }
    let mut out = [(0u16, 0u16); 8];
    for (slot, group) in out.iter_mut().zip(groups) {
        let (lo, hi) = part_range(group.trim(), 16, 0xffff)?;
        *slot = (lo as u16, hi as u16);
    }
    Ok(out)
}

/// The groups on one side of `::`.
fn side(s: &str) -> Vec<&str> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(':').collect()
    }
}

/// One part: `*`, `a-b` or a number, in `radix`, at most `max`.
fn part_range(part: &str, radix: u32, max: u32) -> Result<(u32, u32), String> {
    if part == "*" {
        return Ok((0, max));
    }
    let number = |s: &str| -> Result<u32, String> {
        let s = s.trim();
        let digits = !s.is_empty() && s.len() <= 5 && s.chars().all(|c| c.is_digit(radix));
        match u32::from_str_radix(s, radix) {
            Ok(n) if digits && n <= max => Ok(n),
            _ if radix == 16 => Err(format!("{s:?} is not a hexadecimal group from 0 to ffff")),
            _ => Err(format!("{s:?} is not a number from 0 to {max}")),
        }
    };
    match part.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (number(lo)?, number(hi)?);
            if lo > hi {
                return Err(format!("the range {part:?} runs backwards"));
            }
            Ok((lo, hi))
        }
        None => number(part).map(|n| (n, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn pat(s: &str) -> AddrPattern {
        AddrPattern::parse(s).expect("test pattern")
    }

    #[test]
    fn blank_and_everything() {
        assert!(!pat("").matches(ip("10.0.0.1")));
        assert!(pat("  ").is_blank());
        for any in ["*", "*.*.*.*", "*:*:*:*:*:*:*:*"] {
            assert!(pat(any).matches(ip("10.0.0.1")));
            assert!(pat(any).matches(ip("2001:db8::1")));
        }
        assert!(AddrPattern::any().matches(ip("127.0.0.1")));
    }

    #[test]
    fn exact_addresses() {
        assert!(pat("192.168.0.1").matches(ip("192.168.0.1")));
        assert!(!pat("192.168.0.1").matches(ip("192.168.0.2")));
        assert!(pat(" ::1 ").matches(ip("0:0:0:0:0:0:0:1")));
        assert!(pat("2001:DB8::A").matches(ip("2001:db8:0:0:0:0:0:a")));
        // dual-stack sockets report IPv4 clients as mapped IPv6
        assert!(pat("10.1.2.3").matches(ip("::ffff:10.1.2.3")));
        assert!(pat("::ffff:10.1.2.3").matches(ip("10.1.2.3")));
    }

    #[test]
    fn lists() {
        let p = pat("192.168.0.{1,2, 30}");
        assert!(p.matches(ip("192.168.0.1")));
        assert!(p.matches(ip("192.168.0.30")));
        assert!(!p.matches(ip("192.168.0.3")));
        let p = pat("192.168.0.1,10.0.0.2");
        assert!(p.matches(ip("10.0.0.2")));
        assert!(!p.matches(ip("10.0.0.1")));
        let p = pat("2001:db8::{1,a}");
        assert!(p.matches(ip("2001:db8::a")));
        assert!(!p.matches(ip("2001:db8::b")));
    }

    #[test]
    fn ranges_and_wildcards() {
        let p = pat("192.168.1.1-100");
        assert!(p.matches(ip("192.168.1.1")));
        assert!(p.matches(ip("192.168.1.100")));
        assert!(!p.matches(ip("192.168.1.101")));
        assert!(!p.matches(ip("192.168.2.50")));
        let p = pat("192.168.*.*");
        assert!(p.matches(ip("192.168.255.0")));
        assert!(!p.matches(ip("192.169.0.0")));
        let p = pat("10.*.0-9.*");
        assert!(p.matches(ip("10.200.9.1")));
        assert!(!p.matches(ip("10.200.10.1")));
        // every part counts (Java would ignore the parts after the first wildcard)
        let p = pat("192.*.1.1");
        assert!(p.matches(ip("192.5.1.1")));
        assert!(!p.matches(ip("192.5.1.2")));
        assert!(!pat("10.0.0.*").matches(ip("2001:db8::1")));
    }

    #[test]
    fn ipv6_ranges() {
        let p = pat("2001:db8::1-ff");
        assert!(p.matches(ip("2001:db8::ff")));
        assert!(!p.matches(ip("2001:db8::100")));
        let p = pat("2001:db8::*");
        assert!(p.matches(ip("2001:db8::ffff")));
        assert!(!p.matches(ip("2001:db8::1:0")));
        let p = pat("2001:db8:0:0:0:0:1-2:*");
        assert!(p.matches(ip("2001:db8::2:abcd")));
        assert!(!p.matches(ip("2001:db8::3:0")));
        assert!(!p.matches(ip("10.0.0.1")));
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        for (bad, says) in [
            ("192.168.1", "not an IPv4 or IPv6 address"),
            ("192.168.1.*.1", "4 parts"),
            ("192.168.1.300-1", "from 0 to 255"),
            ("192.168.1.9-3", "runs backwards"),
            ("192.168.1.x-3", "not a number"),
            ("192.168.0{1,2}", "after a '.' or ':'"),
            ("192.168.0.{}", "list is empty"),
            ("192.168.0.{1,300}", "not an IPv4 or IPv6 address"),
            ("10.0.0.1,10.0.0.*", "not an IPv4 or IPv6 address"),
            ("1:2:3:4:5:6:7:8:*", "8 groups"),
            ("1:2:3:4::5:6:7:*", "too many groups"),
            ("2001:db8::fffff-1", "hexadecimal group"),
            ("hostname", "not an IPv4 or IPv6 address"),
        ] {
            let err = AddrPattern::parse(bad).expect_err(bad);
            let text = err.to_string();
            assert!(text.contains(says), "{bad}: {text}");
            assert!(
                text.contains("192.168.*.*"),
                "the error shows valid forms: {text}"
            );
        }
    }

    #[test]
    fn keeps_the_text() {
        let p = pat(" 192.168.*.* ");
        assert_eq!(p.as_str(), "192.168.*.*");
        assert_eq!(p.to_string(), "192.168.*.*");
        assert_eq!(format!("{p:?}"), "AddrPattern(\"192.168.*.*\")");
    }
}
