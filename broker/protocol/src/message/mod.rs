//! Messages: the stored record layout (what pulls return byte for byte), properties, client
//! batch bodies, message ids, system flags, and the rules the broker and the store share about
//! stored messages: property lookup, the consume queue's `tagsCode`, the delay topic and its
//! levels.

mod batch;
mod crc;
mod delay;
mod msg_id;
mod properties;
mod stored;
mod tags;

pub use batch::{BatchItem, decode_batch, encode_batch};
pub use crc::{
    CRC32_RESERVED_LEN, PROPERTY_CRC32, record_crc, record_crc_ok, seal_record_crc,
    stored_record_crc, strip_crc_property,
};
pub use delay::{DEFAULT_LEVELS, DelayLevels, SCHEDULE_TOPIC};
pub use msg_id::{UniqKeyGenerator, decode_offset_msg_id, offset_msg_id};
pub use properties::{Properties, keys as property, raw_property};
pub use stored::{
    BLANK_MAGIC, MAGIC_V1, MAGIC_V2, MessageExt, MessageRecord, body_crc, decode_message,
    decode_messages, encode_record, patch_record, record_size,
};
pub use tags::{TagsCode, tags_hash_code};

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
