//! Permissions of ACL 1.0 (`Permission` in the Java sources): DENY, PUB, SUB, PUB|SUB, and the
//! ANY that requests (never accounts) may ask for.

use std::fmt;

/// A permission set. Owned by accounts per topic/group; needed by requests per resource.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perm(u8);

impl Perm {
    /// Nothing, and it overrides every other bit an account holds.
    pub const DENY: Perm = Perm(1);
    /// Needed only: satisfied by PUB or SUB.
    pub const ANY: Perm = Perm(1 << 1);
    /// Publish (send) to a topic.
    pub const PUB: Perm = Perm(1 << 2);
    /// Subscribe: consume a topic, or act as a consumer group.
    pub const SUB: Perm = Perm(1 << 3);
    /// Both publish and subscribe.
    pub const PUB_SUB: Perm = Perm((1 << 2) | (1 << 3));

    /// Parses a permission as written in `plain_acl.yml`: `DENY`, `PUB`, `SUB`, `PUB|SUB` or
    /// `SUB|PUB`, surrounding blanks ignored, case-sensitive like Java. `None` for anything else.
    pub fn parse(text: &str) -> Option<Perm> {
        match text.trim() {
            "DENY" => Some(Perm::DENY),
            "PUB" => Some(Perm::PUB),
            "SUB" => Some(Perm::SUB),
            "PUB|SUB" | "SUB|PUB" => Some(Perm::PUB_SUB),
            _ => None,
        }
    }

    /// Whether an account owning `self` may do what needs `needed` (`Permission.checkPermission`):
    /// DENY owns nothing; ANY needs PUB or SUB; otherwise one common bit suffices.
    pub fn grants(self, needed: Perm) -> bool {
        if self.0 & Perm::DENY.0 != 0 {
            return false;
        }
        if needed.0 & Perm::ANY.0 != 0 {
            return self.0 & Perm::PUB_SUB.0 != 0;
        }
        self.0 & needed.0 != 0
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Perm::DENY => "DENY",
            Perm::ANY => "ANY",
            Perm::PUB => "PUB",
            Perm::SUB => "SUB",
            Perm::PUB_SUB => "PUB|SUB",
            _ => return write!(f, "PERM({:#x})", self.0),
        };
        f.write_str(name)
    }
}

impl fmt::Debug for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_java_accepts() {
        assert_eq!(Perm::parse(" PUB "), Some(Perm::PUB));
        assert_eq!(Perm::parse("SUB"), Some(Perm::SUB));
        assert_eq!(Perm::parse("SUB|PUB"), Some(Perm::PUB_SUB));
        assert_eq!(Perm::parse("PUB|SUB"), Some(Perm::PUB_SUB));
        assert_eq!(Perm::parse("DENY"), Some(Perm::DENY));
        assert_eq!(Perm::parse("pub"), None);
        assert_eq!(Perm::parse("PUB | SUB"), None);
        assert_eq!(Perm::parse("ANY"), None);
        assert_eq!(Perm::parse(""), None);
    }

    #[test]
    fn grant_table() {
        assert!(Perm::PUB.grants(Perm::PUB));
        assert!(!Perm::PUB.grants(Perm::SUB));
        assert!(Perm::SUB.grants(Perm::SUB));
        assert!(Perm::PUB_SUB.grants(Perm::PUB));
        assert!(Perm::PUB_SUB.grants(Perm::SUB));
        assert!(!Perm::DENY.grants(Perm::PUB));
        assert!(!Perm::DENY.grants(Perm::ANY));
        assert!(Perm::PUB.grants(Perm::ANY));
        assert!(Perm::SUB.grants(Perm::ANY));
    }

    #[test]
    fn displays_as_written() {
        assert_eq!(Perm::PUB_SUB.to_string(), "PUB|SUB");
        assert_eq!(format!("{:?}", Perm::DENY), "DENY");
        assert_eq!(Perm(0x30).to_string(), "PERM(0x30)");
    }
}
