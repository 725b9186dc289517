//! Messages: the stored record layout (what pulls return byte for byte), properties, client
//! batch bodies, message ids, system flags and tag hashes.

mod batch;
mod msg_id;
mod properties;
mod stored;

pub use batch::{BatchItem, decode_batch, encode_batch};
pub use msg_id::{UniqKeyGenerator, decode_offset_msg_id, offset_msg_id};
pub use properties::{Properties, keys as property};
pub use stored::{
    BLANK_MAGIC, MAGIC_V1, MAGIC_V2, MessageExt, MessageRecord, body_crc, decode_message,
    decode_messages, encode_record, patch_record, record_size,
};

/// Message sysFlag bits (`MessageSysFlag`).
pub mod sys_flag {
    /// Body is compressed.
    pub const COMPRESSED: i32 = 0x1;
    /// Topic uses MULTI_TAG filtering.
    pub const MULTI_TAGS: i32 = 0x2;
    /// Mask of the transaction type bits.
    pub const TRANSACTION_MASK: i32 = 0xC;
    /// Not transactional.
    pub const TRANSACTION_NOT: i32 = 0x0;
    /// Half (prepared) message.
    pub const TRANSACTION_PREPARED: i32 = 0x4;
    /// Commit record.
    pub const TRANSACTION_COMMIT: i32 = 0x8;
    /// Rollback record.
    pub const TRANSACTION_ROLLBACK: i32 = 0xC;
    /// Born host is IPv6.
    pub const BORNHOST_V6: i32 = 0x10;
    /// Store host is IPv6.
    pub const STOREHOST_V6: i32 = 0x20;

    /// The transaction type bits of `flag`.
    pub fn transaction_type(flag: i32) -> i32 {
        flag & TRANSACTION_MASK
    }
    /// `flag` with its transaction type replaced.
    pub fn with_transaction_type(flag: i32, kind: i32) -> i32 {
        (flag & !TRANSACTION_MASK) | kind
    }
}

/// Java's `String.hashCode()` of a tag (over UTF-16 code units), widened to i64 as the consume
/// queue's `tagsCode`.
pub fn tags_hash_code(tag: &str) -> i64 {
    let mut h: i32 = 0;
    for unit in tag.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    i64::from(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_hash_matches_java() {
        // values computed with Java's "TagA".hashCode() etc.
        assert_eq!(tags_hash_code("TagA"), 2_598_919);
        assert_eq!(tags_hash_code(""), 0);
        assert_eq!(tags_hash_code("a"), 97);
        // overflow wraps like Java ints: "polygenelubricants".hashCode() == Integer.MIN_VALUE
        assert_eq!(tags_hash_code("polygenelubricants"), i64::from(i32::MIN));
        // non-BMP characters hash as two UTF-16 units
        assert_eq!(tags_hash_code("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }
}
