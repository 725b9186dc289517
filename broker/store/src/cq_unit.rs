//! The 20-byte consume queue unit and the rule for topic directory names.

/// Bytes per unit.
pub const CQ_UNIT_SIZE: usize = 20;

/// Whether `topic` can name a consume queue directory (non-empty, at most 255 bytes, no `/`,
/// NUL, `.` or `..`).
pub fn valid_topic_dir(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 255
        && topic != "."
        && topic != ".."
        && !topic.bytes().any(|b| b == b'/' || b == 0)
}

/// One consume queue unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqUnit {
    /// Commit log offset of the record.
    pub offset: i64,
    /// Record size.
    pub size: i32,
    /// Tag hash (or delivery time for the schedule topic).
    pub tags_code: i64,
}

impl CqUnit {
    /// The 20 bytes on disk.
    pub fn encode(&self) -> [u8; CQ_UNIT_SIZE] {
        let mut b = [0u8; CQ_UNIT_SIZE];
        b[..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    /// Decodes a unit from the first 20 bytes of `b`.
    pub fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            offset: crate::record::get_i64(b, 0)?,
            size: crate::record::get_i32(b, 8)?,
            tags_code: crate::record::get_i64(b, 12)?,
        })
    }

    /// Whether the unit was ever written (zero units are holes).
    pub fn is_present(&self) -> bool {
        self.size > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_codec() {
        let x = CqUnit {
            offset: 1 << 40,
            size: 7,
            tags_code: -3,
        };
        assert_eq!(CqUnit::decode(&x.encode()), Some(x));
        assert_eq!(CqUnit::decode(&[0u8; 19]), None);
        assert!(valid_topic_dir("%RETRY%g-1"));
        assert!(!valid_topic_dir("a/b") && !valid_topic_dir("..") && !valid_topic_dir(""));
    }
}
