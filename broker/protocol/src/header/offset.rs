//! Offset headers: consumer offsets, queue min/max offsets, search by timestamp, earliest time.

use crate::command_header;

command_header! {
    /// QUERY_CONSUMER_OFFSET request header.
    pub struct QueryConsumerOffsetRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        set_zero_if_not_found: Option<bool> => "setZeroIfNotFound",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET request header.
    pub struct UpdateConsumerOffsetRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        commit_offset: i64 => "commitOffset",
    }
}

command_header! {
    /// Response header carrying one offset (QUERY_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP).
    pub struct OffsetResponseHeader {
        offset: i64 => "offset",
    }
}

command_header! {
    /// GET_MAX_OFFSET request header.
    pub struct GetMaxOffsetRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
        committed: Option<bool> => "committed",
    }
}

command_header! {
    /// GET_MIN_OFFSET and GET_EARLIEST_MSG_STORETIME request header.
    pub struct QueueRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP request header.
    pub struct SearchOffsetRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
        timestamp: i64 => "timestamp",
        boundary_type: Option<String> => "boundaryType",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME response header.
    pub struct EarliestMsgStoretimeResponseHeader {
        timestamp: i64 => "timestamp",
    }
}
