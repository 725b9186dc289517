//! Query headers: QUERY_MESSAGE by key and VIEW_MESSAGE_BY_ID.

use crate::command_header;

/// extFields key that marks QUERY_MESSAGE as a lookup by unique key (`UNIQ_KEY`).
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

command_header! {
    /// QUERY_MESSAGE request header.
    pub struct QueryMessageRequestHeader {
        topic: String => "topic",
        key: String => "key",
        max_num: i32 => "maxNum",
        begin_timestamp: i64 => "beginTimestamp",
        end_timestamp: i64 => "endTimestamp",
    }
}

command_header! {
    /// QUERY_MESSAGE response header.
    pub struct QueryMessageResponseHeader {
        index_last_update_timestamp: i64 => "indexLastUpdateTimestamp",
        index_last_update_phyoffset: i64 => "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// VIEW_MESSAGE_BY_ID request header (offset decoded from the offset message id).
    pub struct ViewMessageRequestHeader {
        offset: i64 => "offset",
        topic: Option<String> => "topic",
    }
}
